r"""Closed-form second moments of a 1-D linear recurrence and of its λ-derivative.

Setting (Zucchet & Orvieto, NeurIPS 2024, "Recurrent neural networks: vanishing
and exploding gradients are not the end of the story"):

    h_{t+1} = λ h_t + x_{t+1},        d_λ h_{t+1} = λ d_λ h_t + h_t,

driven by real, zero-mean, unit-variance inputs with autocorrelation
E[x_t x_{t+Δ}] = ρ^|Δ| (an AR(1) process; ρ = 0 is white noise).  In the
stationary limit h_t = Σ_k λ^k x_{t-k} and d_λ h_t = Σ_k k λ^{k-1} x_{t-k}, so
every second moment is a double power series in the eigenvalues.

Two channels with eigenvalues a, b sharing one input give the cross terms

    f(a, b; ρ) = E[h^a h^b]             = Σ_{k,l} a^k b^l ρ^|k-l|
               = (1 - ρ² ab) / ((1 - ab)(1 - ρa)(1 - ρb)),
    S(a, b; ρ) = E[d_a h^a · d_b h^b]   = ∂_a ∂_b f(a, b; ρ).

For a complex λ (real inputs) conj(h^λ) = h^{conj λ}, hence
E|h|² = f(λ, λ̄) and E|d_λ h|² = S(λ, λ̄).

Derivation of S (done by hand; verified numerically in tests/test_theory.py
against finite differences, a Cauchy-contour mixed derivative and the
truncated double series).  Split the double sum of f into k = l, k > l, k < l:

    f = 1/(1 - ab) · [u(a) + u(b) - 1],        u(a) = 1/(1 - ρa),

i.e. f = g(ab) · (u(a) + u(b) - 1) with g(z) = 1/(1 - z).  Product + chain rule:

    ∂_a f     = b g'(ab) (u(a) + u(b) - 1) + g(ab) u'(a)
    ∂_b ∂_a f = [g'(ab) + ab g''(ab)] (u(a) + u(b) - 1) + g'(ab) [a u'(a) + b u'(b)]

with g'(z) = 1/(1-z)², g''(z) = 2/(1-z)³, so g' + z g'' = (1+z)/(1-z)³, and
u'(a) = ρ/(1-ρa)².  Therefore

    S(a, b; ρ) = [ (1 + ab) f(a, b; ρ) + ρa/(1 - ρa)² + ρb/(1 - ρb)² ] / (1 - ab)².

Checks: ρ = 0 gives (1 + ab)/(1 - ab)³; ρ = 1 gives 1/((1 - a)²(1 - b)²)
(the numerator collapses to (1 - ab)²); a = b = λ real gives the real formula
[(1+λ²)(1-λ²ρ²) + 2λρ(1-λ²)] / [(1-λ²)³ (1-λρ)²].

All functions accept python floats/complex, numpy arrays or torch tensors
(broadcasting as usual) and return the same kind.  Torch inputs stay torch
tensors on the same device (arithmetic is differentiable where it is smooth).
Stationary moments only exist for |λ| < 1; elsewhere `moments` returns nan.
Use float64 / complex128 near |λ| = 1: the moments scale like (1-|λ|)^-3.
"""

from __future__ import annotations

import math
import sys

import numpy as np

__all__ = [
    "f",
    "S",
    "df_da",
    "moments",
    "moments_finite",
    "normalised_exp_sensitivity",
    "normalised_exp_sensitivity_through_gamma",
    "angle_sensitivity",
    "predicted_state_moments",
    "predicted_state_sensitivity",
    "input_power_from_matrix",
]


# --------------------------------------------------------------------------
# Array-kind plumbing: python scalars are computed as numpy 0-d arrays and
# converted back; torch is only touched when a tensor is passed in (so this
# module does not import torch itself).
# --------------------------------------------------------------------------


class _NumpyOps:
    conj = staticmethod(np.conj)
    abs = staticmethod(np.abs)
    real = staticmethod(np.real)
    log = staticmethod(np.log)
    exp = staticmethod(np.exp)
    expm1 = staticmethod(np.expm1)
    sqrt = staticmethod(np.sqrt)
    where = staticmethod(np.where)

    @staticmethod
    def iscomplex(x):
        return np.iscomplexobj(x)

    @staticmethod
    def full_like(x, value):
        return np.full_like(np.real(x), value)


