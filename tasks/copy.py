"""The copy task (Arjovsky et al. 2016 layout).

Tokens: 0 blank, 1-8 data, 9 delimiter. Input `[10 data][T-1 blanks][delimiter][10 blanks]`
(length T+20); the target is blank everywhere except the last 10 positions, which
hold the 10 data symbols. A model that remembers nothing reaches the cross-entropy
10·ln 8 / (T+20) by predicting blanks and then guessing uniformly.
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np

from tasks.base import RECALL_HORIZON, RECALL_SOLVED, SyntheticTask
from tasks.spec import IGNORE, TaskSpec

BLANK, DELIMITER, N_DATA, N_SYMBOLS, VOCAB = 0, 9, 10, 8, 10


def copy_sequences(rng: np.random.Generator, n: int, delay: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and full targets, both (n, delay + 20) int64."""
    length = delay + 2 * N_DATA
    data = rng.integers(1, N_SYMBOLS + 1, size=(n, N_DATA))
    x = np.full((n, length), BLANK, dtype=np.int64)
    x[:, :N_DATA] = data
    x[:, N_DATA + delay - 1] = DELIMITER
    y = np.full((n, length), BLANK, dtype=np.int64)
    y[:, -N_DATA:] = data
    return x, y


def memoryless_loss(delay: int) -> float:
    return N_DATA * math.log(N_SYMBOLS) / (delay + 2 * N_DATA)


class CopyTask(SyntheticTask):
    name = "copy"

    def __init__(self, delay: int = 100, loss_on: Literal["all", "recall"] = "all", **kwargs):
        if delay < 1:
            raise ValueError(f"task.delay={delay}: the copy delay T must be >= 1")
        super().__init__(**kwargs)
        self.delay, self.loss_on = delay, loss_on

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec("tokens", VOCAB, "classes", VOCAB, "step", self.delay + 2 * N_DATA)

    @property
    def variant(self) -> str:
        return f"T={self.delay},loss={self.loss_on}"

    def baselines(self) -> dict[str, float]:
        return {"memoryless_loss": memoryless_loss(self.delay), "chance_acc": 1.0 / 8}

    axis, solve, horizon = ("T", "task.delay"), RECALL_SOLVED, RECALL_HORIZON

    def draw(self, rng: np.random.Generator, n: int, split: str) -> dict[str, np.ndarray]:
        x, y = copy_sequences(rng, n, self.delay)
        mask = np.zeros_like(x, dtype=bool)
        mask[:, -N_DATA:] = True
        if split == "train" and self.loss_on == "recall":
            y = np.where(mask, y, IGNORE)
        return {"x": x, "y": y, "mask": mask}

    def content_key(self, sample: dict[str, np.ndarray]) -> np.ndarray:
        return sample["x"][:, :N_DATA]
