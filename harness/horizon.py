"""Whether a declared run of a sweep is needed, from the records already in results_dir. A sweep
climbing a memory axis stops climbing for a model once it has failed at two consecutive axis
values below this one (above it on an axis that gets easier upwards, such as a state size: the
direction is common/rules.py's), and a point fails only when no rate of its grid solves it
(common/lr_rules.py, the rules the page uses): the cells above are beyond its horizon and shown
as such, not run. Where the chosen rate failed below but other rates are still to be tried
there, the run waits for a later pass of the sweep instead of climbing on a guess, and so does
every run above it that nothing has solved yet. The runs at the reference point are the
learning-rate rules' alone: they choose the rate of the whole curve."""
from __future__ import annotations

from collections import defaultdict

from omegaconf import DictConfig, OmegaConf

from common.config import ConfigError
from common.lr_rules import FAILED, OPEN, best_rate, by_rate, dotted, point_verdict, verdict
from common.record import Axis
from common.rules import SEEDS, easier_up, easiest_first, harder, run_solved
from harness.identity import records_of_setting
from harness.learning_rate import at_reference, lr_skip, reference_choice
from harness.state_cap import state_cap_skip

PENDING = "pending"  # the chosen rate failed here (or, nothing solving it, just below) and other rates are still to run


def run_axis(cfg: DictConfig | None, task) -> tuple[Axis | None, str | None]:
    """The curve axis of this run and the curve it is a point of: the sweep's `curve_axis` (a
    config key, e.g. the state size, with the task's full variant as the curve: the task's own
    axis value is fixed on it), else the task's own axis (`Task.axis`, the variant without it)."""
    declared = cfg.get("curve_axis") if cfg is not None else None
    if declared is None or declared.get("key") is None:
        if task.axis is None:
            return None, None
        return Axis(task.axis[0], task.axis[1], task.axis_value()), task.curve()
    try:
        easier_up(declared.get("easier"))
    except ValueError as err:
        raise ConfigError(f"curve_axis.{err}") from None
    value = dotted(OmegaConf.to_container(cfg, resolve=True), declared.key)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ConfigError(f"curve_axis.key={declared.key}: the config sets no number there ({value!r}); "
                          f"set it, e.g. {declared.key}=256, or drop curve_axis")
    return Axis(declared.get("name") or declared.key, declared.key, value, declared.get("easier")), task.variant


def _below(cfg: DictConfig, axis: Axis) -> dict[float, list[dict]]:
    """This setting's records at the axis values easier than this run's (below it on a memory axis)."""
    by_value: dict[float, list[dict]] = defaultdict(list)
    for rec in records_of_setting(cfg, ignore=(axis.key,)):
        got = (rec.get("task") or {}).get("axis") or {}
        if (got.get("key") == axis.key and isinstance(got.get("value"), (int, float))
                and harder(axis.value, got["value"], axis.easier)):
            by_value[got["value"]].append(rec)
    return by_value


def point_states(cfg: DictConfig, task, failures: int) -> dict[float, str]:
    """Each axis value below this run's (easier than it), easiest first: `solved` (some rate solves
    it), `failed` (every rate of the grid failed), `pending` (the chosen rate failed, other rates not
    all tried yet) or `open`."""
    found = reference_choice(cfg)
    choice = found[3] if found and not found[3].waiting else None
    states: dict[float, str] = {}
    axis, _ = run_axis(cfg, task)
    below = _below(cfg, axis)
    for value in easiest_first(below, axis.easier):
        recs = below[value]
        runs = by_rate(recs)
        chosen = choice.rate if choice else best_rate(runs)
        # a sweep that does not list lr_index never tries another rate off the reference: its grid there is the one rate
        rates = choice.rates if choice and cfg.get("lr_index") is not None else [chosen]
        state, _, _ = point_verdict(runs, chosen, rates, SEEDS)
        if state == OPEN and verdict(runs.get(chosen, []), SEEDS) == FAILED:
            state = PENDING
        if state == OPEN and not any(run_solved(r) for rs in runs.values() for r in rs):
            # some seeds only: a value itself beyond the horizon (its other seeds were skipped)
            # counts as failed when nothing solved it and the values below it failed, and as
            # pending while one of those waits for its other rates (else a harder run climbs past it)
            earlier = [states[v] for v in list(states)[::-1][:failures]]
            if len(earlier) == failures and all(s == FAILED for s in earlier):
                state = FAILED
            elif len(earlier) == failures and all(s in (FAILED, PENDING) for s in earlier):
                state = PENDING
        states[value] = state
    return states


def _nearest_below(cfg: DictConfig, task, failures: int) -> tuple[dict, list[float]]:
    """The states of the settled axis values, and the `failures` easier ones nearest this run's."""
    states = point_states(cfg, task, failures)
    return states, list(states)[::-1][:failures]


def failed_below(cfg: DictConfig, task, failures: int) -> list[float] | None:
    """The `failures` axis values just below this run's at which the model failed (no rate of its
    grid solved them), or None when it did not fail at all of them (or they are not all settled)."""
    if run_axis(cfg, task)[0] is None or task.horizon_criterion() is None:
        return None
    states, below = _nearest_below(cfg, task, failures)
    if len(below) < failures or not all(states[v] == FAILED for v in below):
        return None
    return below


def skip_reason(cfg: DictConfig, task) -> tuple[str, str] | None:
    """None when this declared run is needed; else (outcome, why) for the sweep's report."""
    capped = state_cap_skip(cfg)
    if capped is not None:
        return capped
    failures = cfg.stop.climb_failures
    axis = run_axis(cfg, task)[0]
    # a reference chosen on seed 0 above a point its other seeds then failed: the climb stopped
    # below it, but its own seeds still decide the rate of the whole curve
    if failures and axis is not None and task.horizon_criterion() is not None and not at_reference(cfg, axis.key):
        failed = failed_below(cfg, task, failures)
        if failed is not None:
            values = ", ".join(f"{v:g}" for v in failed)
            return "beyond_horizon", f"beyond the horizon (every rate failed at {axis.name} = {values})"
        states, below = _nearest_below(cfg, task, failures)
        if len(below) == failures and all(states[v] in (FAILED, PENDING) for v in below):
            values = ", ".join(f"{v:g}" for v in below)
            return "waiting", (f"the chosen rate failed at {axis.name} = {values} (or, nothing solving it yet, "
                               f"just below it) and other rates are still to be tried there; a later pass of "
                               f"the sweep decides")
    return lr_skip(cfg)
