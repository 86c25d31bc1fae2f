"""What a task declares to the model and the training module."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

IGNORE = -100  # target value of positions that carry no loss


@dataclass(frozen=True)
class TaskSpec:
    input_kind: Literal["tokens", "real"]  # token ids, or real vectors of size d_input
    d_input: int                           # vocabulary size for tokens
    output_kind: Literal["classes", "regression"]
    d_output: int                          # classes, or regression outputs per step
    readout: Literal["step", "mean", "last"]  # per-step outputs, or pooled over time
    seq_len: int
    primary: str = "acc"                   # the metric the leaderboard ranks by
    higher_is_better: bool = True


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

    def as_dict(self) -> dict:
        return {"metric": self.metric, "mode": self.mode, "threshold": self.threshold}
