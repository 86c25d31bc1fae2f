"""A sweep climbing a memory axis stops climbing for a model once it has failed at two
consecutive axis values below this one (no majority of seeds meeting the task's horizon
criterion on test, at the learning rate chosen on validation: common/rules.py, the rule the
page uses): the cells above are beyond its horizon and shown as such, not run."""
from __future__ import annotations

from collections import defaultdict

from omegaconf import DictConfig

from common.rules import majority, point_decided, run_solved
from harness.identity import chosen_row, records_of_setting


def failed_below(cfg: DictConfig, task, failures: int) -> list[float] | None:
    """The `failures` axis values just below this run's at which the model failed, or None
    when it did not fail at all of them (or they are not all finished yet)."""
    crit = task.horizon_criterion()
    if task.axis is None or crit is None:
        return None
    key, here = task.axis[1], task.axis_value()
    by_value: dict[float, list[dict]] = defaultdict(list)
    for rec in records_of_setting(cfg, ignore=(key,)):
        axis = (rec.get("task") or {}).get("axis") or {}
        if axis.get("key") == key and isinstance(axis.get("value"), (int, float)) and axis["value"] < here:
            by_value[axis["value"]].append(rec)
    failed: dict[float, bool | None] = {}
    for value in sorted(by_value):
        chosen = chosen_row(by_value[value]).chosen
        solved = sum(run_solved(r) for r in chosen)
        if point_decided(solved, len(chosen)):
            failed[value] = not majority(solved, len(chosen))
        else:
            # some seeds only: a value itself beyond the horizon (its other seeds were skipped)
            # counts as failed when none of its seeds solved it; otherwise it is still undecided
            earlier = [failed[v] for v in sorted(failed, reverse=True)[:failures]]
            failed[value] = True if solved == 0 and len(earlier) == failures and all(earlier) else None
    below = sorted(failed, reverse=True)[:failures]
    if len(below) < failures or not all(failed[v] for v in below):
        return None
    return below
