"""One paragraph per memory curve saying in words what its tables show: the points run, who solves
the hardest, who solves none, where a result is only a bound, steps to solve at the reference point,
how many rates of the grid solve there (the learning-rate window), and how the final relative state
sensitivity changes along the axis (the curse-of-memory diagnostic).

Computed from the Curve alone, so it can only restate the records: numbers and ratios, never causes.
A value the records lack is left out rather than guessed. Everything is ordered and formatted
deterministically so that the page rebuilds byte-identically."""
from __future__ import annotations

import math

from common.lr_rules import FAILED
from common.rules import easiest_first, harder, hardest, never_left_baseline
from leaderboard.curves import Curve, CurveRow, axis_text
from leaderboard.render import md, num

SENS = "state_sens_rel_max"


def curve_story(curve: Curve) -> str:
    """The paragraph shown under the curve's title (markdown, record-derived text escaped)."""
    parts = [_coverage(curve), _results(curve), *_not_monotone(curve), *_unsolved(curve), _implied(curve),
             *_bounds(curve), _steps(curve), _windows(curve), _sensitivity(curve)]
    return " ".join(p for p in parts if p)


def _axis(curve: Curve, value: float) -> str:
    return axis_text(md(curve.axis_name), value)


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _names(rows: list[CurveRow]) -> str:
    return _join([md(row.label) for row in rows])


def _verb(rows: list, one: str, many: str) -> str:
    return one if len(rows) == 1 else many


def _coverage(curve: Curve) -> str:
    name, n = md(curve.axis_name), len(curve.values)
    span = (f"one point, {_axis(curve, curve.values[0])}" if n == 1 else
            f"{name} from {curve.values[0]:g} to {curve.values[-1]:g} ({n} points)")
    models = f"{len(curve.rows)} model{'s' if len(curve.rows) != 1 else ''}"
    direction = ("" if not curve.easier_up else
                 f"; a larger {name} is easier, so a model's result is the smallest {name} it solves" if curve.monotone
                 else f"; a model's result is the smallest {name} it solves, and every {name} runs: a failure at one "
                      f"{name} is not taken to hold at a smaller one")
    return f"The curve runs {span} for {models}{direction}."


def _results(curve: Curve) -> str:
    solvers = [row for row in curve.rows if row.horizon is not None]   # rows come ranked
    if not solvers:
        if all(row.open_at is not None for row in curve.rows):
            return "No point is settled yet."
        return "No model solves any point run."
    top = hardest(curve.values, curve.easier)
    at_top = [row for row in solvers if row.horizon == top]
    if at_top:
        # k/n is at the rate chosen at the reference point; another rate of the grid may be the one that solves
        seeds = [f"{row.cells[top].k}/{row.cells[top].n}" for row in at_top]
        seeds_text = (f"{seeds[0]} seeds at the chosen rate" if len(at_top) == 1 else "seeds solved at the chosen "
                      "rate: " + ", ".join(f"{md(row.label)} {k}" for row, k in zip(at_top, seeds)))
        lead = (f"{_names(at_top)} {_verb(at_top, 'solves', 'solve')} the hardest point run, {_axis(curve, top)} "
                f"({seeds_text}), so the curve has not found "
                f"{_verb(at_top, 'its', 'their')} limit. ")
    else:
        lead = f"No model solves the hardest point run, {_axis(curve, top)}. "
    mark = "≤ " if curve.easier_up else "≥ "
    order = ", ".join(f"{md(row.label)} {mark * (row.horizon == top)}{row.horizon:g}"
                      + (f" so far ({_axis(curve, row.open_at)} not settled yet)" if row.open_at is not None else "")
                      for row in solvers)
    head = f"Smallest {md(curve.axis_name)} solved, smallest first" if curve.easier_up else "Horizons, largest first"
    return f"{lead}{head}: {order}."


def _not_monotone(curve: Curve) -> list[str]:
    """A model that solves a point yet fails an easier one (every rate): the axis is not monotone for it."""
    out = []
    for row in curve.rows:
        h = row.horizon
        easier = [v for v in easiest_first(row.cells, curve.easier)
                  if h is not None and v != h and not harder(v, h, curve.easier) and row.cells[v].state == FAILED]
        if easier:
            failed = _join([_axis(curve, v) for v in easier])
            points = "an easier point" if len(easier) == 1 else "easier points"
            out.append(f"{md(row.label)} solves {_axis(curve, h)} yet every rate failed {failed}, "
                       f"{points} by the axis's direction: not monotone for it at this budget.")
    return out


def _implied(curve: Curve) -> str:
    """The models another curve settles here (leaderboard/implied.py), grouped by what settles them."""
    groups: dict[tuple, list[str]] = {}
    for imp in curve.implied:
        groups.setdefault((imp.source.title, imp.source.axis_name, imp.value, imp.setting, imp.state), []).append(md(imp.model))
    return " ".join(
        f"{_join(names)} {'does' if len(names) == 1 else 'do'} not run here: at the same "
        f"{md(curve.axis_name)} = {state:g} per layer every rate failed {title} at {md(axis)} = {value:g}, "
        f"an easier point than this curve's {md(axis)} = {setting:g}, so "
        + (f"{'its' if len(names) == 1 else 'their'} result is > {state:g}." if curve.monotone else
           f"{'it fails' if len(names) == 1 else 'they fail'} at {md(curve.axis_name)} = {state:g} "
           f"(no smaller {md(curve.axis_name)} runs for {'it' if len(names) == 1 else 'them'}).")
        for (title, axis, value, setting, state), names in groups.items())


