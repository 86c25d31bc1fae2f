"""Closed-form sensitivity moments (sensitivity.theory) vs definitions and Monte-Carlo."""

import cmath
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sensitivity import theory as th
from sensitivity.check import compare
from sensitivity.montecarlo import simulate, simulate_finite

REPO = Path(__file__).resolve().parents[1]


def _random_disc(n, radius=0.95, seed=0):
    rng = np.random.default_rng(seed)
    r = radius * np.sqrt(rng.uniform(0, 1, n))
    return r * np.exp(1j * rng.uniform(-np.pi, np.pi, n))


def _ar1_cov(K, rho):
    k = np.arange(K)
    return rho ** np.abs(k[:, None] - k[None, :])


def _kernel_power(c, rho):
    """E|Σ_k c_k x_{t-k}|² for unit-variance AR(1)(ρ) real input: c^H R c."""
    c = np.asarray(c)
    return float(np.real(np.conj(c) @ _ar1_cov(len(c), rho) @ c))


# ---------------------------------------------------------------- spot values

def test_spot_values():
    h2, dh2 = th.moments(0.9)
    assert h2 == pytest.approx(5.2632, rel=5e-5)
    assert dh2 == pytest.approx(263.89, rel=5e-5)
    h2, dh2 = th.moments(0.9, 0.5)
    assert h2 == pytest.approx(13.876, rel=5e-5)
    assert dh2 == pytest.approx(778.12, rel=5e-5)


def test_white_noise_forms():
    lam = np.linspace(-0.99, 0.99, 41)
    h2, dh2 = th.moments(lam, 0.0)
    np.testing.assert_allclose(h2, 1 / (1 - lam**2), rtol=1e-12)
    np.testing.assert_allclose(dh2, (1 + lam**2) / (1 - lam**2) ** 3, rtol=1e-12)


# ---------------------------------------------------------------- f and S

def test_S_special_cases():
    a, b = _random_disc(50, seed=1), _random_disc(50, seed=2)
    np.testing.assert_allclose(th.S(a, b, 0.0), (1 + a * b) / (1 - a * b) ** 3, rtol=1e-12)
    np.testing.assert_allclose(th.S(a, b, 1.0), 1 / ((1 - a) ** 2 * (1 - b) ** 2), rtol=1e-10)
    np.testing.assert_allclose(th.f(a, b, 0.0), 1 / (1 - a * b), rtol=1e-12)
    np.testing.assert_allclose(th.f(a, b, 1.0), 1 / ((1 - a) * (1 - b)), rtol=1e-10)


@pytest.mark.parametrize("rho", [-0.7, 0.0, 0.3, 0.5, 0.9, 1.0])
def test_real_formulas_match_f_S(rho):
    lam = np.linspace(-0.98, 0.98, 37)
    h2, dh2 = th.moments(lam, rho)
    np.testing.assert_allclose(h2, th.f(lam, lam, rho), rtol=1e-11)
    np.testing.assert_allclose(dh2, th.S(lam, lam, rho), rtol=1e-11)
    h2c, dh2c = th.moments(lam + 0j, rho)           # complex path at real λ
    assert not np.iscomplexobj(h2c)
    np.testing.assert_allclose(h2c, h2, rtol=1e-11)
    np.testing.assert_allclose(dh2c, dh2, rtol=1e-11)


@pytest.mark.parametrize("rho", [-0.5, 0.0, 0.5, 0.9])
def test_S_is_mixed_derivative_of_f(rho):
    a, b = _random_disc(20, 0.9, seed=3), _random_disc(20, 0.9, seed=4)
    # central finite differences (f is holomorphic in each argument: real steps suffice)
    e = 1e-4
    fd = (th.f(a + e, b + e, rho) - th.f(a + e, b - e, rho)
          - th.f(a - e, b + e, rho) + th.f(a - e, b - e, rho)) / (4 * e * e)
    np.testing.assert_allclose(th.S(a, b, rho), fd, rtol=1e-5)
    # Cauchy-contour mixed derivative: spectrally accurate
    n, r = 32, 0.02
    w = np.exp(2j * np.pi * np.arange(n) / n)
    A = a[:, None, None] + r * w[None, :, None]
    B = b[:, None, None] + r * w[None, None, :]
    weights = (1 / (r * w))[None, :, None] * (1 / (r * w))[None, None, :]
    cauchy = (th.f(A, B, rho) * weights).mean(axis=(1, 2))
    np.testing.assert_allclose(th.S(a, b, rho), cauchy, rtol=1e-10)
    # and the first derivative
    fd1 = (th.f(a + e, b, rho) - th.f(a - e, b, rho)) / (2 * e)
    np.testing.assert_allclose(th.df_da(a, b, rho), fd1, rtol=1e-6)


