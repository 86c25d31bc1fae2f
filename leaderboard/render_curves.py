"""Markdown for the memory curves: the headline (horizons, steps to solve, image-task
accuracy), one table per curve, and what the sweeps cost."""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime

from common.selection import CHOICE_RULE, Row, flatten, primary_of
from leaderboard.curves import Cell, Curve, CurveRow, axis_text, declared_reference, row_setting, steps_at
from leaderboard.render import TRACKS, budget_text, code, duration, lr_text, md, metric_cell, num, state_per_layer
from leaderboard.story import curve_story

NOT_RUN = "·"
EDGE = " (grid end)"
HEADLINE_LEGEND = (
    "State/layer and params: the recurrent state of one layer (every layer holds the same; a complex number counts "
    "twice, an LSTM's state is h and c) and the parameter count, as the records carry them (a range where they "
    "differ between the tasks). Horizon: the largest axis value at which some learning rate of the model's grid "
    "solves with ≥ 2 of 3 seeds (criterion of each curve, below); "
    "`< x`: not even the curve's first point; `≥ x`: solved at the curve's last point, so the curve has not found "
    "the model's limit; `†`: a run beyond the horizon hit the step cap, still improving or never off the memoryless "
    "baseline (where no plateau counts), so more steps might "
    "extend it. Steps to solve: median over seeds of the step at which validation first met the criterion, an "
    "unsolved seed counting as never (`–`: fewer than half the seeds solved; `·`: not run there).")
# Added to the legend only where a curve's axis gets easier upwards (a state-size curve), so a page
# without one reads as before.
SMALLEST_LEGEND = (
    " Smallest S (a state-size curve, where a larger value is easier): the smallest state at which some "
    "learning rate solves with ≥ 2 of 3 seeds; `> x`: not even the curve's largest point; `≤ x`: solved at its "
    "smallest point, so the curve has not found the model's limit; `†`: a run below it hit the step cap, "
    "still improving or never off the memoryless baseline.")


# Added only while a third-edition sweep is in progress (some row's next point not settled).
OPEN_LEGEND = (
    " `open at x`: the sweep has not settled the point x yet (the chosen rate has not run every seed there, or a "
    "rate of the grid has not run there), so the value before it is what is solved so far and `·` beyond it is "
    "not run yet.")


# Added only where a state-size curve takes a model's result from another curve (leaderboard/implied.py).
IMPLIED_LEGEND = (
    " `‡`: not run on this curve; another curve of the task, at the same state per layer and budget, finds every "
    "rate failing an easier point (the curve's section says which), so the climb down would stop at its first point.")
IMPLIED_NOT_MONOTONE = " `fails at x‡`: the same, on a curve that is not monotone: it fails at x, and no smaller x runs for it."


def in_progress(curve: Curve) -> bool:
    return any(row.open_at is not None for row in curve.rows)


# Added only where a model runs with two settings on one curve (headline_rows).
VARIANT_LEGEND = (
    " A model run with two settings on one curve has a row for each: the model's name is the setting it runs "
    "with on its other curves, the other row names what differs (`·` on the curves it did not run).")


def headline_legend(curves: list[Curve]) -> str:
    variants = any(len(rows) != len({row.model for row in rows}) for rows in (c.rows for c in curves))
    return (HEADLINE_LEGEND + (SMALLEST_LEGEND if any(c.easier_up for c in curves) else "")
            + (VARIANT_LEGEND if variants else "")
            + (IMPLIED_LEGEND if any(c.implied for c in curves) else "")
            + (IMPLIED_NOT_MONOTONE if any(c.implied and not c.monotone for c in curves) else "")
            + (OPEN_LEGEND if any(in_progress(c) for c in curves) else ""))


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _title(curve: Curve) -> str:
    """`curve.title` with its record-derived parts escaped for the page."""
    return f"{md(curve.task)} {code(curve.curve)}"


def _axis(curve: Curve, value: float | None) -> str:
    return axis_text(md(curve.axis_name), value)


