"""Diagonal linear recurrences h_t = a_t * h_{t-1} + b_t and FFT causal convolution.

Public API::

    scan(a, b, h0=None, impl="auto", *, reverse=False)   # dispatching entry point
    scan_parallel(a, b, h0=None, *, reverse=False)       # chunked parallel scan, custom autograd
    scan_reference(a, b, h0=None)                        # sequential loop (oracle)
    fft_conv(u, k)                                       # causal convolution by FFT

Layout: b is (*batch, L, C) (time at -2, channels last); a is (C,) (time-invariant)
or broadcastable to b; h0 is (*batch, C).  Real or complex.

``impl``: "reference" | "parallel" | "compiled" | "auto" ("auto" is resolved by
device in models.scan.policy: "compiled" on CUDA, "parallel" elsewhere).  "compiled" runs the
same autograd.Function (same backward / jvp / vmap rules) with its forward kernel
replaced by a ``torch.compile``d one-kernel associative scan
(``parallel.assoc_scan_entry``), built lazily once and cached.  If compiling or
running it fails for some input signature, it warns once and uses the eager
parallel kernel for that signature; on non-CUDA devices "compiled" is the eager
parallel kernel (with a one-time warning).
"""
from __future__ import annotations

import contextlib
import warnings

import torch
from torch import Tensor

from .fft import fft_conv
from .parallel import ScanFunction, assoc_scan_entry, prepare, register_kernel, run_split, scan_kernel, scan_parallel
from .policy import SCAN_IMPLS, resolve_impl
from .reference import scan_reference

__all__ = ["scan", "scan_parallel", "scan_reference", "fft_conv", "SCAN_IMPLS"]

COMPILE_DEVICES = ("cuda",)  # device types on which "compiled" really compiles
RECOMPILE_LIMIT = 64  # distinct (shape, dtype, direction, h0?, a-kind) signatures per process

_compiled = None
_failed: set = set()  # signatures whose compiled kernel failed
_warned: set = set()


def _warn_once(key: str, msg: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(msg, RuntimeWarning, stacklevel=4)


def _recompile_limit():
    cfg = torch._dynamo.config
    name = "recompile_limit" if hasattr(cfg, "recompile_limit") else "cache_size_limit"
    if getattr(cfg, name, RECOMPILE_LIMIT) >= RECOMPILE_LIMIT:
        return contextlib.nullcontext()
    return cfg.patch(**{name: RECOMPILE_LIMIT})


def _compiled_kernel(a: Tensor, b: Tensor, h0: Tensor | None = None, reverse: bool = False) -> Tensor:
    """Forward kernel through torch.compile (built once, lazily); eager fallback on failure."""
    global _compiled
    if b.device.type not in COMPILE_DEVICES:
        _warn_once("device", f"models.scan: impl='compiled' compiles only on {COMPILE_DEVICES}; "
                             f"using the eager parallel kernel on {b.device.type}")
        return scan_kernel(a, b, h0, reverse)
    sig = (tuple(a.shape), tuple(b.shape), None if h0 is None else tuple(h0.shape), b.dtype, reverse)
    if sig not in _failed:
        try:
            if _compiled is None:
                import torch._dynamo  # noqa: F401

                _compiled = torch.compile(assoc_scan_entry, dynamic=False)
            with _recompile_limit():
                return run_split(_compiled, a, b, h0, reverse)
        except Exception as e:  # noqa: BLE001 - any compiler failure falls back
            _failed.add(sig)
            _warn_once("compile", f"models.scan: the compiled scan kernel failed ({type(e).__name__}: {e}); "
                                  "falling back to the eager parallel kernel")
    return scan_kernel(a, b, h0, reverse)


register_kernel("compiled", _compiled_kernel)


def scan(a: Tensor, b: Tensor, h0: Tensor | None = None, impl: str = "auto", *,
         reverse: bool = False) -> Tensor:
    """h_t = a_t h_{t-1} + b_t along dim -2 of b (``reverse``: h_t = a_t h_{t+1} + b_t).

    Returns h with b's shape (broadcast with a and h0).  See the module docstring.
    """
    impl = resolve_impl("scan", impl, b.device)
    if impl == "reference":
        if reverse:
            a2, b2, h2 = prepare(a, b, h0)
            a2 = a2 if a2.shape[-2] == 1 else a2.flip(-2)
            return scan_reference(a2, b2.flip(-2), h2).flip(-2)
        return scan_reference(a, b, h0)
    a, b, h0 = prepare(a, b, h0)
    return ScanFunction.apply(a, b, h0, reverse, impl)
