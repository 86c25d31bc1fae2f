"""python -m leaderboard [--results DIR] [--out FILE]: rebuild the leaderboard from records."""
from __future__ import annotations

import argparse
import sys

from leaderboard.build import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leaderboard", description=__doc__)
    parser.add_argument("--results", default="leaderboard/results", help="directory of JSON records")
    parser.add_argument("--out", default="leaderboard/README.md", help="markdown file to write")
    args = parser.parse_args(argv)
    n, skipped = build(args.results, args.out)
    for s in skipped:
        print(f"skipped {s.path}: {s.reason}", file=sys.stderr)
    print(f"wrote {args.out} from {n} records" + (f" ({len(skipped)} skipped)" if skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