def _unsolved(curve: Curve) -> list[str]:
    """Who solves none, grouped by the easiest point each ran: 'not even the first point' is
    only said of a model that ran it."""
    groups: dict[float, list[CurveRow]] = {}
    pending: dict[float, list[CurveRow]] = {}  # a sweep in progress: no point settled yet is no point failed
    for row in curve.rows:
        if row.horizon is None and row.open_at is not None:
            pending.setdefault(row.open_at, []).append(row)
        elif row.horizon is None and row.cells:
            groups.setdefault(easiest_first(row.cells, curve.easier)[0], []).append(row)
    easiest = easiest_first(curve.values, curve.easier)[0] if curve.values else None
    out = []
    for value in easiest_first(groups, curve.easier):
        rows = groups[value]
        where = f"not even {_axis(curve, value)}" if value == easiest else f"from {_axis(curve, value)} on"
        out.append(f"{_names(rows)} {_verb(rows, 'solves', 'solve')} none of the points "
                   f"{_verb(rows, 'it', 'they')} ran, {where}.")
    for value in easiest_first(pending, curve.easier):
        rows = pending[value]
        out.append(f"{_names(rows)} {_verb(rows, 'has', 'have')} no point settled yet: {_axis(curve, value)} "
                   f"is still open.")
    return out


def _capped(row: CurveRow) -> str:
    """How the row's capped runs past its result stopped: still improving, or never off the baseline."""
    runs = row.capped_beyond()
    flat = sum(never_left_baseline(r) for r in runs)
    if flat == len(runs):
        return f"without leaving the memoryless baseline ({flat} run{'s' if flat != 1 else ''})"
    if not flat:
        return "while still improving"
    return f"still improving or, {flat} of {len(runs)} runs, without leaving the memoryless baseline"


def _bounds(curve: Curve) -> list[str]:
    """Where a run past the result stopped at the step cap (still improving, or never off the
    memoryless baseline: each said as the records show it), the result is a bound: more steps might
    move it (the page marks it †)."""
    capped = [row for row in curve.rows if row.budget_beyond()]
    solvers = [row for row in capped if row.horizon is not None]
    others = [row for row in capped if row.horizon is None]
    out = []
    for row in solvers:
        if curve.easier_up:
            out.append(f"For {md(row.label)}, a run below the smallest {md(curve.axis_name)} solved hit the step cap "
                       f"{_capped(row)}, so that value is an upper bound.")
        else:
            out.append(f"For {md(row.label)}, a run beyond the horizon hit the step cap {_capped(row)}, "
                       f"so the horizon is a lower bound.")
    for row in others:
        out.append(f"{md(row.label)} had runs stopped by the step cap {_capped(row)}, so more steps "
                   f"might solve a point.")
    return out


def _steps(curve: Curve) -> str:
    """Median steps to solve where the learning rate was chosen: one point shared by the curve,
    or each row's own when they differ (as the headline reports them)."""
    own = len({row.reference for row in curve.rows}) > 1
    entries = []
    for row in curve.rows:
        at = row.reference if own else curve.reference
        cell = row.cells.get(at) if at is not None else None
        if cell is not None and cell.steps is not None and math.isfinite(cell.steps):
            where = f" ({_axis(curve, at)})" if own else ""
            entries.append((cell.steps, row.label, f"{md(row.label)} {cell.steps:g}{where}"))
    if not entries:
        return ""
    where = "each model's reference point" if own else f"the reference point {_axis(curve, curve.reference)}"
    return f"Median steps to solve at {where}, fewest first: {', '.join(e[2] for e in sorted(entries))}."


def _windows(curve: Curve) -> str:
    """How many of the rates tried at each model's reference point solve it on seed 0 (the seed every
    rate runs there: Okpekpe & Orvieto (2025) find SSMs solve recall only in a narrow window of rates);
    widest first. Only where a model tried several rates at its reference point."""
    entries = []
    for row in curve.rows:
        cell = row.cells.get(row.reference) if row.reference is not None else None
        if cell is None or len(cell.tried) < 2:
            continue
        solving = cell.seed0_window
        entries.append((-len(solving) / len(cell.tried), row.label,
                        f"{md(row.label)} {len(solving)}/{len(cell.tried)}"
                        + (f" ({', '.join(f'{x:g}' for x in solving)})" if solving else "")))
    if not entries:
        return ""
    return ("Learning-rate window at the reference point (rates whose seed-0 run solves it, of those tried), widest "
            f"first: {', '.join(e[2] for e in sorted(entries))}.")


def _fold(ratio: float) -> str:
    return f"{ratio:.0f}-fold" if ratio >= 10 else f"{ratio:.1f}-fold"


def _sensitivity(curve: Curve) -> str:
    """How the final relative state sensitivity changes from the easiest to the hardest point each
    model ran, for models with a positive value at two points or more; largest growth first."""
    clauses = []
    for row in curve.rows:
        vals = [(v, s) for v in easiest_first(row.cells, curve.easier)
                if (s := row.cells[v].final(SENS)) is not None and s > 0]
        if len(vals) < 2:
            continue
        (v0, s0), (v1, s1) = vals[0], vals[-1]
        ratio = s1 / s0
        if ratio >= 2:
            change = f"grows {_fold(ratio)}"
        elif ratio <= 0.5:
            change = f"falls {_fold(1 / ratio)}"
        else:
            change = "stays within a factor 2"
        text = (f"{change} for {md(row.label)} ({num(s0)} at {_axis(curve, v0)}, "
                f"{num(s1)} at {_axis(curve, v1)})")
        clauses.append((-ratio, row.label, text))
    if not clauses:
        return ""
    return (f"Final relative state sensitivity (`{SENS}`, mean over seeds at the chosen rate), from the easiest to "
            f"the hardest point each model ran: {'; '.join(c[2] for c in sorted(clauses))}.")
