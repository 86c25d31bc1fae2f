"""A model left off a state-size curve because another curve of the same task already settles it.

A state-size curve holds a task at one setting (MQAR at N = 2 pairs) and varies the state S per layer.
A dense recurrence runs here only at S <= 256 (`dense_state_max`: its step grows with S²), and the
task's memory curve (MQAR over the pairs) runs every model at that equal state. Where that curve finds
a model failing, at every rate of the grid, a point no harder than the state curve's setting (the
same N = 2, or an easier one) at the same state, width, depth and budget, the state curve's climb
down from its S would stop at its first point: the model fails there and, the state curve getting
easier upwards, at every smaller S (on a curve declared not monotone, there alone: no smaller S runs
for it). Such a model is left out of the state curve's sweep, and the page
shows this implied result beside the curve's own rows, naming the curve and point it comes from; the
audit counts it as on the curve. Should that point ever be solved, the implication lapses and the
audit reports the model missing again. Only a model its records call dense (`model.diagonal` false)
is implied: a diagonal one runs on the curve at larger S, and until its runs begin it is missing."""
from __future__ import annotations

import json
from dataclasses import dataclass

from common.keys import drop_keys
from common.lr_rules import FAILED, dotted
from common.record import old
from common.rules import easiest_first, harder
from common.selection import setting_of
from leaderboard.curves import Curve, CurveRow
from leaderboard.render import state_per_layer

# what may differ between a state-size curve's runs and the memory curve's runs it takes a result from:
# the two axes (added per pair), how each sweep declares and caps its axis, and the model itself
SWEEP_ONLY = ("curve_axis", "dense_state_max", "model")


@dataclass
class Implied:
    model: str
    row: CurveRow       # the model's row on `source`, whose runs establish the result
    state: float        # the state per layer the failure was found at (and holds below, the curve getting easier upwards)
    source: Curve       # the memory curve that found it
    value: float        # the point of `source` where every rate failed, no harder than the state curve's setting
    setting: float      # the state curve's own value on `source`'s axis

    def result(self, monotone: bool) -> str:
        """The model's result on the state curve, in the notation of its rows: nothing solved up to this S,
        or, on a curve that is not monotone (`Curve.monotone`), a failure at this S alone (no smaller S runs for it)."""
        return f"> {self.state:g}‡" if monotone else f"fails at {self.state:g}‡"

    def reason(self) -> str:
        return (f"every rate failed {self.source.title} at {self.source.axis_name} = {self.value:g} "
                f"(this curve: {self.setting:g}) at the same S = {self.state:g} per layer")


def _shared(record: dict, keys: tuple[str, ...]) -> dict:
    """The part of a run's setting that both curves must hold alike: all of it but the axes and the model,
    whose width and depth stay in."""
    model = (record.get("config") or {}).get("model") or {}
    return {**drop_keys(setting_of(record), (*SWEEP_ONLY, *keys)),
            "width": model.get("d_model"), "depth": model.get("n_layers")}


def _one(values) -> object | None:
    found = {json.dumps(v, sort_keys=True, default=str): v for v in values}
    return next(iter(found.values())) if len(found) == 1 else None


def _first_failure(row: CurveRow, source: Curve, setting: float) -> float | None:
    """The easiest point of the row where every rate failed, when it is no harder than `setting`."""
    for value in easiest_first(row.cells, source.easier):
        if harder(value, setting, source.easier):
            return None
        if row.cells[value].state == FAILED:
            return value
    return None


def implied_on(curve: Curve, curves: list[Curve]) -> list[Implied]:
    """The models absent from the state-size curve `curve` whose result there another curve settles."""
    if not curve.easier_up:
        return []
    own = [r for r in curve.records() if not old(r)]
    present = {row.model for row in curve.rows}
    flags: dict[str, set] = {}
    for r in (r for c in curves for r in c.records()):
        flags.setdefault(r["model"]["name"], set()).add(r["model"].get("diagonal"))
    dense = {m for m, f in flags.items() if False in f and True not in f}
    out: dict[str, Implied] = {}
    for source in curves:
        if source is curve or source.easier_up or (source.track, source.task) != (curve.track, curve.task):
            continue
        keys = (curve.axis_key, source.axis_key)
        setting = _one(dotted(r.get("config") or {}, source.axis_key) for r in own)
        shared = _one(_shared(r, keys) for r in own)
        state = _one(state_per_layer(r) for r in source.records() if not old(r))
        if not isinstance(setting, (int, float)) or shared is None or state is None:
            continue
        for row in source.rows:
            if row.model in present or row.model not in dense or row.model in out or any(old(r) for r in row.records):
                continue
            if any(_shared(r, keys) != shared for r in row.records):
                continue
            value = _first_failure(row, source, float(setting))
            if value is not None:
                out[row.model] = Implied(row.model, row, float(state), source, value, float(setting))
    return sorted(out.values(), key=lambda i: i.model)


def settle_implied(curves: list[Curve]) -> None:
    for curve in curves:
        curve.implied = implied_on(curve, curves)
