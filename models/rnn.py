"""Vanilla (Elman) RNN: h_t = tanh(W_hh h_{t-1} + W_ih x_t + b). State: h, one real
number per hidden unit, so `state=S` gives S hidden units (models.torch_rnn)."""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from models.torch_rnn import TorchRNNLayer


class RNN(TorchRNNLayer):
    rnn_class = nn.RNN

    def __init__(self, d_model: int, d_state: int | None = None, nonlinearity: Literal["tanh", "relu"] = "tanh",
                 state: int | None = None):
        super().__init__(d_model, d_state, state, nonlinearity=nonlinearity)

    def eigenvalues(self, x: torch.Tensor | None = None) -> torch.Tensor:
        """Eigenvalues of W_hh: the linearised recurrence (tanh' ≤ 1 only shrinks them)."""
        return torch.linalg.eigvals(self.rnn.weight_hh_l0.detach())
