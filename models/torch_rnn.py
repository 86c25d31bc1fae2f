"""Shared wrapper for torch's fused RNN modules (cuDNN on GPU)."""
from __future__ import annotations

import torch
from torch import nn

from models.layer import RecurrentLayer


class TorchRNNLayer(RecurrentLayer):
    """One torch.nn.{RNN,LSTM,GRU} layer; hidden size `d_state` (default d_model),
    projected back to d_model when it differs."""

    rnn_class: type[nn.RNNBase]

    def __init__(self, d_model: int, d_state: int | None = None, **rnn_kwargs):
        super().__init__()
        hidden = d_state or d_model
        if d_model < 1 or hidden < 1:
            raise ValueError(f"model.d_model={d_model}, model.d_state={d_state}: widths must be >= 1")
        self.hidden = hidden
        self.rnn = self.rnn_class(d_model, hidden, batch_first=True, **rnn_kwargs)
        self.proj = nn.Linear(hidden, d_model) if hidden != d_model else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(x)
        return self.proj(h)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return self._complete({"recurrent": [self.rnn.weight_hh_l0]})

    def slow_params(self) -> list[nn.Parameter]:
        # Gated and vanilla RNNs train with the ordinary learning rate.
        return []

    def gate_bias(self, gate: int, n_gates: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Views of the input and hidden bias of one gate (torch packs gates in rows)."""
        h = self.hidden
        rows = slice(gate * h, (gate + 1) * h)
        assert self.rnn.bias_ih_l0.shape[0] == n_gates * h
        return self.rnn.bias_ih_l0[rows], self.rnn.bias_hh_l0[rows]


def chrono_bias(n: int, t_min: float, t_max: float) -> torch.Tensor:
    """Chrono initialisation (Tallec & Ollivier 2018): log of timescales drawn
    uniformly in [t_min, t_max]."""
    if not 1 <= t_min <= t_max:
        raise ValueError(f"chrono range [{t_min}, {t_max}]: need 1 <= t_min <= t_max")
    return torch.log(torch.empty(n).uniform_(t_min, t_max))
