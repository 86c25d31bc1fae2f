"""Lightning callbacks the harness adds to every run."""
from __future__ import annotations

import math
import time

import lightning as L
import torch
from lightning.pytorch.callbacks import RichProgressBar


class DivergenceGuard(L.Callback):
    """Stops training at the first non-finite loss; the run is then recorded as `diverged`."""

    def __init__(self):
        self.diverged_at: int | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged_at = trainer.global_step
            trainer.should_stop = True

    def state_dict(self) -> dict:
        return {"diverged_at": self.diverged_at}

    def load_state_dict(self, state: dict) -> None:
        self.diverged_at = state.get("diverged_at")


class Throughput(L.Callback):
    """Training tokens per second of compute (forward, backward, optimiser step)."""

    def __init__(self):
        self.tokens = 0
        self.seconds = 0.0
        self._t0 = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._sync(pl_module)
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._sync(pl_module)
        self.seconds += time.perf_counter() - self._t0
        x = batch["x"]
        self.tokens += x.shape[0] * (x.shape[1] if x.ndim > 1 else 1) * trainer.world_size

    @staticmethod
    def _sync(pl_module) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)

    @property
    def tokens_per_s(self) -> float | None:
        return self.tokens / self.seconds if self.seconds > 0 else None


class StepProgressBar(RichProgressBar):
    """A step-capped run on an endless training stream is one epoch of `max_steps` batches:
    show that total (Lightning's bar would read `Epoch 0/-2` with no total)."""

    def _step_capped(self) -> bool:
        t = self.trainer
        return t.max_steps is not None and t.max_steps > 0 and t.max_epochs in (None, -1)

    @property
    def total_train_batches(self) -> int | float:
        total = super().total_train_batches
        return self.trainer.max_steps if self._step_capped() and total == float("inf") else total

    def _get_train_description(self, current_epoch: int) -> str:
        if self._step_capped():
            return f"{'Training':{len(self.validation_description)}}"
        return super()._get_train_description(current_epoch)
