"""models.selective_scan: the fused CPU loop against the sequential definition (values,
every gradient, double backward, forward mode), what it keeps for backward, and the
Mamba layer on the fused path against the materialising (models.scan) path."""
from __future__ import annotations

import pytest
import torch
from torch.func import jvp

import models.selective_scan as ss
from models.mamba import Mamba
from models.selective_scan import (
    selective_scan,
    selective_scan_fused,
    selective_scan_reference,
)

NAMES = ("x", "delta", "A", "B", "C", "D", "h0")


def rel(x: torch.Tensor, y: torch.Tensor) -> float:
    x, y = x.detach().double(), y.detach().double()
    return float((x - y).norm() / y.norm().clamp(min=1e-30))


def make(b, L, d, n, *, dtype=torch.float32, D=True, h0=True, seed=0):
    """Inputs as Mamba makes them: Δ > 0 (softplus), A < 0, N(0, 1) otherwise."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    args = {
        "x": randn(b, L, d),
        "delta": torch.nn.functional.softplus(randn(b, L, d) - 1),
        "A": -torch.exp(randn(d, n)),
        "B": randn(b, L, n),
        "C": randn(b, L, n),
        "D": randn(d) if D else None,
        "h0": randn(b, d, n) if h0 else None,
    }
    return {k: None if v is None else v.to(dtype).requires_grad_() for k, v in args.items()}


def value_and_grads(fn, args, gy, **kw):
    inputs = [v for v in args.values() if v is not None]
    y = fn(*args.values(), **kw)
    return y, torch.autograd.grad(y, inputs, gy)


# -- values and gradients --------------------------------------------------------------------
@pytest.mark.parametrize("L, chunk, batch_chunk", [(100, 16, 2), (100, None, None), (1, None, None), (37, 5, 1)])
@pytest.mark.parametrize("with_h0", [True, False])
@pytest.mark.parametrize("with_D", [True, False])
def test_fused_equals_the_reference_in_fp32(L, chunk, batch_chunk, with_h0, with_D):
    """fp32 fused vs the float64 definition: rel. error <= 1e-5 in y and every gradient,
    with L not a multiple of the segment length and a partial batch chunk (3 = 2 + 1)."""
    args = make(3, L, 8, 4, D=with_D, h0=with_h0, seed=L)
    exact = {k: None if v is None else v.detach().double().requires_grad_() for k, v in args.items()}
    gy = torch.randn(3, L, 8, generator=torch.Generator().manual_seed(1))
    y, grads = value_and_grads(selective_scan_fused, args, gy, chunk=chunk, batch_chunk=batch_chunk)
    y_ref, grads_ref = value_and_grads(selective_scan_reference, exact, gy.double())
    assert y.dtype == torch.float32 and y.shape == (3, L, 8)
    assert rel(y, y_ref) <= 1e-5
    names = [k for k, v in args.items() if v is not None]
    for name, g, r in zip(names, grads, grads_ref):
        assert g.shape == r.shape and rel(g, r) <= 1e-5, name


@pytest.mark.parametrize("impl", ["fused", "scan"])
def test_every_impl_equals_the_reference_in_float64(impl):
    args = make(2, 23, 3, 5, dtype=torch.float64, seed=3)
    gy = torch.randn(2, 23, 3, dtype=torch.float64)
    y, grads = value_and_grads(selective_scan, args, gy, impl=impl)
    y_ref, grads_ref = value_and_grads(selective_scan_reference, args, gy)
    assert rel(y, y_ref) < 1e-12
    for g, r in zip(grads, grads_ref):
        assert rel(g, r) < 1e-11


def test_gradcheck_double_backward_and_forward_mode():
    """float64 finite differences: first and second order (the create_graph backward),
    and forward mode (the Function's jvp), on tiny sizes with 2-step segments."""
    args = make(2, 5, 2, 3, dtype=torch.float64, seed=4)
    inputs = tuple(args.values())

    def f(*a):
        return selective_scan_fused(*a, chunk=2, batch_chunk=1)

    assert torch.autograd.gradcheck(f, inputs)
    assert torch.autograd.gradgradcheck(f, inputs)
    assert torch.autograd.gradcheck(f, inputs, check_forward_ad=True, check_backward_ad=False,
                                    check_undefined_grad=False)


def test_double_backward_when_the_inputs_depend_on_each_other():
    """As in Mamba, Δ, B and C computed from x: the create_graph backward must give x only
    its direct gradient (a regression: it once also collected the paths through Δ, B, C)."""
    g = torch.Generator().manual_seed(10)
    b, L, d, n = 2, 7, 3, 2
    x = torch.randn(b, L, d, generator=g, dtype=torch.float64, requires_grad=True)
    W = torch.randn(d, 1 + 2 * n, generator=g, dtype=torch.float64, requires_grad=True)
    A = (-torch.rand(d, n, generator=g, dtype=torch.float64)).requires_grad_()
    D = torch.randn(d, generator=g, dtype=torch.float64, requires_grad=True)
    leaves = [x, W, A, D]
    hvps = []
    for fn in (selective_scan_fused, selective_scan_reference):
        dt, B, C = (x @ W).split([1, n, n], dim=-1)
        y = fn(x, torch.nn.functional.softplus(dt).expand(b, L, d), A, B, C, D)
        grads = torch.autograd.grad(y.pow(2).sum(), leaves, create_graph=True)
        hvps.append(torch.autograd.grad(sum(gr.sum() for gr in grads), leaves))
    for a, r in zip(*hvps):
        assert rel(a, r) < 1e-10


@pytest.mark.parametrize("tangents", [NAMES, ("A",), ("delta", "B"), ("x", "C", "D", "h0")])
def test_forward_mode_equals_the_reference(tangents):
    """torch.func.jvp through the fused Function (some tangents absent) = through the loop."""
    args = {k: v.detach() for k, v in make(2, 13, 3, 4, dtype=torch.float64, seed=5).items()}
    names = list(tangents)
    v = tuple(torch.randn_like(args[k]) for k in names)

    def at(fn):
        def f(*primals):
            return fn(**{**args, **dict(zip(names, primals))})
        return f

    fused = at(lambda **a: selective_scan_fused(*a.values(), chunk=4, batch_chunk=1))
    _, t = jvp(fused, tuple(args[k] for k in names), v)
    _, t_ref = jvp(at(lambda **a: selective_scan_reference(*a.values())), tuple(args[k] for k in names), v)
    assert rel(t, t_ref) < 1e-12


def test_fused_keeps_no_state_sequence_for_backward():
    """What autograd saves is the inputs plus one state per segment: nothing of size
    b·L·d·N (the materialising path saves two such tensors)."""
    b, L, d, n = 4, 64, 8, 16
    args = make(b, L, d, n, seed=6)
    for impl, limit in (("fused", b * L * d * n // 8), ("scan", None)):
        sizes = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: sizes.append(t.numel()) or t, lambda t: t):
            selective_scan(*args.values(), impl=impl)
        if limit is None:
            assert max(sizes) >= b * L * d * n
        else:
            assert max(sizes) <= limit


def test_block_shape_bounds_the_checkpoints():
    bc, K = ss._block_shape(64, 784, 128 * 16 * 4)
    assert 1 <= bc <= 64 and 8 <= K <= 64
    b, L, state = 64, 200_000, 256 * 16 * 4  # long sequences: segments grow instead
    bc, K = ss._block_shape(b, L, state)
    assert b * -(-L // K) * state <= ss._MAX_CHECKPOINT_BYTES * 1.01
    assert ss._block_shape(2, 5, 10**6) == (1, 5)


def test_shape_errors_and_dispatch(monkeypatch):
    args = make(2, 6, 3, 4, seed=7)
    with pytest.raises(ValueError, match="A must be"):
        selective_scan_fused(args["x"], args["delta"], args["A"].T, args["B"], args["C"])
    with pytest.raises(ValueError, match="impl=cuda: must be one of"):
        selective_scan(*args.values(), impl="cuda")
    calls = []
    monkeypatch.setattr(ss, "selective_scan_fused", lambda *a, **k: calls.append("fused"))
    monkeypatch.setattr(ss, "selective_scan_materialised", lambda *a, **k: calls.append("scan"))
    selective_scan(*args.values())
    selective_scan(*args.values(), impl="scan")
    assert calls == ["fused", "scan"]  # auto is fused on CPU


# -- the Mamba layer -------------------------------------------------------------------------------
@pytest.mark.parametrize("neg_eigen", [False, True])
def test_mamba_fused_path_equals_the_scan_path(neg_eigen):
    """Same weights, same input: output and every gradient (parameters and input) agree."""
    torch.manual_seed(8)
    fused = Mamba(d_model=6, d_state=4, scan_impl="fused", neg_eigen=neg_eigen)
    old = Mamba(d_model=6, d_state=4, scan_impl="scan", neg_eigen=neg_eigen)
    old.load_state_dict(fused.state_dict())
    x = torch.randn(3, 41, 6)
    g = torch.randn(3, 41, 6)
    results = []
    for layer in (fused, old):
        xi = x.clone().requires_grad_()
        y = layer(xi)
        params = list(layer.parameters())
        grads = torch.autograd.grad(y, [xi, *params], g)
        results.append((y, grads))
    (y1, g1), (y2, g2) = results
    assert rel(y1, y2) < 1e-6
    for a, b in zip(g1, g2):
        assert rel(a, b) < 1e-5


def test_mamba_on_the_fused_path_has_second_derivatives():
    """Hessian-vector products (the curvature probe's create_graph) match the scan path."""
    torch.manual_seed(9)
    fused = Mamba(d_model=3, d_state=2, scan_impl="fused").double()
    old = Mamba(d_model=3, d_state=2, scan_impl="scan").double()
    old.load_state_dict(fused.state_dict())
    x = torch.randn(2, 9, 3, dtype=torch.float64)
    hvps = []
    for layer in (fused, old):
        params = list(layer.parameters())
        loss = layer(x).pow(2).sum()
        grads = torch.autograd.grad(loss, params, create_graph=True)
        dot = sum((gr * torch.ones_like(gr)).sum() for gr in grads)
        hvps.append(torch.autograd.grad(dot, params))
    for a, b in zip(*hvps):
        assert rel(a, b) < 1e-10


# -- negative eigenvalues (Grazzi et al. 2025: a_t = 2 exp(Δ_t A) - 1 in (-1, 1]) ---------------
def test_negative_transitions_occur_in_the_test_inputs():
    args = make(3, 40, 8, 4, seed=11)
    a = ss.transition(args["delta"], args["A"], neg_eigen=True)
    assert a.min() < -0.5 and a.max() > 0.5 and a.min() >= -1 and a.max() <= 1
    torch.testing.assert_close(a, 2 * ss.transition(args["delta"], args["A"]) - 1)


@pytest.mark.parametrize("L, chunk, batch_chunk", [(100, 16, 2), (37, 5, 1)])
def test_fused_equals_the_reference_with_negative_transitions(L, chunk, batch_chunk):
    args = make(3, L, 8, 4, seed=L + 1)
    exact = {k: None if v is None else v.detach().double().requires_grad_() for k, v in args.items()}
    gy = torch.randn(3, L, 8, generator=torch.Generator().manual_seed(2))
    y, grads = value_and_grads(selective_scan_fused, args, gy, chunk=chunk, batch_chunk=batch_chunk, neg_eigen=True)
    y_ref, grads_ref = value_and_grads(selective_scan_reference, exact, gy.double(), neg_eigen=True)
    _, grads_pos = value_and_grads(selective_scan_reference, exact, gy.double())
    assert rel(y, y_ref) <= 1e-5
    for name, g, r in zip(NAMES, grads, grads_ref):
        assert rel(g, r) <= 1e-5, name
    assert rel(grads_ref[2], grads_pos[2]) > 0.1  # the switch changes A's gradient: it is not ignored


@pytest.mark.parametrize("impl", ["fused", "scan"])
def test_every_impl_equals_the_reference_with_negative_transitions(impl):
    args = make(2, 23, 3, 5, dtype=torch.float64, seed=12)
    gy = torch.randn(2, 23, 3, dtype=torch.float64)
    y, grads = value_and_grads(selective_scan, args, gy, impl=impl, neg_eigen=True)
    y_ref, grads_ref = value_and_grads(selective_scan_reference, args, gy, neg_eigen=True)
    assert rel(y, y_ref) < 1e-12
    for g, r in zip(grads, grads_ref):
        assert rel(g, r) < 1e-11


def test_gradcheck_and_forward_mode_with_negative_transitions():
    args = make(2, 5, 2, 3, dtype=torch.float64, seed=13)
    inputs = tuple(args.values())

    def f(*a):
        return selective_scan_fused(*a, chunk=2, batch_chunk=1, neg_eigen=True)

    assert torch.autograd.gradcheck(f, inputs)
    assert torch.autograd.gradgradcheck(f, inputs)
    assert torch.autograd.gradcheck(f, inputs, check_forward_ad=True, check_backward_ad=False,
                                    check_undefined_grad=False)
    plain = {k: v.detach() for k, v in args.items()}
    names = ["delta", "A", "x"]
    v = tuple(torch.randn_like(plain[k]) for k in names)

    def at(fn):
        return lambda *primals: fn(*{**plain, **dict(zip(names, primals))}.values(), neg_eigen=True)

    primals = tuple(plain[k] for k in names)
    _, t = jvp(at(lambda *a, **k: selective_scan_fused(*a, chunk=2, batch_chunk=1, **k)), primals, v)
    _, t_ref = jvp(at(selective_scan_reference), primals, v)
    assert rel(t, t_ref) < 1e-12


@pytest.mark.parametrize("impl", ["reference", "fused", "scan"])
def test_a_transition_of_minus_one_tracks_parity(impl):
    """h_t = a_t h_{t-1} with a_t = -1 on a 1 and +1 on a 0 (Δ_t = 60 x_t, A = -1): the state
    is (-1)^(number of ones so far), exactly; a log-space scan would lose the sign."""
    bits = torch.randint(0, 2, (4, 50), generator=torch.Generator().manual_seed(14)).double()
    x = bits.unsqueeze(-1)
    delta = 60 * x
    A = -torch.ones(1, 1, dtype=torch.float64)
    B = torch.zeros(4, 50, 1, dtype=torch.float64)
    C = torch.ones(4, 50, 1, dtype=torch.float64)
    h0 = torch.ones(4, 1, 1, dtype=torch.float64)
    y = selective_scan(x, delta, A, B, C, None, h0, impl=impl, neg_eigen=True)
    torch.testing.assert_close(y[..., 0], (-1.0) ** bits.cumsum(1), atol=1e-20, rtol=1e-12)
    y_pos = selective_scan(x, delta, A, B, C, None, h0, impl=impl)
    assert (y_pos >= 0).all()  # without the switch the state never changes sign


def test_mamba_eigenvalues_with_negative_eigenvalues_are_the_shifted_transitions():
    torch.manual_seed(15)
    fused = Mamba(d_model=6, d_state=4, scan_impl="fused", neg_eigen=True)
    x = torch.randn(3, 41, 6)
    # the layer's eigenvalues are its transitions: in (-1, 1], and at this init mostly near 1
    lam = fused.eigenvalues(x)
    assert lam.min() > -1 and lam.max() <= 1
    plain = Mamba(d_model=6, d_state=4, scan_impl="fused")
    plain.load_state_dict(fused.state_dict())
    torch.testing.assert_close(lam, 2 * plain.eigenvalues(x) - 1)


def test_mamba_gradient_flow_with_negative_eigenvalues():
    """‖∂h_T/∂h_{T-k}‖² = Σ Π a_s² with the signed transitions, against autograd on the states."""
    torch.manual_seed(16)
    layer = Mamba(d_model=4, d_state=3, neg_eigen=True).double()
    with torch.no_grad():
        layer.dt_proj.bias.fill_(1.0)  # Δ ≈ 1.3: most transitions negative, where the sign matters
    x = torch.randn(2, 12, 4, dtype=torch.float64)
    a = layer.eigenvalues(x).detach()  # (b, L, d·N)
    assert (a < 0).float().mean() > 0.5
    for k, v in layer.gradient_flow(x, [1, 3, 7]).items():
        expected = float(a[:, -k:].pow(2).prod(1).sum(-1).mean())
        assert v == pytest.approx(expected, rel=1e-9)
