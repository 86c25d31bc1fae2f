"""GRU with chrono initialisation of the update gate. State: h, one real number per
hidden unit, so `state=S` gives S hidden units (models.torch_rnn)."""
from __future__ import annotations

import torch
from torch import nn

from models.layer import require_input
from models.torch_rnn import TorchRNNLayer, chrono_bias

UPDATE_GATE = 1  # torch packs (reset, update, new)


class GRU(TorchRNNLayer):
    rnn_class = nn.GRU

    def __init__(self, d_model: int, d_state: int | None = None, chrono_tmin: float | None = None,
                 chrono_tmax: float | None = None, state: int | None = None):
        super().__init__(d_model, d_state, state)
        if chrono_tmax is not None:
            # h' = (1 - z) n + z h, so a large z-bias keeps the state: z-bias = log U[T_min, T_max].
            b_iz, b_hz = self.gate_bias(UPDATE_GATE, 3)
            with torch.no_grad():
                b_iz.copy_(chrono_bias(self.hidden, chrono_tmin or 1.0, chrono_tmax))
                b_hz.zero_()

    def eigenvalues(self, x: torch.Tensor | None = None) -> torch.Tensor:
        """Mean update gate z per unit (h' = (1-z) n + z h): the state's decay factor."""
        return self.gate_mean(require_input(self, x), UPDATE_GATE)
