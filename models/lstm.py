"""LSTM with a forget-gate bias option and chrono initialisation. State: h and c, two
real numbers per hidden unit, so `state=S` gives round(S/2) hidden units (S ± 1 for
odd S; models.torch_rnn)."""
from __future__ import annotations

import torch
from torch import nn

from models.layer import require_input
from models.torch_rnn import TorchRNNLayer, chrono_bias

INPUT_GATE, FORGET_GATE = 0, 1  # torch packs (input, forget, cell, output)


class LSTM(TorchRNNLayer):
    rnn_class = nn.LSTM
    reals_per_unit = 2
    unit_name = "one hidden unit's h and c"

    def __init__(
        self,
        d_model: int,
        d_state: int | None = None,
        forget_bias: float = 1.0,
        chrono_tmin: float | None = None,
        chrono_tmax: float | None = None,
        state: int | None = None,
    ):
        super().__init__(d_model, d_state, state)
        b_ii, b_hi = self.gate_bias(INPUT_GATE, 4)
        b_if, b_hf = self.gate_bias(FORGET_GATE, 4)
        with torch.no_grad():
            b_hf.zero_()
            if chrono_tmax is not None:
                bias = chrono_bias(self.hidden, chrono_tmin or 1.0, chrono_tmax)
                b_if.copy_(bias)
                b_ii.copy_(-bias)
                b_hi.zero_()
            else:
                b_if.fill_(forget_bias)

    def eigenvalues(self, x: torch.Tensor | None = None) -> torch.Tensor:
        """Mean forget gate per unit along the probe trajectory: the cell's decay factor."""
        return self.gate_mean(require_input(self, x), FORGET_GATE)
