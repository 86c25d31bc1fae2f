"""What a task declares to the model and the training module."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from common.rules import Criterion  # noqa: F401  (tasks declare their criteria with it)

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