def _rule(n: int) -> str:
    return "|---" + "|--:" * (n - 1) + "|"


def horizon_cell(row: CurveRow, curve: Curve) -> str:
    """The row's result on the curve: its horizon, or on an axis that gets easier upwards its smallest
    solved value; marked where it is only a bound (nothing solved, or solved at the hardest point)."""
    h = row.horizon
    # the row's own span: a curve can run its models over different ranges (the state-size curve,
    # by what this CPU allows each), and a bound names the last value this row ran
    ran = sorted(row.cells) or curve.values
    easiest, hardest = (ran[-1], ran[0]) if curve.easier_up else (ran[0], ran[-1])
    beyond, at_end = ("> ", "≤ ") if curve.easier_up else ("< ", "≥ ")
    if row.open_at is not None:  # a sweep in progress: what is solved so far, and where it stands
        text = (f"{h:g}, " if h is not None else "") + f"open at {row.open_at:g}"
    elif h is None:
        text = f"{beyond}{easiest:g}"
    elif h == hardest:
        text = f"{at_end}{h:g}"
    else:
        text = f"{h:g}"
    return text + ("†" if row.budget_beyond() else "")


def result_head(curve: Curve) -> str:
    """What a row's result on the curve is called: its horizon, or its smallest S on an axis that gets easier upwards."""
    return f"{'smallest' if curve.easier_up else 'horizon'} {md(curve.axis_name)}"


def steps_cell(steps: float | None) -> str:
    if steps is None:
        return NOT_RUN
    if math.isinf(steps):
        return "–"
    return str(int(steps)) if steps == int(steps) else f"{steps:.1f}"


def metric_text(cell: Cell, curve: Curve) -> str:
    """Mean ± std at the chosen rate; a bound when some seed hit the step cap."""
    return metric_cell(cell.row, curve.metric, one="")  # the cell's (k/n) names the seeds


def point_cell(cell: Cell | None, curve: Curve) -> str:
    """The chosen rate's metric and seeds solved; where several rates ran, how many of them solve the point."""
    if cell is None:
        return NOT_RUN
    window = (f" [{len(cell.window)}/{len(cell.tried)} rates{_seed0(cell, names=False)}]"
              if len(cell.tried) > 1 else "")
    return f"{metric_text(cell, curve)} ({cell.k}/{cell.n}){window}"


def _seed0(cell: Cell, names: bool = True) -> str:
    """`; seed 0: s/t`, where more rates solve the point on seed 0 than the window counts (rates compared on
    seed 0 alone, or a rate whose other seeds have not run yet); nothing otherwise."""
    if not set(cell.seed0_window) - set(cell.window):
        return ""
    return f"; seed 0: {len(cell.seed0_window)}/{len(cell.tried)}" + (f" {_rates(cell.seed0_window)}" if names else "")


def _span(values) -> str:
    """One number, or the range of several (a model's size differs between tasks: inputs, outputs)."""
    vals = sorted({v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)})
    if not vals:
        return "–"
    text = [f"{int(v):,}" if float(v).is_integer() else f"{v:g}" for v in (vals[0], vals[-1])]
    return text[0] if len(vals) == 1 else f"{text[0]}–{text[1]}"


SIZE_HEAD = ["state/layer", "params"]


def size_cells(records: list[dict]) -> list[str]:
    """The recurrent state size and the parameter count of these runs' model, beside every row."""
    return [_span(state_per_layer(r) for r in records), _span(r["model"].get("params") for r in records)]


def window_text(cell: Cell, row: CurveRow) -> str:
    """The learning-rate window: rates solving the point (a majority of their seeds) of those tried,
    which, and how many rates of the grid were not tried (the chosen rate solved it, or not yet)."""
    text = f"{len(cell.window)}/{len(cell.tried)}" + (f" {_rates(cell.window)}" if cell.window else "")
    untried = len(set(row.lr_grid) - set(cell.tried))
    return text + (f" ({untried} not tried)" if untried else "") + _seed0(cell)


