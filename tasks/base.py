"""Base classes: a task is a LightningDataModule that also declares a TaskSpec."""
from __future__ import annotations

import math
from collections.abc import Iterator

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler

from tasks.spec import Criterion, TaskSpec
from tasks.streams import TEST, TRAIN, VAL, eval_partition, rng_for


class Task(L.LightningDataModule):
    name: str = "task"

    def __init__(self, seed: int = 0):
        super().__init__()
        self.seed = seed

    @property
    def spec(self) -> TaskSpec:
        raise NotImplementedError

    @property
    def variant(self) -> str:
        """Every protocol choice that changes what a number means, as one string."""
        raise NotImplementedError

    def baselines(self) -> dict[str, float]:
        """Reference values reported next to the metrics (e.g. a memoryless loss)."""
        return {}

    def data_source(self) -> str | None:
        return None

    # -- the memory curve this task is a point of (issue: runs end in a verdict) --
    #: (name shown on the page, config key) of the memory axis; None: not a curve
    axis: tuple[str, str] | None = None
    #: met on validation: the run is `solved` (and may stop); None: never solved
    solve: Criterion | None = None
    #: met on test by >= 2 of 3 seeds: the axis value is within the model's horizon
    horizon: Criterion | None = None

    #: the smallest change of the monitored validation metric that counts as improving:
    #: absolute, or with `plateau_relative` a fraction of its value (losses that fall by decades)
    plateau_delta: float = 0.01
    plateau_relative: bool = False

    def monitored(self) -> Criterion | None:
        """The criterion whose metric the stopping rule watches (the solve criterion, else the primary metric)."""
        if self.solve_criterion() is not None:
            return self.solve_criterion()
        spec = self.spec
        return Criterion(spec.primary, "max" if spec.higher_is_better else "min", math.nan)

    def left_baseline(self) -> Criterion | None:
        """Met once the monitored validation metric has left the best score a task declares for a
        model that has not learnt the memory the task tests, by a declared margin (accuracy: the
        highest declared `*_acc` baseline + 0.05; loss: the lowest `*_loss` x 0.9): until then a run
        is still in its initial plateau, and the plateau rule does not end it. None: no baseline known."""
        watched, base = self.monitored(), self.baselines()
        accs = [v for k, v in base.items() if k.endswith("_acc")]
        losses = [v for k, v in base.items() if k.endswith("_loss")]
        if watched.mode == "max" and accs:
            return Criterion(watched.metric, "max", max(accs) + BASELINE_MARGIN_ACC)
        if watched.mode == "min" and losses:
            return Criterion(watched.metric, "min", BASELINE_FACTOR_LOSS * min(losses))
        return None

    def axis_value(self) -> float | None:
        return getattr(self, self.axis[1].removeprefix("task.")) if self.axis else None

    def solve_criterion(self) -> Criterion | None:
        return self.solve

    def horizon_criterion(self) -> Criterion | None:
        return self.horizon

    def curve(self) -> str | None:
        """The variant without the axis value: the curve the run is a point of."""
        if self.axis is None:
            return None
        name = self.axis[0]
        parts = self.variant.split(",")
        rest = [p for p in parts if not p.startswith(f"{name}=")]
        if len(parts) - len(rest) != 1:
            # without it every axis value would be a curve of its own, one point long
            raise TypeError(f"task {self.name}: its variant {self.variant!r} must name its axis value once, "
                            f"as {name}=<value> (axis {self.axis})")
        return ",".join(rest)


# How far the monitored metric must leave the memoryless baseline before a run can plateau.
BASELINE_MARGIN_ACC, BASELINE_FACTOR_LOSS = 0.05, 0.9

# Recall tasks: solved when (almost) every recalled token is right; within the horizon at 0.9.
RECALL_SOLVED = Criterion("acc", "max", 0.99)
RECALL_HORIZON = Criterion("acc", "max", 0.9)


