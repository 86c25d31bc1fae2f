"""Dense linear RNN, the paper's baseline (Zucchet & Orvieto 2024), optionally block-diagonal.

    h_t = A h_{t-1} + B x_t,    y_t = C h_t + D ⊙ x_t        (real, h ∈ R^N, N = d_state)

`heads` splits the state into `heads` independent blocks of size N/heads: A is
block-diagonal (heads = N/2 gives 2x2 blocks, the paper's "64 heads of 2x2" rung
with N = 128). Each head's block is a free parameter, `A` of shape (heads, n, n).

Initialisation of A (`init`), per head of size n:
- `paper` (default), as the paper's students (`recurrent_matrix_init` in the authors'
  code): M ~ N(0, 1/n), M = V diag(l) V⁻¹, moduli squashed into [r_min, r_max) by
  r_min + (r_max - r_min) tanh|l|, phases scaled by max_phase/π, A = V diag(l') V⁻¹.
  Real eigenvalues stay real (as in tasks/teacher.py): a negative one keeps its sign
  while cos(max_phase) < 0. The authors' students use r_min = 0, r_max = 1,
  max_phase = π (the defaults here).
- `ring`: eigenvalues drawn as the LRU's ring init (|λ|² ~ U[r_min², r_max²], phase ~
  U[0, max_phase]), placed as n//2 real 2x2 rotation-scaling blocks (plus one real
  ±|λ| when n is odd) and conjugated by a random orthogonal basis of the head, so
  the eigenvalues are exactly the draw; the LRU's eigenvalue law in a dense basis.
B ~ N(0, 1/d_model), C ~ N(0, 1/N), D ~ N(0, 1).

State budget: `state=S` sets N = heads·round(S/heads) (halves up): the unit is one
real state dimension in every head, so the state is S when heads divides S and within
heads/2 of it otherwise (exact for `heads=1`, the default); S < heads is an error.

Training path: a sequential loop over time (one addmm per step; the inputs are
unbound once so autograd does not re-materialise the sequence at every step). It is
about as fast on CPU as a hand-written autograd.Function with an adjoint loop and
faster than an FFT convolution with the kernel A^k B, so the loop is both the
reference and the training path; it also supports forward-mode AD (torch.func.jvp)
and vmap as is. On a GPU the loop is launch-bound (timings: benchmarks/README.md).
Diagonalising A and using the diagonal scan would be exact only in exact arithmetic
(ill-conditioned eigenvectors), and chunked matrix scans cost O(L·T·N²) per
sequence, more than the loop's O(L·N²) on CPU.
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from torch import nn

from models.layer import ParamRole, RecurrentLayer, state_units
from models.lru import ring_init

DEFAULT_STATE = 64


def squash_eigenvalues(lam: np.ndarray, r_min: float, r_max: float, max_phase: float) -> np.ndarray:
    """The paper's eigenvalue map, shared by its students (here) and its teacher
    (tasks.teacher): moduli r_min + (r_max - r_min) tanh|λ|, phases angle(λ)·max_phase/π.

    The map sends conjugate pairs to conjugate pairs, so V diag(λ') V⁻¹ stays real. A
    real λ is its own conjugate and has to stay real, which scaling the phase of a
    negative one would break whenever max_phase ≠ π: it keeps its modulus map and takes
    the real direction nearest the scaled phase, negative when cos(max_phase) < 0."""
    modulus = r_min + (r_max - r_min) * np.tanh(np.abs(lam))
    phase = np.angle(lam) * max_phase / math.pi
    real = np.abs(lam.imag) <= 1e-12 * np.maximum(np.abs(lam), 1.0)
    negative_stays = math.cos(max_phase) < 0
    phase[real] = np.where((lam.real[real] < 0) & negative_stays, math.pi, 0.0)
    return modulus * np.exp(1j * phase)


def paper_init(n: int, r_min: float, r_max: float, max_phase: float) -> torch.Tensor:
    """One n x n block as the paper's students: tanh-squashed eigenvalues of a N(0, 1/n) matrix."""
    m = torch.randn(n, n, dtype=torch.float64) / math.sqrt(n)
    lam, v = torch.linalg.eig(m)
    new = torch.from_numpy(squash_eigenvalues(lam.numpy(), r_min, r_max, max_phase))
    a = v @ torch.diag(new) @ torch.linalg.inv(v)
    return a.real.float()


def ring_block_init(n: int, r_min: float, r_max: float, max_phase: float) -> torch.Tensor:
    """One n x n block with LRU ring-init eigenvalues in a random orthogonal basis."""
    modulus, phase = ring_init(n // 2 + n % 2, r_min, r_max, max_phase, dtype=torch.float64)
    block = torch.zeros(n, n, dtype=torch.float64)
    for k in range(n // 2):
        c, s = modulus[k] * torch.cos(phase[k]), modulus[k] * torch.sin(phase[k])
        block[2 * k: 2 * k + 2, 2 * k: 2 * k + 2] = torch.stack([torch.stack([c, -s]), torch.stack([s, c])])
    if n % 2:
        block[-1, -1] = modulus[-1] * (1.0 if torch.cos(phase[-1]) >= 0 else -1.0)
    q, r = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, torch.ones(()))  # Haar
    return (q @ block @ q.T).float()


class LinearRNN(RecurrentLayer):
    diagonal = False

    def __init__(
        self,
        d_model: int,
        d_state: int | None = None,
        heads: int = 1,
        r_min: float = 0.0,
        r_max: float = 1.0,
        max_phase: float = math.pi,
        init: Literal["paper", "ring"] = "paper",
        state: int | None = None,
    ):
        """d_state: N (default 64), or set by the state budget `state` (module docstring)."""
        super().__init__()
        if heads < 1:
            raise ValueError(f"model.heads={heads}: must be >= 1")
        units = state_units(state, heads, layer="LinearRNN", size=d_state,
                            unit_name=f"one real state dimension in each of the {heads} heads")
        d_state = heads * units if units is not None else DEFAULT_STATE if d_state is None else d_state
        if d_model < 1 or d_state < 1:
            raise ValueError(f"model.d_model={d_model}, model.d_state={d_state}: widths must be >= 1")
        if heads < 1 or d_state % heads:
            raise ValueError(f"model.heads={heads}: must be >= 1 and divide model.d_state={d_state}")
        if not 0 <= r_min < r_max <= 1:
            raise ValueError(f"model.r_min={r_min}, model.r_max={r_max}: need 0 <= r_min < r_max <= 1")
        if not 0 <= max_phase <= 2 * math.pi:
            raise ValueError(f"model.max_phase={max_phase}: must be in [0, 2π]")
        self.d_model, self.d_state, self.heads = d_model, d_state, heads
        n = d_state // heads
        make = paper_init if init == "paper" else ring_block_init
        self.A = nn.Parameter(torch.stack([make(n, r_min, r_max, max_phase) for _ in range(heads)]))
        self.B = nn.Parameter(torch.randn(d_state, d_model) / math.sqrt(d_model))
        self.C = nn.Parameter(torch.randn(d_model, d_state) / math.sqrt(d_state))
        self.D = nn.Parameter(torch.randn(d_model))

    def matrix(self) -> torch.Tensor:
        """The full (N, N) recurrent matrix (block-diagonal when heads > 1)."""
        if self.heads == 1:
            return self.A[0]
        eye = torch.eye(self.heads, dtype=self.A.dtype, device=self.A.device)
        n = self.d_state // self.heads
        return torch.einsum("hij,hg->higj", self.A, eye).reshape(self.heads * n, self.heads * n)

    def eigenvalues(self, x: torch.Tensor | None = None) -> torch.Tensor:
        """Eigenvalues of A, (N,) complex, head by head."""
        return torch.linalg.eigvals(self.A).reshape(-1)

    def states(self, x: torch.Tensor) -> torch.Tensor:
        """h: (batch, L, N), h_t = A h_{t-1} + B x_t from h_{-1} = 0 (the loop reference)."""
        u = (x @ self.B.T).unbind(-2)
        at = self.matrix().T
        h = u[0]
        hs = [h]
        for t in range(1, len(u)):
            h = torch.addmm(u[t], h, at) if h.dim() == 2 else u[t] + h @ at
            hs.append(h)
        return torch.stack(hs, dim=-2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.states(x) @ self.C.T + self.D * x

    def gradient_flow(self, x: torch.Tensor, lags: list[int]) -> dict[int, float]:
        """‖∂h_T/∂h_{T-k}‖_F² = ‖A^k‖_F² (input-independent)."""
        a = self.matrix().detach().double()
        out, p, k = {}, torch.eye(a.shape[0], dtype=a.dtype, device=a.device), 0
        for lag in sorted(set(lags)):
            while k < lag:
                p, k = p @ a, k + 1
            out[lag] = float((p**2).sum())
        return out

    def param_roles(self) -> dict[str, ParamRole]:
        # As the LRU's λ and B (App. D.2): the recurrent matrix and the input matrix are slow.
        return {"A": ParamRole("recurrent", slow=True), "B": ParamRole("other", slow=True)}

    def state_size(self) -> int:
        return self.d_state
