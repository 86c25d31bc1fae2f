"""The network of the paper's signal-propagation study (Fig. 5), built from the layer
classes directly so that the study does not depend on the model config files.

dense d_in → d_model, then n_layers × ([norm] → recurrence → GELU → [norm] → GLU → + skip),
then dense d_model → d_in. The GLU is dense · σ(dense) with two separate dense maps.

`init="flax"` initialises every dense map as the authors' JAX/Flax code does (Flax's
`nn.Dense` default: LeCun-normal kernel, variance 1/fan_in drawn from a normal truncated
at two standard deviations, zero bias); `init="torch"` keeps PyTorch's `nn.Linear`
default (uniform kernel of variance 1/(3 fan_in), uniform non-zero bias), which is what
the benchmark's Backbone uses. The recurrent layers keep their own initialisation.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from models.layer import GROUPS, RecurrentLayer

# The standard deviation of a unit normal truncated to [-2, 2] (what Flax divides by).
TRUNC2_STD = 0.87962566103423978


def flax_dense_init(linear: nn.Linear) -> None:
    std = math.sqrt(1.0 / linear.in_features) / TRUNC2_STD
    with torch.no_grad():
        nn.init.trunc_normal_(linear.weight, std=std, a=-2 * std, b=2 * std)
        nn.init.zeros_(linear.bias)


def norm_layer(kind: str, d: int) -> nn.Module:
    return {"none": nn.Identity, "layer": nn.LayerNorm}[kind](d)


class PaperBlock(nn.Module):
    def __init__(self, layer: RecurrentLayer, d_model: int, norm: str):
        super().__init__()
        # Both [norm] slots of the authors' block take the same kind; with norm = none,
        # the main figure's setting, both are the identity.
        self.pre = norm_layer(norm, d_model)
        self.layer = layer
        self.mid = norm_layer(norm, d_model)
        self.glu_value = nn.Linear(d_model, d_model)
        self.glu_gate = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mid(F.gelu(self.layer(self.pre(x))))
        return x + self.glu_value(y) * torch.sigmoid(self.glu_gate(y))


class PaperNet(nn.Module):
    """The study's network; exposes `recurrent_layers` and `param_groups` like the
    benchmark's Backbone so that sensitivity.probes measures it unchanged."""

    def __init__(self, layer: Callable[[int], RecurrentLayer], d_input: int = 768, d_model: int = 256,
                 n_layers: int = 4, norm: str = "none", init: str = "flax"):
        super().__init__()
        if init not in ("flax", "torch"):
            raise ValueError(f"init={init!r}: expected 'flax' or 'torch'")
        self.encoder = nn.Linear(d_input, d_model)
        self.blocks = nn.ModuleList(PaperBlock(layer(d_model), d_model, norm) for _ in range(n_layers))
        self.decoder = nn.Linear(d_model, d_input)
        if init == "flax":
            # Only the network's own dense maps: a recurrent layer keeps its initialisation.
            for m in [self.encoder, self.decoder, *(d for b in self.blocks for d in (b.glu_value, b.glu_gate))]:
                flax_dense_init(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.encoder(x)
        for block in self.blocks:
            y = block(y)
        return self.decoder(y)

    def recurrent_layers(self) -> list[RecurrentLayer]:
        return [b.layer for b in self.blocks]

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        groups = {g: [] for g in GROUPS}
        for layer in self.recurrent_layers():
            for g, ps in layer.param_groups().items():
                groups[g] += ps
        seen = {id(p) for ps in groups.values() for p in ps}
        groups["other"] += [p for p in self.parameters() if id(p) not in seen]
        return groups