def _own_references(curve: Curve) -> bool:
    """Whether the rows' reference points differ (the third edition chooses one per model)."""
    return len({row.reference for row in curve.rows}) > 1


def _flat_setting(row: CurveRow, curve: Curve) -> dict:
    """What a curve row's points share, as its label reads them."""
    return flatten(row_setting(curve.axis_key)(row.records[0]))


def headline_rows(curves: list[Curve]) -> dict[str, dict[int, CurveRow]]:
    """Headline row name -> {curve index: that curve's row}. A model run with several settings on
    one curve (Mamba with and without negative eigenvalues on the word problem) gets a headline row
    per setting: the setting it runs with on its other curves keeps the model's name, each other
    one the curve's label for it, so no headline cell mixes two configurations."""
    usual: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for c in curves:
        models = Counter(row.model for row in c.rows)
        for row in c.rows:
            if models[row.model] == 1:
                for k, v in _flat_setting(row, c).items():
                    usual[row.model][k][repr(v)] += 1
    out: dict[str, dict[int, CurveRow]] = defaultdict(dict)
    for i, c in enumerate(curves):
        by_model: dict[str, list[CurveRow]] = defaultdict(list)
        for row in c.rows:
            by_model[row.model].append(row)
        for model, rows in by_model.items():
            flats = [_flat_setting(row, c) for row in rows]
            differing = {k for k in set().union(*flats) if len({repr(f.get(k)) for f in flats}) > 1}
            def as_usual(f: dict) -> bool:
                return all((counts := usual[model].get(k)) and repr(f.get(k)) == counts.most_common(1)[0][0]
                           for k in differing)
            # rows are ranked: without another curve to tell, the model's best row keeps its name
            main = next((row for row, f in zip(rows, flats) if as_usual(f)), rows[0])
            for row in rows:
                out[model if row is main else row.label][i] = row
    return out


def headline(curves: list[Curve], tables: dict[tuple[str, str, str], list[Row]],
             track: str = "cpu") -> tuple[list[str], list[str]]:
    """Models × (horizon and steps to solve per curve, then the metric of each task without an axis).
    Returns the table and a warning per column in which every model has the same value."""
    curves = [c for c in curves if c.track == track]
    cols = [key for key in tables if key[0] == track]
    if not curves and not cols:
        return ["No records on the cpu track yet."], []
    by_name = headline_rows(curves)
    names = sorted(set(by_name) | {row.model for key in cols for row in tables[key]})
    head = ["model", *SIZE_HEAD]
    twice = {c.task for c in curves if sum(d.task == c.task for d in curves) > 1}
    for c in curves:
        name = _title(c) if c.task in twice else md(c.task)  # which of a task's curves (the word problem's groups)
        if _own_references(c):
            steps_head = f"{name}: steps to solve at the model's reference point"
        elif c.reference is not None:
            steps_head = f"{name}: steps to solve at {_axis(c, c.reference)}"
        else:
            steps_head = f"{name}: steps to solve at the first point"
        head += [f"{_title(c)}: {result_head(c)}", steps_head]
    head += [f"{md(task)} {code(variant)} ({md(primary_of(tables[(t, task, variant)][0].records[0])[0])})"
             for t, task, variant in cols]
    body = []
    for name in names:
        mine = [r for row in by_name.get(name, {}).values() for r in row.records]
        mine += [r for key in cols for row in tables[key] if row.model == name for r in row.chosen]
        cells = [md(name), *size_cells(mine)]
        for i, c in enumerate(curves):
            row = by_name.get(name, {}).get(i)
            if row is None:  # not run on this curve, or settled there by another (leaderboard/implied.py)
                implied = next((imp.result(c.monotone) for imp in c.implied if imp.model == name), NOT_RUN)
                cells += [implied, NOT_RUN]
            elif _own_references(c):  # each model's rate was chosen where it solves: its steps there, and where
                at = row.reference if row.reference is not None else c.values[0]
                cells += [horizon_cell(row, c), f"{steps_cell(steps_at(row, at))} ({_axis(c, at)})"]
            else:
                at = c.reference if c.reference is not None else c.values[0]
                cells += [horizon_cell(row, c), steps_cell(steps_at(row, at))]
        for key in cols:
            best = next((row for row in tables[key] if row.model == name), None)
            cells.append(metric_cell(best, primary_of(best.records[0])[0]) if best else "–")
        body.append(cells)
    # a column whose points are all still open says nothing yet about the axis: not a warning
    warnings = [f"headline column '{h}' has the same value for every model ({body[0][i]}): extend or move its axis"
                for i, h in enumerate(head) if i > len(SIZE_HEAD) and len(body) > 1 and len({b[i] for b in body}) == 1
                and "open at" not in body[0][i]]
    return [_row(head), _rule(len(head)), *[_row(b) for b in body]], warnings


