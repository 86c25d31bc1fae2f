"""Causal convolution along time by FFT.

    y_t = sum_{s <= t} k_{t-s} u_s        (dim -2 of u is time, channels last)

``u``: (*batch, L, C); ``k``: (Lk, C) or (*batch, Lk, C), only the
first ``L`` taps are used (shorter kernels are zero-padded).  Both real: rfft
with ``n = 2L``; if either is complex: full complex FFT.  Differentiable by
ordinary autograd (FFTs are linear).
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["fft_conv"]


def fft_conv(u: Tensor, k: Tensor) -> Tensor:
    """Causal convolution of ``u`` (*batch, L, C) with kernel ``k`` (Lk, C) along dim -2."""
    if u.dim() < 2:
        raise ValueError(f"u must have shape (*batch, L, C), got {tuple(u.shape)}")
    L = u.shape[-2]
    k = k[..., :L, :]
    n = 2 * L
    if u.is_complex() or k.is_complex():
        dtype = torch.promote_types(u.dtype, k.dtype)
        U = torch.fft.fft(u.to(dtype), n=n, dim=-2)
        K = torch.fft.fft(k.to(dtype), n=n, dim=-2)
        return torch.fft.ifft(U * K, n=n, dim=-2)[..., :L, :]
    U = torch.fft.rfft(u, n=n, dim=-2)
    K = torch.fft.rfft(k.to(u.dtype), n=n, dim=-2)
    return torch.fft.irfft(U * K, n=n, dim=-2)[..., :L, :]
