"""The word problem of a finite group (Merrill et al. 2024, "The Illusion of State";
Grazzi et al. 2025): state tracking.

Inputs are group elements g_1 … g_L drawn uniformly (tokens 0..|G|-1, the element
indices of tasks.groups); the target at every position t is the running product
g_1·g_2·…·g_t, and every position is scored. `acc` is the micro accuracy over all
positions, `exact` the fraction of sequences tracked right to the end (every prefix).

Groups (`task.group`): Zm (counting mod m; Z2 is parity), Sk, Ak (S5 and A5 are the
non-solvable cases), tables generated in tasks.groups. The memory axis is the length L.

Baselines. Every prefix product after the first is uniform over G and independent of
the current input, so a model that sees only g_t is right at t = 1 and at chance
1/|G| afterwards: accuracy (1 + (L-1)/|G|) / L and cross-entropy (L-1)/L · ln|G|.
"""
from __future__ import annotations

import math

import numpy as np

from tasks.base import SyntheticTask
from tasks.groups import group_order, make_group
from tasks.spec import Criterion, TaskSpec

MAX_LEN = 4096        # tasks.streams.eval_partition hashes keys of at most this many columns
MIN_DISTINCT = 4096   # fewer possible sequences cannot keep 1/16 of them for evaluation usefully

# Solved only when (almost) every prefix is right, on validation and test alike: a
# horizon at 0.9 would pass a parity model that tracks 80 % of the length and guesses after.
STATE_SOLVED = Criterion("acc", "max", 0.99)


class WordProblemTask(SyntheticTask):
    name = "word_problem"

    def __init__(self, group: str = "Z2", seq_len: int = 64, **kwargs):
        order = group_order(group)
        if seq_len < 1:
            raise ValueError(f"task.seq_len={seq_len}: need L >= 1")
        if seq_len > MAX_LEN:
            raise ValueError(f"task.seq_len={seq_len}: at most {MAX_LEN} (the evaluation hold-out hashes whole sequences)")
        if seq_len * math.log(order) < math.log(MIN_DISTINCT):
            raise ValueError(f"task.seq_len={seq_len}: |{group}|^L = {order}^{seq_len} < {MIN_DISTINCT} distinct "
                             f"sequences, too few to hold evaluation sequences out of training; raise L")
        self.group_table = make_group(group)
        super().__init__(**kwargs)
        self.group, self.seq_len = group, seq_len

    @property
    def order(self) -> int:
        return self.group_table.order

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec("tokens", self.order, "classes", self.order, "step", self.seq_len)

    @property
    def variant(self) -> str:
        return f"G={self.group},L={self.seq_len}"

    def baselines(self) -> dict[str, float]:
        n, L = self.order, self.seq_len
        return {"memoryless_loss": (L - 1) / L * math.log(n), "memoryless_acc": (1 + (L - 1) / n) / L,
                "chance_acc": 1.0 / n}

    axis, solve, horizon = ("L", "task.seq_len"), STATE_SOLVED, STATE_SOLVED

    def draw(self, rng: np.random.Generator, n: int, split: str) -> dict[str, np.ndarray]:
        x = rng.integers(0, self.order, size=(n, self.seq_len), dtype=np.int64)
        return {"x": x, "y": self.group_table.prefix_products(x), "mask": np.ones_like(x, dtype=bool)}

    def content_key(self, sample: dict[str, np.ndarray]) -> np.ndarray:
        return sample["x"]
