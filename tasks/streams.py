"""Seeded, disjoint random streams for synthetic data.

Every batch is a pure function of (seed, stream, index): training draws use stream
TRAIN with the run's seed; evaluation sets use VAL / TEST with the task's fixed
data seed, so they stay the same across training seeds. On top of the separate
streams, `eval_partition` splits the space of sequences itself: training draws are
redrawn until none falls in the evaluation part and vice versa, so no evaluation
sequence can ever appear in training.
"""
from __future__ import annotations

import numpy as np

TRAIN, VAL, TEST = 0, 1, 2
EVAL_FRACTION = 16  # 1 in 16 of all sequences is reserved for evaluation

_MIX = np.random.default_rng(20240917).integers(1, 2**62, size=4096, dtype=np.uint64) | np.uint64(1)


def rng_for(seed: int, stream: int, index: int, *extra: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(stream), int(index), *map(int, extra)])


def eval_partition(keys: np.ndarray) -> np.ndarray:
    """Row-wise deterministic hash of integer content keys -> True for the evaluation part."""
    keys = np.asarray(keys, dtype=np.int64).astype(np.uint64)
    if keys.shape[1] > _MIX.size:
        raise ValueError(f"content key of length {keys.shape[1]} exceeds {_MIX.size}")
    with np.errstate(over="ignore"):
        h = ((keys + np.uint64(1)) * _MIX[: keys.shape[1]]).sum(axis=1, dtype=np.uint64)
        h ^= h >> np.uint64(31)
        h *= np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
    return (h % np.uint64(EVAL_FRACTION)) == 0
