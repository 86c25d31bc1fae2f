"""Whether a declared run of a sweep is needed, from the records already in results_dir. A sweep
climbing a memory axis stops climbing for a model once it has failed at two consecutive axis
values below this one, and a point fails only when no rate of its grid solves it
(common/lr_rules.py, the rules the page uses): the cells above are beyond its horizon and shown
as such, not run. Where the chosen rate failed below but other rates are still to be tried
there, the run waits for a later pass of the sweep instead of climbing on a guess."""
from __future__ import annotations

from collections import defaultdict

from omegaconf import DictConfig

from common.lr_rules import FAILED, OPEN, best_rate, by_rate, point_verdict, verdict
from common.rules import SEEDS, run_solved
from harness.identity import records_of_setting
from harness.learning_rate import lr_skip, reference_choice


def _below(cfg: DictConfig, task) -> dict[float, list[dict]]:
    key, here = task.axis[1], task.axis_value()
    by_value: dict[float, list[dict]] = defaultdict(list)
    for rec in records_of_setting(cfg, ignore=(key,)):
        axis = (rec.get("task") or {}).get("axis") or {}
        if axis.get("key") == key and isinstance(axis.get("value"), (int, float)) and axis["value"] < here:
            by_value[axis["value"]].append(rec)
    return by_value


def point_states(cfg: DictConfig, task, failures: int) -> dict[float, str]:
    """Each axis value below this run's: `solved` (some rate solves it), `failed` (every rate of the
    grid failed), `pending` (the chosen rate failed, other rates not all tried yet) or `open`."""
    found = reference_choice(cfg)
    choice = found[3] if found and not found[3].waiting else None
    states: dict[float, str] = {}
    for value, recs in sorted(_below(cfg, task).items()):
        runs = by_rate(recs)
        chosen = choice.rate if choice else best_rate(runs)
        # a sweep that does not list lr_index never tries another rate off the reference: its grid there is the one rate
        rates = choice.rates if choice and cfg.get("lr_index") is not None else [chosen]
        state, _, _ = point_verdict(runs, chosen, rates, SEEDS)
        if state == OPEN and verdict(runs.get(chosen, []), SEEDS) == FAILED:
            state = "pending"
        if state == OPEN and not any(run_solved(r) for rs in runs.values() for r in rs):
            # some seeds only: a value itself beyond the horizon (its other seeds were skipped)
            # counts as failed when nothing solved it and the values below it failed
            earlier = [states[v] for v in sorted(states, reverse=True)[:failures]]
            if len(earlier) == failures and all(s == FAILED for s in earlier):
                state = FAILED
        states[value] = state
    return states


def failed_below(cfg: DictConfig, task, failures: int) -> list[float] | None:
    """The `failures` axis values just below this run's at which the model failed (no rate of its
    grid solved them), or None when it did not fail at all of them (or they are not all settled)."""
    if task.axis is None or task.horizon_criterion() is None:
        return None
    states = point_states(cfg, task, failures)
    below = sorted(states, reverse=True)[:failures]
    if len(below) < failures or not all(states[v] == FAILED for v in below):
        return None
    return below


def skip_reason(cfg: DictConfig, task) -> tuple[str, str] | None:
    """None when this declared run is needed; else (outcome, why) for the sweep's report."""
    failures = cfg.stop.climb_failures
    if failures and task.axis is not None and task.horizon_criterion() is not None:
        states = point_states(cfg, task, failures)
        below = sorted(states, reverse=True)[:failures]
        values = ", ".join(f"{v:g}" for v in below)
        if len(below) == failures and all(states[v] == FAILED for v in below):
            return "beyond_horizon", f"beyond the horizon (every rate failed at {task.axis[0]} = {values})"
        if len(below) == failures and all(states[v] in (FAILED, "pending") for v in below):
            return "waiting", (f"the chosen rate failed at {task.axis[0]} = {values} and other rates are still to "
                               f"be tried there; a later pass of the sweep decides")
    return lr_skip(cfg)