@pytest.mark.parametrize("rho", [-0.6, 0.0, 0.5, 0.9])
def test_f_S_match_series_definition(rho):
    """f = Σ a^k b^l ρ^|k-l|, S = Σ k l a^{k-1} b^{l-1} ρ^|k-l| (the definitions)."""
    K = 400
    k = np.arange(K)
    R = _ar1_cov(K, rho)
    for a, b in zip(_random_disc(6, 0.85, seed=5), _random_disc(6, 0.85, seed=6)):
        pa, pb = a ** k, b ** k
        da, db = k * np.concatenate([[0], pa[:-1]]), k * np.concatenate([[0], pb[:-1]])
        assert th.f(a, b, rho) == pytest.approx(pa @ R @ pb, rel=1e-10)
        assert th.S(a, b, rho) == pytest.approx(da @ R @ db, rel=1e-10)
        assert th.df_da(a, b, rho) == pytest.approx(da @ R @ pb, rel=1e-10)


# ---------------------------------------------------------------- array kinds

def test_input_kinds():
    h2, dh2 = th.moments(0.9, 0.5)
    assert type(h2) is float and type(dh2) is float
    h2, dh2 = th.moments(0.9 * cmath.exp(0.3j), 0.5)
    assert type(h2) is float
    assert type(th.S(0.5j, 0.3, 0.2)) is complex
    arr = th.moments(np.array([0.5, 0.9]), 0.5)[1]
    assert isinstance(arr, np.ndarray) and arr.shape == (2,)
    t = torch.tensor([0.5, 0.9], dtype=torch.float64)
    out = th.moments(t, 0.5)[1]
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), arr, rtol=1e-14)
    tc = torch.tensor([0.5 + 0.1j, 0.9j], dtype=torch.complex128)
    outc = th.moments(tc, torch.tensor(0.5, dtype=torch.float64))[1]
    assert outc.dtype == torch.float64
    np.testing.assert_allclose(outc.numpy(), th.moments(tc.numpy(), 0.5)[1], rtol=1e-14)
    assert th.moments(torch.tensor([0.5], dtype=torch.float32))[1].dtype == torch.float32
    # autograd flows through the torch path
    lam = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    th.moments(lam)[0].backward()
    assert lam.grad.item() == pytest.approx(2 * 0.9 / (1 - 0.81) ** 2, rel=1e-12)
    # unstable: nan
    assert np.isnan(th.moments(np.array([1.0, 1.2]))[1]).all()


# ---------------------------------------------------------------- Monte-Carlo

@pytest.fixture(scope="module")
def mc_rows():
    """Monte-Carlo over the check grid: real λ∈{.5,.9,.99}×ρ∈{0,.5,.9}, complex λ×ρ∈{0,.5}."""
    return compare(seed=0)


def test_monte_carlo_matches_closed_forms(mc_rows):
    assert len(mc_rows) == 17 and sum(isinstance(r["lam"], complex) or np.iscomplexobj(r["lam"])
                                      for r in mc_rows) == 8
    for r in mc_rows:
        for m in ("h2", "dh2"):
            meas, se, pred = r[m + "_mc"], r[m + "_se"], r[m + "_pred"]
            assert abs(meas / pred - 1) < 0.03, r
            assert abs(meas - pred) < 5 * se, r          # consistent with its standard error
            assert se / pred < 0.01, r                   # and the test has power
    # spot values are also what the simulation sees
    r = next(r for r in mc_rows if r["lam"] == 0.9 and r["rho"] == 0.5)
    assert r["h2_pred"] == pytest.approx(13.876, rel=5e-5)


