"""How a run ends: solved (the task's criterion met on validation), plateaued (no
improvement within the declared patience, once learning has started), at its step cap
(`budget`), or, with nothing to meet and no patience (an image table's fixed schedule), after
the whole schedule (`complete`). Lightning's EarlyStopping does the stopping; SolveWatch notes when the criterion
was first met."""
from __future__ import annotations

import math
import time

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

from common.config import ConfigError
from common.record import COMPLETE
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


class PlateauStopping(EarlyStopping):
    """Lightning's EarlyStopping, whose patience starts only once learning has: after the
    fraction `opens_at` of the run's steps (the learning-rate warm-up, or the later
    `stop.not_before`), and once the monitored validation metric has left the memoryless
    baseline by the task's declared margin (`Task.left_baseline`). Copy-like tasks sit at
    chance for a long initial plateau before they learn, MQAR at 1/N (the values known, their
    keys not); a run still there trains on to its cap and records that it never left the
    baseline (`left_baseline_at` stays None).

    With `relative`, improvement is measured on log(metric), so `min_delta` is a fraction
    (a loss 5 % lower counts as improving, whatever its scale).

    With `min_error_drop` (a score bounded by 1, such as accuracy), a gain also counts when it
    shrinks the error 1 - best by that fraction: the step that counts is min(min_delta,
    min_error_drop x (1 - best)). It changes nothing below 1 - min_delta / min_error_drop (0.9 for
    0.01 and 0.1); above, a run closing in on a solve threshold of 0.99 in gains smaller than
    min_delta (0.985 -> 0.989 is a quarter of its error) is not stopped as a plateau, while one whose
    error stalls still is."""

    def __init__(self, *, baseline: Criterion | None, opens_at: float, relative: bool,
                 min_error_drop: float | None = None, **kwargs):
        self.relative = relative
        if relative:
            kwargs["min_delta"] = -math.log1p(-kwargs["min_delta"])
            if kwargs.get("stopping_threshold") is not None:
                kwargs["stopping_threshold"] = math.log(kwargs["stopping_threshold"])
        super().__init__(**kwargs)
        self.min_error_drop, self._min_delta = min_error_drop, self.min_delta
        self.baseline, self.opens_at = baseline, opens_at
        self.left_baseline_at: int | None = None
        self._patience_open = False

    def note_departure(self, trainer) -> None:
        """Notes the step at which the monitored metric first left the baseline."""
        current = trainer.callback_metrics.get(self.monitor)
        if self.left_baseline_at is None and current is not None and (
                self.baseline is None or self.baseline.met({self.baseline.metric: float(current)})):
            self.left_baseline_at = trainer.global_step

    def _run_early_stopping_check(self, trainer) -> None:
        self.note_departure(trainer)
        opens = int(self.opens_at * trainer.estimated_stepping_batches)
        self._patience_open = self.left_baseline_at is not None and trainer.global_step >= opens
        super()._run_early_stopping_check(trainer)

    def _evaluate_stopping_criteria(self, current: torch.Tensor):
        if self.relative:
            current = torch.log(current.clamp_min(1e-30)) if torch.isfinite(current) else current
        if self.min_error_drop is not None and torch.isfinite(self.best_score):
            self.min_delta = min(self._min_delta, self.min_error_drop * max(0.0, 1.0 - float(self.best_score)))
        should_stop, reason = super()._evaluate_stopping_criteria(current)
        if not self._patience_open:
            self.wait_count = 0  # the patience has not started: no validation counts against it
            if self.stopping_reason == EarlyStoppingReason.PATIENCE_EXHAUSTED:
                self.stopping_reason, should_stop, reason = EarlyStoppingReason.NOT_STOPPED, False, None
        return should_stop, reason

    def state_dict(self) -> dict:
        return {**super().state_dict(), "left_baseline_at": self.left_baseline_at}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.left_baseline_at = state.get("left_baseline_at")


def early_stopping(task, patience: int | None, min_delta: float | None, on_solve: bool,
                   warmup: float, min_error_drop: float | None = None,
                   not_before: float | None = None) -> PlateauStopping:
    """The stopping rule of a run on `task`: its solve criterion (when `on_solve`), and the
    plateau rule with the task's declared baseline and `min_delta` (unless the config sets one),
    and `min_error_drop` where the monitored score is bounded by 1 (an error otherwise); its
    patience opens after the warm-up, or at `not_before` of the steps if that is later."""
    criterion, watched = task.solve_criterion(), task.monitored()
    if min_error_drop is not None and (not 0 < min_error_drop < 1 or watched.mode != "max"
                                       or task.plateau_relative):
        raise ConfigError(f"stop.min_error_drop={min_error_drop}: a fraction in (0, 1) of the error 1 - "
                          f"{watched.metric}, for a score bounded by 1 such as accuracy; task {task.name} "
                          f"monitors {watched.metric} ({watched.mode}): set stop.min_error_drop=null")
    return PlateauStopping(
        baseline=task.left_baseline(), opens_at=max(warmup, not_before or 0.0), relative=task.plateau_relative,
        min_error_drop=min_error_drop,
        monitor=f"val/{watched.metric}", mode=watched.mode,
        min_delta=task.plateau_delta if min_delta is None else min_delta, patience=patience or NEVER,
        # Lightning compares strictly; the criterion is inclusive
        stopping_threshold=(criterion.threshold * (1 - 1e-9) if watched.mode == "max" else criterion.threshold * (1 + 1e-9))
        if criterion is not None and on_solve else None,
        check_on_train_epoch_end=False, check_finite=False, strict=False, verbose=False,
    )


def outcome(watch: SolveWatch, stopper: EarlyStopping) -> str:
    if watch.solved_at is not None:
        return "solved"
    if stopper.stopping_reason == EarlyStoppingReason.PATIENCE_EXHAUSTED:
        return "plateaued"
    if watch.criterion is None and stopper.patience >= NEVER:
        # no rule could have ended it earlier: the cap is the declared schedule, not a bound on a verdict
        return COMPLETE
    return "budget"