def _rates(rates: list[float]) -> str:
    return "{" + ", ".join(lr_text(x) for x in rates) + "}"


def _at_grid_end(lr: float | None, grid: tuple) -> bool:
    return len(grid) > 2 and lr in (grid[0], grid[-1])


def lr_sentence(curve: Curve) -> str:
    groups: dict[tuple, list[CurveRow]] = defaultdict(list)
    for row in sorted(curve.rows, key=lambda r: r.label):
        groups[(row.reference, tuple(row.lr_grid))].append(row)
    parts = []
    for (ref, grid), rows in sorted(groups.items(), key=lambda kv: (kv[0][0] is None, kv[0][0] or 0, kv[0][1])):
        # a rate at an end of the grid was not bracketed: a rate beyond it might do better
        chosen = ", ".join(f"{md(r.label)} {lr_text(r.lr)}{EDGE * _at_grid_end(r.lr, grid)}"
                           + (f" (provisional: {md(r.reference_waiting)})" if r.reference_waiting else "") for r in rows)
        if ref is None:
            parts.append(f"without a reference point (each point's own choice): {chosen}")
        else:
            parts.append(f"chosen on validation at {_axis(curve, ref)} from {_rates(list(grid))}: {chosen}")
    edge = any(_at_grid_end(r.lr, g) for (_, g), rows in groups.items() for r in rows)
    return (_reference_rule(curve) + f"Learning rate (on validation: {CHOICE_RULE}) " + "; ".join(parts) + "."
            + (" A rate at a grid end was not bracketed: one beyond it was not tried." if edge else ""))


def _reference_rule(curve: Curve) -> str:
    """The rule that placed each row's reference point (common/lr_rules.py), with the candidates declared."""
    refs = [ref for row in curve.rows if (ref := declared_reference(row)) is not None and ref.key]
    if not refs:
        return ""
    cands = sorted({v for ref in refs for v in ref.candidates})
    extend = max(ref.extend for ref in refs)
    if curve.easier_up:  # the hardest point is the smallest
        where = (f"The reference point is the smallest of {md(curve.axis_name)} = "
                 f"{', '.join(f'{v:g}' for v in cands)} at which some rate of the grid solves (a majority of its "
                 f"seeds), else the largest; " + ("candidates below one where every rate failed are not run. "
                                                  if curve.monotone else "every candidate runs. "))
    elif len(cands) == 1:
        where = (f"The reference point is {_axis(curve, cands[0])}, declared in advance (the second edition's rule, "
                 f"whether or not some rate solves there). ")
    else:
        where = (f"The reference point is the largest of {md(curve.axis_name)} = {', '.join(f'{v:g}' for v in cands)} at which "
                 f"some rate of the grid solves (a majority of its seeds), else the smallest; candidates above one where "
                 f"every rate failed are not run. ")
    grow = (f"A rate chosen at an end of the rates run there brings in the next declared rate beyond that end "
            f"({extend} at most at each end). " if extend else "")
    return where + grow


