"""A sweep climbing a memory axis stops climbing for a model once it has failed at two
consecutive axis values below this one (fewer than 2 of 3 seeds meeting the task's
horizon criterion on test, at the learning rate chosen on validation): the cells above
are beyond its horizon and shown as such, not run."""
from __future__ import annotations

import copy
from collections import defaultdict

from omegaconf import DictConfig

from common.keys import SELECTED_OVER, drop_keys
from harness.identity import identity_config
from leaderboard.aggregate import setting_of, table_rows
from leaderboard.records import read_records

SEEDS_NEEDED, SOLVED_NEEDED = 3, 2


def _criterion_met(rec: dict, crit: dict) -> bool:
    value = (rec.get("metrics", {}).get("test") or {}).get(crit["metric"])
    if rec.get("status") != "ok" or not isinstance(value, (int, float)):
        return False
    return value >= crit["threshold"] if crit["mode"] == "max" else value <= crit["threshold"]


def failed_below(cfg: DictConfig, task, failures: int) -> list[float] | None:
    """The `failures` axis values just below this run's at which the model failed, or None
    when it did not fail at all of them (or they are not all finished yet)."""
    if task.axis is None or task.horizon_criterion() is None:
        return None
    key, here = task.axis[1], task.axis_value()
    mine = drop_keys(identity_config(cfg), (key, "lr_reference", *SELECTED_OVER))
    by_value: dict[float, list[dict]] = defaultdict(list)
    for rec in read_records(cfg.results_dir):
        axis = (rec.get("task") or {}).get("axis") if isinstance(rec, dict) else None
        if not axis or axis.get("key") != key or not isinstance(axis.get("value"), (int, float)) or axis["value"] >= here:
            continue
        if drop_keys(setting_of(rec), (key, "lr_reference")) == mine:
            by_value[axis["value"]].append(rec)
    crit = task.horizon_criterion().as_dict()
    failed: dict[float, bool | None] = {}
    for value in sorted(by_value):
        chosen = table_rows(copy.deepcopy(by_value[value]))[0].chosen
        solved = sum(_criterion_met(r, crit) for r in chosen)
        if len(chosen) >= SEEDS_NEEDED or solved >= SOLVED_NEEDED:
            failed[value] = solved < SOLVED_NEEDED
        else:
            # some seeds only: a value itself beyond the horizon (its other seeds were skipped)
            # counts as failed when none of its seeds solved it; otherwise it is still undecided
            earlier = [failed[v] for v in sorted(failed, reverse=True)[:failures]]
            failed[value] = True if solved == 0 and len(earlier) == failures and all(earlier) else None
    below = sorted(failed, reverse=True)[:failures]
    if len(below) < failures or not all(failed[v] for v in below):
        return None
    return below
