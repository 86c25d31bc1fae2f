"""One LightningModule that trains any model on any task, from the TaskSpec alone."""
from __future__ import annotations

import math

import lightning as L
import torch

from tasks.metrics import TaskMetrics, loss_fn
from tasks.optim import OptimizerSettings
from tasks.spec import TaskSpec


class SequenceModule(L.LightningModule):
    def __init__(self, model: torch.nn.Module, spec: TaskSpec, optimizer: OptimizerSettings):
        super().__init__()
        self.model, self.spec, self.optim_settings = model, spec, optimizer
        self.val_metrics = TaskMetrics(spec)
        self.test_metrics = TaskMetrics(spec)
        self.last_val: dict[str, float] = {}
        self.last_test: dict[str, float] = {}
        # every validation: step, the base learning rate then, and the metrics (the record keeps it)
        self.history: list[dict] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, _ = loss_fn(self.spec, self.model(batch["x"]), batch["y"])
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["x"].shape[0])
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.val_metrics.update(self.model(batch["x"]), batch)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.test_metrics.update(self.model(batch["x"]), batch)

    def on_validation_epoch_end(self) -> None:
        values = self._log_and_reset(self.val_metrics, "val")
        # Lightning still validates after a divergence stops training: keep the last finite metrics
        if all(math.isfinite(v) for v in values.values()):
            self.last_val = values
        if not self.trainer.sanity_checking:
            self.history.append({"step": self.trainer.global_step, "lr": self.base_lr(), **values})

    def on_test_epoch_end(self) -> None:
        self.last_test = self._log_and_reset(self.test_metrics, "test")

    def _log_and_reset(self, metrics: TaskMetrics, split: str) -> dict[str, float]:
        values = metrics.compute()
        metrics.reset()
        self.log_dict({f"{split}/{k}": v for k, v in values.items()}, prog_bar=split == "val", sync_dist=False)
        return values

    def base_lr(self) -> float | None:
        """The scheduled learning rate of the parameters that are not slow (optimizer.lr x schedule)."""
        if not self.trainer.optimizers:
            return None
        groups = self.trainer.optimizers[0].param_groups
        return float(next((g for g in groups if g.get("name") != "slow"), groups[0])["lr"])

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["validation_history"] = self.history

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = list(checkpoint.get("validation_history", []))

    def configure_optimizers(self):
        opt, sched = self.optim_settings.build(self.model, int(self.trainer.estimated_stepping_batches))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
