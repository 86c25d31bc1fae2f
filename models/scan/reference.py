"""Sequential reference for the diagonal linear recurrence (the test oracle).

    h_t = a_t * h_{t-1} + b_t,    h_{-1} = h0 (or 0)

Layout: ``b`` is ``(*batch, L, C)`` (time axis -2, channels last); ``a`` is
either time-invariant ``(C,)`` or broadcastable to ``b``; ``h0`` is
``(*batch, C)``.  Plain Python loop over time, differentiated by ordinary
autograd.  Slow, simple and obviously correct.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["scan_reference", "conv_reference", "promote"]


def promote(a: Tensor, b: Tensor, h0: Tensor | None = None):
    """Cast a, b (and h0) to one common dtype (real a with complex b -> complex)."""
    dtype = torch.promote_types(a.dtype, b.dtype)
    if h0 is not None:
        dtype = torch.promote_types(dtype, h0.dtype)
    a, b = a.to(dtype), b.to(dtype)
    if h0 is not None:
        h0 = h0.to(dtype)
    return a, b, h0


def scan_reference(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """h_t = a_t h_{t-1} + b_t along dim -2, by a sequential loop."""
    if b.dim() < 2:
        raise ValueError("b must have shape (*batch, L, C)")
    a, b, h0 = promote(a, b, h0)
    if a.dim() == 1:  # time-invariant (C,)
        a = a.unsqueeze(0)
    L = b.shape[-2]
    bs = b.unbind(-2)
    as_ = a.unbind(-2) if a.shape[-2] > 1 else (a.squeeze(-2),) * L
    h = h0
    out = []
    for t in range(L):
        h = bs[t] if h is None else torch.addcmul(bs[t], as_[t], h)
        out.append(h)
    return torch.stack(out, dim=-2)


def conv_reference(u: Tensor, k: Tensor) -> Tensor:
    """Causal convolution y_t = sum_{s<=t} k_{t-s} u_s along dim -2 (Toeplitz einsum).

    u: (*batch, L, C); k: (Lk, C) (only the first L taps are used; missing taps are 0).
    O(L^2 C) memory; for tests only.
    """
    L = u.shape[-2]
    k = k[:L]
    if k.shape[0] < L:
        k = torch.cat([k, k.new_zeros(L - k.shape[0], *k.shape[1:])])
    idx = torch.arange(L)
    diff = idx[:, None] - idx[None, :]  # t - s
    T = k[diff.clamp(min=0)] * (diff >= 0).unsqueeze(-1).to(k.dtype)  # (L, L, C)
    dtype = torch.promote_types(u.dtype, k.dtype)
    return torch.einsum("tsc,...sc->...tc", T.to(dtype), u.to(dtype))
