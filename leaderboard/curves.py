"""Memory curves: a task swept along one axis (copy over T, selective copy over L, teacher
over ν₀), each model run at a series of axis values until it stops solving.

A curve is (track, task, task.curve): the task variant without its axis value. A curve
row is one model setting without the axis value; a cell is that setting at one axis value,
aggregated like a leaderboard row (seeds averaged, the learning rate chosen on validation).
The learning rate is chosen per row at the curve's reference point (records at other points
name it in `lr_reference`) and the same rate is used along the whole curve.

A run *solves* a point as common/rules.py says; a rate solves it with a majority of its seeds, a
cell is solved when some rate of the grid solves it and failed only when every rate failed there
(common/lr_rules.py: the rules the sweep climbs by, which also choose the reference point), and
a row's horizon is the largest solved axis value: the hardest, which on an axis that gets easier
upwards (a state-size curve, `easier: up` in the records' task.axis) is the smallest solved value,
the model's smallest S (common/rules.py says which way is harder). A cell's *window* is the rates that solve it,
of those tried there.
"""
from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from common.keys import drop_keys
from common.lr_rules import (
    OPEN,
    SOLVED,
    Reference,
    by_rate,
    choose_reference,
    grid_of,
    parse_reference,
    point_verdict,
    rate_key,
)
from common.record import OUTCOMES, old
from common.rules import SEEDS, easier_up, easiest_first, harder, hardest, run_solved
from common.selection import Row, choose_lr, labels, latest_runs, lr_of, primary_of, setting_key, setting_of

INF = math.inf


def axis_of(record: dict) -> dict | None:
    return record["task"].get("axis")


def curve_id(record: dict) -> tuple[str, str, str, str, str]:
    task, axis = record["task"], record["task"]["axis"]
    return (record.get("track") or "cpu", task["name"], task.get("curve") or task["variant"], axis["name"], axis["key"])


@dataclass
class Cell:
    value: float
    row: Row
    state: str = "open"                  # solved | failed (every rate) | open (some rate not tried or settled)
    window: list[float] = field(default_factory=list)  # the rates that solve this point
    tried: list[float] = field(default_factory=list)   # the rates run here

    def settle(self, chosen: float | None, rates: list[float]) -> None:
        self.state, self.window, self.tried = point_verdict(by_rate(self.row.records), rate_key(chosen),
                                                            [rate_key(x) for x in rates], SEEDS)

    @property
    def seed0_window(self) -> list[float]:
        """The rates tried here whose seed-0 run solves the point. Where rates are compared on seed 0 (the
        track's reference candidates: common/lr_rules.py) only the chosen one runs the other seeds, so
        the window alone would read as if one rate worked; this says how many did on the seed they ran."""
        runs = by_rate(self.row.records)
        return [lr for lr in self.tried if any(r.get("seed") == 0 and run_solved(r) for r in runs.get(lr, []))]

    @property
    def runs(self) -> list[dict]:
        return self.row.chosen

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def k(self) -> int:
        return sum(run_solved(r) for r in self.runs)

    @property
    def solved(self) -> bool:
        return self.state == SOLVED

    @property
    def outcomes(self) -> Counter:
        return Counter(r.get("outcome") for r in self.runs if r.get("outcome") in OUTCOMES)

    @property
    def bound(self) -> bool:
        """A run stopped by the step cap (still improving, or never off the memoryless baseline): its
        metric is a bound, not a value."""
        return self.outcomes["budget"] > 0

    @property
    def steps(self) -> float | None:
        """Median step to solve over the seeds, an unsolved seed counting as never (∞):
        finite only when at least half the seeds solved."""
        if not self.runs:
            return None
        return statistics.median(float((r.get("solved_at") or {}).get("step", INF)) for r in self.runs)

    @property
    def horizon_spec(self) -> dict | None:
        return next((r["task"].get("horizon") for r in self.runs + self.row.records if r["task"].get("horizon")), None)

    def final(self, key: str) -> float | None:
        return self.row.sensitivity("final", key)

    @property
    def wall_s(self) -> float:
        return sum((r.get("cost") or {}).get("wall_s") or 0.0 for r in self.row.records)


