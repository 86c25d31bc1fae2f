"""Parallel diagonal linear recurrence in pure torch, with a custom autograd.Function.

    forward  (reverse=False):  h_t = a_t * h_{t-1} + b_t,   h_{-1} = h0 (or 0)
    reverse  (reverse=True):   h_t = a_t * h_{t+1} + b_t,   h_{L}  = h0 (or 0)

Layout: ``b`` is ``(*batch, L, C)``; inside this module ``a`` always has a
time axis at -2 of size ``L`` (time-varying) or ``1`` (time-invariant) and is
broadcastable to ``b``; ``h0`` is broadcastable to ``(*batch, C)``.
:func:`prepare` (called by :func:`scan_parallel`) does that normalisation.

Eager kernel (chunked two-pass scan, ~3*sqrt(L) vectorised torch ops): the time
axis is viewed as ``nc`` chunks of ``T ~ sqrt(L/2)`` steps.

1. pass 1: walk the ``T`` steps of all chunks at once and fold each chunk into
   an affine map ``h_out = A_k h_in + B_k`` (``A_k``: product of the chunk's
   ``a`` by multiplication only - no division, no logs - kept in float64 for
   32-bit inputs, as is the carry pass: otherwise rounding adds up coherently
   over the chunks when |a| ~ 1);
2. carries: the ``nc`` chunk maps form a scan of length ``nc``, solved by the
   same routine recursively, giving every chunk its incoming state;
3. pass 2: walk the ``T`` steps again from the true incoming states, writing
   ``h`` in place.

``a`` and ``b`` are read twice, ``h`` written once, no temporaries of size
``L`` (only ``(*batch, nc, C)`` states); a tail of ``L mod T`` steps runs
sequentially.  It is faster on CPU than a recursive odd-even (Blelloch-style)
scan, whose power-of-two strided passes and per-level temporaries cost more than
they save (benchmarks/README.md).

Autograd (:class:`ScanFunction`): saves only ``a``, ``h`` (and ``h0``).
Backward is one reverse scan of the same kind on ``conj(a)`` (shifted by one
step when ``a`` varies in time); with the eager kernel the gradient of ``a``
(``sum gb_t conj(h_{t-1})``) is formed inside that scan's second pass.  Double
backward composes differentiable ops instead.  Forward-mode AD (``jvp``) is
one forward scan; ``vmap`` has an explicit rule.  Another forward kernel can
be plugged in by name (:func:`register_kernel`): ``models.scan`` registers
"compiled", a ``torch.compile``d one-kernel associative scan
(:func:`assoc_scan_entry`) used on CUDA.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .reference import promote

__all__ = ["scan_parallel", "scan_kernel", "assoc_scan_entry", "run_split", "ScanFunction", "prepare",
           "register_kernel"]

_SEQ_BELOW = 32  # below this length a plain loop is cheapest
# chunk products / carries are accumulated in this dtype (see _chunked_into)
_ACC_DTYPE = {torch.float32: torch.float64, torch.complex64: torch.complex128,
              torch.float16: torch.float32, torch.bfloat16: torch.float32, torch.complex32: torch.complex64}


def _chunk_len(L: int) -> int:
    return max(1, int(math.sqrt(L / 2)))


def _pow(a: Tensor, n: int) -> Tensor:
    """a**n for integer n >= 1 by repeated squaring (multiplications only)."""
    r: Tensor | None = None
    base = a
    while n:
        if n & 1:
            r = base if r is None else r * base
        n >>= 1
        if n:
            base = base * base
    assert r is not None
    return r


def _out_shape(a: Tensor, b: Tensor, h0: Tensor | None):
    shapes = [a.shape, b.shape]
    if h0 is not None:
        shapes.append(h0.unsqueeze(-2).shape)
    return torch.broadcast_shapes(*shapes)


# --------------------------------------------------------------------------- eager kernel
class _Pair:
    """Fused gradient of ``a`` during an adjoint scan (saves L-sized temporaries).

    While the adjoint scan writes ``out_t`` it also forms ``out_t * conj(src_{t+s})``
    with ``s = -1`` for a reverse kernel (adjoint of a forward scan: pairs with
    h_{t-1}) and ``s = +1`` otherwise; pairs whose partner index falls outside
    ``[0, L)`` (the h0 boundary) are left to the caller.  Either summed into ``acc``
    (shape of ``out[..., 0, :]``; time-invariant a) or written to ``dst`` (shape of
    ``out``; time-varying a).
    """

    def __init__(self, src: Tensor, acc: Tensor | None = None, dst: Tensor | None = None):
        self.src, self.acc, self.dst = src, acc, dst

    def step(self, o: Tensor, partner: Tensor, dst_view: Tensor | None, acc_view: Tensor | None) -> None:
        p = partner.conj() if partner.is_complex() else partner
        if self.dst is not None:
            torch.mul(o, p, out=dst_view)
        else:
            acc_view.addcmul_(o, p)


def _seq_into(a: Tensor, b: Tensor, h0: Tensor | None, out: Tensor, reverse: bool,
              pair: _Pair | None = None, offset: int = 0) -> None:
    const = a.shape[-2] == 1
    L = b.shape[-2]
    h = h0
    s = -1 if reverse else 1
    for t in (range(L - 1, -1, -1) if reverse else range(L)):
        o = out[..., t, :]
        if h is None:
            o.copy_(b[..., t, :])
        else:
            torch.addcmul(b[..., t, :], a[..., 0 if const else t, :], h, out=o)
        h = o
        if pair is not None:
            q = offset + t + s
            if 0 <= q < pair.src.shape[-2]:
                pair.step(o, pair.src[..., q, :], None if pair.dst is None else pair.dst[..., offset + t, :],
                          pair.acc)


def _chunked_into(a: Tensor, b: Tensor, h0: Tensor | None, out: Tensor, reverse: bool,
                  pair: _Pair | None = None) -> None:
    L = b.shape[-2]
    if L < _SEQ_BELOW:
        return _seq_into(a, b, h0, out, reverse, pair)
    const = a.shape[-2] == 1
    T = _chunk_len(L)
    nc = L // T
    n = nc * T
    r = L - n  # tail handled sequentially (at the end in time order of the scan)
    main = slice(r, L) if reverse else slice(0, n)
    bm = b[..., main, :].unflatten(-2, (nc, T))
    om = out[..., main, :].unflatten(-2, (nc, T))
    am = a.unsqueeze(-3) if const else a[..., main, :].unflatten(-2, (nc, T))
    order = range(T - 1, -1, -1) if reverse else range(T)
    t0 = T - 1 if reverse else 0

    # pass 1: affine map (A_k, B_k) of every chunk except the last one visited.
    # A_k (a product of ~sqrt(L/2) factors) and the carry recursion are kept in
    # double precision for 32-bit inputs: in working precision their rounding
    # errors add up coherently over the chunks when |a| ~ 1 (measured 1e-5..8e-5
    # relative error at L=16384, |a| = 1-1e-4, vs ~3e-7 with this).
    acc = _ACC_DTYPE.get(out.dtype, out.dtype)
    cs = slice(1, None) if reverse else slice(0, nc - 1)
    bb = bm[..., cs, :, :]
    aa = am if const else am[..., cs, :, :]
    a0, b0 = aa[..., 0 if const else t0, :], bb[..., t0, :]
    B = torch.empty(torch.broadcast_shapes(a0.shape, b0.shape), dtype=out.dtype, device=out.device)
    B.copy_(b0)
    A = _pow(a.to(acc), T) if const else a0.to(acc, copy=True)
    for t in order:
        if t == t0:
            continue
        at = aa[..., 0 if const else t, :]
        torch.addcmul(bb[..., t, :], at, B, out=B)
        if not const:
            A.mul_(at.to(acc))  # explicit cast: mixed-dtype in-place ops are slow on CPU

    # carries: incoming state of every chunk (a scan of length nc - 1, recursively)
    S = torch.empty(om[..., :, 0, :].shape, dtype=acc, device=out.device)
    first, rest = (nc - 1, slice(0, nc - 1)) if reverse else (0, slice(1, None))
    _chunked_into(A, B.to(acc), None if h0 is None else h0.to(acc), S[..., rest, :], reverse)
    if h0 is None:
        S[..., first, :].zero_()
    else:
        S[..., first, :].copy_(h0)
    S = S.to(out.dtype)

    # pass 2: rerun every chunk from its true incoming state, writing h
    if pair is not None:
        base, s = (r if reverse else 0), (-1 if reverse else 1)
        src = pair.src
        sm = src[..., main, :].unflatten(-2, (nc, T))
        dm = None if pair.dst is None else pair.dst[..., main, :].unflatten(-2, (nc, T))
        accm = None if pair.acc is None else torch.zeros(S.shape, dtype=out.dtype, device=out.device)
        dv = (lambda *i: None) if dm is None else (lambda *i: dm[(..., *i, slice(None))])  # noqa: E731
        av = (lambda *i: None) if accm is None else (lambda *i: accm[(..., *i, slice(None))])  # noqa: E731
    h = S
    for t in order:
        o = om[..., t, :]
        torch.addcmul(bm[..., t, :], am[..., 0 if const else t, :], h, out=o)
        h = o
        if pair is None:
            continue
        q = t + s
        if 0 <= q < T:
            pair.step(o, sm[..., q, :], dv(slice(None), t), accm)
        elif q < 0:  # partner is the last step of the previous chunk
            pair.step(o[..., 1:, :], sm[..., :-1, T - 1, :], dv(slice(1, None), t), av(slice(1, None)))
            if base - 1 >= 0:
                pair.step(o[..., 0, :], src[..., base - 1, :], dv(0, t), av(0))
        else:  # partner is the first step of the next chunk
            pair.step(o[..., :-1, :], sm[..., 1:, 0, :], dv(slice(0, -1), t), av(slice(0, -1)))
            if base + n < L:
                pair.step(o[..., -1, :], src[..., base + n, :], dv(-1, t), av(-1))
    if pair is not None and accm is not None:
        pair.acc.add_(accm.sum(-2))

    if r:
        tail = slice(0, r) if reverse else slice(n, L)
        h_in = out[..., r, :] if reverse else out[..., n - 1, :]
        _seq_into(a if const else a[..., tail, :], b[..., tail, :], h_in, out[..., tail, :], reverse,
                  pair, 0 if reverse else n)


def scan_kernel(a: Tensor, b: Tensor, h0: Tensor | None = None, reverse: bool = False) -> Tensor:
    """Forward values only (no autograd). ``a`` has a time axis at -2 (size L or 1)."""
    out = torch.empty(_out_shape(a, b, h0), dtype=b.dtype, device=b.device)
    _chunked_into(a, b, h0, out, reverse)
    return out


# ----------------------------------------------------- associative-scan kernel (compile)
def _combine_real(x, y):
    """(A1, B1) then (A2, B2) -> (A2 A1, A2 B1 + B2): composition of h -> A h + B."""
    a1, b1 = x
    a2, b2 = y
    return a2 * a1, a2 * b1 + b2


def _combine_complex(x, y):
    """Same as :func:`_combine_real` on (re, im) parts of complex A and B."""
    a1r, a1i, b1r, b1i = x
    a2r, a2i, b2r, b2i = y
    return (a2r * a1r - a2i * a1i, a2r * a1i + a2i * a1r,
            a2r * b1r - a2i * b1i + b2r, a2r * b1i + a2i * b1r + b2i)


def assoc_scan_entry(a, b, h0, reverse: bool, mode: str = "pointwise") -> Tensor:
    """One-kernel scan via ``torch._higher_order_ops.associative_scan`` (meant for torch.compile).

    ``a``, ``b``, ``h0``: real tensors, or ``(re, im)`` tuples of real tensors for complex
    data (inductor generates no code for complex dtypes).  The combine runs in float64
    for 32-bit inputs (tree-ordered fp32 products lose ~5e-5 relative accuracy at
    L = 16384, |a| = 1 - 1e-4).  Returns h (complex: last dim holds (re, im)).
    ``mode="generic"`` runs without compilation on any device (for tests).
    """
    from torch._higher_order_ops.associative_scan import associative_scan

    cplx = isinstance(b, tuple)
    parts = lambda x: (() if x is None else (x if cplx else (x,)))  # noqa: E731
    a_p, b_p, h_p = parts(a), parts(b), parts(h0)
    dtype = b_p[0].dtype
    acc = _ACC_DTYPE.get(dtype, dtype)
    shapes = [a_p[0].shape, b_p[0].shape] + ([h_p[0].unsqueeze(-2).shape] if h_p else [])
    shape = torch.broadcast_shapes(*shapes)
    A = [x.to(acc).expand(shape) for x in a_p]
    B = [x.to(acc).expand(shape) for x in b_p]
    if h_p:  # fold h0 into the boundary step: b_e += a_e * h0
        e = slice(-1, None) if reverse else slice(0, 1)
        H = [x.to(acc).unsqueeze(-2) for x in h_p]
        if cplx:
            ar, ai = A[0][..., e, :], A[1][..., e, :]
            extra = [ar * H[0] - ai * H[1], ar * H[1] + ai * H[0]]
        else:
            extra = [A[0][..., e, :] * H[0]]
        rest = slice(0, -1) if reverse else slice(1, None)
        B = [torch.cat([x[..., rest, :], x[..., e, :] + d] if reverse else [x[..., e, :] + d, x[..., rest, :]],
                       dim=-2) for x, d in zip(B, extra)]
    dim = len(shape) - 2
    out = associative_scan(_combine_complex if cplx else _combine_real, tuple(A + B), dim,
                           reverse=reverse, combine_mode=mode)
    if cplx:
        return torch.stack([out[2], out[3]], dim=-1).to(dtype)
    return out[1].to(dtype)


def run_split(fn: Callable, a: Tensor, b: Tensor, h0: Tensor | None, reverse: bool, **kw) -> Tensor:
    """Call ``fn`` (``assoc_scan_entry`` or its compiled version) splitting complex data."""
    if b.is_complex():
        split = lambda x: None if x is None else (x.real, x.imag)  # noqa: E731
        return torch.view_as_complex(fn(split(a), split(b), split(h0), reverse, **kw))
    return fn(a, b, h0, reverse, **kw)


# ------------------------------------------------------------------------ autograd
_KERNELS: dict = {"parallel": scan_kernel}


def register_kernel(name: str, fn: Callable) -> None:
    """Register a forward kernel (same signature as :func:`scan_kernel`) usable as ``impl``."""
    _KERNELS[name] = fn


def _shifted_conj(a: Tensor, reverse: bool) -> Tensor:
    """Multipliers of the adjoint scan: conj(a_{t+1}) (forward) / conj(a_{t-1}) (reverse)."""
    if a.shape[-2] == 1:
        return a.conj().resolve_conj()
    pad = torch.zeros_like(a[..., :1, :])
    if reverse:
        return torch.cat([pad, a[..., :-1, :].conj()], dim=-2).resolve_conj()
    return torch.cat([a[..., 1:, :].conj(), pad], dim=-2).resolve_conj()


def _prev_state(h: Tensor, h0: Tensor | None, reverse: bool, conj: bool = False) -> Tensor:
    """h_{t-1} (forward) or h_{t+1} (reverse), h0 (or 0) at the boundary; optionally conjugated.

    The conjugation is materialised inside the same copy (ops on conj-bit views are slow on CPU).
    """
    edge = torch.zeros_like(h[..., :1, :]) if h0 is None else h0.unsqueeze(-2).expand_as(h[..., :1, :])
    inner = h[..., 1:, :] if reverse else h[..., :-1, :]
    if conj:
        edge, inner = edge.conj(), inner.conj()
    return torch.cat([inner, edge] if reverse else [edge, inner], dim=-2).resolve_conj()


def _sum_to(x: Tensor, shape) -> Tensor:
    return x if x.shape == shape else x.sum_to_size(shape)


def _grad_a(gb: Tensor, h: Tensor, h0: Tensor | None, a_shape, reverse: bool) -> Tensor:
    """sum over a's broadcast dims of gb_t * conj(h_prev_t)."""
    if len(a_shape) >= 2 and a_shape[-2] == 1 and h.shape[-2] > 1:
        # time-invariant: contract over time without building h_prev
        g_in, h_in = (slice(0, -1), slice(1, None)) if reverse else (slice(1, None), slice(0, -1))
        g = torch.linalg.vecdot(h[..., h_in, :], gb[..., g_in, :], dim=-2)  # sum conj(h) * gb
        if h0 is not None:
            g = g + gb[..., -1 if reverse else 0, :] * h0.conj()
        return _sum_to(g.unsqueeze(-2), a_shape)
    return _sum_to(gb * _prev_state(h, h0, reverse, conj=h.is_complex()), a_shape)


