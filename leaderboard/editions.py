"""python -m leaderboard.editions: what changed between two editions of the cpu track, per (curve, model),
computed by the page's own code (leaderboard/curves.py) on each edition's records.

The second edition's records left `leaderboard/results/` as the third edition's rerun reached each
curve; git keeps them. `--before REV` reads the records of a commit (default: c0f6a65, the last
commit holding all of them), `--old DIR` a directory of records instead.
Per row it prints each edition's horizon (as the page writes it), state per layer, chosen rate and
reference point, and how the runs past the old horizon ended, so a change can be traced to the
state, the rate or the protocol (the step cap and the stopping rule)."""
from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from common.record import old
from common.rules import easiest_first, harder
from leaderboard.build import PUBLISHED, collect
from leaderboard.curves import Curve, CurveRow, curves_of
from leaderboard.render import state_per_layer
from leaderboard.render_curves import horizon_cell

# the last commit holding every second-edition record (the next one, 260a8f5, began removing them)
DEFAULT_BEFORE = "c0f6a6578cfb2ac424ae8892dcc8148299f3e735"


@dataclass
class Side:
    horizon: str
    state: str
    lr: str
    reference: str
    beyond: str   # how the runs past the horizon ended (the first unsolved value)


def _g(value) -> str:
    return "–" if value is None else f"{value:g}"


def side(row: CurveRow, curve: Curve) -> Side:
    states = sorted({s for r in row.records if (s := state_per_layer(r)) is not None})
    h = row.horizon
    first = next(iter(easiest_first([v for v in row.cells if h is None or harder(v, h, curve.easier)], curve.easier)), None)
    ends = Counter()
    if first is not None:
        for r in row.cells[first].runs:
            ends[r.get("outcome") or r.get("status")] += 1
    beyond = "–" if first is None else f"{curve.axis_name} = {first:g}: " + ", ".join(
        f"{n} {k}" for k, n in sorted(ends.items()))
    return Side(horizon_cell(row, curve), "/".join(_g(s) for s in states) or "–", _g(row.lr), _g(row.reference), beyond)


def rows_by_curve(curves: list[Curve]) -> dict[tuple[str, str], dict[str, Side]]:
    return {(c.task, c.curve): {row.label: side(row, c) for row in c.rows} for c in curves}


def records_at(rev: str, into: Path) -> Path:
    """The published records of commit `rev`, written under `into`."""
    try:
        blob = subprocess.run(["git", "archive", rev, str(PUBLISHED)], check=True, capture_output=True).stdout
    except subprocess.CalledProcessError as err:
        raise SystemExit(f"python -m leaderboard.editions: error: cannot read {PUBLISHED} at {rev!r} "
                         f"({err.stderr.decode().strip()}); name a commit with --before or a directory with --old") from None
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    return into / PUBLISHED


def compare(before: list[Curve], after: list[Curve]) -> list[str]:
    """A markdown table: every (curve, model) the newer edition has, beside the older one's."""
    old_rows = rows_by_curve(before)
    lines = ["| curve | model | horizon before → now | state/layer | chosen rate | reference | past the old horizon (before) | past the new horizon (now) |",
             "|---|---|---|---|---|---|---|---|"]
    for (task, curve), rows in sorted(rows_by_curve(after).items()):
        was = old_rows.get((task, curve)) or next((r for (t, _), r in old_rows.items() if t == task), {})
        for label, now in sorted(rows.items()):
            then = was.get(label) or Side("·", "·", "·", "·", "·")
            if label not in was:                    # a curve (or model) the older edition never ran
                mark = " (new)"
            else:
                mark = "" if then.horizon.rstrip("†") == now.horizon.rstrip("†") else " **changed**"
            lines.append(f"| {task} {curve} | {label} | {then.horizon} → {now.horizon}{mark} | {then.state} → {now.state} | "
                         f"{then.lr} → {now.lr} | {then.reference} → {now.reference} | {then.beyond} | {now.beyond} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leaderboard.editions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="a commit holding the older edition's records")
    parser.add_argument("--old", help="a directory of the older edition's records (instead of --before)")
    parser.add_argument("--results", default=PUBLISHED, help=f"the newer edition's records (default {PUBLISHED})")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        old_dir = Path(args.old) if args.old else records_at(args.before, Path(tmp))
        if not old_dir.is_dir():
            print(f"python -m leaderboard.editions: error: no directory {old_dir}", file=sys.stderr)
            return 2
        before, _ = curves_of([r for r in collect(old_dir).records if old(r)])
    after, _ = curves_of([r for r in collect(args.results).records if not old(r)])
    print("\n".join(compare(before, after)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
