"""The paper's diagnostics M1–M8 (SPEC §5) for any model built on the backbone.

Each probe takes the model, a fixed probe batch and the captured input of every
recurrent layer; layers contribute what only they know through the probe methods
of models.layer.RecurrentLayer (`states`, `eigenvalues`, `gradient_flow`, `drive`,
`input_scale`), and a measurement a layer answers with None is left out of the
record rather than guessed.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, jvp

from models.layer import ROLES, RecurrentLayer


def mean_sq(t: torch.Tensor) -> float:
    return float((t.abs() ** 2).mean()) if t.numel() else float("nan")


def after_burn_in(t: torch.Tensor, burn_in: float) -> torch.Tensor:
    """Drop the first `burn_in` fraction of the time axis (dim 1) so averages see
    the recurrence near its stationary regime, not its transient from h_0 = 0."""
    start = min(int(burn_in * t.shape[1]), t.shape[1] - 1)
    return t[:, start:]


@dataclass
class LayerInputs:
    """What each recurrent layer received and produced on the probe batch."""

    inputs: list[torch.Tensor]
    outputs: list[torch.Tensor]


@torch.no_grad()
def capture(model: nn.Module, x: torch.Tensor) -> LayerInputs:
    layers = model.recurrent_layers()
    ins: list[torch.Tensor] = [None] * len(layers)
    outs: list[torch.Tensor] = [None] * len(layers)
    hooks = []
    for i, layer in enumerate(layers):
        def hook(mod, args, out, i=i):
            ins[i], outs[i] = args[0].detach(), out.detach()
        hooks.append(layer.register_forward_hook(hook))
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return LayerInputs(ins, outs)


# -- M1 activity --------------------------------------------------------------
@torch.no_grad()
def activity(layer: RecurrentLayer, x: torch.Tensor, y: torch.Tensor, burn_in: float) -> dict:
    """E[y²] of the output y and E|h|² of the states for the input x (x may hold fewer
    sequences than y: the states are the expensive part)."""
    out = {"act_m2": mean_sq(after_burn_in(y, burn_in))}
    h = layer.states(x)
    if h is not None:
        out["state_m2"] = mean_sq(after_burn_in(h, burn_in))
    return out


# -- M2 gradient second moment per group ---------------------------------------
def group_grad_m2(groups: dict[str, list[nn.Parameter]]) -> dict[str, float | None]:
    out = {}
    for g in ROLES:
        grads = [p.grad.reshape(-1) for p in groups.get(g, []) if p.grad is not None]
        out[g] = float(torch.cat(grads).double().pow(2).mean()) if grads else None
    return out


def gradients(model: nn.Module, loss_fn: Callable[[], torch.Tensor]) -> dict:
    model.zero_grad(set_to_none=True)
    loss = loss_fn()
    loss.backward()
    whole = group_grad_m2(model.param_groups())
    per_layer = [group_grad_m2(layer.param_groups()) for layer in model.recurrent_layers()]
    model.zero_grad(set_to_none=True)
    ratio = whole["recurrent"] / whole["other"] if whole["recurrent"] is not None and whole["other"] else None
    return {"model": whole, "layers": per_layer, "ratio": ratio, "loss": float(loss.detach())}


# -- M3 state sensitivity --------------------------------------------------------
class _States(nn.Module):
    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer.states(x)


def _tangent(p: torch.Tensor, diagonal: bool, generator: torch.Generator) -> torch.Tensor:
    """All ones for a diagonal layer: channel i depends on entry i alone, so one JVP
    yields every channel's own derivative. Rademacher otherwise: E|Jv|² = Σ_k |∂h/∂ω_k|²."""
    if diagonal:
        return torch.ones_like(p)
    signs = torch.randint(0, 2, p.shape, generator=generator, dtype=torch.int64).to(p.device)
    return (2 * signs - 1).to(p.dtype)