class ScanFunction(torch.autograd.Function):
    """Autograd wrapper: inputs ``(a, b, h0, reverse, impl)`` already normalised."""

    @staticmethod
    def forward(a, b, h0, reverse, impl):
        return _KERNELS[impl](a, b, h0, reverse)

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b, h0, reverse, impl = inputs
        ctx.reverse, ctx.impl = reverse, impl
        ctx.a_shape, ctx.b_shape = a.shape, b.shape
        ctx.h0_shape = None if h0 is None else h0.shape
        ctx.save_for_backward(a, output, h0)
        ctx.save_for_forward(a, output, h0)

    @staticmethod
    def backward(ctx, g):
        a, h, h0 = ctx.saved_tensors
        rev = ctx.reverse
        need_a, need_b, need_h0 = ctx.needs_input_grad[:3]
        if not (need_a or need_b or need_h0):
            return None, None, None, None, None
        a_adj = _shifted_conj(a, rev)
        e = -1 if rev else 0  # where h0 enters
        if torch.is_grad_enabled() or ctx.impl != "parallel":
            # create_graph (double backward) or another kernel: differentiable composition
            adj = ScanFunction.apply(a_adj, g, None, not rev, ctx.impl)
            ga = _grad_a(adj, h, h0, ctx.a_shape, rev) if need_a else None
        else:
            # one adjoint scan that also forms grad_a on the fly (no L-sized temporaries)
            adj = torch.empty(_out_shape(a_adj, g, None), dtype=g.dtype, device=g.device)
            pair = None
            if need_a:
                const = a.shape[-2] == 1
                pair = _Pair(h, acc=h.new_zeros(h[..., 0, :].shape)) if const else _Pair(h, dst=torch.empty_like(h))
            _chunked_into(a_adj, g, None, adj, not rev, pair)
            ga = None
            if need_a:
                edge = None if h0 is None else adj[..., e, :] * h0.conj()
                if pair.acc is not None:
                    ga = pair.acc if edge is None else pair.acc + edge
                    ga = ga.unsqueeze(-2)
                else:
                    ga = pair.dst
                    if edge is None:
                        ga[..., e, :].zero_()
                    else:
                        ga[..., e, :].copy_(edge)
                ga = _sum_to(ga, ctx.a_shape)
        gb = _sum_to(adj, ctx.b_shape) if need_b else None
        gh0 = None
        if need_h0:
            a_e = a[..., 0 if a.shape[-2] == 1 else e, :]
            gh0 = _sum_to(adj[..., e, :] * a_e.conj(), ctx.h0_shape)
        return ga, gb, gh0, None, None

    @staticmethod
    def jvp(ctx, da, db, dh0, _reverse, _impl):
        a, h, h0 = ctx.saved_tensors
        rev = ctx.reverse
        u = db
        if da is not None:
            t = da * _prev_state(h, h0, rev)
            u = t if u is None else u + t
        if u is None:
            u = torch.zeros_like(h)
        return ScanFunction.apply(a, u, dh0, rev, ctx.impl)

    @staticmethod
    def vmap(info, in_dims, a, b, h0, reverse, impl):
        a_d, b_d, h_d = in_dims[:3]
        rank = max(x.dim() - (d is not None) for x, d in ((a, a_d), (b, b_d)))
        if h0 is not None:
            rank = max(rank, h0.dim() - (h_d is not None) + 1)

        def lift(x, d, r):
            if x is None or d is None:
                return x
            x = x.movedim(d, 0)
            return x.reshape((x.shape[0],) + (1,) * (r - (x.dim() - 1)) + x.shape[1:])

        a, b, h0 = lift(a, a_d, rank), lift(b, b_d, rank), lift(h0, h_d, rank - 1)
        return ScanFunction.apply(a, b, h0, reverse, impl), 0


