"""Signal propagation at initialisation (paper §5, Fig. 5): no training, a memory
sweep over τ, per-layer activity E[y²] and per-group gradient second moments of a
next-step regression loss.

The paper fed BERT embeddings of Wikipedia; offline we use inputs with a
controlled autocorrelation instead (white noise, or AR(1) with ρ close to 1).
"""
from __future__ import annotations

import math

import torch
from omegaconf import DictConfig, OmegaConf

from models.build import build_model
from sensitivity import probes


def memory_overrides(layer_target: str, tau: float) -> dict:
    """Initialise a layer's memory at timescale τ: eigenvalue moduli in
    [1 - 1/τ, 1 - 1/(2τ)] for diagonal layers, chrono gates with T in [τ, 2τ]."""
    if layer_target.endswith((".LSTM", ".GRU")):
        return {"chrono_tmin": float(tau), "chrono_tmax": float(2 * tau)}
    return {"r_min": max(0.0, 1 - 1 / tau), "r_max": 1 - 1 / (2 * tau)}


def ar1_inputs(batch: int, length: int, dim: int, rho: float, generator: torch.Generator) -> torch.Tensor:
    """Unit-variance AR(1) sequences: x_t = ρ x_{t-1} + sqrt(1-ρ²) ε_t, stationary from t = 0."""
    eps = torch.randn(batch, length, dim, generator=generator)
    x = torch.empty_like(eps)
    x[:, 0] = eps[:, 0]
    scale = math.sqrt(1 - rho**2)
    for t in range(1, length):
        x[:, t] = rho * x[:, t - 1] + scale * eps[:, t]
    return x


def propagate(
    model_cfg: DictConfig | dict,
    tau: float,
    *,
    width: int = 256,
    n_layers: int = 4,
    seq_len: int = 512,
    batch: int = 8,
    rho: float = 0.0,
    seed: int = 0,
    burn_in: float = 0.0,
) -> dict:
    base = OmegaConf.create(model_cfg)
    shape = {"d_model": width, "n_layers": n_layers, "dropout": 0.0, "mode": "stack"}
    cfg = OmegaConf.merge(base, shape, memory_overrides(base._target_, tau))
    torch.manual_seed(seed)
    model = build_model(cfg, d_input=width, d_output=width, input_kind="real", readout="step")
    model.eval()
    gen = torch.Generator().manual_seed(seed + 1)
    x = ar1_inputs(batch, seq_len + 1, width, rho, gen)
    inputs, targets = x[:, :-1], x[:, 1:]
    captured = probes.capture(model, inputs)
    act = [probes.mean_sq(probes.after_burn_in(y, burn_in)) for y in captured.outputs]

    def next_step_loss() -> torch.Tensor:
        return 0.5 * torch.nn.functional.mse_loss(model(inputs), targets)

    grads = probes.gradients(model, next_step_loss)
    return {"tau": tau, "rho": rho, "act": act, "grad": grads["model"], "grad_layers": grads["layers"]}
