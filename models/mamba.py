"""Mamba block with the S6 selective scan (Gu & Dao 2023), pure PyTorch.

    x, z = in_proj(u).chunk(2)                      d_model -> 2·d_inner (d_inner = expand·d_model)
    x = SiLU(causal depthwise conv1d(x))            kernel d_conv
    Δ_t, B_t, C_t = x_proj(x) split [dt_rank, N, N]; Δ_t = softplus(dt_proj(Δ_t))  (d_inner)
    h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t x_t        h ∈ R^{d_inner x N}, A = -exp(A_log)
    y_t = C_t · h_t + D ⊙ x_t;  out = out_proj(y ⊙ SiLU(z))

Initialisation as `mamba_simple.py`: A_log = log(1..N) per channel (S4D-real),
dt_proj.bias = softplus⁻¹(Δ) with Δ log-uniform in [dt_min, dt_max] (floored at
1e-4), dt_proj.weight ~ U[±dt_rank^-½], D = 1, no biases in in/x/out_proj, conv bias on.

`bias` is the reference's switch of the same name: biases on in_proj and out_proj (off
there). The gate z is then W_z u + b_z instead of W_z u. The reference block always
reads a normalised residual stream whose encoder bias gives z a constant part, so it
needs none; a bare layer reads the raw input, z is a bias-free map of u_t alone, and
the output y ⊙ SiLU(W_z u_t) is exactly 0 whenever u_t = 0, whatever the state: without
`bias` a bare Mamba cannot represent a linear system. `auto` (the default) turns it on
for a one-channel layer (the bare student on a scalar input) and leaves it off, as the
reference, otherwise.

State budget: the state is d_inner·N real numbers, so the unit is one state per inner
channel, d_inner = expand·d_model: `state=S` sets N = round(S / d_inner) (halves up),
within d_inner/2 of S, exact when d_inner divides S; S < d_inner is an error (at width
64 with expand 2 the smallest Mamba state is 128).

`neg_eigen` (Grazzi et al. 2025, "Unlocking state-tracking in linear RNNs through
negative eigenvalues"): the transition a_t = exp(Δ_t A) ∈ (0, 1] becomes 2 a_t - 1 ∈
(-1, 1]. With every a_t ≥ 0 the sign of the state is fixed by its inputs, and one layer
cannot track parity at any length (Sarrof et al. 2024); a_t near -1 flips it on a 1.
Δ → 0 still gives a_t → 1 (remember) and Δ → ∞ now gives -1 (flip) instead of 0
(forget), as in the paper's mapping; every scan path multiplies by a_t and takes no log,
so negative transitions are exact (tests/test_selective_scan.py). Why the other
diagonal layers have no such switch: the LRU's eigenvalues are complex, λ = r e^{iθ},
and reach every phase, −1 (θ = π) included; s4d's are complex too, and linear_rnn's
dense real matrix has real negative or complex eigenvalues already. Their transitions
are time-invariant, though: the range is not what they lack for state tracking. A sign
that depends on the input needs an input-dependent transition, which only Mamba has here.

The selective scan (models.selective_scan) runs one of two ways, `scan_impl`
resolved by models.scan.policy ("auto": "fused" on CPU, "scan" elsewhere):

* "fused": a time loop over cache-resident blocks of the state with a hand-written
  backward that recomputes the state from checkpoints every K steps; nothing of size
  (b, L, d_inner·N) is ever built (timings and memory: benchmarks/README.md).
* "scan": exp(ΔA) and ΔBx as (b, L, d_inner·N) tensors through models.scan
  (parallel / compiled scan). Those tensors dominate memory (32 x 784 x 4096 fp32 =
  411 MB each), so when one would exceed `max_scan_mb` (default 1 GiB) the channels
  are processed in chunks whose scan is recomputed in the backward pass (activation
  checkpointing): nothing of size (batch, L, d_inner·N) is kept between forward and
  backward, at the price of one more forward of the scan. Small chunks are
  launch-bound on a GPU, so there raise it or set 0 (never chunk); measurements in
  benchmarks/README.md. `max_scan_mb` applies to this path only.

`states` (every state, for the sensitivity probes; forward-mode AD) always takes the
"scan" path: it returns a (b, L, d_inner·N) tensor anyway.
`selective_scan_reference` is the sequential loop the tests hold both to.
"""
from __future__ import annotations