class _TorchOps:
    def __init__(self, torch):
        self.t = torch

    def conj(self, x):
        return self.t.conj(x)

    def abs(self, x):
        return self.t.abs(x)

    def real(self, x):
        return self.t.real(x) if self.t.is_complex(x) else x

    def log(self, x):
        return self.t.log(x)

    def exp(self, x):
        return self.t.exp(x)

    def expm1(self, x):
        return self.t.expm1(x)

    def sqrt(self, x):
        return self.t.sqrt(x)

    def where(self, cond, a, b):
        return self.t.where(cond, a, b)

    def iscomplex(self, x):
        return self.t.is_complex(x)

    def full_like(self, x, value):
        return self.t.full_like(self.real(x), value)


def _is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def _prepare(*xs):
    """Convert all arguments to one array kind.

    Returns (ops, converted args, finalize) where finalize maps a result back
    to the caller's kind (python scalar in -> python scalar out)."""
    if any(_is_torch(x) for x in xs):
        torch = sys.modules["torch"]
        tensors = [x for x in xs if _is_torch(x)]
        device = tensors[0].device
        real_dtype = None
        for x in tensors:
            dt = x.dtype
            if dt.is_complex:
                dt = torch.empty((), dtype=dt).real.dtype
            elif not dt.is_floating_point:
                continue
            real_dtype = dt if real_dtype is None else torch.promote_types(real_dtype, dt)
        if real_dtype is None:
            real_dtype = torch.get_default_dtype()
        complex_dtype = {torch.float64: torch.complex128, torch.float32: torch.complex64,
                         torch.float16: torch.complex32}.get(real_dtype, torch.complex128)

        def conv(x):
            if _is_torch(x):
                return x.to(device=device, dtype=complex_dtype if x.dtype.is_complex else real_dtype)
            arr = np.asarray(x)
            dt = complex_dtype if np.iscomplexobj(arr) else real_dtype
            return torch.as_tensor(arr, device=device).to(dt)

        return _TorchOps(torch), [conv(x) for x in xs], lambda r: r

    scalar_in = all(np.ndim(x) == 0 and not isinstance(x, np.ndarray) for x in xs)

    def conv_np(x):
        arr = np.asarray(x)
        if not (np.issubdtype(arr.dtype, np.floating) or np.iscomplexobj(arr)):
            arr = arr.astype(np.float64)
        return arr

    def finalize(r):
        if scalar_in:
            r = np.asarray(r)
            return complex(r) if np.iscomplexobj(r) else float(r)
        return r

    return _NumpyOps(), [conv_np(x) for x in xs], finalize


class _quiet_numpy:
    """Silence numpy's divide/invalid warnings: masked branches of `where`
    are allowed to produce inf/nan."""

    def __enter__(self):
        self._old = np.seterr(divide="ignore", invalid="ignore", over="ignore")

    def __exit__(self, *exc):
        np.seterr(**self._old)


# --------------------------------------------------------------------------
# Cross terms f, S (pure arithmetic: valid for real or complex a, b)
# --------------------------------------------------------------------------


def _f(a, b, rho):
    return (1 - rho * rho * a * b) / ((1 - a * b) * (1 - rho * a) * (1 - rho * b))


def _S(a, b, rho):
    # (1+ab) f / (1-ab)²  is the "white-noise-like" part (g' + z g'') * (u(a)+u(b)-1);
    # the ρa/(1-ρa)² terms come from differentiating the input-correlation factor u.
    ab = a * b
    return ((1 + ab) * _f(a, b, rho)
            + rho * a / (1 - rho * a) ** 2
            + rho * b / (1 - rho * b) ** 2) / (1 - ab) ** 2


def _df_da(a, b, rho):
    # ∂_a log f = -ρ² b/(1-ρ²ab) + b/(1-ab) + ρ/(1-ρa)
    return _f(a, b, rho) * (-rho * rho * b / (1 - rho * rho * a * b)
                            + b / (1 - a * b)
                            + rho / (1 - rho * a))