def _criterion(curve: Curve) -> str | None:
    """The solve criterion as the page states it (watched on validation during training)."""
    specs = curve.criteria("solve")
    if not specs:
        return None
    first = next(iter(specs.values()))
    op = "≥" if first["mode"] == "max" else "≤"
    thresholds = {v: s["threshold"] for v, s in sorted(specs.items())}
    if len(set(thresholds.values())) == 1:
        return f"validation {md(first['metric'])} {op} {first['threshold']:g}"
    return (f"validation {md(first['metric'])} {op} a threshold per point ("
            + ", ".join(f"{t:g} at {md(curve.axis_name)} = {v:g}" for v, t in thresholds.items()) + ")")


def _outcome_text(curve: Curve) -> str:
    solve = _criterion(curve)
    return (f"A run's outcome is `solved` once {solve} (the step is its steps to solve), `plateaued` when it "
            f"stops improving within the patience, `budget` when the step cap stops it, still improving or never off "
            f"the memoryless baseline (where no plateau counts). "
            if solve else "")


def _cap_text(curve: Curve) -> str:
    """Where the sweep ran a dense recurrence only up to a state (`dense_state_max`, as its records carry it)."""
    caps = sorted({cap for r in curve.records() if (cap := (r.get("config") or {}).get("dense_state_max"))})
    if not caps:
        return ""
    at = ", ".join(f"{c:g}" for c in caps)
    return (f", or above the largest state the sweep runs a dense recurrence at, {md(curve.axis_name)} = {at}: "
            f"`dense_state_max`, since a dense layer's step grows with S²")


def curve_section(curve: Curve) -> list[str]:
    name, arrow, metric = md(curve.axis_name), "↑" if curve.higher else "↓", md(curve.metric)
    over = f"smallest {name} solved" if curve.easier_up else "horizon"
    out = [f"### {_title(curve)} · {md(curve.track)}: {over} over {name} ({code(curve.axis_key)})", "",
           curve_story(curve), "",
           f"Protocol: task {code(curve.task)} with {code(curve.curve)} at each {name}; "
           f"{TRACKS.get(curve.track, md(curve.track))}. "
           f"A run solves a point when it ends `solved` and meets the same criterion on test; "
           f"a rate solves a point with ≥ 2 of 3 seeds, and a point is solved when some rate of the grid solves it. "
           f"{_outcome_text(curve)}"
           f"{budget_text(curve.records())} {lr_sentence(curve)} Cells: test {metric} {arrow} mean ± std over seeds at "
           f"that rate, a single seed's value alone (seeds solved k/n; "
           f"`[w/t rates]`: where several rates ran, w of the t tried solve the point, "
           f"and `seed 0: s/t` where s of them solve it on seed 0, the only seed the rules run a rate on when they "
           f"compare rates at a reference candidate); "
           f"`{'≥' if curve.higher else '≤'}` marks a bound (a seed hit the step cap); `{NOT_RUN}` not run (beyond the model's horizon{_cap_text(curve)})."
           f"{OPEN_LEGEND if in_progress(curve) else ''}", ""]
    head = ["model", *SIZE_HEAD, result_head(curve), *[axis_text(name, v) for v in curve.values]]
    out += [_row(head), _rule(len(head))]
    for row in curve.rows:
        out.append(_row([md(row.label), *size_cells(row.records), horizon_cell(row, curve),
                         *[point_cell(row.cells.get(v), curve) for v in curve.values]]))
    for imp in curve.implied:
        out.append(_row([md(imp.model), *size_cells(imp.row.records), imp.result(curve.monotone), *[NOT_RUN] * len(curve.values)]))
    if curve.implied:
        out += ["", "`‡`: not run on this curve, settled by another: " + "; ".join(
            f"{md(imp.model)}: {imp.reason()}" for imp in curve.implied)
            + (f". A larger {name} is easier, so each fails at that {name} and at every smaller one." if curve.monotone
               else f". No smaller {name} runs for them here, so that failure names no smallest {name}.")]
    head = ["model", *SIZE_HEAD, name, "lr", "rates solving (window)", f"test {metric}", "solved (test)",
            "solved / plateaued / budget", "steps to solve", "diverged", "state sens rel (final)",
            "grad rec/other (final)", "wall time"]
    out += ["", "Per point: `lr` is the rate chosen at the reference point; the window counts the rates that solve "
                "the point (a majority of their seeds) of those tried there, and names them (`seed 0: s/t`: the rates "
                "solving it on seed 0, where the rules ran a rate on seed 0 alone); a point counts as failed "
                "only when every rate of the grid failed there. Outcomes are each run's verdict at the chosen rate "
                "(solved on validation, plateaued, or stopped by the step cap); steps to solve as in the headline; "
                "sensitivity at the end of training, mean over seeds; wall time summed over every run of the point "
                "(all rates).", "", _row(head), _rule(len(head))]
    for row in curve.rows:
        for v, cell in sorted(row.cells.items()):
            o = cell.outcomes
            out.append(_row([md(row.label), *size_cells(cell.row.records), f"{v:g}", lr_text(cell.row.lr),
                             window_text(cell, row), metric_text(cell, curve),
                             f"{cell.k}/{cell.n}", f"{o['solved']} / {o['plateaued']} / {o['budget']}",
                             steps_cell(cell.steps), f"{cell.row.diverged}/{len(cell.row.records)}",
                             num(cell.final("state_sens_rel_max")), num(cell.final("grad_ratio")),
                             duration(cell.wall_s)]))
    return out + [""]


