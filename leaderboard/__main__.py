"""python -m leaderboard: rebuild the leaderboard pages and figures from the records.

Only the published records (leaderboard/results, written by the declared sweeps) refresh the
committed pages: leaderboard/README.md, leaderboard/figures, the headline of README.md and the
paper's leaderboard/REPRODUCTION.md. Any other --results DIR gets its page and figures beside
its records (DIR/README.md, DIR/figures) unless --out / --figures say otherwise."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leaderboard.build import PUBLISHED, build

PAPER = "leaderboard/paper"


def _same(a: str | Path, b: str | Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leaderboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=PUBLISHED, help=f"directory of JSON records (default {PUBLISHED})")
    parser.add_argument("--out", help="markdown page to write (default leaderboard/README.md for the published "
                                      "records, else DIR/README.md)")
    parser.add_argument("--figures", help="directory for PNG figures, '' for none (default leaderboard/figures "
                                          "for the published records, else DIR/figures)")
    parser.add_argument("--readme", help="project README whose headline table to refresh, '' for none (default "
                                         "README.md for the published records, else none)")
    parser.add_argument("--paper", help=f"records of the paper's experiments, '' for none (default {PAPER} for "
                                        "the published records, else none)")
    parser.add_argument("--reproduction", help="markdown for the paper's experiments (default REPRODUCTION.md "
                                               "beside --out)")
    args = parser.parse_args(argv)
    results = Path(args.results)
    if not results.is_dir():
        print(f"python -m leaderboard: error: no results directory {results}", file=sys.stderr)
        return 2
    published = _same(results, PUBLISHED)
    out = Path(args.out if args.out is not None else ("leaderboard/README.md" if published else results / "README.md"))
    figures = args.figures if args.figures is not None else ("leaderboard/figures" if published else str(results / "figures"))
    readme = args.readme if args.readme is not None else ("README.md" if published else "")
    paper = args.paper if args.paper is not None else (PAPER if published else "")
    report = build(results, out, readme or None, figures or None, published=published)
    if paper and figures and Path(paper).is_dir():
        from leaderboard.paper import build_paper

        reproduction = Path(args.reproduction or out.parent / "REPRODUCTION.md")
        build_paper(Path(paper), Path(figures), reproduction)
        print(f"wrote {reproduction} from {paper}")
    for s in report.skipped:
        print(f"skipped {s.path}: {s.reason}", file=sys.stderr)
    for w in report.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"wrote {out} from {report.records} records"
          + (f" ({len(report.skipped)} skipped)" if report.skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
