"""Models: the layer contract holds for every model config, the LRU is initialised as in
the paper and differentiates in float64, every model trains on copy."""
from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

from common.config import resolve_target
from common.registry import load_config, model_names
from models.build import build_model, layer_factory
from models.layer import ROLES, RecurrentLayer
from models.lru import LRU
from tasks.optim import OptimizerSettings
from tests.helpers import train_here

# Bare-mode models (the ladder) map real inputs straight to outputs: they cannot take copy's tokens.
STACK_MODELS = [n for n in model_names() if load_config("model", n).get("mode", "stack") != "bare"]



def lru_slow(layer: LRU) -> set[str]:
    eig = {"exp": {"nu_log", "theta_log"}, "polar": {"nu", "theta"}, "re_im": {"lam_re", "lam_im"}}[layer.param]
    return eig | ({"gamma_log"} if layer.gamma_mode == "learned" else set()) | {"B_re", "B_im"}


# The LRU paper's rule (SPEC §3) per layer class: which parameters train at lr * lr_factor.
SLOW = {
    "LRU": lru_slow,
    "S4D": lambda _: {"log_A_real", "log_dt", "A_imag"},
    "Mamba": lambda _: {"A_log", "dt_proj.bias"},
    "LinearRNN": lambda _: {"A", "B"},
    "RNN": lambda _: set(), "LSTM": lambda _: set(), "GRU": lambda _: set(),
}


def layer_of(name: str, d_model: int = 4) -> RecurrentLayer:
    torch.manual_seed(0)
    return layer_factory(load_config("model", name).layer)(d_model)


@pytest.mark.parametrize("name", model_names())
def test_every_model_config_honours_the_layer_contract(name):
    """One role per parameter; the optimiser's and the suite's groups both follow it; each
    probe method answers with the documented shape or None (never an AttributeError)."""
    layer = layer_of(name)
    named = list(layer.named_roles())
    assert [n for n, _, _ in named] == [n for n, _ in layer.named_parameters()]
    groups = layer.param_groups()
    assert tuple(groups) == ROLES
    assert sorted(id(p) for ps in groups.values() for p in ps) == sorted(id(p) for p in layer.parameters())
    slow = {n for n, _, role in named if role.slow}
    assert slow == SLOW[type(layer).__name__](layer)
    x = torch.randn(2, 12, 4)
    h = layer.states(x)
    assert h is None or h.shape[:2] == (2, 12)
    lam = layer.eigenvalues(x)
    assert lam is None or lam.ndim in (1, 3)
    flow = layer.gradient_flow(x, [1, 5])
    assert flow is None or set(flow) == {1, 5}
    u = layer.drive(x)
    assert u is None or u.shape[:2] == (2, 12)
    assert layer.state_size() > 0


@pytest.mark.parametrize("name", STACK_MODELS)
def test_optimiser_groups_follow_the_declared_roles(name):
    cfg = load_config("model", name)
    model = build_model(cfg, d_input=5, d_output=5, input_kind="real", readout="step")
    groups = OptimizerSettings(lr=1.0, lr_factor=0.25, weight_decay=0.05).param_groups(model)
    by_name = {g["name"]: g for g in groups}
    slow = {id(p) for _, p, role in model.named_roles() if role.slow}
    assert {id(p) for p in by_name.get("slow", {"params": []})["params"]} == slow
    if slow:
        assert by_name["slow"]["lr"] == 0.25 and by_name["slow"]["weight_decay"] == 0.0
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_lru_ring_initialisation_matches_the_paper():
    torch.manual_seed(0)
    r_min, r_max, max_phase, n = 0.4, 0.9, 3.0, 20000
    layer = LRU(d_model=8, d_state=n, r_min=r_min, r_max=r_max, max_phase=max_phase)
    lam = layer.eigenvalues().detach()
    mod2 = lam.abs() ** 2
    assert mod2.min() >= r_min**2 - 1e-6 and mod2.max() <= r_max**2 + 1e-6
    # |λ|² uniform on [r_min², r_max²]: mean and variance of a uniform law
    lo, hi = r_min**2, r_max**2
    assert abs(mod2.mean() - (lo + hi) / 2) < 0.01
    assert abs(mod2.var() - (hi - lo) ** 2 / 12) < 0.01
    phase = torch.atan2(lam.imag, lam.real) % (2 * math.pi)
    assert phase.min() >= 0 and phase.max() <= max_phase + 1e-5
    assert abs(phase.mean() - max_phase / 2) < 0.05
    gamma = layer.input_scale().detach()
    assert torch.allclose(gamma, torch.sqrt(1 - mod2), atol=1e-5)