@dataclass
class CurveRow:
    model: str
    label: str
    records: list[dict]
    cells: dict[float, Cell] = field(default_factory=dict)
    reference: float | None = None      # axis value where the learning rate was chosen
    lr: float | None = None
    lr_grid: list[float] = field(default_factory=list)
    easier: str | None = None           # the axis's direction (common/rules.py); None: harder upwards
    reference_waiting: str | None = None  # why the rules' reference is not settled yet (a sweep in progress)
    # every value of the curve, where its sweep declares it not monotone (lr_reference.monotone: every
    # point runs); None: a failed point stands for the harder ones
    points: list[float] | None = None

    @property
    def horizon(self) -> float | None:
        """The hardest axis value this row solves (the largest on a memory axis, the smallest on an axis
        that gets easier upwards); None when it solves none (not even the easiest point)."""
        solved = [v for v, c in self.cells.items() if c.solved]
        return hardest(solved, self.easier) if solved else None

    @property
    def open_at(self) -> float | None:
        """The point past the horizon that is not settled yet (the chosen rate still short of its
        seeds, or a rate of the grid not tried there): a third-edition sweep in progress, so the
        horizon is the points run so far, not a failure. None once the first point past the horizon
        has failed (or when a second-edition row, whose grid never had to be exhausted, stops). On an axis
        declared not monotone every point runs, so the first point of the curve this row has not settled
        (or not run while another row has) is open, past a failure too."""
        if any(old(r) for r in self.records):
            return None
        if self.points is not None:
            return self.first_unsettled(self.points)
        for value in easiest_first(self.cells, self.easier):
            if self.cells[value].state != SOLVED:
                return value if self.cells[value].state == OPEN else None
        return None

    def first_unsettled(self, points) -> float | None:
        """The easiest of `points` this row has not run, or has run and not settled yet."""
        return next((v for v in easiest_first(points, self.easier)
                     if v not in self.cells or self.cells[v].state == OPEN), None)

    def capped_beyond(self) -> list[dict]:
        """The runs past the horizon (at the chosen rate) that the step cap stopped, still improving
        or never off the memoryless baseline: more steps might move the horizon."""
        h = self.horizon
        return [r for v, c in sorted(self.cells.items()) if h is None or harder(v, h, self.easier)
                for r in c.runs if r.get("outcome") == "budget"]

    def budget_beyond(self) -> bool:
        return bool(self.capped_beyond())


@dataclass
class Curve:
    track: str
    task: str
    curve: str
    axis_name: str
    axis_key: str
    rows: list[CurveRow]
    values: list[float]
    reference: float | None
    metric: str
    higher: bool
    warnings: list[str] = field(default_factory=list)
    easier: str | None = None    # the axis's direction (common/rules.py); None: harder upwards (memory)
    implied: list = field(default_factory=list)  # models another curve settles here (leaderboard/implied.py)
    monotone: bool = True        # a failed point stands for the harder ones (the sweep's lr_reference.monotone)

    @property
    def easier_up(self) -> bool:
        """Larger axis values are easier (a state-size curve): its result is the smallest value solved."""
        return easier_up(self.easier)

    @property
    def title(self) -> str:
        return f"{self.task} `{self.curve}`"

    def records(self) -> list[dict]:
        return [r for row in self.rows for r in row.records]

    def criteria(self, which: str = "solve") -> dict[float, dict]:
        """The task's `solve` criterion at each axis value (met on validation to stop, and on test for the
        run to count: common/rules.py), or the records' older `horizon` one, which no rule reads any more:
        thresholds may depend on the axis value (the teacher's on ν₀)."""
        return {v: spec for row in self.rows for v, c in row.cells.items()
                for r in c.row.records[:1] if (spec := r["task"].get(which))}


def axis_text(name: str, value: float | None) -> str:
    return "–" if value is None else f"{name} = {value:g}"


def row_setting(axis_key: str):
    """A point's setting without the axis value, nor the config's `lr_reference` (set on the
    points off the reference, absent on it): what the points of one curve row share."""
    def setting(record: dict) -> dict:
        return drop_keys(setting_of(record), [axis_key, "lr_reference"])
    return setting


