"""The sensitivity suite measures what the theory predicts, and shows the paper's signatures."""
from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf

from common.keys import SUMMARY_KEYS
from common.registry import load_config, model_names
from models.build import build_model
from models.lru import LRU
from models.scan import scan
from sensitivity import probes
from sensitivity.callback import SensitivitySuite
from sensitivity.propagation import propagate
from sensitivity.theory import S


def test_lru_state_sensitivity_matches_theory_per_channel():
    """M3 of an LRU (param exp, γ learned) on white noise = γ² (λ log|λ|)² P S(λ, λ̄; 0)."""
    torch.manual_seed(0)
    layer = LRU(d_model=8, d_state=16, r_min=0.8, r_max=0.95).double()
    x = torch.randn(256, 4000, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    burn_in = 0.25
    with torch.no_grad():
        lam = layer.eigenvalues()
        gamma = layer.input_scale()
        b = torch.complex(layer.B_re, layer.B_im)
        power = (b.abs() ** 2).sum(dim=1)  # E|(Bx)_i|² for unit white noise
        predicted = gamma**2 * (lam.abs() * torch.log(lam.abs())) ** 2 * power * S(lam, lam.conj(), 0.0).real
        d = probes.directional_state_derivative(layer, "nu_log", x, torch.ones_like(layer.nu_log))
        measured = (probes.after_burn_in(d, burn_in).abs() ** 2).mean(dim=(0, 1))
    assert torch.allclose(measured, predicted, rtol=0.05), (measured / predicted)
    check = probes.theory_check(layer, x[:64], burn_in)  # the record's M4 entry agrees too
    assert abs(check["ratio_median"] - 1) < 0.05 and abs(check["rho_mean"]) < 0.05


def test_gradient_flow_of_a_diagonal_layer_is_the_sum_of_eigenvalue_powers():
    torch.manual_seed(0)
    layer = LRU(d_model=4, d_state=8, r_min=0.5, r_max=0.99)
    x = torch.randn(2, 50, 4)
    flow = probes.gradient_flow(layer, x, [1, 7, 30])
    lam = layer.eigenvalues().detach()
    for k, value in flow.items():
        assert math.isclose(value, float((lam.abs() ** (2 * k)).sum()), rel_tol=1e-6)
    # ... which is the Jacobian of the scan itself: ∂h_T/∂h_{T-k} = diag(λ^k)
    k = 7
    h0 = torch.zeros(8, dtype=torch.complex64, requires_grad=True)
    u = torch.zeros(k, 8, dtype=torch.complex64)
    jac = torch.autograd.functional.jacobian(lambda h: torch.view_as_real(scan(lam, u, h)[-1]), h0)
    assert math.isclose(float((jac.abs() ** 2).sum()) / 2, flow[k], rel_tol=1e-4)  # real view counts twice


def moduli_cfg(name: str, **backbone):
    return OmegaConf.merge(load_config("model", name), backbone)


def test_signature_crnn_activity_explodes_where_lru_stays_normalised():
    """Moduli in [0.99, 0.995] (τ = 100): the cRNN's outputs are ≥ 10× the LRU's."""
    crnn = propagate(moduli_cfg("crnn"), 100, width=64, seq_len=512, batch=4)
    lru = propagate(moduli_cfg("lru"), 100, width=64, seq_len=512, batch=4)
    assert max(crnn["act"]) >= 10 * max(lru["act"])


def test_signature_curse_of_memory_in_gradients():
    """Memory 10 → 100: the cRNN's recurrent gradients grow > 100×, the LRU's magnitude ones < 10×."""
    crnn = [propagate(moduli_cfg("crnn", norm="none"), t, width=64, seq_len=512, batch=4)["grad"]["recurrent"] for t in (10, 100)]
    lru = [propagate(moduli_cfg("lru", norm="none"), t, width=64, seq_len=512, batch=4)["grad"]["recurrent"] for t in (10, 100)]
    assert crnn[1] / crnn[0] > 100
    assert 0.1 < lru[1] / lru[0] < 10


class _Module(torch.nn.Module):
    """The bits of a LightningModule the suite reads."""

    def __init__(self, model, spec):
        super().__init__()
        self.model, self.spec = model, spec

    @property
    def device(self):
        return torch.device("cpu")


# Bare-mode models (the ladder) need real inputs with d_input == d_output: copy gives tokens.
STACK_MODELS = [n for n in model_names() if load_config("model", n).get("mode", "stack") != "bare"]


def small_model(name: str, spec):
    torch.manual_seed(0)
    cfg = OmegaConf.merge(load_config("model", name), {"d_model": 16, "n_layers": 2})
    return build_model(cfg, d_input=spec.d_input, d_output=spec.d_output, input_kind=spec.input_kind, readout=spec.readout)


@pytest.mark.parametrize("name", STACK_MODELS)
def test_every_model_gets_activity_gradients_memory_flow_and_state_sensitivity(name):
    from tasks.copy import CopyTask

    task = CopyTask(delay=20, batch_size=8, n_val=8)
    model = small_model(name, task.spec)
    suite = SensitivitySuite(hessian="on", hessian_iters=5)
    m = suite.measure(_Module(model, task.spec), task.eval_batches("val")[0])
    for key in SUMMARY_KEYS:
        assert m[key] is not None and math.isfinite(m[key]), key
    for layer in m["layers"]:
        assert layer["act_m2"] > 0 and layer["state_m2"] > 0 and layer["state_sens"] > 0
        assert layer["memory"]["tau_max"] > 0 and set(layer["grad_flow"]) >= {"1", "10"}
    assert m["grad_m2"]["recurrent"] > 0 and m["grad_m2"]["other"] > 0
    assert m["seconds"] > 0 and set(m["probe_seconds"]) >= {"activity", "state_sens", "gradients", "curvature"}
    assert suite.record()["seconds"] > 0 and suite.record()["seconds"] >= m["seconds"] - 0.01


def test_state_probes_use_only_the_sequences_the_budget_allows():
    """max_state_elements caps sequences x L x state_size of the state-building probes (at least
    one sequence); the output activity still averages the whole probe batch."""
    from tasks.copy import CopyTask

    task = CopyTask(delay=20, batch_size=8, n_val=8)
    model = small_model("s4d", task.spec)
    batch = task.eval_batches("val")[0]
    n, length = batch["x"].shape[:2]
    per_sequence = length * model.recurrent_layers()[0].state_size()
    capped = SensitivitySuite(hessian="off", max_state_elements=3 * per_sequence).measure(_Module(model, task.spec), batch)
    full = SensitivitySuite(hessian="off").measure(_Module(model, task.spec), batch)
    assert [e["state_sequences"] for e in capped["layers"]] == [3, 3] and full["layers"][0]["state_sequences"] == n
    assert capped["layers"][0]["act_m2"] == full["layers"][0]["act_m2"]
    # a diagonal layer's M3 is an average over thousands of (channel, step) entries: 3 sequences suffice
    for c, f in zip(capped["layers"], full["layers"]):
        assert c["state_sens"] == pytest.approx(f["state_sens"], rel=0.3)
    one = SensitivitySuite(hessian="off", max_state_elements=1).measure(_Module(model, task.spec), batch)
    assert one["layers"][0]["state_sequences"] == 1


def test_probes_skip_what_a_layer_cannot_answer():
    """A layer that answers None (the base class's default) leaves the measurement out."""
    from models.layer import ParamRole, RecurrentLayer

    class Opaque(RecurrentLayer):
        def __init__(self, d_model: int):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(d_model))

        def forward(self, x):
            return x * self.w

        def param_roles(self):
            return {"w": ParamRole("recurrent", slow=True)}

        def state_size(self):
            return 1

    layer, x = Opaque(3), torch.randn(2, 9, 3)
    assert probes.activity(layer, x, layer(x), 0.25).keys() == {"act_m2"}
    assert probes.state_sensitivity(layer, x, 0.25) == {}
    assert probes.theory_check(layer, x, 0.25) is None
    assert probes.memory(layer, x, 9) is None and probes.gradient_flow(layer, x, [1, 3]) is None


