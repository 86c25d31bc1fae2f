"""python -m leaderboard: rebuild the leaderboard pages and figures from the records."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leaderboard.build import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leaderboard", description=__doc__)
    parser.add_argument("--results", default="leaderboard/results", help="directory of JSON records")
    parser.add_argument("--out", default="leaderboard/README.md", help="markdown file to write")
    parser.add_argument("--figures", default="leaderboard/figures", help="directory for PNG figures ('' for none)")
    parser.add_argument("--readme", default="README.md", help="project README whose headline table to refresh ('' for none)")
    parser.add_argument("--paper", default="leaderboard/paper", help="records of the paper's experiments ('' for none)")
    parser.add_argument("--reproduction", default="leaderboard/REPRODUCTION.md", help="markdown for the paper's experiments")
    args = parser.parse_args(argv)
    n, skipped = build(args.results, args.out, args.readme or None, args.figures or None)
    if args.paper and args.figures and Path(args.paper).is_dir():
        from leaderboard.paper import build_paper

        build_paper(Path(args.paper), Path(args.figures), Path(args.reproduction))
        print(f"wrote {args.reproduction} from {args.paper}")
    for s in skipped:
        print(f"skipped {s.path}: {s.reason}", file=sys.stderr)
    print(f"wrote {args.out} from {n} records" + (f" ({len(skipped)} malformed, skipped)" if skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