class EpochShuffle(Sampler):
    """A fresh random order every epoch that is a pure function of (seed, epoch):
    Lightning calls `set_epoch`, so a run resumed at an epoch boundary sees the same
    order as an uninterrupted one (a stateful generator would restart from the seed)."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(int(self.seed) * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=gen).tolist())

    def __len__(self) -> int:
        return self.n


class _Batches(Dataset):
    """A fixed list of ready-made batches (evaluation sets)."""

    def __init__(self, batches: list[dict]):
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> dict:
        return self.batches[i]


class _TrainStream(IterableDataset):
    """Endless training batches; batch k is a pure function of (seed, k, rank).

    Iteration starts at the batch the trainer is at *when iteration begins*, which
    is after a checkpoint was restored: a resumed run sees the same data as an
    uninterrupted one."""

    def __init__(self, task: SyntheticTask):
        self.task = task

    def __iter__(self) -> Iterator[dict]:
        trainer = self.task.trainer
        step = trainer.global_step * trainer.accumulate_grad_batches if trainer else 0
        rank = trainer.global_rank if trainer else 0
        while True:
            yield self.task.batch(rng_for(self.task.seed, TRAIN, step, rank), self.task.batch_size, "train")
            step += 1


class SyntheticTask(Task):
    """Generated data: subclasses implement `draw` (a pure function of a Generator)
    and, to keep evaluation sequences out of training, `content_key`."""

    def __init__(self, batch_size: int = 64, n_val: int = 1024, n_test: int = 2048, data_seed: int = 1234, seed: int = 0):
        super().__init__(seed)
        if batch_size < 1 or n_val < 1 or n_test < 1:
            raise ValueError(f"task.batch_size={batch_size}, task.n_val={n_val}, task.n_test={n_test}: must be >= 1")
        self.batch_size, self.n_val, self.n_test, self.data_seed = batch_size, n_val, n_test, data_seed
        self._eval: dict[str, list[dict]] = {}

    # -- to implement -------------------------------------------------------
    def draw(self, rng: np.random.Generator, n: int, split: str) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def content_key(self, sample: dict[str, np.ndarray]) -> np.ndarray | None:
        """Integer rows identifying each sequence, or None when draws cannot repeat."""
        return None

    # -- generation -----------------------------------------------------------
    def sample(self, rng: np.random.Generator, n: int, split: str) -> dict[str, np.ndarray]:
        """`n` sequences of `split`, redrawing any that belong to the other partition."""
        out = self.draw(rng, n, split)
        want_eval = split != "train"
        for _ in range(1000):
            key = self.content_key(out)
            if key is None:
                return out
            wrong = np.flatnonzero(eval_partition(key) != want_eval)
            if wrong.size == 0:
                return out
            # Redraw a generous batch so the evaluation side (1 in 16) fills fast.
            extra = self.draw(rng, max(wrong.size * (20 if want_eval else 2), 8), split)
            ok = np.flatnonzero(eval_partition(self.content_key(extra)) == want_eval)[: wrong.size]
            for k, v in out.items():
                v[wrong[: ok.size]] = extra[k][ok]
        raise RuntimeError(f"{self.name}: could not draw {split} sequences outside the other partition")

    def batch(self, rng: np.random.Generator, n: int, split: str) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.sample(rng, n, split).items()}

    def eval_batches(self, split: str) -> list[dict]:
        if split not in self._eval:
            n, stream = (self.n_val, VAL) if split == "val" else (self.n_test, TEST)
            sizes = [min(self.batch_size, n - i) for i in range(0, n, self.batch_size)]
            self._eval[split] = [self.batch(rng_for(self.data_seed, stream, i), s, split) for i, s in enumerate(sizes)]
        return self._eval[split]

    # -- LightningDataModule --------------------------------------------------
    def train_dataloader(self) -> DataLoader:
        return DataLoader(_TrainStream(self), batch_size=None)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(_Batches(self.eval_batches("val")), batch_size=None)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(_Batches(self.eval_batches("test")), batch_size=None)