import functools
import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from models.layer import ParamRole, RecurrentLayer, require_input, state_units
from models.scan.policy import SelectiveImpl, check_impl, resolve_impl
from models.selective_scan import (
    selective_scan,
    selective_scan_fused,
    selective_scan_materialised,
    selective_scan_reference,
    transition,
)

DEFAULT_STATE = 16

__all__ = ["Mamba", "selective_scan", "selective_scan_fused", "selective_scan_materialised",
           "selective_scan_reference"]


class Mamba(RecurrentLayer):
    diagonal = True  # state (c, n) depends on A_log[c, n] alone

    def __init__(
        self,
        d_model: int,
        d_state: int | None = None,
        expand: int = 2,
        d_conv: int = 4,
        dt_rank: int | None = None,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        max_scan_mb: float = 1024.0,
        scan_impl: SelectiveImpl = "auto",
        bias: Literal["auto"] | bool = "auto",
        state: int | None = None,
        neg_eigen: bool = False,
    ):
        """d_state: N per inner channel (default 16), or set by the state budget `state`."""
        super().__init__()
        if expand < 1:
            raise ValueError(f"model.expand={expand}: must be >= 1")
        if d_model < 1:
            raise ValueError(f"model.d_model={d_model}: must be >= 1")
        units = state_units(state, expand * d_model, layer="Mamba", size=d_state,
                            unit_name=f"one state in each of the {expand * d_model} inner channels")
        d_state = units if units is not None else DEFAULT_STATE if d_state is None else d_state
        if d_state < 1:
            raise ValueError(f"model.d_state={d_state}: must be >= 1")
        if d_conv < 1:
            raise ValueError(f"model.d_conv={d_conv}: must be >= 1")
        if dt_rank is not None and dt_rank < 1:
            raise ValueError(f"model.dt_rank={dt_rank}: must be >= 1 or null (= ceil(d_model/16))")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"model.dt_min={dt_min}, model.dt_max={dt_max}: need 0 < dt_min <= dt_max")
        if max_scan_mb < 0:
            raise ValueError(f"model.max_scan_mb={max_scan_mb}: must be >= 0 (0 = never chunk)")
        check_impl("selective", scan_impl, "model.scan_impl")
        self.d_model, self.d_state, self.max_scan_mb, self.scan_impl = d_model, d_state, max_scan_mb, scan_impl
        self.neg_eigen = neg_eigen
        self.d_inner = d_inner = expand * d_model
        self.dt_rank = dt_rank = dt_rank or math.ceil(d_model / 16)

        self.bias = d_model == 1 if bias == "auto" else bias
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=self.bias)
        self.conv1d = nn.Conv1d(d_inner, d_inner, kernel_size=d_conv, groups=d_inner, padding=d_conv - 1)
        self.x_proj = nn.Linear(d_inner, dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(dt_rank, d_inner, bias=True)
        nn.init.uniform_(self.dt_proj.weight, -dt_rank**-0.5, dt_rank**-0.5)
        dt = torch.exp(torch.rand(d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=1e-4)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus⁻¹(dt)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(d_inner, 1))
        self.D = nn.Parameter(torch.ones(d_inner))
        self.out_proj = nn.Linear(d_inner, d_model, bias=self.bias)

    # -- pieces -------------------------------------------------------------------
    def _inner(self, u: torch.Tensor):
        """x, z (b, L, d_inner), Δ (b, L, d_inner), B, C (b, L, N) from the layer input u."""
        L = u.shape[-2]
        x, z = self.in_proj(u).chunk(2, dim=-1)
        # contiguous (b, L, d_inner) before the SiLU: its backward then runs on one layout
        # (the gradient arrives contiguous), and the scan reads x without another copy
        x = F.silu(self.conv1d(x.transpose(-1, -2))[..., :L].transpose(-1, -2).contiguous())
        dt, B, C = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        # = self.dt_proj(dt). Written as dt @ Wᵀ so that autograd forms the weight gradient
        # as dtᵀ g (dt_rank x d_inner) rather than gᵀ dt, which MKL computes far more
        # slowly for an output as narrow as dt_rank (benchmarks/README.md).
        delta = F.softplus(torch.matmul(dt, self.dt_proj.weight.t().contiguous()) + self.dt_proj.bias)
        return x, z, delta, B, C

    def A(self) -> torch.Tensor:
        return -torch.exp(self.A_log)

    def transition(self, u: torch.Tensor) -> torch.Tensor:
        """exp(Δ_t A) (or 2 exp(Δ_t A) - 1 with neg_eigen): the input-dependent recurrence
        coefficients, (b, L, d_inner, N)."""
        _, _, delta, _, _ = self._inner(u)
        return transition(delta, self.A(), self.neg_eigen)

    def eigenvalues(self, x: torch.Tensor | None = None) -> torch.Tensor:
        """The transitions along the layer input x, flattened like `states`: (b, L, d_inner·N), channel-major."""
        return self.transition(require_input(self, x)).flatten(-2)

    def states(self, x: torch.Tensor) -> torch.Tensor:
        """h: (b, L, d_inner·N) real, channel-major (index c·N + n), for the layer input x."""
        inner, _, delta, B, C = self._inner(x)
        _, h = selective_scan_materialised(inner, delta, self.A(), B, C, self.D, return_states=True,
                                           neg_eigen=self.neg_eigen)
        return h.flatten(-2)

    @torch.no_grad()
    def gradient_flow(self, x: torch.Tensor, lags: list[int]) -> dict[int, float]:
        """‖∂h_T/∂h_{T-k}‖_F² = Σ_{c,n} Π_{s=T-k+1}^{T} a_s², averaged over the batch."""
        _, _, delta, _, _ = self._inner(x)
        log_a2 = 2 * delta.double().unsqueeze(-1) * self.A().double()      # (b, L, d, N)
        if self.neg_eigen:  # a = 2 exp(ΔA) - 1 may be 0: log 0 = -inf, and exp(-inf) = 0 as it should
            log_a2 = torch.log((2 * log_a2.mul(0.5).exp() - 1).square())
        tail = log_a2.flip(1).cumsum(1)                                      # [:, k-1]: Σ over the last k steps
        return {k: float(tail[:, k - 1].exp().sum((-1, -2)).mean()) for k in lags}

    def _scan_chunk_channels(self, batch: int, length: int, itemsize: int = 4) -> int:
        """Inner channels per scan chunk so that one (batch, L, chunk·N) tensor fits max_scan_mb."""
        if self.max_scan_mb <= 0:
            return self.d_inner
        per_channel = batch * length * self.d_state * itemsize / 2**20
        return max(1, min(self.d_inner, int(self.max_scan_mb // max(per_channel, 1e-9))))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        x, z, delta, B, C = self._inner(u)
        A = self.A()
        impl = resolve_impl("selective", self.scan_impl, x.device)
        if impl != "scan":
            return self.out_proj(selective_scan(x, delta, A, B, C, self.D, impl=impl, neg_eigen=self.neg_eigen)
                                 * F.silu(z))
        step = self._scan_chunk_channels(math.prod(x.shape[:-2]), x.shape[-2], x.element_size())
        scan_fn = functools.partial(selective_scan_materialised, neg_eigen=self.neg_eigen)
        if step >= self.d_inner:
            y = scan_fn(x, delta, A, B, C, self.D)
        else:
            parts = []
            for s in range(0, self.d_inner, step):
                c = slice(s, s + step)
                args = (x[..., c], delta[..., c], A[c], B, C, self.D[c])
                if torch.is_grad_enabled():
                    parts.append(checkpoint(scan_fn, *args, use_reentrant=False))
                else:
                    parts.append(scan_fn(*args))
            y = torch.cat(parts, dim=-1)
        return self.out_proj(y * F.silu(z))

    def param_roles(self) -> dict[str, ParamRole]:
        # Δ_t (dt_proj) is the selective input/forget gate: `norm`, like the LRU's γ. SPEC §3
        # slows "A, dt": A_log and Δ's bias (its init sets dt); the projection weight is a
        # matrix of the input and trains as one.
        return {"A_log": ParamRole("recurrent", slow=True), "dt_proj.bias": ParamRole("norm", slow=True),
                "dt_proj.weight": ParamRole("norm", slow=False)}

    def state_size(self) -> int:
        return self.d_inner * self.d_state
