"""How a run ends: solved (the task's criterion met on validation), plateaued (no
improvement within the declared patience), or at its step cap (`budget`). Lightning's
EarlyStopping does the stopping; SolveWatch notes when the criterion was first met."""
from __future__ import annotations

import time

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

from tasks.spec import Criterion

NEVER = 10**9  # patience that never runs out


class SolveWatch(L.Callback):
    """Step, training tokens and seconds at the first validation that meets the criterion."""

    def __init__(self, criterion: Criterion | None, tokens_per_step: int):
        self.criterion, self.tokens_per_step = criterion, tokens_per_step
        self.solved_at: dict | None = None
        self._t0 = time.time()
        self._seconds_before = 0.0  # training seconds of the runs this one resumed

    def on_fit_start(self, trainer, pl_module) -> None:
        self._t0 = time.time()

    def on_validation_end(self, trainer, pl_module) -> None:
        if self.solved_at is None and self.criterion is not None and not trainer.sanity_checking \
                and self.criterion.met(pl_module.last_val):
            step = trainer.global_step
            self.solved_at = {"step": step, "tokens": step * self.tokens_per_step,
                              "seconds": round(self._seconds_before + time.time() - self._t0, 2)}

    def state_dict(self) -> dict:
        return {"solved_at": self.solved_at, "seconds": self._seconds_before + time.time() - self._t0}

    def load_state_dict(self, state: dict) -> None:
        self.solved_at, self._seconds_before = state.get("solved_at"), state.get("seconds", 0.0)


def early_stopping(criterion: Criterion | None, primary: str, higher_is_better: bool,
                   patience: int | None, min_delta: float, on_solve: bool) -> EarlyStopping:
    metric, mode = (criterion.metric, criterion.mode) if criterion else (primary, "max" if higher_is_better else "min")
    return EarlyStopping(
        monitor=f"val/{metric}", mode=mode, min_delta=min_delta, patience=patience or NEVER,
        # Lightning compares strictly; the criterion is inclusive
        stopping_threshold=(criterion.threshold + (-1e-9 if mode == "max" else 1e-9))
        if criterion is not None and on_solve else None,
        check_on_train_epoch_end=False, check_finite=False, strict=False, verbose=False,
    )


def outcome(watch: SolveWatch, stopper: EarlyStopping) -> str:
    if watch.solved_at is not None:
        return "solved"
    if stopper.stopping_reason == EarlyStoppingReason.PATIENCE_EXHAUSTED:
        return "plateaued"
    return "budget"
