"""Metrics built from what a task declares; accumulation is torchmetrics'."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric, Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from tasks.spec import IGNORE, TaskSpec


class ExactMatch(Metric):
    """Fraction of sequences whose every scored position is predicted correctly."""

    higher_is_better = True
    full_state_update = False

    def __init__(self):
        super().__init__()
        self.add_state("correct", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("total", torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> None:
        ok = ((pred == target) | ~mask).all(dim=-1)
        self.correct += ok.sum()
        self.total += ok.numel()

    def compute(self) -> torch.Tensor:
        return self.correct / self.total


def loss_fn(spec: TaskSpec, out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean loss, number of positions it averages over)."""
    if spec.output_kind == "regression":
        return 0.5 * F.mse_loss(out, y), torch.tensor(y.numel(), device=y.device)
    logits = out.reshape(-1, out.shape[-1])
    target = y.reshape(-1)
    n = (target != IGNORE).sum()
    return F.cross_entropy(logits, target, ignore_index=IGNORE), n


class TaskMetrics(torch.nn.Module):
    """loss for every task; acc (micro) and, for per-step scoring, exact for classes."""

    def __init__(self, spec: TaskSpec):
        super().__init__()
        self.spec = spec
        metrics = {"loss": MeanMetric()}
        if spec.output_kind == "classes":
            metrics["acc"] = MulticlassAccuracy(spec.d_output, average="micro")
            if spec.readout == "step":
                metrics["exact"] = ExactMatch()
        self.metrics = MetricCollection(metrics)

    def update(self, out: torch.Tensor, batch: dict) -> None:
        y = batch["y"]
        loss, n = loss_fn(self.spec, out, y)
        self.metrics["loss"].update(loss.detach(), weight=n)
        if self.spec.output_kind != "classes":
            return
        pred = out.argmax(-1)
        if self.spec.readout == "step":
            mask = batch["mask"]
            self.metrics["acc"].update(pred[mask], y[mask])
            self.metrics["exact"].update(pred, y, mask)
        else:
            self.metrics["acc"].update(pred, y)

    def compute(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.metrics.compute().items()}

    def reset(self) -> None:
        self.metrics.reset()
