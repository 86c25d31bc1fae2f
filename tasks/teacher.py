"""Linear teacher–student system identification (Zucchet & Orvieto 2024, Fig. 3).

The teacher is a dense linear RNN with one input, one output and 10 hidden units,

    h_t = A h_{t-1} + B x_t,   h_0 = 0,   y_t = C h_t + D x_t,   t = 1..T (T = 300),

drawn once from `teacher_seed` (default 0), in this order from
`np.random.default_rng(teacher_seed)`:

    M ~ N(0, 1/10)^{10x10};  l, V = eig(M)
    l' = (ν₀ + (1-ν₀) tanh|l|) · exp(i · angle(l) · max_phase/π)
    A  = V diag(l') V⁻¹        (real: see below)
    B ~ N(0, 1)^{10x1},  C ~ N(0, 1/10)^{1x10},  D ~ N(0, 1)

so every eigenvalue of A has modulus in [ν₀, 1) and phase in [-max_phase, max_phase]
(the students' map, models.linear_rnn.squash_eigenvalues, with r_min = ν₀, r_max = 1).
The map sends conjugate pairs to conjugate pairs, so A is real; the imaginary part
left by round-off is checked to be negligible and dropped. A *real* eigenvalue is
its own conjugate: it has to stay real, so the phase scaling would break realness
for a negative one whenever max_phase ≠ π. Such eigenvalues keep their modulus
map and get the real direction nearest to the scaled phase: negative when
cos(max_phase) < 0, else positive (for the default max_phase = π nothing changes).

Inputs are i.i.d. N(0, 1), fresh every training batch (stream from the run seed);
targets are computed in float64 and cast to float32. The loss is ½ MSE over all T
steps (tasks.metrics). Inputs are continuous, so a training draw cannot repeat an
evaluation sequence: the disjoint seed streams are all the separation needed.

Baselines: `zero_loss` = ½ E[y_t²] averaged over t (predicting 0), and
`memoryless_loss` = the loss of the best predictor that sees only x_t, (CB+D) x_t.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.linear_rnn import squash_eigenvalues
from tasks.base import SyntheticTask
from tasks.spec import Criterion, TaskSpec

N_HIDDEN = 10


@dataclass(frozen=True)
class Teacher:
    A: np.ndarray  # (10, 10) float64
    B: np.ndarray  # (10, 1)
    C: np.ndarray  # (1, 10)
    D: np.ndarray  # (1, 1)

    def eigenvalues(self) -> np.ndarray:
        return np.linalg.eigvals(self.A)

    def impulse_response(self, length: int) -> np.ndarray:
        """g_0 = CB + D, g_k = C A^k B: y_t = Σ_k g_k x_{t-k}."""
        g = np.empty(length)
        v = self.B[:, 0].copy()
        for k in range(length):
            g[k] = float(self.C[0] @ v)
            v = self.A @ v
        g[0] += float(self.D[0, 0])
        return g


def make_teacher(nu0: float, max_phase: float = math.pi, teacher_seed: int = 0,
                 n_hidden: int = N_HIDDEN) -> Teacher:
    """The teacher's (A, B, C, D) as float64 arrays; see the module docstring."""
    rng = np.random.default_rng(teacher_seed)
    M = rng.normal(0.0, math.sqrt(1.0 / n_hidden), size=(n_hidden, n_hidden))
    lam, V = np.linalg.eig(M)
    A = V @ np.diag(squash_eigenvalues(lam, nu0, 1.0, max_phase)) @ np.linalg.inv(V)
    scale = max(1.0, float(np.abs(A).max()))
    if np.abs(A.imag).max() > 1e-8 * scale:
        raise RuntimeError(f"teacher_seed={teacher_seed}: A = V diag(l') V^-1 is not real "
                           f"(max |Im| = {np.abs(A.imag).max():.2e}); try another teacher_seed")
    B = rng.normal(0.0, 1.0, size=(n_hidden, 1))
    C = rng.normal(0.0, math.sqrt(1.0 / n_hidden), size=(1, n_hidden))
    D = rng.normal(0.0, 1.0, size=(1, 1))
    return Teacher(np.ascontiguousarray(A.real), B, C, D)


