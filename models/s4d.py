"""S4D: diagonal state-space layer with ZOH discretisation (Gu et al. 2022), as the
standalone `models/s4/s4d.py` of state-spaces/s4.

Per channel h = 1..H (H = d_model) and mode n = 0..N/2-1 (N = d_state, even):

    A = -exp(log_A_real) + i A_imag,   Δ = exp(log_dt),   Ā = exp(Δ A),   B̄ = (Ā - 1)/A · B
    h_t = Ā ⊙ h_{t-1} + B̄ x_t,          y_t = 2 Re(Σ_n C h_t) + D ⊙ x_t

S4D-Lin init: log_A_real = log ½, A_imag = π n; log_dt ~ U[log dt_min, log dt_max]
(one Δ per channel, `dt_per=channel`, S4D's rule; see below for `mode`);
C ~ N(0, 1) complex (real and imaginary parts N(0, ½)); D ~ N(0, 1); B = 1 is folded
into C and is not a parameter (as the standalone S4D). The N real state dimensions of a
channel are N/2 complex modes whose conjugate partners are implicit (the 2 Re), so the
state holds H·N/2 complex = H·N real numbers.

Δ per mode (`dt_per=mode`): S4D spreads its timescales by drawing Δ per channel, so
the phases π n Δ of one channel's modes are an arithmetic progression decided by a
single draw. A layer with one channel (bare mode on a scalar input: the teacher's
students) has nothing to spread across, and whether any of its mode phases reaches a
given frequency is a lottery on that draw (with N = 64, phase 0.87 rad is reached only
for Δ ≥ 0.009: about one seed in two). `mode` draws one Δ per (channel, mode) from the
same law, so every channel holds many timescales and phases; `auto` (the default) is
`mode` for a one-channel layer and `channel` otherwise.

State budget: a channel's N real state numbers come in complex modes, one in each of
the H channels at a time, so the unit is 2H real numbers: `state=S` sets
N = 2·round(S / 2H) (halves up), within H of S, exact when 2H divides S; S < 2H (less
than one mode per channel) is an error. At width 64 the smallest S4D state is 128.

Training path (`impl=conv`): the convolution kernel K_l = 2 Re(Σ_n C B̄ Ā^l) is built
for the sequence length and applied by FFT (models.scan.fft_conv), O(L log L) and no
(B, L, H·N/2) state tensor. `impl=scan` runs the recurrence through models.scan
(same values and gradients; used by `states` and the sensitivity suite).
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from models.layer import ParamRole, RecurrentLayer, state_units
from models.scan import fft_conv, scan

DEFAULT_STATE = 64


class S4D(RecurrentLayer):
    diagonal = True

    def __init__(
        self,
        d_model: int,
        d_state: int | None = None,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        impl: Literal["conv", "scan"] = "conv",
        dt_per: Literal["auto", "channel", "mode"] = "auto",
        state: int | None = None,
    ):
        """d_state: N real state numbers per channel (default 64), or set by `state`."""
        super().__init__()
        if d_model < 1:
            raise ValueError(f"model.d_model={d_model}: must be >= 1")
        units = state_units(state, 2 * d_model, layer="S4D", size=d_state,
                            unit_name=f"one complex mode in each of the {d_model} channels")
        d_state = 2 * units if units is not None else DEFAULT_STATE if d_state is None else d_state
        if d_state < 2 or d_state % 2:
            raise ValueError(f"model.d_state={d_state}: must be even and >= 2 (N/2 complex modes)")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"model.dt_min={dt_min}, model.dt_max={dt_max}: need 0 < dt_min <= dt_max")
        self.d_model, self.d_state, self.impl = d_model, d_state, impl
        h, m = d_model, d_state // 2
        self.dt_per = ("mode" if h == 1 else "channel") if dt_per == "auto" else dt_per
        shape = (h, m) if self.dt_per == "mode" else (h,)
        self.log_dt = nn.Parameter(torch.rand(shape) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        self.log_A_real = nn.Parameter(torch.full((h, m), math.log(0.5)))
        self.A_imag = nn.Parameter(math.pi * torch.arange(m, dtype=torch.float32).expand(h, m).clone())
        self.C_re = nn.Parameter(torch.randn(h, m) * math.sqrt(0.5))
        self.C_im = nn.Parameter(torch.randn(h, m) * math.sqrt(0.5))
        self.D = nn.Parameter(torch.randn(h))

    # -- discretisation ---------------------------------------------------------
    def continuous(self) -> torch.Tensor:
        """A, (H, N/2) complex."""
        return torch.complex(-torch.exp(self.log_A_real), self.A_imag)

    def step(self) -> torch.Tensor:
        """Δ, broadcastable to (H, N/2): (H, 1) per channel, (H, N/2) per mode."""
        dt = torch.exp(self.log_dt)
        return dt if self.dt_per == "mode" else dt.unsqueeze(-1)

    def discrete(self) -> tuple[torch.Tensor, torch.Tensor]:
        """ZOH: Ā = exp(ΔA), B̄ = (Ā - 1)/A (B = 1), both (H, N/2) complex."""
        a = self.continuous()
        dta = a * self.step()
        abar = torch.exp(dta)
        return abar, (abar - 1) / a

    def eigenvalues(self, x: torch.Tensor | None = None) -> torch.Tensor:
        """exp(Δ A) per channel and mode, flattened to (H·N/2,) complex (channel-major)."""
        return self.discrete()[0].reshape(-1)

    def kernel(self, length: int) -> torch.Tensor:
        """K_l = 2 Re(Σ_n C B̄ Ā^l), (length, H) real.

        Ā^l = e^{l Re(ΔA)} (cos + i sin)(l Im(ΔA)) in real arithmetic: the same values as
        exp(l ΔA), faster on CPU than complex exp, and the contraction stays real.
        """
        a = self.continuous()
        dta = a * self.step()                                                # (H, M)
        cb = torch.complex(self.C_re, self.C_im) * (torch.exp(dta) - 1) / a   # (H, M)
        steps = torch.arange(length, device=a.device, dtype=self.log_dt.dtype)
        mag = torch.exp(dta.real.unsqueeze(-1) * steps)                      # (H, M, L)
        ang = dta.imag.unsqueeze(-1) * steps
        return 2 * (torch.einsum("hm,hml->lh", cb.real, mag * torch.cos(ang))
                    - torch.einsum("hm,hml->lh", cb.imag, mag * torch.sin(ang)))

    # -- recurrence ---------------------------------------------------------------
    def states(self, x: torch.Tensor) -> torch.Tensor:
        """h: (batch, L, H·N/2) complex (channel-major: index h·N/2 + n)."""
        abar, bbar = self.discrete()
        drive = (x.unsqueeze(-1) * bbar).flatten(-2)
        return scan(abar.reshape(-1), drive)

    def readout(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = h.unflatten(-1, (self.d_model, self.d_state // 2))
        return 2 * (h.real * self.C_re - h.imag * self.C_im).sum(-1) + self.D * x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.impl == "scan":
            return self.readout(self.states(x), x)
        return fft_conv(x, self.kernel(x.shape[-2])) + self.D * x

    def param_roles(self) -> dict[str, ParamRole]:
        # |Ā| = exp(-exp(log_A_real)·Δ) depends on both log_A_real and log_dt.
        return {"log_A_real": ParamRole("recurrent", slow=True), "log_dt": ParamRole("recurrent", slow=True),
                "A_imag": ParamRole("angle", slow=True)}

    def state_size(self) -> int:
        return self.d_model * self.d_state