def reference_value(record: dict) -> float | None:
    """The axis value named by the record's `lr_reference` ({"axis_value": v} or {"at": {key: v}})."""
    ref = record.get("lr_reference") or {}
    value = ref.get("axis_value")
    if value is None:
        value = (ref.get("at") or {}).get(record["task"]["axis"]["key"])
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _named_reference(row: CurveRow) -> float | None:
    """Where the rate was chosen when the rules cannot tell (a reference grid not finished):
    what the runs elsewhere say (`lr_reference`), else the one point that ran several rates."""
    named = Counter(v for r in row.records if (v := reference_value(r)) is not None)
    if named:
        return min(named, key=lambda v: (-named[v], v))
    multi = sorted(v for v, c in row.cells.items() if len(c.row.lr_grid) > 1)
    return multi[0] if multi else None


def _newest(records: list[dict], value) -> object | None:
    """`value(record)` of the newest record that has one: what the sweep declares now (a grid widened
    since the row's first runs is the one the sweep extends by, and the page must choose by it too)."""
    found = [(r.get("created") or "", r.get("run_id") or "", v) for r in records if (v := value(r))]
    return max(found, key=lambda t: (t[0], t[1]))[2] if found else None


def _declared(row: CurveRow) -> tuple[object | None, list[float] | None]:
    """The reference and grid the row's sweeps declared (config `lr_reference`, `lr_grid`), as the
    newest record says; the grid a record names in its `lr_reference` when no config declares one."""
    spec = _newest(row.records, lambda r: (r.get("config") or {}).get("lr_reference"))
    grid = _newest(row.records, lambda r: grid_of((r.get("config") or {}).get("lr_grid"), row.model))
    if grid is None:
        grid = _newest(row.records, lambda r: sorted((r.get("lr_reference") or {}).get("grid") or []))
    return spec, grid


def declared_reference(row: CurveRow) -> Reference | None:
    try:
        return parse_reference(_declared(row)[0], row.easier)
    except ValueError:
        return None


def _reference(row: CurveRow) -> tuple[float | None, float | None, list[float]]:
    """(reference point, rate, rates run there) by the sweeps' rule (common/lr_rules.py), or
    (named point, None, []) when the records do not settle it (then `row.reference_waiting` says why)."""
    spec, grid = _declared(row)
    try:
        ref = parse_reference(spec, row.easier)
    except ValueError:
        ref = None
    if ref is not None and ref.key is not None:
        choice = choose_reference({v: c.row.records for v, c in row.cells.items()}, ref,
                                  [rate_key(x) for x in grid] if grid else None)
        if not choice.waiting and choice.value in row.cells:
            return choice.value, choice.rate, choice.rates
        row.reference_waiting = choice.waiting
    return _named_reference(row), None, []


def _apply_reference(row: CurveRow, curve_name: str, warnings: list[str]) -> None:
    row.reference, rate, rates = _reference(row)
    ref = row.cells.get(row.reference) if row.reference is not None else None
    if ref is not None and rate is not None:  # the rules' choice (the grid may have extended past the declared core)
        ref.row.lr = rate
        ref.row.chosen = sorted((r for r in ref.row.records if rate_key(lr_of(r)) == rate),
                                key=lambda r: (r["seed"], r["run_id"]))
        ref.row.lr_grid = sorted(rates)
    if row.reference is not None and ref is None:
        warnings.append(f"{curve_name}: {row.label} has no runs at its reference point "
                        f"{row.reference:g}; each point keeps its own validation choice")
    if ref is None:
        rates = sorted({c.row.lr for c in row.cells.values() if c.row.lr is not None})
        row.lr = rates[0] if len(rates) == 1 else None
        row.lr_grid = sorted({lr for c in row.cells.values() for lr in c.row.lr_grid})
        return
    row.lr, row.lr_grid = ref.row.lr, list(ref.row.lr_grid)
    declared = sorted({x for r in row.records for x in (r.get("lr_reference") or {}).get("grid") or []})
    if declared and not set(declared) <= set(row.lr_grid):
        warnings.append(f"{curve_name}: {row.label} ran {_rates(row.lr_grid)} at the reference point "
                        f"{row.reference:g}, of the declared grid {_rates(declared)}")
    for value, cell in sorted(row.cells.items()):
        if cell is ref or cell.row.lr == row.lr:
            continue
        at_lr = [r for r in cell.row.records if rate_key(lr_of(r)) == rate_key(row.lr)]
        if at_lr:
            cell.row.lr, cell.row.chosen = row.lr, sorted(at_lr, key=lambda r: (r["seed"], r["run_id"]))
        else:
            warnings.append(f"{curve_name}: {row.label} ran at {value:g} with lr {_rates([cell.row.lr])}, not the "
                            f"{_rates([row.lr])} chosen at the reference point {row.reference:g}")