def prepare(a: Tensor, b: Tensor, h0: Tensor | None = None):
    """Validate shapes, promote dtypes and give ``a`` an explicit time axis."""
    if b.dim() < 2:
        raise ValueError(f"b must have shape (*batch, L, C), got {tuple(b.shape)}")
    a, b, h0 = promote(a, b, h0)
    L, C = b.shape[-2:]
    if a.dim() == 1:
        a = a.unsqueeze(0)
    if a.shape[-1] not in (1, C) or a.shape[-2] not in (1, L):
        raise ValueError(f"a of shape {tuple(a.shape)} does not fit b of shape {tuple(b.shape)}")
    if h0 is not None and h0.shape[-1] not in (1, C):
        raise ValueError(f"h0 of shape {tuple(h0.shape)} does not fit b of shape {tuple(b.shape)}")
    return a, b, h0


def scan_parallel(a: Tensor, b: Tensor, h0: Tensor | None = None, *, reverse: bool = False,
                  impl: str = "parallel") -> Tensor:
    """h_t = a_t h_{t-1} + b_t along dim -2 (``reverse=True``: h_t = a_t h_{t+1} + b_t).

    a: (C,) time-invariant, or broadcastable to b (time axis of size L or 1);
    b: (*batch, L, C); h0: (*batch, C) or None. Real or complex. Returns h, b's shape
    (broadcast with a and h0).  Differentiable (reverse and forward mode), vmappable.
    """
    a, b, h0 = prepare(a, b, h0)
    return ScanFunction.apply(a, b, h0, reverse, impl)
