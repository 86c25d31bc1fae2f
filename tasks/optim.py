"""AdamW with linear warm-up and cosine decay; the parameters a layer declares slow
(recurrent ones: LRU paper, App. D.2) get `lr * lr_factor` and no weight decay."""
from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn


class OptimizerSettings:
    def __init__(
        self,
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        lr_factor: float = 1.0,
        betas: list[float] = (0.9, 0.999),
        warmup: float = 0.1,
        schedule: Literal["cosine", "constant"] = "cosine",
        min_lr_ratio: float = 0.0,
    ):
        if lr <= 0 or lr_factor <= 0 or weight_decay < 0:
            raise ValueError(f"optimizer.lr={lr}, lr_factor={lr_factor} must be > 0 and weight_decay={weight_decay} >= 0")
        if not 0 <= warmup < 1:
            raise ValueError(f"optimizer.warmup={warmup}: a fraction of the training steps in [0, 1)")
        self.lr, self.weight_decay, self.lr_factor = lr, weight_decay, lr_factor
        self.betas, self.warmup, self.schedule, self.min_lr_ratio = tuple(betas), warmup, schedule, min_lr_ratio

    def param_groups(self, model: nn.Module) -> list[dict]:
        """Three AdamW groups from the roles the layers declare (models.layer.ParamRole):
        slow parameters at lr * lr_factor without weight decay; the rest at lr, with
        weight decay on matrices only (biases, norm gains and vectors are not decayed)."""
        groups = {"slow": [], "decay": [], "no_decay": []}
        for _, p, role in model.named_roles():
            if not p.requires_grad:
                continue
            key = "slow" if role.slow else ("decay" if p.ndim >= 2 else "no_decay")
            groups[key].append(p)
        spec = {
            "slow": {"lr": self.lr * self.lr_factor, "weight_decay": 0.0},
            "decay": {"lr": self.lr, "weight_decay": self.weight_decay},
            "no_decay": {"lr": self.lr, "weight_decay": 0.0},
        }
        return [{"params": ps, "name": k, **spec[k]} for k, ps in groups.items() if ps]

    def build(self, model: nn.Module, total_steps: int):
        opt = torch.optim.AdamW(self.param_groups(model), lr=self.lr, betas=self.betas)
        warm = int(self.warmup * total_steps)

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            if self.schedule == "constant":
                return 1.0
            progress = min(1.0, (step - warm) / max(1, total_steps - warm))
            return self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return opt, sched
