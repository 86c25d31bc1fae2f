"""Which runs count and at which learning rate: one rule, shared by the page (its rows) and
the sweeps (the rate a curve uses, the climbing rule). From records to rows: group, select the
learning rate on validation, summarise the test metric over seeds, count divergences.

A *setting* is everything a run computes except its learning rate and seed: rows of
the leaderboard are settings, and within a setting the learning rate is chosen on validation
over the seeds every rate ran (`choose_lr`). Test numbers never take part in the choice.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from common.keys import SELECTED_OVER, SUMMARY_KEYS, identity_part
from common.rules import solved_on_validation

# choose_lr's order, as the page states it
CHOICE_RULE = "the rate solving on the most seeds, then in the fewest steps, then the best mean metric, then the smaller rate"


def setting_of(record: dict) -> dict:
    """The record's config without what does not define a setting (one list: common.keys)."""
    return identity_part(copy.deepcopy(record.get("config") or {}), SELECTED_OVER)


def setting_key(record: dict) -> str:
    return hashlib.sha1(json.dumps(setting_of(record), sort_keys=True, default=str).encode()).hexdigest()[:10]


def lr_of(record: dict) -> float | None:
    return ((record.get("config") or {}).get("optimizer") or {}).get("lr")


def primary_of(record: dict) -> tuple[str, bool]:
    task = record["task"]
    return task.get("primary", "acc"), task.get("higher_is_better", True)


@dataclass
class Row:
    model: str
    label: str
    setting: str
    records: list[dict]                  # every run of the setting, all learning rates
    chosen: list[dict] = field(default_factory=list)  # the runs at the chosen learning rate
    lr: float | None = None
    lr_grid: list[float] = field(default_factory=list)

    @property
    def diverged(self) -> int:
        return sum(r["status"] == "diverged" for r in self.records)

    @property
    def failed(self) -> int:
        return sum(r["status"] == "failed" for r in self.records)

    def test_values(self, metric: str) -> list[float]:
        return [v for r in self.chosen if r["status"] == "ok"
                for v in [(r["metrics"].get("test") or {}).get(metric)] if v is not None]

    def mean_std(self, metric: str) -> tuple[float | None, float | None, int]:
        vals = self.test_values(metric)
        if not vals:
            return None, None, 0
        # statistics.mean is exact (fractions), so equal seeds give exactly their value and order never matters
        return statistics.mean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0), len(vals)

    def sensitivity(self, when: str, key: str) -> float | None:
        vals = [((r.get("sensitivity") or {}).get(when) or {}).get(key) for r in self.chosen]
        vals = [v for v in vals if isinstance(v, (int, float)) and math.isfinite(v)]
        return statistics.fmean(vals) if vals else None

    def cost(self, key: str) -> float | None:
        vals = [(r.get("cost") or {}).get(key) for r in self.chosen]
        vals = [v for v in vals if isinstance(v, (int, float))]
        return statistics.fmean(vals) if vals else None


def _steps_to_solve(record: dict) -> float:
    return float((record.get("solved_at") or {}).get("step") or record.get("steps") or 0)


def choose_lr(row: Row) -> None:
    """The learning rate chosen on validation, over the seeds every rate ran (a grid on seed 0, then
    more seeds at the chosen rate, keeps its choice): the largest share of runs solved on validation first, then the
    fewest steps to solve, then the best mean validation primary metric, then the smaller rate. A run
    that diverged or failed counts as the worst possible value at its learning rate.

    Why speed before the metric: a solved run stops at the first validation that meets the criterion,
    so among rates that solve, its last value (0.991 or 0.9914) is noise, while the steps it took are
    not (a GRU on copy at T = 16 solved in 2,100 steps at 3e-3 and 5,700 at 1e-2). Ranking by the
    metric alone sent ties at 1.0 to the smallest rate, the slowest, at an end of the grid."""
    metric, higher = primary_of(row.records[0])
    worst = -math.inf if higher else math.inf
    by_lr: dict[float | None, list[dict]] = defaultdict(list)
    for r in row.records:
        by_lr[lr_of(r)].append(r)
    row.lr_grid = sorted(lr for lr in by_lr if lr is not None)
    shared = set.intersection(*({r.get("seed") for r in runs} for runs in by_lr.values()))

    def rank(lr: float | None, runs: list[dict]) -> tuple:
        compared = [r for r in runs if not shared or r.get("seed") in shared]
        vals = []
        for r in compared:
            v = (r["metrics"].get("val") or {}).get(metric) if r["status"] == "ok" else None
            vals.append(v if isinstance(v, (int, float)) and math.isfinite(v) else worst)
        score = statistics.fmean(vals)
        solved = [r for r in compared if solved_on_validation(r)]
        steps = statistics.fmean(_steps_to_solve(r) for r in solved) if solved else 0.0
        return len(solved) / len(compared), -steps, score if higher else -score, -(lr or 0)

    ranked = sorted(by_lr.items(), key=lambda kv: rank(*kv), reverse=True)
    row.lr, row.chosen = ranked[0][0], sorted(ranked[0][1], key=lambda r: (r["seed"], r["run_id"]))


def labels(rows: list, setting: Callable[[dict], dict] = setting_of) -> None:
    """Name each row by its model, plus the options (of `setting`) that tell apart rows of the same model."""
    by_model: dict[str, list] = defaultdict(list)
    for row in rows:
        by_model[row.model].append(row)
    for same in by_model.values():
        if len(same) == 1:
            same[0].label = same[0].model
            continue
        flat = [flatten(setting(r.records[0])) for r in same]
        differing = sorted(k for k in set().union(*flat) if len({json.dumps(f.get(k), default=str) for f in flat}) > 1)
        for row, f in zip(same, flat):
            extra = ", ".join(f"{k}={f.get(k)}" for k in differing[:4])
            row.label = f"{row.model} ({extra})" if extra else f"{row.model} [{row.setting}]"


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def latest_runs(records: list[dict]) -> list[dict]:
    """One record per (setting, learning rate, seed): the newest. A rerun (force=true, or a sweep
    retrying a diverged run) supersedes the earlier record instead of counting as another seed."""
    latest: dict[tuple, dict] = {}
    for r in sorted(records, key=lambda r: (str(r.get("created", "")), str(r.get("run_id", "")))):
        lr = lr_of(r)
        latest[(setting_key(r), lr, r.get("seed"))] = r
    return list(latest.values())


def table_rows(records: list[dict]) -> list[Row]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in latest_runs(records):
        groups[setting_key(r)].append(r)
    rows = [Row(model=recs[0]["model"]["name"], label="", setting=key, records=recs) for key, recs in groups.items()]
    for row in rows:
        choose_lr(row)
    labels(rows)
    metric, higher = primary_of(records[0])

    def rank(row: Row):
        mean = row.mean_std(metric)[0]
        return (mean is None, -(mean or 0) if higher else (mean or 0), row.label)

    return sorted(rows, key=rank)


__all__ = ["Row", "lr_of", "table_rows", "latest_runs", "setting_of", "setting_key", "primary_of", "SUMMARY_KEYS"]