def _rates(rates: list[float | None]) -> str:
    text = ", ".join("–" if x is None else f"{x:g}" for x in rates)
    return text if len(rates) == 1 else "{" + text + "}"


def build_curve(key: tuple[str, str, str, str, str], records: list[dict]) -> Curve:
    track, task, curve_name, axis_name, axis_key = key
    setting = row_setting(axis_key)
    directions = Counter(axis_of(r).get("easier") for r in records)
    easier = min(directions, key=lambda d: (-directions[d], str(d)))  # one per curve: its records agree
    by_row: dict[str, list[dict]] = defaultdict(list)
    at_value: dict[float, list[dict]] = defaultdict(list)
    for r in records:
        at_value[float(axis_of(r)["value"])].append(r)
    # reruns supersede per axis value: a config that does not spell out the axis value must
    # not merge two points
    for r in (r for _, recs in sorted(at_value.items()) for r in latest_runs(recs)):
        by_row[setting_key({"config": setting(r)})].append(r)
    rows, warnings = [], []
    for recs in by_row.values():
        row = CurveRow(model=recs[0]["model"]["name"], label="", records=recs, easier=easier)
        by_value: dict[float, list[dict]] = defaultdict(list)
        for r in recs:
            by_value[float(axis_of(r)["value"])].append(r)
        for value, at in sorted(by_value.items()):
            point = Row(model=row.model, label="", setting=setting_key(at[0]), records=at)
            choose_lr(point)
            row.cells[value] = Cell(value, point)
        rows.append(row)
    labels(rows, setting)
    title = f"{task} `{curve_name}`"
    for row in sorted(rows, key=lambda r: r.label):
        _apply_reference(row, title, warnings)
        for cell in row.cells.values():
            cell.settle(row.lr if row.lr is not None else cell.row.lr, row.lr_grid)
    per_model = Counter(row.model for row in rows)
    warnings += [f"{title}: {m} has {n} settings on this curve (does something besides {axis_key} vary with the axis?)"
                 for m, n in sorted(per_model.items()) if n > 1]
    spec = next((r["task"]["horizon"] for r in records if r["task"].get("horizon")), None)
    metric, higher = (spec["metric"], spec["mode"] == "max") if spec else primary_of(records[0])
    refs = Counter(row.reference for row in rows if row.reference is not None)
    values = sorted({v for row in rows for v in row.cells})
    # what the curve's sweep declares now holds for every row, also one that has not run since
    monotone = all(ref.monotone for row in rows if (ref := declared_reference(row)) is not None)
    for row in rows:
        row.points = None if monotone else values
    out = Curve(track, task, curve_name, axis_name, axis_key, rows, values,
                min(refs, key=lambda v: (-refs[v], v)) if refs else None, metric, higher, warnings, easier,
                monotone=monotone)
    out.rows.sort(key=lambda row: _rank(row, out))
    return out


def steps_at(row: CurveRow, value: float | None) -> float | None:
    cell = row.cells.get(value) if value is not None else None
    return cell.steps if cell else None


def _rank(row: CurveRow, curve: Curve) -> tuple:
    h = row.horizon
    steps = steps_at(row, curve.reference)
    if curve.easier_up:  # the smaller the value a model solves, the better
        return (h if h is not None else INF, steps if steps is not None else INF, row.label)
    return (-(h if h is not None else -INF), steps if steps is not None else INF, row.label)


def curves_of(records: list[dict]) -> tuple[list[Curve], list[dict]]:
    """The curves among the records, and the records that belong to no curve (no task.axis)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    rest = []
    for r in records:
        if axis_of(r):
            groups[curve_id(r)].append(r)
        else:
            rest.append(r)
    return [build_curve(key, recs) for key, recs in sorted(groups.items())], rest