def test_dense_state_sensitivity_by_finite_differences_matches_autograd():
    """The gated layers' M3 fallback (float64 central differences) is a true directional derivative."""
    from models.gru import GRU

    torch.manual_seed(0)
    layer = GRU(d_model=4, d_state=6)
    x = torch.randn(3, 12, 4)
    v = torch.randn_like(layer.rnn.weight_hh_l0)
    fd = probes.directional_state_derivative(layer, "rnn.weight_hh_l0", x, v)
    w = layer.rnn.weight_hh_l0
    h = layer.states(x)
    grad = torch.autograd.grad((h * fd.detach()).sum(), w)[0]  # <J v, J v> via vjp with J v
    jvp_norm = float((fd**2).sum())
    assert math.isclose(float((grad * v).sum()), jvp_norm, rel_tol=1e-3)


def test_memory_quantile_matches_torch_and_survives_more_than_2_pow_24_values():
    from sensitivity.probes import quantile

    small = torch.rand(1001, dtype=torch.float64)
    for q in (0.0, 0.1, 0.5, 0.9, 1.0):
        assert quantile(small, q) == pytest.approx(float(torch.quantile(small, q)), rel=1e-12)
    big = torch.arange(2**24 + 3, dtype=torch.float64).flip(0)  # torch.quantile refuses this size
    assert quantile(big, 0.5) == pytest.approx((2**24 + 2) / 2)