def directional_state_derivative(layer: RecurrentLayer, name: str, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """d states / dω · v with x held fixed: one forward-mode JVP, or float64 central
    differences (two passes) for a layer that declares `forward_ad = False`."""
    wrapper = _States(layer)
    params = {f"layer.{n}": p.detach() for n, p in layer.named_parameters()}
    key = f"layer.{name}"
    if layer.forward_ad:
        return jvp(lambda w: functional_call(wrapper, {**params, key: w}, (x,)), (params[key],), (v,))[1]
    w = params[key].double()
    eps = 1e-4 * max(1.0, float(w.abs().max()))
    double = {k: p.double() for k, p in params.items()}
    plus = functional_call(wrapper, {**double, key: w + eps * v.double()}, (x.double(),))
    minus = functional_call(wrapper, {**double, key: w - eps * v.double()}, (x.double(),))
    return ((plus - minus) / (2 * eps)).to(x.dtype)


@torch.no_grad()
def state_sensitivity(layer: RecurrentLayer, x: torch.Tensor, burn_in: float, probes: int = 2, seed: int = 0) -> dict:
    """M3: E|∂h_t/∂ω|² per recurrent (and angle) parameter tensor; M3b: relative to E|h|²."""
    if layer.states(x[:1, :1]) is None:  # one step of one sequence is enough to ask
        return {}
    names = {id(p): n for n, p in layer.named_parameters()}
    groups = layer.param_groups()
    gen = torch.Generator().manual_seed(seed)
    out: dict = {}
    for group in ("recurrent", "angle"):
        values = []
        for p in groups[group]:
            n_draws = 1 if layer.diagonal else probes
            total = 0.0
            for _ in range(n_draws):
                d = directional_state_derivative(layer, names[id(p)], x, _tangent(p, layer.diagonal, gen))
                total += mean_sq(after_burn_in(d, burn_in))
            values.append(total / n_draws)
        if values:
            out["state_sens" if group == "recurrent" else "state_sens_angle"] = sum(values) / len(values)
    return out


# -- M4 theory vs measurement (diagonal layers with a parameter-free drive) -----------
@torch.no_grad()
def theory_check(layer: RecurrentLayer, x: torch.Tensor, burn_in: float) -> dict | None:
    """Predicted E|∂h/∂ω|² per channel = |∂λ/∂ω|² γ² P S(λ, λ̄; ρ), with P and ρ the
    power and lag-1 autocorrelation of the drive Bx measured on the probe batch."""
    from sensitivity.theory import S

    if not layer.diagonal:
        return None
    drive = layer.drive(x, normalise=False)
    recurrent = layer.param_groups()["recurrent"]
    if drive is None or not recurrent:
        return None
    names = {id(p): n for n, p in layer.named_parameters()}
    name = names[id(recurrent[0])]
    params = {n: p.detach() for n, p in layer.named_parameters()}
    ones = torch.ones_like(params[name])
    lam, dlam = jvp(lambda w: _eigen(layer, params, name, w), (params[name],), (ones,))
    if lam.ndim != 1:  # the closed form is for time-invariant eigenvalues
        return None
    gamma = layer.input_scale()
    u = after_burn_in(drive, burn_in)
    channel_dims = tuple(range(u.ndim - 1))
    power = (u.abs() ** 2).mean(dim=channel_dims)
    lag1 = (u[:, 1:] * u[:, :-1].conj()).real.mean(dim=channel_dims)
    rho = (lag1 / power).clamp(-0.999, 0.999).double()
    g2 = (gamma.abs() ** 2).double() if gamma is not None else torch.ones_like(rho)
    lam64 = lam.to(torch.complex128)
    predicted = (dlam.abs() ** 2).double() * g2 * power.double() * S(lam64, lam64.conj(), rho).real
    measured = after_burn_in(directional_state_derivative(layer, name, x, ones), burn_in)
    measured = (measured.abs() ** 2).mean(dim=channel_dims).double()
    ratio = measured / predicted
    return {
        "predicted": float(predicted.mean()),
        "measured": float(measured.mean()),
        "ratio_median": float(ratio.median()),
        "rho_mean": float(rho.mean()),
    }


def _eigen(layer: RecurrentLayer, params: dict, name: str, w: torch.Tensor) -> torch.Tensor:
    return functional_call(_Eigen(layer), {**{f"layer.{k}": v for k, v in params.items()}, f"layer.{name}": w}, ())


class _Eigen(nn.Module):
    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self) -> torch.Tensor:
        return self.layer.eigenvalues()