def run_interval(record: dict) -> tuple[float, float] | None:
    """(start, end) in epoch seconds: a record is written as its run ends, `cost.wall_s` after it began."""
    try:
        end = datetime.fromisoformat(str(record["created"])).timestamp()
        wall = float((record.get("cost") or {})["wall_s"])
    except (KeyError, TypeError, ValueError):
        return None
    return end - wall, end


def elapsed(intervals: list[tuple[float, float]]) -> float:
    """Seconds during which at least one of the intervals was open: a sweep's wall time with
    its parallel jobs overlapping and the gaps between sessions left out."""
    total, reach = 0.0, -math.inf
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def cost_section(records: list[dict]) -> list[str]:
    """The page's cost section: what job time and wall time mean, then `cost_table`."""
    table = cost_table(records)
    if not table:
        return []
    return ["## Cost", "", "What the runs behind this page took, per sweep (the learning-rate grid and the curve "
            "together): job time is the sum of the runs' own wall times; wall time is the time during which at "
            "least one of its runs was running (parallel jobs overlap; gaps between sessions are left out); and "
            "the longest run.", "", *table, ""]


def cost_table(records: list[dict]) -> list[str]:
    """Each sweep's (task's) runs, job time (sum over runs), wall time (elapsed while any of its
    runs ran) and longest run, over every record, superseded reruns included, since they were
    paid for too; then each track's totals."""
    walls: dict[tuple[str, str], list[float]] = defaultdict(list)
    spans: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for r in records:
        key = (r.get("track") or "cpu", r["task"]["name"])
        walls[key].append((r.get("cost") or {}).get("wall_s") or 0.0)
        if (span := run_interval(r)) is not None:
            spans[key].append(span)
    if not walls:
        return []
    out = [_row(["track", "task", "runs", "job time", "wall time", "longest run"]), _rule(6)]
    for (track, task), ws in sorted(walls.items()):
        out.append(_row([md(track), md(task), str(len(ws)), duration(sum(ws)), duration(elapsed(spans[(track, task)])),
                         duration(max(ws))]))
    for track in sorted({t for t, _ in walls}):
        total = [w for (t, _), ws in walls.items() if t == track for w in ws]
        wall = elapsed([s for (t, _), ss in spans.items() if t == track for s in ss])
        out += ["", f"Total {md(track)}-track job time: {duration(sum(total))} over {len(total)} runs; "
                    f"wall time {duration(wall)}."]
    return out