def f(a, b, rho=0.0):
    """E[h^a h^b] for two stationary channels with eigenvalues a, b driven by the
    same AR(1)(ρ) unit-variance input.  Complex in general for complex a, b."""
    ops, (a, b, rho), fin = _prepare(a, b, rho)
    with _quiet_numpy():
        return fin(_f(a, b, rho))


def S(a, b, rho=0.0):
    """E[d_a h^a · d_b h^b] = ∂_a ∂_b f(a, b; ρ)  (closed form, see module doc)."""
    ops, (a, b, rho), fin = _prepare(a, b, rho)
    with _quiet_numpy():
        return fin(_S(a, b, rho))


def df_da(a, b, rho=0.0):
    """E[d_a h^a · h^b] = ∂_a f(a, b; ρ).  With b = conj(λ): E[d_λ h · conj(h)]."""
    ops, (a, b, rho), fin = _prepare(a, b, rho)
    with _quiet_numpy():
        return fin(_df_da(a, b, rho))


# --------------------------------------------------------------------------
# Stationary moments of one channel
# --------------------------------------------------------------------------


def _moments(ops, lam, rho):
    """(E|h|², E|d_λh|²) for prepared arrays; nan where |λ| >= 1."""
    if ops.iscomplex(lam):
        lam_bar = ops.conj(lam)
        h2 = ops.real(_f(lam, lam_bar, rho))
        dh2 = ops.real(_S(lam, lam_bar, rho))
    else:
        l2 = lam * lam
        h2 = (1 + rho * lam) / ((1 - l2) * (1 - rho * lam))
        dh2 = (((1 + l2) * (1 - l2 * rho * rho) + 2 * lam * rho * (1 - l2))
               / ((1 - l2) ** 3 * (1 - lam * rho) ** 2))
    stable = ops.abs(lam) < 1
    nan = ops.full_like(h2, float("nan"))
    return ops.where(stable, h2, nan), ops.where(stable, dh2, nan)


def moments(lam, rho=0.0):
    """Stationary (E|h|², E|d_λ h|²) for h_{t+1} = λ h_t + x_{t+1}, x ~ AR(1)(ρ), unit variance.

    Real λ uses the real closed forms, complex λ uses f(λ, λ̄) and S(λ, λ̄)
    (identical at real λ).  Returns real values; nan where |λ| >= 1."""
    ops, (lam, rho), fin = _prepare(lam, rho)
    with _quiet_numpy():
        h2, dh2 = _moments(ops, lam, rho)
    return fin(h2), fin(dh2)


# --------------------------------------------------------------------------
# Finite horizon, white noise, h_0 = 0
# --------------------------------------------------------------------------

_TAYLOR_TERMS = 14
_TAYLOR_RADIUS = 0.1  # use the series when |M ε| < this (closed form cancels there)


def _sum_n2_taylor_coeffs(M: int):
    """C_k with Σ_{n=1}^{M} n² (1-ε)^{n-1} = Σ_k C_k (-ε)^k, i.e. C_k = Σ_{m<M} (m+1)² binom(m,k).

    Write (m+1)² = (m-k)(m-k-1) + (2k+3)(m-k) + (k+1)², use
    binom(m,k)(m-k) = (k+1) binom(m,k+1), binom(m,k)(m-k)(m-k-1) = (k+1)(k+2) binom(m,k+2)
    and Σ_{m<M} binom(m,j) = binom(M,j+1)."""
    return [float((k + 1) * (k + 2) * math.comb(M, k + 3)
                  + (2 * k + 3) * (k + 1) * math.comb(M, k + 2)
                  + (k + 1) ** 2 * math.comb(M, k + 1))
            for k in range(_TAYLOR_TERMS)]