def test_monte_carlo_gain_and_complex_gamma():
    lam = np.array([0.5, 0.8 * np.exp(0.4j), 0.9 * np.exp(-2.0j)])
    gamma = np.array([0.3, 2.0 - 1.0j, np.sqrt(1 - 0.81)])
    h2, dh2, h2_se, dh2_se = simulate(lam, 0.5, T=3000, n_seq=512, gamma=gamma, seed=3,
                                      return_stderr=True)
    h2_p, dh2_p = th.predicted_state_moments(lam, 1.0, 0.5, gamma=gamma)
    np.testing.assert_array_less(np.abs(h2 / h2_p - 1), 0.03)
    np.testing.assert_array_less(np.abs(dh2 / dh2_p - 1), 0.03)


def test_predicted_state_sensitivity_scaling():
    lam = torch.tensor([0.5, 0.9 * cmath.exp(0.2j), 0.99j], dtype=torch.complex128)
    B = torch.tensor([[1.0, 2.0], [0.5, -0.5], [3.0, 0.0]], dtype=torch.float64)
    power = th.input_power_from_matrix(B)
    np.testing.assert_allclose(power.numpy(), [5.0, 0.5, 9.0])
    gamma = torch.sqrt(1 - lam.abs() ** 2)
    out = th.predicted_state_sensitivity(lam, power, 0.3, gamma=gamma)
    ref = power * gamma**2 * th.moments(lam, 0.3)[1]
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-13)
    np.testing.assert_allclose(th.predicted_state_sensitivity(lam, power * gamma**2, 0.3).numpy(),
                               ref.numpy(), rtol=1e-13)


# ---------------------------------------------------------------- finite T

def test_finite_T_matches_direct_sums():
    lams = [0.0, 0.3, -0.9, 0.99, 0.999999, 1.0, 1.0000001, 1.02, 0.95 * cmath.exp(1j),
            1.01 * cmath.exp(-2j)]
    for lam in lams:
        z = abs(lam) ** 2
        for T in [0, 1, 2, 3, 10, 99, 100, 101, 1000, 5000]:
            ref_h = sum(z**k for k in range(T))
            ref_d = sum(n * n * z ** (n - 1) for n in range(1, T))
            h2, dh2 = th.moments_finite(lam, T)
            assert h2 == pytest.approx(ref_h, rel=1e-10, abs=1e-300), (lam, T)
            assert dh2 == pytest.approx(ref_d, rel=1e-10, abs=1e-300), (lam, T)
    # the switch between closed form and Taylor series (|Mε| = 0.1) is seamless
    M = 1000
    lam = np.sqrt(1 - np.linspace(0.05, 0.15, 41) / M)
    n = np.arange(1, M + 1)
    ref = (n[None] ** 2 * (lam[:, None] ** 2) ** (n[None] - 1)).sum(1)
    np.testing.assert_allclose(th.moments_finite(lam, M + 1)[1], ref, rtol=1e-11)
    # torch in, torch out
    out = th.moments_finite(torch.tensor([0.5, 1.0], dtype=torch.float64), 5)
    assert isinstance(out[1], torch.Tensor) and out[1].dtype == torch.float64
    np.testing.assert_allclose(out[1].numpy(), [1 + 4 * .25 + 9 * .0625 + 16 * .25**3, 30.0],
                               rtol=1e-14)


def test_finite_T_converges_to_stationary():
    for lam in [0.5, 0.9, 0.9 * cmath.exp(0.5j)]:
        np.testing.assert_allclose(th.moments_finite(lam, 2000), th.moments(lam), rtol=1e-12)


def test_finite_T_matches_monte_carlo():
    lam = np.array([0.5, 0.9, 0.99, 1.05, 0.95 * np.exp(0.7j)])
    for T in (3, 12):
        h2, dh2, h2_se, dh2_se = simulate_finite(lam, T, n_seq=50_000, seed=T,
                                                 return_stderr=True)
        h2_p, dh2_p = th.moments_finite(lam, T)
        np.testing.assert_array_less(np.abs(h2 / h2_p - 1), 0.03)
        np.testing.assert_array_less(np.abs(dh2 / dh2_p - 1), 0.03)


