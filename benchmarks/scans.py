"""Benchmark cases for the scan paths (one job: defining what is timed for scans).

Every row computes the same time-invariant diagonal recurrence
h_t = a * h_{t-1} + b_t with a of shape (C,), |a| uniform in (0.5, 1) (random
sign / phase), b of shape (1, L, C):

* ``scan:reference`` - sequential Python loop (autograd through the loop);
* ``scan:parallel``  - chunked parallel scan with its custom backward;
* ``scan:compiled``  - the same with the forward kernel through torch.compile (CUDA only);
* ``scan:fft``       - the same h as a causal convolution with the kernel a^t,
  building the kernel (exp(t log a)) included in the timing.

fwd: forward under ``torch.no_grad()``; fwd+bwd: forward with autograd and
``torch.autograd.grad`` w.r.t. (a, b) for a fixed random upstream gradient.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from models.scan import fft_conv, scan

__all__ = ["Case", "scan_cases", "SHAPES", "QUICK_SHAPES"]

SHAPES = [(4096, 1024), (256, 16384)]  # (C, L), batch 1
QUICK_SHAPES = [(512, 256), (64, 2048)]
DTYPES = [torch.float32, torch.complex64]


@dataclass
class Case:
    name: str
    shape: str
    dtype: str
    fwd: Callable[[], object]
    fwdbwd: Callable[[], object]
    repeats: int = 5
    warmup: int = 1
    floor_bytes: int = 0  # bytes an ideal single-pass forward must move (read a, b; write h)


def _inputs(C: int, L: int, dtype, device, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    r = 0.5 + 0.5 * torch.rand(C, generator=gen)
    if dtype.is_complex:
        a = torch.polar(r, 2 * math.pi * torch.rand(C, generator=gen)).to(dtype)
    else:
        a = (r * torch.randn(C, generator=gen).sign()).to(dtype)
    b = torch.randn(1, L, C, generator=gen, dtype=dtype)
    g = torch.randn(1, L, C, generator=gen, dtype=dtype)
    return a.to(device), b.to(device), g.to(device)


def _fft_h(a, b):
    L = b.shape[-2]
    t = torch.arange(L, device=b.device, dtype=a.real.dtype)[:, None]
    log_a = torch.log(a.to(torch.complex64 if not a.is_complex() else a.dtype))
    k = torch.exp(t * log_a)
    if not a.is_complex():
        k = k.real  # a^t is real for real a (sign from the log's imaginary part pi)
    return fft_conv(b, k)


def _make(fn: Callable, a, b, g):
    a_ = a.detach().clone().requires_grad_()
    b_ = b.detach().clone().requires_grad_()

    def fwd():
        with torch.no_grad():
            return fn(a, b)

    def fwdbwd():
        return torch.autograd.grad(fn(a_, b_), (a_, b_), g)

    return fwd, fwdbwd


def scan_cases(device: torch.device, quick: bool = False) -> list[Case]:
    paths: list[tuple[str, Callable]] = [
        ("scan:reference", lambda a, b: scan(a, b, impl="reference")),
        ("scan:parallel", lambda a, b: scan(a, b, impl="parallel")),
    ]
    if device.type == "cuda":
        paths.append(("scan:compiled", lambda a, b: scan(a, b, impl="compiled")))
    paths.append(("scan:fft", _fft_h))
    cases = []
    for C, L in (QUICK_SHAPES if quick else SHAPES):
        for dtype in DTYPES:
            a, b, g = _inputs(C, L, dtype, device)
            for name, fn in paths:
                fwd, fwdbwd = _make(fn, a, b, g)
                long_loop = name == "scan:reference" and L > 2048
                cases.append(Case(
                    name=name, shape=f"C={C},L={L}", dtype=str(dtype).replace("torch.", ""),
                    fwd=fwd, fwdbwd=fwdbwd,
                    repeats=1 if quick else (2 if long_loop else 5),
                    warmup=(0 if long_loop else 1) if device.type == "cpu" else 2,
                    floor_bytes=a.numel() * a.element_size() + 2 * b.numel() * b.element_size(),
                ))
    return cases
