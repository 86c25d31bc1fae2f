"""Which protocol the published records were made under. Records older than schema 3 come from
the second edition of the cpu track (SPEC §6.1); the third (§6.2) replaces it because of defects
measured on those very records. Until a rerun replaces them, the page and the README headline say
so, with the numbers counted here from the records, so the warning goes away by itself when the
last old record does."""
from __future__ import annotations

from common.record import THIRD_EDITION, old
from leaderboard.curves import Curve
from leaderboard.render import code, md
from leaderboard.render_curves import in_progress
from leaderboard.sweeps import sweep_of


def at_end(lr, grid) -> bool:
    """A chosen rate with no tried rate beyond it on one side: the choice is not bracketed."""
    return lr is not None and len(grid) > 2 and lr in (min(grid), max(grid))


def _state_fold(curves: list[Curve]) -> tuple[float, Curve | None]:
    best, where = 1.0, None
    for c in curves:
        sizes = [s for r in c.records() if old(r) and isinstance(s := r["model"].get("state_size"), (int, float)) and s > 0]
        if sizes and max(sizes) / min(sizes) > best:
            best, where = max(sizes) / min(sizes), c
    return best, where


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def progress(records: list[dict], curves: list[Curve], tables: dict, sweeps: list[str] | None = None) -> list[str]:
    """While the rerun is under way: which curves and tables it has reached, with how many models
    and how far along the axis, so a partial curve reads as one. Under way: records of both editions,
    a curve with a point still open, or (`sweeps`: the declared ones, on the published pages) a
    declared sweep with no third-edition record yet. Nothing before the rerun's first record."""
    fresh = [r for r in records if not old(r)]
    if not fresh:
        return []
    begun = {sweep_of(r) for r in fresh}
    unbegun = [s for s in sweeps or [] if s not in begun]
    if not (len(fresh) < len(records) or unbegun or any(in_progress(c) for c in curves)):
        return []
    parts = []
    for c in curves:
        new = [r for r in c.records() if not old(r)]
        if new:
            models = sorted({r["model"]["name"] for r in new})
            values = sorted({v for r in new if (v := (r["task"].get("axis") or {}).get("value")) is not None})
            span = "" if not values else (f", {md(c.axis_name)} = {values[0]:g}" if len(values) == 1 else
                                          f", {md(c.axis_name)} = {values[0]:g} to {values[-1]:g}")
            parts.append(f"{md(c.task)} {code(c.curve)}: {_count(len(new), 'run')}, {_count(len(models), 'model')} "
                         f"({', '.join(md(m) for m in models)}){span}")
    for (_track, task, variant), rows in sorted(tables.items()):
        new = [r for row in rows for r in row.records if not old(r)]
        if new:
            parts.append(f"{md(task)} {code(variant)}: {_count(len(new), 'run')}, "
                         f"{_count(len({r['model']['name'] for r in new}), 'model')}")
    if not parts:
        return []
    return ["**Third edition in progress.** The rerun under the fair protocol (SPEC §6.2) has reached: "
            + "; ".join(parts) + ". A curve's second-edition records leave when its rerun begins, so each curve "
            "below is of one edition; a curve still being rerun shows `·` where a point has not run yet and "
            "`open at x` where a model's next point is not settled yet, and its horizons are those of the points "
            "settled so far." + (f" Not begun yet: {', '.join(code(s) for s in unbegun)}." if unbegun else ""), ""]


def notice(records: list[dict], curves: list[Curve], tables: dict) -> list[str]:
    """One paragraph when some records predate the third edition: what the old protocol got wrong,
    counted on these records. Nothing when every record is of the third edition."""
    olds = [r for r in records if old(r)]
    if not olds:
        return []
    facts = []
    plateaued = [r for r in olds if r.get("outcome") == "plateaued" and "left_baseline_at" not in r]
    if plateaued:
        facts.append(f"{len(plateaued)} runs ended `plateaued` under a patience counted from the first validation, "
                     f"so a run could stop inside the initial plateau before its metric left the memoryless baseline")
    # Every fact below is about the old protocol, so it counts only rows drawn from old records: a
    # curve or table already rerun under the third edition would otherwise lend it its own rows.
    old_curve_rows = [(c, row) for c in curves for row in c.rows if any(old(r) for r in row.records)]
    old_table_rows = [row for rows in tables.values() for row in rows if any(old(r) for r in row.records)]
    with_ref = [(c, row) for c, row in old_curve_rows if row.reference is not None and row.reference in row.cells]
    unsolved = [(c, row) for c, row in with_ref if not row.cells[row.reference].window]
    if with_ref:
        facts.append(f"in {len(unsolved)} of {len(with_ref)} (model, curve) pairs no rate of the grid solves the "
                     f"reference point where the rate was chosen, so the rate used along the curve is noise")
    chosen = [(row.lr, row.lr_grid) for _, row in old_curve_rows if row.lr is not None]
    chosen += [(row.lr, row.lr_grid) for row in old_table_rows if row.lr is not None]
    ends = sum(at_end(lr, grid) for lr, grid in chosen)
    if ends:
        facts.append(f"{ends} of {len(chosen)} chosen rates sit at an end of a three-rate grid that never extended")
    fold, where = _state_fold(curves)
    if where is not None and fold >= 2:
        facts.append(f"models raced with different recurrent states, up to {fold:g}-fold apart ({md(where.task)})")
    for c in (c for c in curves if c.task == "teacher"):
        none = sorted(row.model for cc, row in old_curve_rows if cc is c and row.horizon is None)
        if none:
            count = {1: "one model", 2: "two models"}.get(len(none), f"{len(none)} models")
            facts.append(f"a teacher {count} cannot represent: {' and '.join(md(m) for m in none)} solve it at no "
                         f"{md(c.axis_name)}, not even the easiest")
    dirty = [r for r in olds if str(r.get("git_commit") or "").endswith("-dirty")]
    if dirty:
        facts.append(f"{len(dirty)} records were made from a tree with uncommitted changes (`-dirty`), so no commit "
                     f"reproduces them")
    return [f"**Second-edition results.** {len(olds)} of the {len(records)} records below were made under the "
            f"second-edition protocol (SPEC §6.1, record schema < {THIRD_EDITION}), which the third edition (§6.2, a "
            f"fair race) replaces; until its rerun replaces them, read these numbers with what that protocol got "
            f"wrong, counted on these records: " + "; ".join(facts) + ".", ""]