def test_lru_state_power_is_normalised_at_init():
    """With γ, E|h|² ≈ E|Bu|² for white noise; without it, ≈ E|Bu|²/(1-|λ|²)."""
    torch.manual_seed(0)
    layer = LRU(d_model=16, d_state=64, r_min=0.95, r_max=0.99)
    u = torch.randn(64, 3000, 16)
    with torch.no_grad():
        h = layer.states(u)[:, 1000:]
        bu = torch.complex(u @ layer.B_re.T, u @ layer.B_im.T)
    ratio = (h.abs() ** 2).mean() / (bu.abs() ** 2).mean()
    assert 0.9 < ratio < 1.1
    raw = LRU(d_model=16, d_state=64, r_min=0.95, r_max=0.99, gamma="none")
    with torch.no_grad():
        h_raw = raw.states(u)[:, 1000:]
    assert (h_raw.abs() ** 2).mean() / (bu.abs() ** 2).mean() > 10


@pytest.mark.parametrize("param", ["exp", "polar", "re_im"])
@pytest.mark.parametrize("gamma", ["learned", "none"])
def test_lru_parametrisations_give_the_same_eigenvalues_at_init(param, gamma):
    torch.manual_seed(1)
    layer = LRU(d_model=4, d_state=32, param=param, gamma=gamma)
    torch.manual_seed(1)
    ref = LRU(d_model=4, d_state=32)
    assert torch.allclose(layer.eigenvalues(), ref.eigenvalues(), atol=1e-5)
    groups = layer.param_groups()
    assert sum(len(v) for v in groups.values()) == len(list(layer.parameters()))
    assert groups["recurrent"] and (param == "re_im") == (not groups["angle"])


@pytest.mark.parametrize("param", ["exp", "polar", "re_im"])
def test_lru_in_float64_passes_gradcheck(param):
    """Input drive, scan and readout all stay float64 in a .double() layer (inputs and parameters)."""
    torch.manual_seed(0)
    layer = LRU(d_model=3, d_state=4, r_min=0.5, r_max=0.9, param=param).double()
    x = torch.randn(2, 7, 3, dtype=torch.float64, requires_grad=True)
    assert layer.states(x).dtype == torch.complex128
    names = [n for n, _ in layer.named_parameters()]
    params = [p.detach().requires_grad_() for _, p in layer.named_parameters()]

    def f(x, *ps):
        return functional_call(layer, dict(zip(names, ps)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-6)


def test_lru_under_bf16_autocast_runs_its_recurrence_in_float32():
    layer = LRU(d_model=4, d_state=8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert layer.drive(torch.randn(2, 5, 4)).dtype == torch.complex64


def test_each_model_trains_a_few_steps_on_copy(tmp_path):
    """Every model config with a stack trains for 20 steps, in this process."""
    recs = [train_here(tmp_path, f"model={name}", "debug=fast", "task.delay=20", "model.d_model=16",
                       "model.n_layers=1", "sensitivity.hessian=off") for name in STACK_MODELS]
    assert sorted(r["model"]["name"] for r in recs) == sorted(load_config("model", n).name for n in STACK_MODELS)
    for rec in recs:
        assert rec["status"] == "ok" and rec["task"]["name"] == "copy" and rec["steps"] == 20
        assert math.isfinite(rec["metrics"]["test"]["loss"]) and 0 <= rec["metrics"]["test"]["acc"] <= 1
        assert rec["cost"]["tokens_per_s"] > 0
        # the record says whether the recurrence is diagonal, as the layer declares it (leaderboard/implied.py reads it)
        layer = resolve_target(rec["model"]["layer"], "model.layer")
        assert rec["model"]["diagonal"] is layer.diagonal
