"""Benchmark cases for whole sequence layers (one job: the layer rows).

Every model config in conf/model/ (common.registry) gives one row, ``layer:<name>``:
its recurrent layer built from the YAML by models.build.layer_factory, so the row
times what `model=<name>` trains. Left out: ``ladder/*``, the teacher task's bare-mode
students, which are the linear_rnn and lru layer classes with other options.

``register_layer(name, factory)`` adds a row, ``factory(H)`` building an
``nn.Module`` that maps ``(B, L, H) -> (B, L, H)`` (batch first).

fwd: forward under ``torch.no_grad()``; fwd+bwd: forward with autograd and
``torch.autograd.grad`` w.r.t. the input and all parameters, for a fixed random
upstream gradient.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from omegaconf import OmegaConf
from torch import nn

from common.registry import load_config, model_names
from models.build import layer_factory

from .scans import Case

__all__ = ["LAYERS", "register_layer", "layer_cases", "config_layer", "config_rows", "SHAPE", "QUICK_SHAPE"]

SHAPE = (32, 784, 128)  # (B, L, H)
QUICK_SHAPE = (8, 196, 64)
EXCLUDED_PREFIXES = ("ladder/",)  # the teacher's bare-mode students (module docstring)


def config_layer(name: str, extra_dirs: Sequence[str] = (), **overrides) -> Callable[[int], nn.Module]:
    """`H -> layer` of model config `name`, with layer keys overridden."""
    node = OmegaConf.merge(load_config("model", name, extra_dirs).layer, overrides)
    return layer_factory(node)


def config_rows(extra_dirs: Sequence[str] = ()) -> list[tuple[str, Callable[[int], nn.Module]]]:
    """One row per model config (also those in `extra_dirs`, config folders holding model/)."""
    return [(f"layer:{name}", config_layer(name, extra_dirs)) for name in model_names(extra_dirs)
            if not name.startswith(EXCLUDED_PREFIXES)]


LAYERS: list[tuple[str, Callable[[int], nn.Module]]] = config_rows()
if torch.cuda.is_available():  # the scan's two CUDA paths side by side: "auto" compiles, this row does not
    LAYERS.append(("layer:lru[scan_impl=parallel]", config_layer("lru", scan_impl="parallel")))


def register_layer(name: str, factory: Callable[[int], nn.Module]) -> None:
    """Add a benchmark row: ``factory(H)`` -> module mapping (B, L, H) -> (B, L, H)."""
    LAYERS.append((name, factory))


def layer_cases(device: torch.device, quick: bool = False,
                rows: list[tuple[str, Callable[[int], nn.Module]]] | None = None) -> list[Case]:
    B, L, H = QUICK_SHAPE if quick else SHAPE
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(B, L, H, generator=gen).to(device)
    g = torch.randn(B, L, H, generator=gen).to(device)
    cases = []
    for name, factory in LAYERS if rows is None else rows:
        torch.manual_seed(0)
        module = factory(H).to(device)
        params = [p for p in module.parameters() if p.requires_grad]
        x_ = x.detach().clone().requires_grad_()

        def fwd(module=module):
            with torch.no_grad():
                return module(x)

        def fwdbwd(module=module, params=params, x_=x_):
            out = module(x_)
            return torch.autograd.grad(out, [x_, *params], g, allow_unused=True)

        cases.append(Case(name=name, shape=f"B={B},L={L},H={H}", dtype="float32", fwd=fwd, fwdbwd=fwdbwd,
                          repeats=1 if quick else 5, warmup=1 if device.type == "cpu" else 2))
    return cases
