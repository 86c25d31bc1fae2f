"""python -m leaderboard.audit: the third edition's done-when checks (SPEC §6.2; issue "cpu track,
third edition"), counted on the third-edition records (schema ≥ 3) of a results directory.

One line per check, `ok` or `FAIL`, with the numbers behind it; with `--strict`, exit status 1
when a check fails (a rerun in progress fails some by design).
The page shows the same records; this says in one screen whether they meet the edition's rules:
every ok run has an outcome and a validation history, at most 10 % of ok runs with a stop rule end
`budget` (an image run that trains its fixed schedule to the end, `complete`, is counted apart), no
record is `-dirty`, no chosen rate sits unbracketed at an end of the rates tried, every chosen rate
solves its reference point (or the model solves no point of that curve), one state per layer on
every curve but a state-size curve, every model on every curve with its horizon settled (no point
past it still open), each curve and image table of one edition (a curve's second-edition records
leave when its rerun begins, so the page never mixes the protocols), and the job time against the
edition's 20 h; on the published records, also that every sweep the track declares
(conf/experiment/leaderboard) has begun, since the curve checks count only curves with records, and,
on a curve declared not monotone, that each row has run every point its sweep lists.
One more says how often a run solved on validation misses its criterion on test (a run stops
at the first validation meeting it, so a miss within the noise is expected; beyond it,
validation and test disagree)."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from common.lr_rules import FAILED, by_rate, rate_key, verdict
from common.record import COMPLETE, old
from common.rules import SEEDS, Criterion, never_left_baseline, solved_on_validation
from leaderboard.build import PUBLISHED, collect
from leaderboard.curves import Curve
from leaderboard.protocol import at_end
from leaderboard.render import state_per_layer
from leaderboard.sweeps import declared_points, declared_sweeps, sweep_of

BUDGET_SHARE = 0.10
JOB_HOURS = 20.0
# a test miss within these is chance: accuracy in points (it moves by ~0.005 on the track's 256
# validation sequences), a loss as a fraction of its threshold
MISS_BAND = {"max": 0.01, "min": 0.10}


@dataclass
class Check:
    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.passed else 'FAIL'}  {self.name}: {self.detail}"


def _names(items: list[str], limit: int = 8) -> str:
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def run_checks(records: list[dict], curves: list[Curve], tables: dict, sweeps: list[str] | None = None,
               points_of=declared_points) -> list[Check]:
    """The checks; `sweeps`: the declared sweeps each to have third-edition records (None: not asked)."""
    new = [r for r in records if not old(r)]
    ok = [r for r in new if r.get("status") == "ok"]
    checks = [Check("third-edition records", bool(new), f"{len(new)} of {len(records)} records ({len(ok)} ok runs)")]
    if not new:
        return checks
    if sweeps is not None:
        # the curve checks below count the curves that have records: a sweep with none would pass them
        begun = {sweep_of(r) for r in new}
        none = [s for s in sweeps if s not in begun]
        checks.append(Check("every sweep begun", not none, f"{len(sweeps) - len(none)} of {len(sweeps)} declared "
                            f"sweeps have third-edition records" + (f"; none yet: {_names(none)}" if none else "")))

    bare = [r["run_id"] for r in ok if not r.get("outcome") or not r.get("history")]
    checks.append(Check("outcome and validation history", not bare,
                        f"{len(ok) - len(bare)} of {len(ok)} ok runs have both" + (f"; missing: {_names(bare)}" if bare else "")))

    # a `complete` run (an image table's fixed schedule) had no stop rule that could end it before its
    # cap: counted beside the share, not inside it, where it would only dilute the runs a cap cut short
    stoppable = [r for r in ok if r.get("outcome") != COMPLETE]
    schedule = len(ok) - len(stoppable)
    budget = [r for r in stoppable if r.get("outcome") == "budget"]
    share = len(budget) / len(stoppable) if stoppable else 0.0
    flat = sum(never_left_baseline(r) for r in budget)
    checks.append(Check("runs ending `budget`", share <= BUDGET_SHARE,
                        f"{len(budget)} of {len(stoppable)} ok runs with a stop rule ({100 * share:.1f} %; at most "
                        f"{100 * BUDGET_SHARE:.0f} %)" + (f"; {flat} of them never left the memoryless baseline" if budget else "")
                        + (f"; {schedule} more trained a fixed schedule to its end (`complete`)" if schedule else "")))

    misses = []  # (run, how far its test metrics miss the criterion it met on validation, that miss's noise band)
    for r in ok:
        if solved_on_validation(r) and r["task"].get("solve"):
            crit = Criterion.from_dict(r["task"]["solve"])
            misses.append((r, crit.shortfall(r["metrics"].get("test") or {}), MISS_BAND[crit.mode]))
    chance = [m for _, m, band in misses if 0 < m <= band]
    beyond = [f"{r['run_id']} ({m:.3g})" for r, m, band in misses if m > band]
    checks.append(Check("validation and test agree", not beyond,
                        f"{sum(m == 0 for _, m, _ in misses)} of {len(misses)} runs solved on validation meet the criterion on test"
                        + (f"; {len(chance)} miss it within the noise (by at most {max(chance):.3g})" if chance else "")
                        + (f"; beyond it: {_names(beyond)}" if beyond else "")))

    dirty = [r["run_id"] for r in new if str(r.get("git_commit") or "").endswith("-dirty")]
    checks.append(Check("clean commits", not dirty, f"{len(dirty)} `-dirty` of {len(new)}"
                        + (f": {_names(dirty)}" if dirty else "")))

    new_curves = [c for c in curves if any(not old(r) for r in c.records())]
    rows = [(c, row) for c in new_curves for row in c.rows if row.lr is not None and not any(old(r) for r in row.records)]
    rows += [(None, row) for rs in tables.values() for row in rs
             if row.lr is not None and not any(old(r) for r in row.records)]
    def where(c, row) -> str:
        return f"{row.label} on {c.task if c else row.chosen[0]['task']['name']} ({row.lr:g})"

    ends = [(c, row) for c, row in rows if at_end(row.lr, row.lr_grid)]
    # where no rate of the grid solves any point of a curve, the rate is the best of failing runs,
    # not a finding: the same exemption as below (the page says the model solves no point)
    moot = [where(c, row) for c, row in ends if c is not None and row.horizon is None]
    unbracketed = [where(c, row) for c, row in ends if c is None or row.horizon is not None]
    checks.append(Check("chosen rates bracketed", not unbracketed,
                        f"{len(rows) - len(ends)} of {len(rows)} chosen rates have a tried rate on each side"
                        + (f"; at an end: {_names(unbracketed)}" if unbracketed else "")
                        + (f"; at an end of a curve the model solves no point of (the page says so): {_names(moot)}"
                           if moot else "")))

    unsolved = []
    for c, row in rows:
        if c is None or row.reference not in row.cells:
            continue
        cell = row.cells[row.reference]
        # only once the chosen rate has failed there: seeds still to run leave it open (a rerun in progress)
        failed = verdict(by_rate(cell.row.records).get(rate_key(row.lr), []), SEEDS) == FAILED
        if row.lr not in cell.window and row.horizon is not None and failed:
            unsolved.append(f"{row.label} on {c.title} at {c.axis_name} = {row.reference:g}")
    curve_rows = sum(c is not None for c, _ in rows)
    checks.append(Check("chosen rate solves its reference", not unsolved,
                        f"{curve_rows - len(unsolved)} of {curve_rows} (model, curve) rows (a model that solves no point "
                        f"of a curve passes: the page says so)" + (f"; not: {_names(unsolved)}" if unsolved else "")))

    mixed = []
    for c in new_curves:
        if c.easier_up:
            continue  # the state-size curve varies the state on purpose
        sizes = sorted({s for r in c.records() if not old(r) and (s := state_per_layer(r)) is not None})
        if len(sizes) > 1:
            mixed.append(f"{c.task} ({', '.join(f'{s:g}' for s in sizes)})")
    checks.append(Check("equal state per layer", not mixed,
                        f"{len(new_curves) - len(mixed)} of {len(new_curves)} curves hold one state per layer"
                        + (f"; several: {_names(mixed)}" if mixed else "")))

    models = sorted({r["model"]["name"] for r in new})
    def on(c: Curve) -> set[str]:  # run on the curve, or settled there by another (leaderboard/implied.py)
        return {row.model for row in c.rows} | {imp.model for imp in c.implied}
    missing = [f"{c.title} ({', '.join(sorted(set(models) - on(c)))})" for c in new_curves if set(models) - on(c)]
    implied = sum(len(c.implied) for c in new_curves)
    checks.append(Check("every model on every curve", not missing,
                        f"{len(new_curves) - len(missing)} of {len(new_curves)} curves run all {len(models)} models"
                        + (f" ({implied} (model, curve) results settled by another curve)" if implied else "")
                        + (f"; missing: {_names(missing)}" if missing else "")))

    def open_at(c: Curve, row) -> float | None:
        """The page's open point; on a declared curve that is not monotone (every point runs), over the
        points its sweep lists too: the page, built from the records alone, knows only the points some row ran."""
        if c.monotone or sweeps is None or sweep_of(row.records[0]) not in sweeps or row.open_at is not None:
            return row.open_at
        return row.first_unsettled(points_of(sweep_of(row.records[0]), c.axis_key))

    open_rows = [f"{row.label} on {c.title} at {c.axis_name} = {at:g}" for c in new_curves for row in c.rows
                 if (at := open_at(c, row)) is not None]
    n_rows = sum(len(c.rows) for c in new_curves)
    checks.append(Check("every horizon settled", not open_rows,
                        f"{n_rows - len(open_rows)} of {n_rows} (model, curve) rows have a horizon or fail their first "
                        f"point" + (f"; open: {_names(open_rows)}" if open_rows else "")))

    # the second edition's records leave a curve (or image table) when its rerun publishes its first record
    groups = [(c.title, c.records()) for c in curves]
    groups += [(f"{key[1]} `{key[2]}`", [r for row in rows for r in row.records]) for key, rows in tables.items()]
    both = [f"{title} ({sum(map(old, rs))} second-edition, {sum(not old(r) for r in rs)} third)"
            for title, rs in groups if any(map(old, rs)) and not all(map(old, rs))]
    waiting = sum(all(map(old, rs)) for _, rs in groups)
    checks.append(Check("one edition per curve", not both,
                        f"{len(groups) - len(both)} of {len(groups)} curves and image tables hold records of one "
                        f"edition ({waiting} still of the second, awaiting their rerun)"
                        + (f"; both: {_names(both)}" if both else "")))

    hours = sum(float((r.get("cost") or {}).get("wall_s") or 0.0) for r in new) / 3600
    checks.append(Check("job time", hours <= JOB_HOURS, f"{hours:.2f} h by the records' cost.wall_s (at most {JOB_HOURS:g} h)"))
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leaderboard.audit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=PUBLISHED, help=f"directory of JSON records (default {PUBLISHED})")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a check fails")
    args = parser.parse_args(argv)
    if not Path(args.results).is_dir():
        print(f"python -m leaderboard.audit: error: no results directory {args.results}", file=sys.stderr)
        return 2
    published = Path(args.results).resolve() == Path(PUBLISHED).resolve()
    data = collect(args.results, published=published)
    checks = run_checks(data.records, data.curves, data.tables, declared_sweeps() if published else None)
    print("\n".join(c.line() for c in checks))
    return 1 if args.strict and not all(c.passed for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