def moments_finite(lam, T: int):
    """(E|h_T|², E|d_λ h_T|²) after T steps from h_0 = 0, white unit-variance input.

    h_T = Σ_{k=0}^{T-1} λ^k x_{T-k}  ⇒  E|h_T|² = Σ_{k<T} z^k = (1 - z^T)/(1 - z),
    d_λ h_T = Σ_{n=1}^{T-1} n λ^{n-1} x_{T-n}  ⇒  E|d_λ h_T|² = Σ_{n=1}^{T-1} n² z^{n-1},
    with z = |λ|² (complex λ supported).  Valid for any λ, including |λ| >= 1.
    The second sum uses the closed form
        [(1+z) - z^M ((1+z) + 2Mε + M²ε²)] / ε³,   M = T-1, ε = 1-z,
    (infinite sum minus its tail), and a Taylor series in ε where |Mε| is small
    and the closed form cancels catastrophically.  T must be a python int >= 0."""
    T = int(T)
    if T < 0:
        raise ValueError("T must be >= 0")
    ops, (lam,), fin = _prepare(lam)
    M = max(T - 1, 0)
    with _quiet_numpy():
        nu = ops.abs(lam)
        eps = (1 - nu) * (1 + nu)          # 1 - |λ|², accurate near |λ| = 1
        z = nu * nu
        log_z = 2 * ops.log(nu)
        # Σ_{k<T} z^k = expm1(T log z) / expm1(log z): no cancellation near z = 1
        h2 = ops.expm1(T * log_z) / ops.expm1(log_z)
        h2 = ops.where(eps == 0, ops.full_like(h2, float(T)), h2)
        h2 = ops.where(nu == 0, ops.full_like(h2, 1.0 if T > 0 else 0.0), h2)

        zM = ops.exp(M * log_z)
        zM = ops.where(nu == 0, ops.full_like(zM, 1.0 if M == 0 else 0.0), zM)
        closed = ((1 + z) - zM * ((1 + z) + 2 * M * eps + M * M * eps * eps)) / eps ** 3
        series = 0.0 * eps
        for c in reversed(_sum_n2_taylor_coeffs(M)):
            series = series * (-eps) + c   # Horner in (-ε)
        use_series = ops.abs(M * eps) < _TAYLOR_RADIUS
        dh2 = ops.where(use_series, series, closed)
    return fin(h2), fin(dh2)


# --------------------------------------------------------------------------
# Normalised, exp-parametrised sensitivities
# --------------------------------------------------------------------------


def _nu_log_nu_sq(ops, nu):
    # (ν log ν)², with its limit 0 at ν = 0
    val = (nu * ops.log(nu)) ** 2
    return ops.where(nu == 0, ops.full_like(val, 0.0), val)


def normalised_exp_sensitivity(lam, rho=0.0):
    """E|∂_ω h|² for the normalised, exp-reparametrised recurrence.

        h_{t+1} = λ h_t + γ x_{t+1},   γ = sqrt(1 - |λ|²),   |λ| = ν = exp(-exp(ω)),
        λ = ν e^{iθ} (θ fixed).

    Convention: γ is treated as a CONSTANT (derivative through λ only, as when
    the normalisation is detached / a fixed preconditioner).  Then
    ∂λ/∂ω = λ log ν and
        E|∂_ω h|² = γ² |λ log ν|² E|d_λ h̃|²,
    h̃ the unnormalised state (`moments`).  White noise, real λ → 1: → 1/2
    (0.4508 at λ = 0.9, 0.4950 at 0.99).  See
    `normalised_exp_sensitivity_through_gamma` for the variant where γ(ν) is
    differentiated too."""
    ops, (lam, rho), fin = _prepare(lam, rho)
    with _quiet_numpy():
        nu = ops.abs(lam)
        _, dh2 = _moments(ops, lam, rho)
        out = (1 - nu * nu) * _nu_log_nu_sq(ops, nu) * dh2
    return fin(out)


def normalised_exp_sensitivity_through_gamma(lam, rho=0.0):
    """Same as `normalised_exp_sensitivity` but γ = sqrt(1-ν²) is differentiated too.

    h = γ(ν) h̃(λ), λ = ν e^{iθ}:  ∂_ν h = γ' h̃ + γ e^{iθ} d_λ h̃,  γ' = -ν/γ, so

        E|∂_ν h|² = (ν²/γ²) f(λ,λ̄) - 2 Re(λ ∂_a f(λ,λ̄)) + γ² S(λ,λ̄),
        E|∂_ω h|² = (ν log ν)² E|∂_ν h|²,

    using E[d_λ h̃ · conj h̃] = ∂_a f(a, b)|_{a=λ, b=λ̄}.  White noise, real λ:
    (λ log λ)² / (1-λ²)² → 1/4 as λ → 1."""
    ops, (lam, rho), fin = _prepare(lam, rho)
    with _quiet_numpy():
        nu = ops.abs(lam)
        g2 = 1 - nu * nu
        lam_c = lam if ops.iscomplex(lam) else lam + 0j
        lam_bar = ops.conj(lam_c)
        h2, dh2 = _moments(ops, lam, rho)
        cross = ops.real(lam_c * _df_da(lam_c, lam_bar, rho))
        d_nu = (nu * nu / g2) * h2 - 2 * cross + g2 * dh2
        out = _nu_log_nu_sq(ops, nu) * d_nu
    return fin(out)