def teacher_output(teacher: Teacher, x: np.ndarray) -> np.ndarray:
    """y for inputs x of shape (n, T, 1), in float64: h_t = A h_{t-1} + B x_t, y_t = C h_t + D x_t."""
    x = np.asarray(x, dtype=np.float64)
    n, T, _ = x.shape
    drive = x[:, :, 0, None] * teacher.B[:, 0]          # (n, T, H): B x_t
    h = np.zeros((n, teacher.A.shape[0]))
    hs = np.empty_like(drive)
    At = teacher.A.T
    for t in range(T):
        h = h @ At + drive[:, t]
        hs[:, t] = h
    return hs @ teacher.C.T + x * teacher.D[0, 0]       # (n, T, 1)


class TeacherTask(SyntheticTask):
    name = "teacher"

    def __init__(
        self,
        nu0: float = 0.99,
        max_phase: float = math.pi,
        seq_len: int = 300,
        teacher_seed: int = 0,
        batch_size: int = 128,  # the paper's batch, not the synthetic tasks' 64
        **kwargs,
    ):
        if not 0 <= nu0 < 1:
            raise ValueError(f"task.nu0={nu0}: the teacher's minimum eigenvalue modulus must be in [0, 1)")
        if not 0 <= max_phase <= math.pi:
            raise ValueError(f"task.max_phase={max_phase}: must be in [0, pi]")
        if seq_len < 1:
            raise ValueError(f"task.seq_len={seq_len}: must be >= 1")
        super().__init__(batch_size=batch_size, **kwargs)
        self.nu0, self.max_phase, self.seq_len, self.teacher_seed = float(nu0), float(max_phase), seq_len, teacher_seed
        self.teacher = make_teacher(self.nu0, self.max_phase, teacher_seed)

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec("real", 1, "regression", 1, "step", self.seq_len, primary="loss", higher_is_better=False)

    @property
    def variant(self) -> str:
        return f"nu0={self.nu0:g},max_phase={self.max_phase:.5g},T={self.seq_len},teacher_seed={self.teacher_seed}"

    def teacher_params(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(A, B, C, D), float64, shapes (10, 10), (10, 1), (1, 10), (1, 1)."""
        t = self.teacher
        return t.A, t.B, t.C, t.D

    def teacher_output(self, x: np.ndarray) -> np.ndarray:
        return teacher_output(self.teacher, x)

    def baselines(self) -> dict[str, float]:
        g2 = self.teacher.impulse_response(self.seq_len) ** 2
        cum = np.cumsum(g2)                     # E[y_t²] = Σ_{k<t} g_k² for step t (1-based)
        zero = 0.5 * float(cum.mean())
        memoryless = 0.5 * float((cum - g2[0]).mean())
        return {"zero_loss": zero, "memoryless_loss": memoryless}

    axis = ("nu0", "task.nu0")
    # the loss falls by decades on the way to 1 % of the memoryless loss: a gain is relative
    plateau_delta, plateau_relative = 0.05, True

    def solve_criterion(self) -> Criterion:
        # solved: within 1 % of the loss of a model that only sees the current input
        return Criterion("loss", "min", 0.01 * self.baselines()["memoryless_loss"])

    def horizon_criterion(self) -> Criterion:
        return self.solve_criterion()

    def draw(self, rng: np.random.Generator, n: int, split: str) -> dict[str, np.ndarray]:
        x = rng.standard_normal((n, self.seq_len, 1))
        y = self.teacher_output(x)
        return {"x": x.astype(np.float32), "y": y.astype(np.float32),
                "mask": np.ones((n, self.seq_len), dtype=bool)}
