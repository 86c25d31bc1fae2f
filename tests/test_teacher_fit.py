"""Representability on the linear teacher at ν₀ = 0.5: a configuration of every model
fits it. A check that each model *can* represent the system, not a benchmark: tiny
models, a few hundred Adam steps, and a loose threshold relative to the memoryless loss
(the leaderboard's `solved` is 1 % of it; this asks for 20 %).

Every model runs in its normal block (stack mode) at one equal state S per layer, as the
leaderboard's teacher curve. The bare single-layer students stay in the paper presets;
two bare layers are checked here for the defects measured there: S4D's one-Δ lottery
and Mamba's bias-free gate."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from common.registry import load_config, model_names
from models.build import build_model
from models.mamba import Mamba
from models.s4d import S4D
from tasks.teacher import TeacherTask

NU0, SEQ_LEN, STATE, D_MODEL, BATCH, LR = 0.5, 40, 64, 16, 16, 1e-2
LOOSE = 0.2  # final loss / memoryless loss

# Layer options a model needs to fit in this budget, and why.
OPTIONS = {
    # S4D-Lin's mode phases are π n Δ with Δ ≤ dt_max: at S = 64 and width 16 a channel has 2
    # modes, whose phases stay below 0.1 π = 0.31 rad, while 9 of the teacher's 10
    # eigenvalues have phase ≥ 0.87 rad; learning A_imag up to them takes thousands of steps.
    # Δ up to 1 puts them in reach at initialisation.
    "s4d": {"dt_max": 1.0},
}


def fit(cfg, steps: int, seed: int = 0) -> float:
    """Final validation loss / memoryless loss after `steps` Adam steps (cosine decay)."""
    task = TeacherTask(nu0=NU0, seq_len=SEQ_LEN)
    torch.manual_seed(seed)
    model = build_model(cfg, d_input=1, d_output=1, input_kind="real", readout="step")
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        batch = task.draw(rng, BATCH, "train")
        loss = 0.5 * ((model(torch.from_numpy(batch["x"])) - torch.from_numpy(batch["y"])) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
    val = task.draw(np.random.default_rng(10_000 + seed), 256, "val")
    with torch.no_grad():
        loss = 0.5 * ((model(torch.from_numpy(val["x"])) - torch.from_numpy(val["y"])) ** 2).mean().item()
    return loss / task.baselines()["memoryless_loss"]


def model_cfg(name: str, mode: str, **layer):
    cfg = load_config("model", name)
    cfg.mode = mode
    if mode == "stack":
        cfg.d_model, cfg.n_layers = D_MODEL, 1
    cfg.layer = OmegaConf.merge(cfg.layer, {"state": STATE, **layer})
    return cfg


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", [n for n in model_names() if "/" not in n])  # ladder/*: the paper's bare rungs
def test_every_model_in_its_block_fits_the_teacher(name: str):
    cfg = model_cfg(name, "stack", **OPTIONS.get(name, {}))
    assert fit(cfg, steps=100) < LOOSE


def test_one_delta_per_channel_leaves_a_bare_s4d_without_the_teachers_phases_at_about_half_the_seeds():
    """Bare S4D on the scalar input has one channel: with one Δ, whether any mode's phase
    lands in the teacher's band [0.87, π] is decided by that draw. Δ per mode (what `auto`
    picks for one channel) puts several modes there at every seed."""
    missed, fewest = 0, math.inf
    for seed in range(40):
        for per in ("channel", "auto"):
            torch.manual_seed(seed)
            layer = S4D(1, state=STATE, dt_per=per)
            phase = torch.angle(layer.eigenvalues().detach()).abs()
            in_band = int(((phase >= 0.87) & (phase <= math.pi)).sum())
            if per == "channel":
                missed += in_band == 0
            else:
                assert layer.dt_per == "mode" and layer.log_dt.shape == (1, STATE // 2)
                fewest = min(fewest, in_band)
    assert 10 <= missed <= 30 and fewest >= 3


@pytest.mark.parametrize("seed", [0, 1])
def test_a_bare_s4d_with_delta_per_mode_fits_the_teacher(seed: int):
    assert fit(model_cfg("s4d", "bare"), steps=300, seed=seed) < LOOSE


def test_a_bare_mamba_needs_the_gate_bias_to_represent_a_linear_system():
    """Without `bias` the gate is SiLU(W_z u_t): the output is exactly 0 wherever the input
    is, whatever the state, which no linear system with memory does. With it (what `auto`
    picks for a one-channel layer) the gate has a constant part and the layer fits the
    teacher well below the memoryless loss; not to 1 %, as its transitions exp(Δ A) are
    real and the teacher's eigenvalues are complex."""
    x = torch.randn(2, 30, 1)
    x[:, 10:] = 0  # two different pasts, then silence: a system with memory still answers
    for bias in (False, "auto"):
        torch.manual_seed(0)
        after = Mamba(1, state=STATE, bias=bias)(x).detach()[:, 10:20]
        if bias:
            assert (after[0] - after[1]).abs().min() > 0
        else:
            assert (after == 0).all()
    assert fit(model_cfg("mamba", "bare"), steps=200) < 0.5
    assert not Mamba(16).bias  # in a block, as the reference
