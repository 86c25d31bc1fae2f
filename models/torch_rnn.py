"""Shared wrapper for torch's fused RNN modules (cuDNN on GPU)."""
from __future__ import annotations

import torch
from torch import nn

from models.layer import ParamRole, RecurrentLayer, state_units


class TorchRNNProbes:
    """Sensitivity-suite hooks shared by the torch RNN layers (mixed into TorchRNNLayer)."""

    def states(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]

    def gate_preactivations(self, x: torch.Tensor) -> torch.Tensor:
        """W_ih x_t + b_ih + W_hh h_{t-1} + b_hh along the layer's own trajectory."""
        h = self.states(x)
        h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)
        r = self.rnn
        return x @ r.weight_ih_l0.T + r.bias_ih_l0 + h_prev @ r.weight_hh_l0.T + r.bias_hh_l0

    def gate_mean(self, x: torch.Tensor, gate: int) -> torch.Tensor:
        """sigmoid of one gate's pre-activation (torch's packing order), averaged over
        batch and time along the probe trajectory: (hidden,). The forget gate of an LSTM
        and the update gate of a GRU are each unit's decay factor."""
        h = self.hidden
        return torch.sigmoid(self.gate_preactivations(x)[..., gate * h: (gate + 1) * h]).mean(dim=(0, 1))

    def gradient_flow(self, x: torch.Tensor, lags: list[int], probes: int = 4, seed: int = 0) -> dict[int, float]:
        """‖∂h_T/∂s_{T-k}‖_F² (s the full state, (h, c) for an LSTM), estimated as
        E‖Jᵀu‖² over Gaussian u (Hutchinson), averaged over the batch."""
        gen = torch.Generator().manual_seed(seed)
        length, batch = x.shape[1], x.shape[0]
        out = {}
        for k in lags:
            with torch.no_grad():
                _, state = self.rnn(x[:, : length - k])
            leaves = [s.detach().requires_grad_() for s in (state if isinstance(state, tuple) else (state,))]
            with torch.enable_grad():
                h, _ = self.rnn(x[:, length - k:], tuple(leaves) if len(leaves) > 1 else leaves[0])
                last = h[:, -1]
                total = 0.0
                for _ in range(probes):
                    u = torch.randn(last.shape, generator=gen).to(last)
                    grads = torch.autograd.grad(last, leaves, u, retain_graph=True)
                    total += sum(float((g**2).sum()) for g in grads) / batch
            out[k] = total / probes
        return out


class TorchRNNLayer(TorchRNNProbes, RecurrentLayer):
    """One torch.nn.{RNN,LSTM,GRU} layer; hidden size `d_state` (default d_model),
    projected back to d_model by a linear map when it differs.

    State budget: `state=S` sets the hidden size to round(S / u) units of
    `reals_per_unit` = u real numbers (1 for an RNN or GRU: h; 2 for an LSTM: h and c),
    so an LSTM's state is S for even S and S ± 1 for odd S. The block around the layer
    stays d_model wide: the projection above maps the hidden units back to it."""

    rnn_class: type[nn.RNNBase]
    reals_per_unit: int = 1
    unit_name: str = "one hidden unit's h"
    # torch's fused RNN kernels (mkldnn on CPU, cuDNN) have no forward-mode rules, and
    # two float64 passes of the fused kernel are far cheaper than a decomposed JVP.
    forward_ad = False

    def __init__(self, d_model: int, d_state: int | None = None, state: int | None = None, **rnn_kwargs):
        super().__init__()
        units = state_units(state, self.reals_per_unit, layer=type(self).__name__, size=d_state,
                            unit_name=self.unit_name)
        hidden = units if units is not None else d_model if d_state is None else d_state
        if d_model < 1 or hidden < 1:
            raise ValueError(f"model.d_model={d_model}, model.d_state={d_state}: widths must be >= 1")
        self.hidden = hidden
        self.rnn = self.rnn_class(d_model, hidden, batch_first=True, **rnn_kwargs)
        self.proj = nn.Linear(hidden, d_model) if hidden != d_model else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(x)
        return self.proj(h)

    def state_size(self) -> int:
        return self.reals_per_unit * self.hidden

    def param_roles(self) -> dict[str, ParamRole]:
        # Gated and vanilla RNNs train with the ordinary learning rate.
        return {"rnn.weight_hh_l0": ParamRole("recurrent", slow=False)}

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

