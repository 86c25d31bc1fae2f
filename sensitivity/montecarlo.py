r"""Monte-Carlo simulation of the 1-D recurrence and of its λ-derivative.

    x_{t+1} = ρ x_t + sqrt(1-ρ²) ε_{t+1}      (stationary AR(1), unit variance; x_0 ~ N(0,1))
    h_{t+1} = λ h_t + γ x_{t+1}
    d_{t+1} = λ d_t + h_t                      (d = d_λ h, γ held constant)

Everything is vectorised over sequences and over a batch of (λ, ρ) pairs; the
only python loop is over time.  Used to validate `sensitivity.theory`.

Statistics: sequences are independent, so the per-sequence time averages are
i.i.d. and their spread gives an honest standard error even though samples
within one sequence are strongly correlated (correlation time ~ 1/(1-|λ|)).
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["simulate", "simulate_finite", "default_burn_in"]

_COMPLEX_OF = {torch.float64: torch.complex128, torch.float32: torch.complex64}


def default_burn_in(lam, factor: float = 12.0, minimum: int = 50) -> int:
    """Burn-in steps so the transient of d (∝ t² |λ|^{2t}) is negligible:
    `factor` timescales 1/(1-|λ|) of the slowest channel."""
    nu = float(np.max(np.abs(np.asarray(lam, dtype=np.complex128))))
    if nu >= 1:
        raise ValueError("stationary simulation needs |λ| < 1")
    return max(minimum, int(math.ceil(factor / (1.0 - nu))))


def _as_batch(lam, rho, dtype):
    lam = np.atleast_1d(np.asarray(lam))
    rho = np.atleast_1d(np.asarray(rho, dtype=np.float64))
    lam, rho = np.broadcast_arrays(lam, rho)
    is_complex = np.iscomplexobj(lam)
    lam_t = torch.as_tensor(lam.reshape(-1).copy(),
                            dtype=_COMPLEX_OF[dtype] if is_complex else dtype)
    rho_t = torch.as_tensor(rho.reshape(-1).copy(), dtype=dtype)
    return lam_t, rho_t, lam.shape, is_complex


def _randn(*shape, gen, dtype):
    # torch's float32 normal sampler is ~10x faster than its float64 one on CPU and
    # the noise dominates the cost; 24-bit normals are irrelevant for 1 % moments.
    return torch.randn(*shape, generator=gen, dtype=torch.float32).to(dtype)


class _Recurrence:
    """h, d = d_λh for a batch of L channels × n_seq sequences, complex arithmetic
    carried out on separate real/imaginary parts (torch's complex kernels and
    |z|² reductions are several times slower on CPU)."""

    def __init__(self, lam_t, rho_t, gamma, shape, n_seq, gen, dtype):
        self.is_complex = lam_t.is_complex()
        self.gen, self.dtype, self.n_seq = gen, dtype, n_seq
        L = lam_t.shape[0]
        self.lam_re = (lam_t.real if self.is_complex else lam_t).to(dtype)[:, None]
        self.lam_im = lam_t.imag.to(dtype)[:, None] if self.is_complex else None
        self.a_rho = rho_t[:, None]
        self.b_rho = torch.sqrt(1 - rho_t * rho_t)[:, None]
        self.g_re = self.g_im = None
        if gamma is not None:
            g = np.broadcast_to(np.asarray(gamma), shape).reshape(-1)
            if np.iscomplexobj(g) and not self.is_complex:
                raise ValueError("complex gamma needs complex lam")
            self.g_re = torch.as_tensor(np.real(g).copy(), dtype=dtype)[:, None]
            if self.is_complex:
                self.g_im = torch.as_tensor(np.imag(g).copy(), dtype=dtype)[:, None]
        def zeros():
            return torch.zeros(L, n_seq, dtype=dtype)
        self.x = _randn(n_seq, gen=gen, dtype=dtype).expand(L, n_seq).clone()  # stationary x_0
        self.h_re, self.d_re = zeros(), zeros()
        self.acc_h, self.acc_d = zeros(), zeros()
        if self.is_complex:
            self.h_im, self.d_im, self.tmp = zeros(), zeros(), zeros()

    def run(self, n_steps: int, accumulate_from: int, chunk: int = 256):
        """Advance n_steps; add |h|², |d|² to the accumulators from step
        `accumulate_from` on (0-based, counted after each update)."""
        old_threads = torch.get_num_threads()
        torch.set_num_threads(1)   # small element-wise ops: threading only adds overhead
        try:
            t = 0
            while t < n_steps:
                c = min(chunk, n_steps - t)
                noise = _randn(c, self.n_seq, gen=self.gen, dtype=self.dtype)
                for i in range(c):
                    self._step(noise[i])
                    if t + i >= accumulate_from:
                        self._accumulate()
                t += c
        finally:
            torch.set_num_threads(old_threads)

    def _step(self, eps):
        x, lr, li = self.x, self.lam_re, self.lam_im
        x.mul_(self.a_rho).addcmul_(self.b_rho, eps)            # AR(1) input x_{t+1}
        if not self.is_complex:
            self.d_re.mul_(lr).add_(self.h_re)                   # d_{t+1} = λ d_t + h_t
            self.h_re.mul_(lr)                                   # h_{t+1} = λ h_t + γ x_{t+1}
        else:
            hr, hi, dr, di, tmp = self.h_re, self.h_im, self.d_re, self.d_im, self.tmp
            # d_{t+1} = λ d_t + h_t   (uses h_t, so before h is updated)
            torch.mul(di, li, out=tmp)
            di.mul_(lr).addcmul_(dr, li).add_(hi)
            dr.mul_(lr).sub_(tmp).add_(hr)
            # λ h_t
            torch.mul(hi, li, out=tmp)
            hi.mul_(lr).addcmul_(hr, li)
            hr.mul_(lr).sub_(tmp)
        if self.g_re is None:                                   # + γ x_{t+1}
            self.h_re.add_(x)
        else:
            self.h_re.addcmul_(self.g_re, x)
            if self.is_complex:
                self.h_im.addcmul_(self.g_im, x)

    def _accumulate(self):
        self.acc_h.addcmul_(self.h_re, self.h_re)
        self.acc_d.addcmul_(self.d_re, self.d_re)
        if self.is_complex:
            self.acc_h.addcmul_(self.h_im, self.h_im)
            self.acc_d.addcmul_(self.d_im, self.d_im)


def _summarise(per_seq_h, per_seq_d, shape, scalar, return_stderr):
    n_seq = per_seq_h.shape[1]
    out = [per_seq_h.mean(1), per_seq_d.mean(1)]
    if return_stderr:
        out += [per_seq_h.std(1) / math.sqrt(n_seq), per_seq_d.std(1) / math.sqrt(n_seq)]
    out = [o.numpy().reshape(shape) for o in out]
    if scalar:
        out = [float(o.reshape(())) for o in out]
    return tuple(out)


def simulate(lam, rho=0.0, T: int = 4000, n_seq: int = 4096, burn_in: int | None = None, *,
             gamma=None, seed: int = 0, dtype=torch.float64, chunk: int = 256,
             return_stderr: bool = False):
    """Measured stationary (E|h|², E|d_λ h|²).

    lam, rho: scalars or arrays (broadcast together; one simulation per (λ, ρ)
    pair, all pairs sharing the same driving noise ε — unbiased for each pair,
    errors correlated across pairs).  λ may be complex; inputs x are real.
    T: number of time steps averaged *after* `burn_in` discarded steps
    (burn_in=None → `default_burn_in(lam)`).  n_seq: independent sequences.
    gamma: optional input gain (scalar or broadcastable to lam, complex only
    with complex lam); the derivative is taken through λ only (γ constant), so
    the result is |γ|² × unnormalised.
    Returns numpy arrays of the broadcast shape of (lam, rho) (python floats
    for scalar inputs); with return_stderr=True also the standard errors,
    (h2, dh2, h2_se, dh2_se), estimated from the spread of per-sequence means.
    Runs single-threaded (torch threads restored afterwards)."""
    scalar = np.ndim(lam) == 0 and np.ndim(rho) == 0
    lam_t, rho_t, shape, _ = _as_batch(lam, rho, dtype)
    if burn_in is None:
        burn_in = default_burn_in(lam_t.numpy())
    gen = torch.Generator().manual_seed(int(seed))
    rec = _Recurrence(lam_t, rho_t, gamma, shape, n_seq, gen, dtype)
    rec.run(burn_in + T, accumulate_from=burn_in, chunk=chunk)
    return _summarise(rec.acc_h / T, rec.acc_d / T, shape, scalar, return_stderr)


def simulate_finite(lam, T: int, n_seq: int = 100_000, *, seed: int = 0,
                    dtype=torch.float64, return_stderr: bool = False):
    """Measured (E|h_T|², E|d_λ h_T|²) after exactly T steps from h_0 = d_0 = 0,
    white unit-variance real input (averaged over n_seq sequences only).
    lam: scalar or array (any |λ|, complex allowed).  Pairs with
    `theory.moments_finite`."""
    scalar = np.ndim(lam) == 0
    lam_t, rho_t, shape, _ = _as_batch(lam, 0.0, dtype)
    gen = torch.Generator().manual_seed(int(seed))
    rec = _Recurrence(lam_t, rho_t, None, shape, n_seq, gen, dtype)
    T = int(T)
    rec.run(T, accumulate_from=T - 1)   # accumulate only the final state (T = 0: nothing)
    return _summarise(rec.acc_h, rec.acc_d, shape, scalar, return_stderr)
