"""Linear Recurrent Unit (Orvieto et al. 2023), with the ablations of Zucchet & Orvieto 2024.

h_t = λ ⊙ h_{t-1} + γ ⊙ (B x_t),   y_t = Re(C h_t) + D ⊙ x_t

`param` chooses how λ is parametrised (`exp`: λ = exp(-exp(ν_log) + i exp(θ_log)),
the LRU's; `polar`: λ = ν e^{iθ}; `re_im`: λ = a + ib) and `gamma` whether the input
is normalised by a learned γ (initialised to sqrt(1-|λ|²)). `param=re_im gamma=none`
is the paper's complex RNN (cRNN), whose state is cursed by memory. `scan_impl` picks
the kernel of the recurrence (models.scan.policy; "auto" by device, same values).

State budget: the state is d_state complex numbers, 2·d_state real, so `state=S` sets
d_state = round(S/2) (halves up): S exactly when S is even, S + 1 when it is odd.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from models.layer import ParamRole, RecurrentLayer, state_units
from models.scan import scan
from models.scan.policy import ScanImpl, check_impl

DEFAULT_STATE = 64


def ring_init(n: int, r_min: float, r_max: float, max_phase: float,
              dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Moduli with |λ|² uniform in [r_min², r_max²] and phases uniform in [0, max_phase]
    (the LRU's ring; models.linear_rnn places the same law in a dense basis)."""
    u1, u2 = torch.rand(n, dtype=dtype), torch.rand(n, dtype=dtype)
    modulus = torch.sqrt(u1 * (r_max**2 - r_min**2) + r_min**2)
    return modulus, max_phase * u2


class LRU(RecurrentLayer):
    diagonal = True

    def __init__(
        self,
        d_model: int,
        d_state: int | None = None,
        r_min: float = 0.9,
        r_max: float = 0.999,
        max_phase: float = 2 * math.pi,
        param: Literal["exp", "polar", "re_im"] = "exp",
        gamma: Literal["learned", "none"] = "learned",
        scan_impl: ScanImpl = "auto",
        state: int | None = None,
    ):
        """d_state: complex channels N (default 64), or set by the state budget `state`."""
        super().__init__()
        check_impl("scan", scan_impl, "model.scan_impl")
        units = state_units(state, 2, layer="LRU", size=d_state, unit_name="one complex channel")
        d_state = units if units is not None else DEFAULT_STATE if d_state is None else d_state
        if not 0 <= r_min < r_max <= 1:
            raise ValueError(f"model.r_min={r_min}, model.r_max={r_max}: need 0 <= r_min < r_max <= 1")
        if d_model < 1 or d_state < 1:
            raise ValueError(f"model.d_model={d_model}, model.d_state={d_state}: widths must be >= 1")
        if max_phase < 0:
            raise ValueError(f"model.max_phase={max_phase:g}: phases are drawn in [0, max_phase]; use a value >= 0")
        self.d_model, self.d_state, self.param, self.gamma_mode = d_model, d_state, param, gamma
        self.scan_impl = scan_impl
        modulus, phase = ring_init(d_state, r_min, r_max, max_phase)
        if param == "exp":
            # Tiny floors keep log finite when r_max = 1 or the phase draw is 0.
            self.nu_log = nn.Parameter(torch.log(-torch.log(modulus.clamp(max=1 - 1e-7))))
            self.theta_log = nn.Parameter(torch.log(phase.clamp(min=1e-8)))
        elif param == "polar":
            self.nu = nn.Parameter(modulus)
            self.theta = nn.Parameter(phase)
        else:
            self.lam_re = nn.Parameter(modulus * torch.cos(phase))
            self.lam_im = nn.Parameter(modulus * torch.sin(phase))
        if gamma == "learned":
            self.gamma_log = nn.Parameter(0.5 * torch.log1p(-modulus.clamp(max=1 - 1e-7) ** 2))
        self.B_re = nn.Parameter(torch.randn(d_state, d_model) / math.sqrt(2 * d_model))
        self.B_im = nn.Parameter(torch.randn(d_state, d_model) / math.sqrt(2 * d_model))
        self.C_re = nn.Parameter(torch.randn(d_model, d_state) / math.sqrt(d_state))
        self.C_im = nn.Parameter(torch.randn(d_model, d_state) / math.sqrt(d_state))
        self.D = nn.Parameter(torch.randn(d_model))

    def eigenvalues(self, x: torch.Tensor | None = None) -> torch.Tensor:
        if self.param == "exp":
            return torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))
        if self.param == "polar":
            return torch.polar(self.nu, self.theta)
        return torch.complex(self.lam_re, self.lam_im)

    def input_scale(self) -> torch.Tensor | None:
        return torch.exp(self.gamma_log) if self.gamma_mode == "learned" else None

    def drive(self, x: torch.Tensor, normalise: bool = True) -> torch.Tensor:
        """γ ⊙ (B x_t), the complex input of the recurrence (B x_t alone when not `normalise`)."""
        # One real matmul whose output interleaves (re, im) is read as complex without a
        # copy; γ is folded into the (N x H) weights rather than the (B, L, N) activations.
        weight = torch.stack([self.B_re, self.B_im], dim=1)  # (N, 2, H)
        gamma = self.input_scale() if normalise else None
        if gamma is not None:
            weight = weight * gamma[:, None, None]
        u = x @ weight.reshape(2 * self.d_state, self.d_model).T
        # Complex halves do not exist: under bf16/fp16 autocast the recurrence runs in
        # float32. Wider dtypes stay as they are (a float64 layer must stay float64).
        if u.dtype in (torch.float16, torch.bfloat16):
            u = u.float()
        return torch.view_as_complex(u.unflatten(-1, (self.d_state, 2)))

    def states(self, x: torch.Tensor) -> torch.Tensor:
        return scan(self.eigenvalues(), self.drive(x), impl=self.scan_impl)

    def readout(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Re(C h_t) + D ⊙ x_t as one real matmul on the interleaved (re, im) view of h."""
        weight = torch.stack([self.C_re, -self.C_im], dim=-1).reshape(self.d_model, 2 * self.d_state)
        return torch.view_as_real(h).flatten(-2) @ weight.T + self.D * x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.states(x), x)

    def param_roles(self) -> dict[str, ParamRole]:
        recurrent = {"exp": ["nu_log"], "polar": ["nu"], "re_im": ["lam_re", "lam_im"]}[self.param]
        angle = {"exp": ["theta_log"], "polar": ["theta"], "re_im": []}[self.param]
        roles = {n: ParamRole("recurrent", slow=True) for n in recurrent}
        roles |= {n: ParamRole("angle", slow=True) for n in angle}
        if self.gamma_mode == "learned":
            roles["gamma_log"] = ParamRole("norm", slow=True)
        # The LRU paper also slows the input matrix B (App. D.2); it is an `other` parameter to the suite.
        roles |= {n: ParamRole("other", slow=True) for n in ("B_re", "B_im")}
        return roles

    def state_size(self) -> int:
        return 2 * self.d_state