def angle_sensitivity(lam, rho=0.0, normalised=True):
    """E|∂_θ h|² for λ = ν e^{iθ}, θ raw (not log-parametrised).

    ∂λ/∂θ = iλ, so E|∂_θ h|² = γ² ν² E|d_λ h̃|² with γ² = 1 - ν² if `normalised`
    (γ depends on ν only, so there is no convention issue), else γ = 1.
    White noise: γ² ν² (1+ν²)/(1-ν²)³ = ν²(1+ν²)/(1-ν²)² — diverges as ν → 1
    even with normalisation: the angle parameter is still cursed."""
    ops, (lam, rho), fin = _prepare(lam, rho)
    with _quiet_numpy():
        nu = ops.abs(lam)
        _, dh2 = _moments(ops, lam, rho)
        g2 = (1 - nu * nu) if normalised else 1.0
        out = g2 * nu * nu * dh2
    return fin(out)


# --------------------------------------------------------------------------
# Per-channel predictions for a diagonal layer
# --------------------------------------------------------------------------


def input_power_from_matrix(B):
    """Per-channel input power E|(Bx)_i|² = Σ_j |B_ij|² for x with identity covariance.

    B has shape (N, d) (channels × input features); this is the squared norm
    of row i of B (for a layer storing B as (d, N), pass B.T)."""
    if _is_torch(B):
        return (B.abs() ** 2).sum(-1)
    return (np.abs(np.asarray(B)) ** 2).sum(-1)


def predicted_state_moments(lam, input_power, rho=0.0, gamma=None):
    """Per-channel stationary (E|h_i|², E|d_λ h_i|²) of a diagonal linear layer.

    Channel i runs h_{i,t+1} = λ_i h_{i,t} + u_{i,t+1} with u_i = γ_i (Bx)_i.
    `input_power[i]` is E|(Bx)_i|² (e.g. `input_power_from_matrix(B)` for
    white x with identity covariance), *before* the γ normalisation; if
    `gamma` is given it is multiplied in as |γ_i|² (γ treated as constant, as
    in `normalised_exp_sensitivity`).  If gamma is None, `input_power` is taken
    to be the power of the input that actually drives the recurrence.
    ρ is the lag-1 autocorrelation of every input feature (AR(1)); a fixed
    linear mix of features sharing ρ keeps E[u_t conj u_s] = P ρ^|t-s|, and the
    recurrence is linear, so both moments scale with the input power:
        E|h_i|² = P_i |γ_i|² f(λ_i, λ̄_i; ρ),   E|d_λ h_i|² = P_i |γ_i|² S(λ_i, λ̄_i; ρ).
    (Complex u_i is fine: only E[u_t conj u_s] enters |.|² moments.)"""
    args = (lam, input_power, rho) if gamma is None else (lam, input_power, rho, gamma)
    ops, conv, fin = _prepare(*args)
    lam, power, rho = conv[:3]
    with _quiet_numpy():
        scale = power
        if gamma is not None:
            scale = scale * ops.abs(conv[3]) ** 2
        h2, dh2 = _moments(ops, lam, rho)
    return fin(scale * h2), fin(scale * dh2)


def predicted_state_sensitivity(lam, input_power, rho=0.0, gamma=None):
    """Per-channel E|d_λ h_i|² = input_power_i · |γ_i|² · S(λ_i, λ̄_i; ρ).

    See `predicted_state_moments` for the exact conventions."""
    return predicted_state_moments(lam, input_power, rho, gamma)[1]