# -- M5 memory timescales -------------------------------------------------------
def quantile(values: torch.Tensor, q: float) -> float:
    """numpy's quantile (same linear interpolation as torch's): torch.quantile refuses more than
    2**24 values, which a selective layer's per-step eigenvalues over a long probe batch exceed."""
    return float(np.quantile(values.detach().cpu().numpy(), q))


@torch.no_grad()
def memory(layer: RecurrentLayer, x: torch.Tensor, seq_len: int) -> dict | None:
    lam = layer.eigenvalues(x)
    if lam is None:
        return None
    mod = lam.abs().double().reshape(-1).clamp(min=1e-12, max=1 - 1e-12)
    tau = -1.0 / torch.log(mod)
    return {
        "tau_median": float(tau.median()),
        "tau_p90": quantile(tau, 0.9),
        "tau_max": float(tau.max()),
        "frac_tau_gt_T": float((tau > seq_len).double().mean()),
    }


# -- M6 gradient flow over time ----------------------------------------------------
@torch.no_grad()
def gradient_flow(layer: RecurrentLayer, x: torch.Tensor, lags: list[int]) -> dict[int, float] | None:
    lags = [k for k in lags if 1 <= k < x.shape[1]]
    return layer.gradient_flow(x, lags) if lags else None


# -- M7 curvature -------------------------------------------------------------------
def curvature(model: nn.Module, loss_fn: Callable[[], torch.Tensor], iters: int = 50, seed: int = 0) -> dict:
    """Top Hessian eigenvalue by power iteration on Hessian-vector products, and the
    directional sharpness gᵀHg/‖g‖² along the gradient."""
    params = [p for p in model.parameters() if p.requires_grad]
    loss = loss_fn()
    grads = torch.autograd.grad(loss, params, create_graph=True)

    def hvp(vs: list[torch.Tensor]) -> list[torch.Tensor]:
        dot = sum((g * v).sum() for g, v in zip(grads, vs))
        return [h.detach() for h in torch.autograd.grad(dot, params, retain_graph=True)]

    def norm(vs):
        return math.sqrt(sum(float((v**2).sum()) for v in vs))

    def power_iteration(shift: float) -> float:
        """Dominant eigenvalue of H - shift·I, by its Rayleigh quotient."""
        gen = torch.Generator().manual_seed(seed)
        v = [torch.randn(p.shape, generator=gen).to(p) for p in params]
        value = 0.0
        for _ in range(iters):
            n = norm(v)
            v = [t / n for t in v]
            hv = [h - shift * t for h, t in zip(hvp(v), v)]
            value = sum(float((a * b).sum()) for a, b in zip(v, hv))
            v = hv
        return value

    eig = power_iteration(0.0)
    if eig < 0:
        # The dominant eigenvalue is negative: shifting by it makes the top one dominant.
        eig = power_iteration(eig) + eig
    g = [t.detach() for t in grads]
    gnorm2 = sum(float((t**2).sum()) for t in g)
    sharp = sum(float((a * b).sum()) for a, b in zip(g, hvp(g))) / gnorm2 if gnorm2 > 0 else None
    return {"hess_top": eig, "dir_sharpness": sharp}


# -- M8 Adam effective learning rate ------------------------------------------------
@torch.no_grad()
def adam_effective_lr(model: nn.Module, optimizer: torch.optim.Optimizer | None) -> dict | None:
    if optimizer is None:
        return None
    lr_of, beta2_of, eps_of = {}, {}, {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            # The peak (scheduled-from) rate: a cosine schedule ends at zero, which would hide
            # the per-parameter scaling 1/(sqrt(v̂)+ε) this probe is about.
            lr = group.get("initial_lr", group["lr"])
            lr_of[id(p)], beta2_of[id(p)], eps_of[id(p)] = lr, group["betas"][1], group["eps"]
    out = {}
    for g, params in model.param_groups().items():
        vals = []
        for p in params:
            state = optimizer.state.get(p, {})
            if "exp_avg_sq" not in state:
                continue
            step = float(state["step"])
            v_hat = state["exp_avg_sq"] / (1 - beta2_of[id(p)] ** step)
            vals.append((lr_of[id(p)] / (v_hat.sqrt() + eps_of[id(p)])).reshape(-1))
        out[g] = float(torch.cat(vals).double().mean()) if vals else None
    return out if any(v is not None for v in out.values()) else None