# ---------------------------------------------------------------- normalised / exp

def test_normalised_exp_sensitivity_values():
    assert th.normalised_exp_sensitivity(0.9) == pytest.approx(0.4508, abs=5e-5)
    assert th.normalised_exp_sensitivity(0.99) == pytest.approx(0.4950, abs=5e-5)
    lam = 1 - np.logspace(-1, -6, 11)
    vals = th.normalised_exp_sensitivity(lam)
    assert np.all(np.diff(vals) > 0) and vals[-1] == pytest.approx(0.5, abs=1e-5)
    assert th.normalised_exp_sensitivity(0.0) == 0.0
    # complex λ with white noise depends on |λ| only
    assert th.normalised_exp_sensitivity(0.9 * cmath.exp(1.3j)) == pytest.approx(
        th.normalised_exp_sensitivity(0.9), rel=1e-12)
    # through-γ variant: (λ log λ)²/(1-λ²)² → 1/4
    lam = np.array([0.5, 0.9, 0.99])
    np.testing.assert_allclose(th.normalised_exp_sensitivity_through_gamma(lam),
                               (lam * np.log(lam)) ** 2 / (1 - lam**2) ** 2, rtol=1e-10)
    assert th.normalised_exp_sensitivity_through_gamma(1 - 1e-6) == pytest.approx(0.25, abs=1e-5)


@pytest.mark.parametrize("lam", [0.8, -0.7, 0.9 * cmath.exp(0.5j), 0.93 * cmath.exp(-2.2j)])
@pytest.mark.parametrize("rho", [0.0, 0.5, -0.4])
def test_reparametrised_sensitivities_match_kernel_derivatives(lam, rho):
    """h_t = Σ_k c_k x_{t-k}, c_k = γ ν^k e^{ikθ}, ν = exp(-exp ω): differentiate c numerically."""
    K = 700      # |λ| <= 0.93: truncation error ~ K² 0.93^(2K) is negligible
    k = np.arange(K)
    lam = complex(lam)
    nu0, theta0 = abs(lam), cmath.phase(lam)
    omega0 = np.log(-np.log(nu0))

    def kernel(omega, theta, gamma=None):
        nu = np.exp(-np.exp(omega))
        g = np.sqrt(1 - nu**2) if gamma is None else gamma
        return g * nu**k * np.exp(1j * k * theta)

    e = 1e-6
    g0 = np.sqrt(1 - nu0**2)
    d_omega_const = (kernel(omega0 + e, theta0, g0) - kernel(omega0 - e, theta0, g0)) / (2 * e)
    d_omega_full = (kernel(omega0 + e, theta0) - kernel(omega0 - e, theta0)) / (2 * e)
    d_theta = (kernel(omega0, theta0 + e) - kernel(omega0, theta0 - e)) / (2 * e)
    assert th.normalised_exp_sensitivity(lam, rho) == pytest.approx(
        _kernel_power(d_omega_const, rho), rel=1e-6)
    assert th.normalised_exp_sensitivity_through_gamma(lam, rho) == pytest.approx(
        _kernel_power(d_omega_full, rho), rel=1e-6)
    assert th.angle_sensitivity(lam, rho) == pytest.approx(_kernel_power(d_theta, rho), rel=1e-6)
    assert th.angle_sensitivity(lam, rho, normalised=False) == pytest.approx(
        _kernel_power(d_theta, rho) / g0**2, rel=1e-6)


def test_angle_sensitivity_is_cursed():
    nu = np.array([0.9, 0.99, 0.999])
    vals = th.angle_sensitivity(nu * np.exp(0.5j))
    np.testing.assert_allclose(vals, nu**2 * (1 + nu**2) / (1 - nu**2) ** 2, rtol=1e-10)
    assert vals[-1] > 1e5


# ---------------------------------------------------------------- CLI

def test_check_cli_exits_zero():
    proc = subprocess.run([sys.executable, "-m", "sensitivity.check", "--seed", "1"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| λ | ρ |" in proc.stdout and "OK" in proc.stdout
