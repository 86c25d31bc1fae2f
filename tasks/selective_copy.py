"""Selective copy (the MAD layout; Mamba's setting is `conf/task/selective_copy_mamba.yaml`).

Vocabulary of V tokens: data 0..V-3, noise V-2, copy marker V-1. A sequence of
total length L (every input position, targets included) is

    positions 0 .. L-N-2   context: N data tokens at distinct, sorted, uniformly
                           random positions; noise everywhere else
    position  L-N-1        the copy marker
    positions L-N .. L-1   noise (the "answer" slots; the input carries nothing)

The target is IGNORE (-100) everywhere except the last N positions, which hold the
N data tokens in the order they appeared; `mask` marks those N positions, so acc is
the micro token accuracy over them and exact the fraction of sequences with all N
right. Data tokens are drawn uniformly with replacement from 0..V-3.

Differences from MAD's generator (`generate_selective_copying_instance`): MAD
places the noise with `np.insert` at random insertion points, which does not give
uniformly distributed position sets; here every set of N positions among the
L-N-1 context slots is equally likely. Token values, marker, noise-filled answer
slots and targets are as in MAD. MAD requires L > 2N+1; here L = 2N+1 (a context
with no noise at all) is allowed.

A model that remembers nothing can do no better than a uniform guess over the V-2
data tokens: cross-entropy ln(V-2) on the scored positions (the only ones with a
loss), accuracy 1/(V-2).
"""
from __future__ import annotations

import math

import numpy as np

from tasks.base import RECALL_HORIZON, RECALL_SOLVED, SyntheticTask
from tasks.spec import IGNORE, TaskSpec

MAX_KEY = 4096           # tasks.streams.eval_partition hashes keys of at most this many columns
MIN_DISTINCT = 4096      # fewer possible sequences cannot keep 1/16 of them for evaluation usefully


def n_distinct(seq_len: int, n_tokens: int, vocab_size: int) -> float:
    """log of the number of distinct inputs: C(L-N-1, N) · (V-2)^N."""
    context = seq_len - n_tokens - 1
    return (math.lgamma(context + 1) - math.lgamma(n_tokens + 1) - math.lgamma(context - n_tokens + 1)
            + n_tokens * math.log(vocab_size - 2))


def selective_copy_sequences(rng: np.random.Generator, n: int, seq_len: int, n_tokens: int,
                             vocab_size: int) -> dict[str, np.ndarray]:
    """`n` sequences: x (n, L) int64, y (n, L) int64 with IGNORE off the answer slots,
    mask (n, L) bool on the answer slots, positions (n, N) sorted context positions."""
    L, N, V = seq_len, n_tokens, vocab_size
    noise, marker, context = V - 2, V - 1, L - N - 1
    data = rng.integers(0, V - 2, size=(n, N), dtype=np.int64)
    # N distinct positions per row, uniform over all N-subsets of the context.
    positions = np.sort(np.argpartition(rng.random((n, context)), N - 1, axis=1)[:, :N], axis=1)
    x = np.full((n, L), noise, dtype=np.int64)
    np.put_along_axis(x, positions, data, axis=1)
    x[:, context] = marker
    y = np.full((n, L), IGNORE, dtype=np.int64)
    y[:, L - N:] = data
    mask = np.zeros((n, L), dtype=bool)
    mask[:, L - N:] = True
    return {"x": x, "y": y, "mask": mask, "positions": positions.astype(np.int64)}


class SelectiveCopyTask(SyntheticTask):
    name = "selective_copy"

    def __init__(self, seq_len: int = 256, n_tokens: int = 16, vocab_size: int = 16, **kwargs):
        if vocab_size < 3:
            raise ValueError(f"task.vocab_size={vocab_size}: need V >= 3 (data tokens 0..V-3, noise V-2, marker V-1)")
        if n_tokens < 1:
            raise ValueError(f"task.n_tokens={n_tokens}: need N >= 1 data tokens to copy")
        if seq_len < 2 * n_tokens + 1:
            raise ValueError(f"task.seq_len={seq_len}: need L >= 2N+1 = {2 * n_tokens + 1} for N={n_tokens} "
                             f"(context of L-N-1 >= N slots, marker, N answer slots)")
        if n_tokens > MAX_KEY:
            raise ValueError(f"task.n_tokens={n_tokens}: at most {MAX_KEY} data tokens are supported")
        if n_distinct(seq_len, n_tokens, vocab_size) < math.log(MIN_DISTINCT):
            raise ValueError(
                f"task.seq_len={seq_len}, task.n_tokens={n_tokens}, task.vocab_size={vocab_size}: fewer than "
                f"{MIN_DISTINCT} distinct sequences, too few to hold evaluation sequences out of training; "
                f"raise L, N or V")
        super().__init__(**kwargs)
        self.seq_len, self.n_tokens, self.vocab_size = seq_len, n_tokens, vocab_size

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec("tokens", self.vocab_size, "classes", self.vocab_size, "step", self.seq_len)

    @property
    def variant(self) -> str:
        return f"L={self.seq_len},N={self.n_tokens},V={self.vocab_size}"

    def baselines(self) -> dict[str, float]:
        return {"memoryless_loss": math.log(self.vocab_size - 2), "chance_acc": 1.0 / (self.vocab_size - 2)}

    axis, solve, horizon = ("L", "task.seq_len"), RECALL_SOLVED, RECALL_HORIZON

    def draw(self, rng: np.random.Generator, n: int, split: str) -> dict[str, np.ndarray]:
        out = selective_copy_sequences(rng, n, self.seq_len, self.n_tokens, self.vocab_size)
        del out["positions"]
        return out

    def content_key(self, sample: dict[str, np.ndarray]) -> np.ndarray:
        """One integer per data token: position * (V-2) + token (positions recovered from x)."""
        x = sample["x"][:, : self.seq_len - self.n_tokens - 1]
        is_data = x < self.vocab_size - 2
        positions = np.nonzero(is_data)[1].reshape(len(x), self.n_tokens)
        tokens = x[is_data].reshape(len(x), self.n_tokens)
        return positions * (self.vocab_size - 2) + tokens
