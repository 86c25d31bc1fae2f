"""The network every model runs in (after the LRU paper, App. D).

stack: encoder (embedding for tokens, linear for reals) -> n_layers x
       [pre-norm -> recurrent layer -> GELU -> dropout -> GLU -> dropout -> residual]
       -> decoder per step, or pooled over time (mean / last).
bare:  one recurrent layer straight from input to output, y = Re(C h) + D x,
       as the students of the linear teacher task.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from models.layer import OTHER, ParamRole, RecurrentLayer, group_by_role


class ChannelNorm(nn.Module):
    """Layer norm, batch norm (over batch and time) or nothing."""

    def __init__(self, kind: str, d: int):
        super().__init__()
        self.kind = kind
        self.norm = {"layer": nn.LayerNorm(d), "batch": nn.BatchNorm1d(d), "none": nn.Identity()}[kind]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "batch":
            return self.norm(x.transpose(1, 2)).transpose(1, 2)
        return self.norm(x)


class Block(nn.Module):
    def __init__(self, layer: RecurrentLayer, d_model: int, norm: str, dropout: float):
        super().__init__()
        self.norm = ChannelNorm(norm, d_model)
        self.layer = layer
        self.glu = nn.Linear(d_model, 2 * d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.drop(F.gelu(self.layer(self.norm(x))))
        return x + self.drop(F.glu(self.glu(y), dim=-1))


class Backbone(nn.Module):
    def __init__(
        self,
        layer: Callable[[int], RecurrentLayer],
        d_input: int,
        d_output: int,
        input_kind: Literal["tokens", "real"],
        readout: Literal["step", "mean", "last"],
        d_model: int = 64,
        n_layers: int = 2,
        mode: Literal["stack", "bare"] = "stack",
        norm: Literal["layer", "batch", "none"] = "layer",
        dropout: float = 0.0,
    ):
        super().__init__()
        self.mode, self.readout_kind = mode, readout
        if mode == "bare":
            if input_kind != "real" or d_input != d_output:
                raise ValueError(
                    f"model.mode=bare maps inputs straight to outputs: it needs real inputs with "
                    f"d_input == d_output, but the task gives {input_kind} inputs of size {d_input} "
                    f"and {d_output} outputs; use model.mode=stack"
                )
            self.encoder = nn.Identity()
            self.blocks = nn.ModuleList()
            self.bare_layer = layer(d_input)
            self.final_norm = nn.Identity()
            self.decoder = nn.Identity()
            return
        if d_model < 1 or n_layers < 1:
            raise ValueError(f"model.d_model={d_model}, model.n_layers={n_layers}: both must be >= 1")
        if not 0 <= dropout < 1:
            raise ValueError(f"model.dropout={dropout}: must be in [0, 1)")
        self.encoder = nn.Embedding(d_input, d_model) if input_kind == "tokens" else nn.Linear(d_input, d_model)
        self.blocks = nn.ModuleList(Block(layer(d_model), d_model, norm, dropout) for _ in range(n_layers))
        self.final_norm = ChannelNorm(norm, d_model)
        self.decoder = nn.Linear(d_model, d_output)

    def recurrent_layers(self) -> list[RecurrentLayer]:
        return [self.bare_layer] if self.mode == "bare" else [b.layer for b in self.blocks]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "bare":
            y = self.bare_layer(x)
        else:
            y = self.encoder(x)
            for block in self.blocks:
                y = block(y)
            y = self.final_norm(y)
        if self.readout_kind == "mean":
            y = y.mean(dim=1)
        elif self.readout_kind == "last":
            y = y[:, -1]
        return self.decoder(y)

    def named_roles(self) -> Iterator[tuple[str, nn.Parameter, ParamRole]]:
        """Every parameter of the model with its role: the recurrent layers' own
        declarations; encoder, norms, MLPs and decoder are `other`."""
        declared = {}
        for layer in self.recurrent_layers():
            declared.update({id(p): role for _, p, role in layer.named_roles()})
        for name, p in self.named_parameters():
            yield name, p, declared.get(id(p), OTHER)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Every parameter by role (the sensitivity suite's groups)."""
        return group_by_role(self.named_roles())

    def state_size(self) -> int:
        return sum(layer.state_size() for layer in self.recurrent_layers())

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
