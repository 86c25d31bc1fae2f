"""The rules that decide what counts, in one place: the run side (a sweep deciding whether
to climb a memory axis) and the page (a curve's horizon) both call these, and both take the
axis's direction from here (`easier`: a memory axis gets harder upwards, a state axis easier).

- A *criterion* is one metric at or beyond a threshold (`Criterion.met`).
- A run *solves* a point of a curve when it ended `solved` (its task's solve criterion met on
  validation) and its test metrics meet that same criterion: one meaning of solved, from the
  run's verdict to the page.
- A point is solved by a *majority of seeds*: at least two seeds, and two thirds of them
  (2 of 3 on the cpu track); which rates a point needs before it fails: common/lr_rules.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SEEDS = 3  # seeds run at every point of a curve

# Which way a curve's axis gets easier. A memory axis (copy's T, MQAR's pairs) gets harder upwards:
# its result is the largest value solved and a sweep climbs up. A budget axis (the state size S of a
# state-size curve) gets easier upwards: its result is the smallest value solved and a sweep climbs
# down. None, as in every record older than this field, means the memory direction.
UP, DOWN = "up", "down"


def easier_up(easier: str | None) -> bool:
    """Whether larger axis values are easier (`easier: up`); a direction other than up, down or None is an error."""
    if easier not in (None, UP, DOWN):
        raise ValueError(f"easier={easier!r}: the direction in which the axis gets easier is up, down or null (down)")
    return easier == UP


def easiest_first(values, easier: str | None = None) -> list:
    """The axis values from the easiest to the hardest: the order a sweep climbs them in."""
    return sorted(values, reverse=easier_up(easier))


def hardest(values, easier: str | None = None):
    """The hardest of these axis values (the largest on a memory axis, the smallest S on a state axis)."""
    return easiest_first(values, easier)[-1]


def harder(a: float, b: float, easier: str | None = None) -> bool:
    """Whether axis value `a` is harder than `b`."""
    return a < b if easier_up(easier) else a > b


@dataclass(frozen=True)
class Criterion:
    """`metric` (a key of the task's metrics) at or beyond `threshold`."""

    metric: str
    mode: Literal["max", "min"]
    threshold: float

    def met(self, metrics: dict) -> bool:
        value = metrics.get(self.metric)
        if value is None or value != value:  # missing or NaN
            return False
        return value >= self.threshold if self.mode == "max" else value <= self.threshold

    def shortfall(self, metrics: dict) -> float:
        """How far `metrics` miss the criterion (0 when met, inf when the metric is missing or NaN):
        a score in its own units, a loss (mode min) as a fraction of the threshold."""
        value = metrics.get(self.metric)
        if not isinstance(value, (int, float)) or value != value:
            return float("inf")
        return max(0.0, self.threshold - value) if self.mode == "max" else max(0.0, value / self.threshold - 1)

    def as_dict(self) -> dict:
        return {"metric": self.metric, "mode": self.mode, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, d: dict) -> Criterion:
        return cls(d["metric"], d["mode"], d["threshold"])


def solved_on_validation(record: dict) -> bool:
    """An ok run that ended `solved`: its task's criterion met on validation (test not consulted)."""
    return record["status"] == "ok" and record.get("outcome") == "solved"


def run_solved(record: dict) -> bool:
    """An ok run that ended `solved` and whose test metrics meet the same criterion, its own
    task's solve criterion (thresholds may depend on the axis value, so each record carries its own)."""
    solve = record["task"].get("solve")
    if not solved_on_validation(record) or not solve:
        return False
    return Criterion.from_dict(solve).met(record["metrics"].get("test") or {})


def never_left_baseline(record: dict) -> bool:
    """A third-edition run whose validation metric never left the task's memoryless baseline (such a
    run cannot plateau, so it trains to its cap: SPEC §6.2). Older records, which do not say, did."""
    return "left_baseline_at" in record and record["left_baseline_at"] is None


def majority(k: int, n: int) -> bool:
    """k of n seeds solved a point: at least two seeds and two thirds of them."""
    return k >= 2 and 3 * k >= 2 * n

