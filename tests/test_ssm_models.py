"""linear_rnn, s4d, mamba: contract, fast paths vs references, initialisation,
forward-mode sensitivity, bare mode for every model config, and one multirun smoke
training of the LRU ablations on copy."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch.func import functional_call, jvp

from common.registry import load_config, model_names
from models.build import build_model
from models.linear_rnn import LinearRNN
from models.mamba import Mamba, selective_scan, selective_scan_reference
from models.s4d import S4D
from tests.helpers import train_here

GROUPS = ("recurrent", "angle", "norm", "other")

LAYERS = {
    "linear_rnn": lambda: LinearRNN(d_model=3, d_state=8),
    "linear_rnn_2x2": lambda: LinearRNN(d_model=3, d_state=8, heads=4, init="ring", r_min=0.5, r_max=0.9),
    "s4d": lambda: S4D(d_model=3, d_state=8),
    "s4d_scan": lambda: S4D(d_model=3, d_state=8, impl="scan"),
    "mamba": lambda: Mamba(d_model=3, d_state=4),
}
STATE_SIZE = {"linear_rnn": 8, "linear_rnn_2x2": 8, "s4d": 3 * 8, "s4d_scan": 3 * 8, "mamba": 6 * 4}
STATE_WIDTH = {"linear_rnn": 8, "linear_rnn_2x2": 8, "s4d": 3 * 4, "s4d_scan": 3 * 4, "mamba": 6 * 4}


def rel(x: torch.Tensor, y: torch.Tensor) -> float:
    x, y = x.detach(), y.detach()
    return float((x - y).norm() / y.norm().clamp(min=1e-30))


def grads_of(module: torch.nn.Module, out: torch.Tensor, g: torch.Tensor) -> list[torch.Tensor]:
    params = list(module.parameters())
    return list(torch.autograd.grad(out, params, g, allow_unused=True))


# -- the layer contract -------------------------------------------------------------------
@pytest.mark.parametrize("name", LAYERS)
def test_layer_contract(name):
    torch.manual_seed(0)
    layer = LAYERS[name]().double()
    x = torch.randn(2, 20, 3, dtype=torch.float64)
    y = layer(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    # causal: changing x from step t on leaves every earlier output unchanged
    t = 11
    x2 = x.clone()
    x2[:, t:] = torch.randn_like(x2[:, t:])
    y2 = layer(x2)
    assert torch.allclose(y[:, :t], y2[:, :t], atol=1e-12, rtol=0)
    assert not torch.allclose(y[:, t:], y2[:, t:])
    # every parameter in exactly one group
    groups = layer.param_groups()
    assert set(groups) == set(GROUPS) and groups["recurrent"]
    ids = [id(p) for g in GROUPS for p in groups[g]]
    assert len(ids) == len(set(ids)) and set(ids) == {id(p) for p in layer.parameters()}
    assert layer.state_size() == STATE_SIZE[name]
    h = layer.states(x)
    assert h.shape == (2, 20, STATE_WIDTH[name])
    assert layer.diagonal == (not name.startswith("linear_rnn"))


@pytest.mark.parametrize("model", model_names())
def test_bare_mode_builds_from_the_shipped_config(model):
    cfg = load_config("model", model)
    cfg.mode = "bare"
    net = build_model(cfg, d_input=1, d_output=1, input_kind="real", readout="step")
    x = torch.randn(4, 30, 1)
    assert net(x).shape == (4, 30, 1) and net.state_size() > 0


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: LinearRNN(2, d_state=6, heads=4), "model.heads=4"),
        (lambda: LinearRNN(2, r_min=0.9, r_max=0.5), "model.r_min=0.9"),
        (lambda: S4D(2, d_state=7), "model.d_state=7"),
        (lambda: S4D(2, dt_min=0.1, dt_max=0.01), "model.dt_min=0.1"),
        (lambda: Mamba(2, expand=0), "model.expand=0"),
        (lambda: Mamba(2, dt_rank=0), "model.dt_rank=0"),
        (lambda: Mamba(2, scan_impl="cuda"), "model.scan_impl=cuda"),
    ],
)
def test_impossible_values_fail_with_one_line(make, fragment):
    with pytest.raises(ValueError) as err:
        make()
    assert fragment in str(err.value) and "\n" not in str(err.value)


# -- linear_rnn -----------------------------------------------------------------------------
def linear_rnn_reference(layer: LinearRNN, x: torch.Tensor) -> torch.Tensor:
    """Head by head, one matrix-vector product per step and sequence."""
    A = torch.block_diag(*layer.A)
    out = []
    for seq in x:
        h = torch.zeros(layer.d_state, dtype=x.dtype)
        ys = []
        for xt in seq:
            h = A @ h + layer.B @ xt
            ys.append(layer.C @ h + layer.D * xt)
        out.append(torch.stack(ys))
    return torch.stack(out)


@pytest.mark.parametrize("heads", [1, 4])
def test_linear_rnn_equals_the_per_step_reference(heads):
    torch.manual_seed(1)
    layer = LinearRNN(d_model=2, d_state=8, heads=heads, r_min=0.5, r_max=0.99)
    x = torch.randn(3, 40, 2)
    g = torch.randn(3, 40, 2)
    y, y_ref = layer(x), linear_rnn_reference(layer, x)
    assert rel(y, y_ref) < 1e-5
    for a, b in zip(grads_of(layer, y, g), grads_of(layer, y_ref, g)):
        assert rel(a, b) < 1e-5


@pytest.mark.parametrize("init", ["paper", "ring"])
def test_linear_rnn_eigenvalue_moduli_lie_in_the_ring(init):
    torch.manual_seed(2)
    r_min, r_max = 0.6, 0.95
    for heads in (1, 8, 32):
        layer = LinearRNN(d_model=1, d_state=64, heads=heads, r_min=r_min, r_max=r_max, init=init)
        mod = torch.linalg.eigvals(layer.matrix().detach().double()).abs()
        assert mod.min() >= r_min - 1e-4 and mod.max() <= r_max + 1e-4
        assert torch.allclose(layer.eigenvalues().abs().sort().values.double(), mod.sort().values, atol=1e-4)
    # paper defaults (r_min = 0, r_max = 1): moduli tanh|l| spread over (0, 1)
    mod = LinearRNN(d_model=1, d_state=64).eigenvalues().abs()
    assert mod.max() < 1 and mod.min() < 0.5 < mod.max()


def test_linear_rnn_heads_are_2x2_blocks():
    layer = LinearRNN(d_model=1, d_state=16, heads=8)
    assert layer.A.shape == (8, 2, 2)
    A = layer.matrix().detach()
    mask = torch.block_diag(*[torch.ones(2, 2)] * 8).bool()
    assert (A[~mask] == 0).all() and (A[mask] != 0).all()
    # ring init puts each head's eigenvalue pair (or real pair) on the ring
    ring = LinearRNN(d_model=1, d_state=16, heads=8, init="ring", r_min=0.9, r_max=0.99, max_phase=math.pi)
    mod = ring.eigenvalues().abs()
    assert mod.min() >= 0.9 - 1e-5 and mod.max() <= 0.99 + 1e-5


def test_linear_rnn_gradient_flow_is_the_power_norm():
    torch.manual_seed(3)
    layer = LinearRNN(d_model=1, d_state=6, heads=3)
    A = layer.matrix().detach().double()
    flow = layer.gradient_flow(torch.zeros(1, 5, 1), [1, 3])
    assert math.isclose(flow[3], float((torch.linalg.matrix_power(A, 3) ** 2).sum()), rel_tol=1e-10)


# -- s4d ----------------------------------------------------------------------------------
def test_s4d_convolution_equals_the_scan():
    torch.manual_seed(4)
    conv = S4D(d_model=4, d_state=16)
    rec = S4D(d_model=4, d_state=16, impl="scan")
    rec.load_state_dict(conv.state_dict())
    x, g = torch.randn(3, 100, 4), torch.randn(3, 100, 4)
    y_conv, y_scan = conv(x), rec(x)
    assert rel(y_conv, y_scan) < 1e-5
    for a, b in zip(grads_of(conv, y_conv, g), grads_of(rec, y_scan, g)):
        assert rel(a, b) < 1e-4


def test_s4d_zoh_matches_the_matrix_exponential():
    """Van Loan: expm(Δ [[A, B], [0, 0]]) = [[Ā, B̄], [0, 1]] with Ā = e^{ΔA}, B̄ = A⁻¹(e^{ΔA} - 1) B."""
    torch.manual_seed(5)
    layer = S4D(d_model=2, d_state=6).double()
    abar, bbar = layer.discrete()
    A = layer.continuous().detach()
    dt = layer.log_dt.detach().exp()
    for h in range(2):
        m = A.shape[1]
        M = torch.zeros(m + 1, m + 1, dtype=torch.complex128)
        M[:m, :m] = torch.diag(A[h])
        M[:m, m] = 1.0  # B = 1
        E = torch.linalg.matrix_exp(dt[h] * M)
        assert torch.allclose(E[:m, :m], torch.diag(abar[h].detach()), atol=1e-12)
        assert torch.allclose(E[:m, m], bbar[h].detach(), atol=1e-12)
    # S4D-Lin init
    assert torch.allclose(A.real, torch.full_like(A.real, -0.5))
    assert torch.allclose(A.imag[0], math.pi * torch.arange(3, dtype=torch.float64))
    assert ((layer.eigenvalues().abs() < 1) & (layer.eigenvalues().abs() > 0.9)).all()


# -- mamba ----------------------------------------------------------------------------------
@pytest.mark.parametrize("impl", ["fused", "scan"])
def test_selective_scan_equals_the_sequential_reference(impl):
    torch.manual_seed(6)
    b, L, d, n = 2, 50, 3, 4
    u = torch.randn(b, L, d, dtype=torch.float64, requires_grad=True)
    delta = torch.nn.functional.softplus(torch.randn(b, L, d, dtype=torch.float64)).requires_grad_()
    A = (-torch.rand(d, n, dtype=torch.float64) * 2).requires_grad_()
    B = torch.randn(b, L, n, dtype=torch.float64, requires_grad=True)
    C = torch.randn(b, L, n, dtype=torch.float64, requires_grad=True)
    D = torch.randn(d, dtype=torch.float64, requires_grad=True)
    args = (u, delta, A, B, C, D)
    y, y_ref = selective_scan(*args, impl=impl), selective_scan_reference(*args)
    assert rel(y, y_ref) < 1e-12
    g = torch.randn_like(y)
    for a, r in zip(torch.autograd.grad(y, args, g), torch.autograd.grad(y_ref, args, g)):
        assert rel(a, r) < 1e-10


def test_mamba_channel_chunks_equal_the_whole_scan():
    torch.manual_seed(7)
    # channel chunks apply to the materialising path (on CPU the default is the fused loop)
    whole = Mamba(d_model=4, d_state=4, max_scan_mb=0, scan_impl="scan")
    chunked = Mamba(d_model=4, d_state=4, max_scan_mb=1e-4, scan_impl="scan")  # one inner channel per chunk
    chunked.load_state_dict(whole.state_dict())
    x, g = torch.randn(2, 30, 4), torch.randn(2, 30, 4)
    assert chunked._scan_chunk_channels(2, 30) == 1
    y1, y2 = whole(x), chunked(x)
    assert rel(y2, y1) < 1e-6
    for a, b in zip(grads_of(whole, y1, g), grads_of(chunked, y2, g)):
        assert rel(b, a) < 1e-5


def test_mamba_init_transition_and_gradient_flow():
    torch.manual_seed(8)
    layer = Mamba(d_model=16, d_state=8)
    assert layer.dt_rank == 1 and layer.d_inner == 32
    assert torch.allclose(layer.A_log.exp()[5], torch.arange(1.0, 9.0))
    dt = torch.nn.functional.softplus(layer.dt_proj.bias.detach())
    assert dt.min() >= 1e-3 - 1e-7 and dt.max() <= 1e-1 + 1e-7
    x = torch.randn(2, 12, 16)
    with torch.no_grad():
        a = layer.transition(x)
        flow = layer.gradient_flow(x, [1, 5])
    assert a.shape == (2, 12, 32, 8) and ((a > 0) & (a < 1)).all()
    assert layer.eigenvalues(x).shape == (2, 12, 256)
    assert math.isclose(flow[5], float((a[:, -5:] ** 2).prod(1).sum((-1, -2)).mean()), rel_tol=1e-5)


# -- forward-mode sensitivity through `states` -------------------------------------------------
class _States(torch.nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer.states(x)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: LinearRNN(d_model=2, d_state=6, r_min=0.5, r_max=0.95), "A"),
        (lambda: LinearRNN(d_model=2, d_state=6, heads=3), "A"),
        (lambda: S4D(d_model=2, d_state=6), "log_A_real"),
        (lambda: S4D(d_model=2, d_state=6), "log_dt"),
        (lambda: S4D(d_model=2, d_state=6), "A_imag"),
        (lambda: Mamba(d_model=2, d_state=3), "A_log"),
    ],
)
def test_state_jvp_matches_finite_differences(make, name):
    torch.manual_seed(9)
    layer = make().double()
    wrapper = _States(layer)
    params = {f"layer.{n}": p.detach() for n, p in layer.named_parameters()}
    key = f"layer.{name}"
    x = torch.randn(2, 25, 2, dtype=torch.float64)
    v = torch.randn_like(params[key])

    def states_at(w):
        return functional_call(wrapper, {**params, key: w}, (x,))

    _, tangent = jvp(states_at, (params[key],), (v,))
    eps = 1e-6
    fd = (states_at(params[key] + eps * v) - states_at(params[key] - eps * v)) / (2 * eps)
    assert tangent.shape == fd.shape and rel(tangent, fd) < 1e-6


# -- every LRU ablation trains on copy (one multirun process) -----------------------------------
LRU_VARIANTS = [(p, g) for p in ("exp", "polar", "re_im") for g in ("learned", "none")]


def test_every_lru_ablation_trains_on_copy(tmp_path: Path):
    # The shipped model configs train in tests/test_models.py; these are the ablation switches.
    recs = [train_here(tmp_path, "model=lru", f"model.param={param}", f"model.gamma={gamma}", "task=copy",
                       "debug=fast", "task.delay=10", "model.d_model=16", "model.n_layers=1",
                       "trainer.max_steps=4", "trainer.val_check_interval=2")
            for param, gamma in LRU_VARIANTS]
    assert all(r["status"] == "ok" and r["model"]["name"] == "lru" for r in recs), \
        [(r["model"]["name"], r["status"]) for r in recs]
    lru = {(r["config"]["model"]["layer"]["param"], r["config"]["model"]["layer"]["gamma"]) for r in recs}
    assert lru == set(LRU_VARIANTS)
