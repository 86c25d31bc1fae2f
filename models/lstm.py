"""LSTM with a forget-gate bias option and chrono initialisation."""
from __future__ import annotations

import torch
from torch import nn

from models.layer import require_input
from models.torch_rnn import TorchRNNLayer, chrono_bias


class LSTM(TorchRNNLayer):
    rnn_class = nn.LSTM

    def __init__(
        self,
        d_model: int,
        d_state: int | None = None,
        forget_bias: float = 1.0,
        chrono_tmin: float | None = None,
        chrono_tmax: float | None = None,
    ):
        super().__init__(d_model, d_state)
        # torch packs the gates as (input, forget, cell, output).
        b_ii, b_hi = self.gate_bias(0, 4)
        b_if, b_hf = self.gate_bias(1, 4)
        with torch.no_grad():
            b_hf.zero_()
            if chrono_tmax is not None:
                bias = chrono_bias(self.hidden, chrono_tmin or 1.0, chrono_tmax)
                b_if.copy_(bias)
                b_ii.copy_(-bias)
                b_hi.zero_()
            else:
                b_if.fill_(forget_bias)

    def state_size(self) -> int:
        return 2 * self.hidden

    def eigenvalues(self, x: torch.Tensor | None = None) -> torch.Tensor:
        """Mean forget gate per unit along the probe trajectory: the cell's decay factor."""
        pre = self.gate_preactivations(require_input(self, x))
        h = self.hidden
        return torch.sigmoid(pre[..., h: 2 * h]).mean(dim=(0, 1))
