"""Benchmark cases for whole sequence layers (one job: the layer registry).

A layer is registered as one ``(name, factory)`` entry in :data:`LAYERS`, where
``factory(H)`` builds an ``nn.Module`` mapping ``(B, L, H) -> (B, L, H)``
(batch first).  Add a model's layer with one line, e.g.::

    LAYERS.append(("layer:lru", lambda H: LRULayer(H)))      # or register_layer(...)

fwd: forward under ``torch.no_grad()``; fwd+bwd: forward with autograd and
``torch.autograd.grad`` w.r.t. the input and all parameters, for a fixed random
upstream gradient.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .scans import Case

__all__ = ["LAYERS", "register_layer", "layer_cases", "SHAPE", "QUICK_SHAPE"]

SHAPE = (32, 784, 128)  # (B, L, H)
QUICK_SHAPE = (8, 196, 64)


class OutputOnly(nn.Module):
    """Wrap a torch RNN (LSTM/GRU) so that it returns only its output sequence."""

    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        return self.rnn(x)[0]


def _harness_layer(module: str, cls: str, **kwargs) -> Callable[[int], nn.Module]:
    def build(H: int) -> nn.Module:
        import importlib

        return getattr(importlib.import_module(module), cls)(d_model=H, **kwargs)

    return build


LAYERS: list[tuple[str, Callable[[int], nn.Module]]] = [
    ("layer:lstm", lambda H: OutputOnly(nn.LSTM(H, H, batch_first=True))),
    ("layer:gru", lambda H: OutputOnly(nn.GRU(H, H, batch_first=True))),
    ("layer:rnn", lambda H: OutputOnly(nn.RNN(H, H, batch_first=True))),
    # The harness's own layers; N = 128 for the diagonal and dense ones, Mamba's default N = 16.
    ("layer:lru", _harness_layer("models.lru", "LRU", d_state=128)),
    ("layer:s4d", _harness_layer("models.s4d", "S4D", d_state=128)),
    ("layer:linear_rnn", _harness_layer("models.linear_rnn", "LinearRNN", d_state=128)),
    ("layer:mamba", _harness_layer("models.mamba", "Mamba", d_state=16)),
]
if torch.cuda.is_available():  # the scan's two CUDA paths, side by side
    LAYERS.append(("layer:lru[eager-scan]", lambda H: EagerScan(_harness_layer("models.lru", "LRU", d_state=128)(H))))


class EagerScan(nn.Module):
    """Run a layer with the eager parallel scan even where "auto" would compile it (CUDA)."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        from models.scan import default_impl

        with default_impl("parallel"):
            return self.layer(x)


def register_layer(name: str, factory: Callable[[int], nn.Module]) -> None:
    """Add a benchmark row: ``factory(H)`` -> module mapping (B, L, H) -> (B, L, H)."""
    LAYERS.append((name, factory))


def layer_cases(device: torch.device, quick: bool = False) -> list[Case]:
    B, L, H = QUICK_SHAPE if quick else SHAPE
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(B, L, H, generator=gen).to(device)
    g = torch.randn(B, L, H, generator=gen).to(device)
    cases = []
    for name, factory in LAYERS:
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
