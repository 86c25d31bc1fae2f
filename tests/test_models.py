"""Models: the LRU is initialised as in the paper, every model trains on copy."""
from __future__ import annotations

import math

import pytest
import torch

from models.lru import LRU
from tests.helpers import records, train


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


MODELS = ["rnn", "lstm", "gru", "lru"]


def test_each_model_trains_a_few_steps_on_copy(tmp_path):
    """One multirun (one process start) trains every foundation model for 20 steps."""
    out = train("-m", f"model={','.join(MODELS)}", "debug=fast", "task.delay=20", "model.d_model=16",
                "model.n_layers=1", "sensitivity.hessian=off", f"results_dir={tmp_path / 'results'}",
                f"checkpoint_dir={tmp_path / 'ck'}", f"hydra.sweep.dir={tmp_path / 'multi'}")
    assert out.returncode == 0, out.stderr[-2000:]
    recs = records(tmp_path / "results")
    assert sorted(r["model"]["name"] for r in recs) == sorted(MODELS)
    for rec in recs:
        assert rec["status"] == "ok" and rec["task"]["name"] == "copy" and rec["steps"] == 20
        assert math.isfinite(rec["metrics"]["test"]["loss"]) and 0 <= rec["metrics"]["test"]["acc"] <= 1
        assert rec["cost"]["tokens_per_s"] > 0
