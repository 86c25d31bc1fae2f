"""The S6 selective scan of Mamba, three ways.

    h_t = a_t ⊙ h_{t-1} + (Δ_t x_t) ⊗ B_t               h_{-1} = h0 (or 0)
    y_t = Σ_n C_t,n h_t,·,n + D ⊙ x_t
    a_t = exp(Δ_t A) in (0, 1], or with ``neg_eigen`` 2 exp(Δ_t A) - 1 in (-1, 1]

``neg_eigen`` is Grazzi et al. (2025)'s extension of the transition range to [-1, 1]:
with a_t ∈ [0, 1] one layer of input-dependent diagonal transitions cannot track
parity (Sarrof et al. 2024), with a_t able to reach -1 it can (a_t = -1 flips the
state's sign on a 1). Every path below multiplies by a_t and never takes its log
(models.scan's kernels are multiplicative too), so negative transitions are exact;
the derivative of the transition in z = ΔA is exp(z) = a_t, or 2 exp(z) = a_t + 1.

Shapes (b batch, L time, d inner channels, N state per channel)::

    x, delta: (b, L, d)    A: (d, N)    B, C: (b, L, N)    D: (d,) or None
    h0: (b, d, N) or None  ->  y: (b, L, d)

Entry points:

* ``selective_scan(..., impl="auto")``: dispatch; "auto" is resolved by device in
  models.scan.policy ("fused" on CPU, "scan" elsewhere).
* ``selective_scan_fused``: a ``torch.autograd.Function`` that never builds a
  (b, L, d, N) tensor (see below).
* ``selective_scan_materialised``: exp(ΔA) and ΔBx as (b, L, d·N) tensors through
  ``models.scan`` (parallel / compiled scan); optionally returns every state.
  Reverse mode, forward mode and double backward through models.scan's rules.
* ``selective_scan_reference``: the plain loop over time (the test oracle).

Fused algorithm (CPU). Inside, a state is laid out (N, d) - channels last, so that
the N-contractions are sums over a middle axis, faster than over a last axis
of 16 - and the work goes in blocks of ``bc`` sequences x ``K`` steps (defaults
from ``_block_shape``: a block's state (bc, N, d) ~64 KB and one (bc, K, N, d)
buffer ~1 MB, so that the per-step ops run in L2; K also the checkpoint interval,
8..64, raised when the checkpoints would pass 256 MB). exp(v) is computed as
exp2(v log2 e) (torch's exp2 is faster than its exp on CPU).

* forward, per block: a = exp(Δ A) and (Δx) ⊗ B for the K steps at once (two
  reused block buffers), then K in-place ``addcmul``s h_t = b_t + a_t h_{t-1}, then
  y for the block by one mul + sum over N. Saved for backward: the inputs and the
  state entering each segment - b·ceil(L/K) states of (N, d), i.e. 1/K of one
  (b, L, d, N) tensor; nothing of size b·L·d·N is ever built.
* backward, per batch chunk, segments in reverse: recompute the segment's a_t and
  h_t from its checkpoint (K + 1 states), then the adjoint
  g_t = ∂loss/∂h_t = C_t ⊗ gy_t + a_{t+1} g_{t+1} by K in-place ``addcmul``s in
  reverse (the carry a_{t+1} g_{t+1} crosses segments; at t = 0 it is ∂loss/∂h0),
  and, for the block at once::

      gC_t = Σ_d gy_t,d h_t,·,d         s_t = Σ_n g_t,n,· B_t,n
      gx_t = Δ_t s_t + D gy_t           gB_t = Σ_d (Δ_t x_t)_d g_t,·,d
      q_t = g_t ⊙ a'_t ⊙ h_{t-1}        (= ∂loss/∂(Δ_t A); a'_t = a_t, or a_t + 1 with neg_eigen)
      gΔ_t = x_t s_t + Σ_n q_t A        gA = Σ_{b,t} q_t Δ_t      gD = Σ_{b,t} gy_t x_t

  Four block buffers; one more exp per element than the forward.
* double backward (``create_graph=True``, e.g. the Hessian probes): the backward
  recomputes y through ``selective_scan_materialised`` on the saved inputs and
  differentiates that (differentiable, but materialising: meant for small batches).
* forward mode (``jvp``): one loop carrying the state and its tangent,
  dh_t = a_t dh_{t-1} + a'_t dz_t h_{t-1} + db_t with dz_t = dΔ_t A + Δ_t dA and
  db_t = (dΔ_t x_t + Δ_t dx_t) ⊗ B_t + (Δ_t x_t) ⊗ dB_t.
* no vmap rule (nothing here vmaps a layer's forward).

All computation is in the promoted dtype of the inputs.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from models.scan import scan
from models.scan.policy import resolve_impl

__all__ = ["selective_scan", "selective_scan_fused", "selective_scan_materialised", "selective_scan_reference",
           "transition"]

_STATE_BYTES = 64 * 2**10     # target size of one block's state (bc, N, d): per-step ops run in L2
_BLOCK_BYTES = 1 * 2**20      # target size of one (bc, K, N, d) block buffer
_MAX_CHECKPOINT_BYTES = 256 * 2**20  # lengthen segments beyond that


def _block_shape(b: int, L: int, state_bytes: int) -> tuple[int, int]:
    """(bc, K): sequences per block and steps per segment, from the cache budget (a
    wide plateau of good choices; the measurement is in benchmarks/README.md). K grows
    when the checkpoints (b L / K states) would pass _MAX_CHECKPOINT_BYTES."""
    bc = max(1, min(b, _STATE_BYTES // max(state_bytes, 1)))
    K = max(8, min(64, _BLOCK_BYTES // max(bc * state_bytes, 1)))
    K = max(K, -(-b * L * state_bytes // _MAX_CHECKPOINT_BYTES))
    return bc, max(1, min(K, L))


# -- references ------------------------------------------------------------------------------
def transition(delta: Tensor, A: Tensor, neg_eigen: bool = False) -> Tensor:
    """a = exp(Δ A) in (0, 1], or 2 exp(Δ A) - 1 in (-1, 1] (delta (..., d), A (d, N) -> (..., d, N))."""
    a = torch.exp(delta.unsqueeze(-1) * A)
    return 2 * a - 1 if neg_eigen else a


def selective_scan_reference(x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
                             D: Tensor | None = None, h0: Tensor | None = None, *,
                             neg_eigen: bool = False) -> Tensor:
    """The definition, by a plain loop over time (test oracle)."""
    h = x.new_zeros(x.shape[0], x.shape[2], A.shape[-1]) if h0 is None else h0
    ys = []
    for xt, dt, bt, ct in zip(x.unbind(1), delta.unbind(1), B.unbind(1), C.unbind(1)):
        h = transition(dt, A, neg_eigen) * h + (dt * xt)[..., None] * bt[:, None, :]
        yt = (h * ct[:, None, :]).sum(-1)
        ys.append(yt if D is None else yt + D * xt)
    return torch.stack(ys, dim=1)


def selective_scan_materialised(x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
                                D: Tensor | None = None, h0: Tensor | None = None, *,
                                return_states: bool = False, neg_eigen: bool = False):
    """Through models.scan with the transitions and ΔBx as (b, L, d·N) tensors. Returns y
    (and the states h (b, L, d, N) if return_states)."""
    b_, L, d = x.shape
    n = A.shape[-1]
    a = transition(delta, A, neg_eigen)                                  # (b, L, d, N)
    drive = (delta * x).unsqueeze(-1) * B.unsqueeze(-2)                  # (b, L, d, N)
    h0f = None if h0 is None else h0.reshape(b_, d * n)
    h = scan(a.reshape(b_, L, d * n), drive.reshape(b_, L, d * n), h0f).view(b_, L, d, n)
    y = (h * C.unsqueeze(-2)).sum(-1)  # mul+sum: faster than a batched matvec on CPU
    if D is not None:
        y = y + D * x
    return (y, h) if return_states else y


# -- the fused loop -----------------------------------------------------------------------------
# States (N, d), A as (N, d); x, delta (b, L, d) and B, C (b, L, N) stay batch-major.
# Block buffers are (bc, K, N, d): a batch chunk of bc sequences, K steps.
_LOG2E = 1.0 / math.log(2.0)  # exp(v) = exp2(v log2 e): torch's exp2 is faster than exp on CPU


def _blocks(b: int, L: int, bc: int, K: int):
    """Batch chunks [(b0, b1, [(t0, t1), ...])]."""
    segs = [(t, min(t + K, L)) for t in range(0, L, K)]
    return [(s, min(s + bc, b), segs) for s in range(0, b, bc)] if segs else []


def _fill(a: Tensor, hb: Tensor, d_s: Tensor, x_s: Tensor, B_s: Tensor, A2: Tensor, neg: bool) -> Tensor:
    """a = exp(Δ A) (A2 = A log2 e), or 2 exp(Δ A) - 1 if neg, and hb = (Δx) ⊗ B for a
    block (bc, k, N, d); returns Δx."""
    torch.mul(d_s.unsqueeze(2), A2, out=a).exp2_()
    if neg:
        a.mul_(2).sub_(1)
    dx_s = d_s * x_s
    torch.mul(dx_s.unsqueeze(2), B_s.unsqueeze(3), out=hb)
    return dx_s


def _cached(fn):
    """Memoise fn(*key) (block views: slicing and unbinding cost ~4 us per view)."""
    memo = {}

    def get(*key):
        if key not in memo:
            memo[key] = fn(*key)
        return memo[key]
    return get


def _contract(out: Tensor, tmp: Tensor, u: Tensor, v: Tensor, dim) -> Tensor:
    """out = Σ_dim u ⊙ v (broadcast), through the scratch buffer tmp (u's shape)."""
    return torch.sum(torch.mul(u, v, out=tmp), dim, out=out)


class _SelectiveScan(torch.autograd.Function):
    """x, delta (b, L, d); At (N, d) = Aᵀ; B, C (b, L, N); D (d,) or None;
    h0 (b, N, d) or None, all contiguous; K the segment length, bc the batch chunk,
    neg the transition 2 exp(ΔA) - 1 instead of exp(ΔA).
    Returns y (b, L, d) and the segment checkpoints (b, nseg, N, d) (non-differentiable,
    kept for backward)."""

    @staticmethod
    def forward(x, delta, At, B, C, D, h0, K, bc, neg):
        b, L, d = x.shape
        n = At.shape[0]
        A2 = At * _LOG2E
        y = torch.empty_like(x)
        ck = x.new_empty(b, -(-L // K), n, d)  # the state entering each segment
        a = x.new_empty(bc, K, n, d)
        hb = x.new_empty(bc, K, n, d)
        tmp = x.new_empty(bc, K, n, d)

        @_cached
        def views(m, k):  # block views and their per-step views, built once per block shape
            ab, hbb = a[:m, :k], hb[:m, :k]
            return ab, hbb, tmp[:m, :k], list(zip(hbb.unbind(1), ab.unbind(1)))

        for b0, b1, segs in _blocks(b, L, bc, K):
            bs = slice(b0, b1)
            h = None
            for i, (t0, t1) in enumerate(segs):
                ts = slice(t0, t1)
                if h is None:
                    h = ck[bs, 0].zero_() if h0 is None else ck[bs, 0].copy_(h0[bs])
                else:
                    h = ck[bs, i].copy_(h)  # before the block buffers are overwritten
                ab, hbb, tb, steps = views(b1 - b0, t1 - t0)
                _fill(ab, hbb, delta[bs, ts], x[bs, ts], B[bs, ts], A2, neg)
                for hj, aj in steps:
                    h = hj.addcmul_(aj, h)
                y_s = _contract(y[bs, ts], tb, hbb, C[bs, ts].unsqueeze(3), 2)
                if D is not None:
                    y_s.addcmul_(x[bs, ts], D)
        return y, ck

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, delta, At, B, C, D, h0, K, bc, neg = inputs
        _, ck = output
        ctx.K, ctx.bc, ctx.neg = K, bc, neg
        ctx.save_for_backward(x, delta, At, B, C, D, h0, ck)
        ctx.save_for_forward(x, delta, At, B, C, D, h0)
        ctx.mark_non_differentiable(ck)
        ctx.set_materialize_grads(False)  # no zero gradient for ck

    @staticmethod
    def backward(ctx, gy, _gck):
        x, delta, At, B, C, D, h0, ck = ctx.saved_tensors
        need = ctx.needs_input_grad[:7]
        if gy is None:
            return (None,) * 10
        if torch.is_grad_enabled():  # create_graph: differentiate a differentiable recomputation
            return _backward_differentiable(need, gy, x, delta, At, B, C, D, h0, ctx.neg) + (None,) * 3
        gy = gy.contiguous()
        b, L, d = x.shape
        n = At.shape[0]
        K, bc, neg = ctx.K, ctx.bc, ctx.neg
        A2 = At * _LOG2E
        gx = torch.empty_like(x)
        gd = torch.empty_like(x)
        gB = torch.empty_like(B)
        gC = torch.empty_like(C)
        gA = torch.zeros_like(At)
        gh0 = x.new_zeros(b, n, d)
        part = torch.empty_like(At)
        gD = torch.zeros_like(D) if D is not None and need[5] else None
        part_d = None if gD is None else torch.empty_like(D)
        a = x.new_empty(bc, K, n, d)
        hs = x.new_empty(bc, K + 1, n, d)  # [:, 0] the state entering the segment, [:, j+1] h at its step j
        g = x.new_empty(bc, K, n, d)       # the adjoint ∂loss/∂h_t
        tmp = x.new_empty(bc, K, n, d)
        s = x.new_empty(bc, K, d)
        s2 = x.new_empty(bc, K, d)
        carry = x.new_empty(bc, n, d)      # a_{t+1} g_{t+1}

        @_cached
        def views(m, k):
            ab, hsb, gb = a[:m, :k], hs[:m, :k + 1], g[:m, :k]
            al, hl, gl = ab.unbind(1), hsb.unbind(1), gb.unbind(1)
            return (ab, hsb[:, :k], hsb[:, 1:], gb, tmp[:m, :k], s[:m, :k], s2[:m, :k], carry[:m],
                    list(zip(hl[1:], al, hl[:-1])), list(zip(gl[:-1][::-1], al[1:][::-1], gl[1:][::-1])), gl[k - 1])

        for b0, b1, segs in _blocks(b, L, bc, K):
            bs = slice(b0, b1)
            for i in range(len(segs) - 1, -1, -1):
                t0, t1 = segs[i]
                ts = slice(t0, t1)
                ab, hprev, hb, gb, tb, sb, sb2, cy, fwd, rev, glast = views(b1 - b0, t1 - t0)
                d_s, x_s, gy_s = delta[bs, ts], x[bs, ts], gy[bs, ts]
                # recompute the segment
                hprev[:, 0].copy_(ck[bs, i])
                dx_s = _fill(ab, hb, d_s, x_s, B[bs, ts], A2, neg)
                for hj, aj, hp in fwd:
                    hj.addcmul_(aj, hp)
                _contract(gC[bs, ts], tb, hb, gy_s.unsqueeze(2), 3)
                # the adjoint, in reverse: g_t = C_t ⊗ gy_t + a_{t+1} g_{t+1}
                torch.mul(gy_s.unsqueeze(2), C[bs, ts].unsqueeze(3), out=gb)
                if i < len(segs) - 1:
                    glast.add_(cy)
                for gj, an, gn in rev:
                    gj.addcmul_(an, gn)
                torch.mul(ab[:, 0], gb[:, 0], out=cy)
                _contract(sb, tb, gb, B[bs, ts].unsqueeze(3), 2)      # s_t = Σ_n g_t B_t
                gx_s = torch.mul(sb, d_s, out=gx[bs, ts])
                if D is not None:
                    gx_s.addcmul_(gy_s, D)
                    if gD is not None:
                        gD.add_(_contract(part_d, sb2, gy_s, x_s, (0, 1)))
                _contract(gB[bs, ts], tb, gb, dx_s.unsqueeze(2), 3)
                if neg:
                    ab.add_(1)                                        # ∂a_t/∂(Δ_t A) = 2 exp(Δ_t A)
                q = ab.mul_(gb).mul_(hprev)                           # ∂loss/∂(Δ_t A)
                torch.addcmul(_contract(sb2, tb, q, At, 2), sb, x_s, out=gd[bs, ts])
                gA.add_(_contract(part, tb, q, d_s.unsqueeze(2), (0, 1)))
            gh0[bs] = cy
        return gx, gd, gA, gB, gC, gD, gh0 if need[6] else None, None, None, None

    @staticmethod
    def jvp(ctx, tx, td, tA, tB, tC, tD, th0, _tK, _tbc, _tneg):
        x, delta, At, B, C, D, h0 = ctx.saved_tensors
        b, L, d = x.shape
        n = At.shape[0]
        K, bc, neg = ctx.K, ctx.bc, ctx.neg
        A2 = At * _LOG2E
        tdx = None  # tangent of Δx
        if td is not None:
            tdx = td * x
        if tx is not None:
            tdx = delta * tx if tdx is None else tdx.addcmul_(delta, tx)
        dy = torch.zeros_like(x)
        a = x.new_empty(bc, K, n, d)
        hb = x.new_empty(bc, K, n, d)
        tmp = x.new_empty(bc, K, n, d)
        z = x.new_zeros(bc, K, n, d)    # tangent of Δ A, then of a_t
        tb = x.new_zeros(bc, K, n, d)   # tangent of (Δx) ⊗ B
        for b0, b1, segs in _blocks(b, L, bc, K):
            m, bs = b1 - b0, slice(b0, b1)
            h = x.new_zeros(m, n, d) if h0 is None else h0[bs].clone()
            th = x.new_zeros(m, n, d) if th0 is None else th0[bs].clone()
            for t0, t1 in segs:
                k, ts = t1 - t0, slice(t0, t1)
                ab, hbb, zb, tbb = a[:m, :k], hb[:m, :k], z[:m, :k], tb[:m, :k]
                dx_s = _fill(ab, hbb, delta[bs, ts], x[bs, ts], B[bs, ts], A2, neg)
                if td is not None:
                    torch.mul(td[bs, ts].unsqueeze(2), At, out=zb)
                if tA is not None:
                    if td is None:
                        zb.zero_()
                    zb.addcmul_(delta[bs, ts].unsqueeze(2), tA)
                if td is not None or tA is not None:
                    zb.mul_(torch.add(ab, 1, out=tmp[:m, :k]) if neg else ab)   # da_t = a_t'(Δ_t A) dz_t
                if tdx is not None:
                    torch.mul(tdx[bs, ts].unsqueeze(2), B[bs, ts].unsqueeze(3), out=tbb)
                else:
                    tbb.zero_()  # the loop below writes the state tangents into it
                if tB is not None:
                    tbb.addcmul_(dx_s.unsqueeze(2), tB[bs, ts].unsqueeze(3))
                for j in range(k):
                    # dh_t = a_t dh_{t-1} + da_t h_{t-1} + db_t ;  h_t = a_t h_{t-1} + b_t
                    th = tbb[:, j].addcmul_(ab[:, j], th).addcmul_(zb[:, j], h)
                    h = hbb[:, j].addcmul_(ab[:, j], h)
                out = _contract(dy[bs, ts], tmp[:m, :k], tbb, C[bs, ts].unsqueeze(3), 2)
                if tC is not None:
                    out.add_(torch.mul(hbb, tC[bs, ts].unsqueeze(3), out=tmp[:m, :k]).sum(2))
                h, th = h.clone(), th.clone()  # the block buffers are reused
        if D is not None and tx is not None:
            dy.addcmul_(tx, D)
        if tD is not None:
            dy.addcmul_(x, tD)
        return dy, None


def _backward_differentiable(need, gy, x, delta, At, B, C, D, h0, neg):
    """Gradients as a differentiable function of the inputs and gy (double backward)."""
    inputs = (x, delta, At, B, C, D, h0)
    wrt = [i for i, t in enumerate(inputs) if need[i] and t is not None]
    with torch.enable_grad():
        # Differentiate w.r.t. fresh aliases, not the saved tensors themselves: those may
        # depend on each other upstream (in Mamba, Δ, B and C are computed from x), and
        # the gradient w.r.t. x itself would then also collect the paths through B, C, Δ.
        xa, da, Aa, Ba, Ca, Da, ha = (t if t is None else t.view_as(t) for t in inputs)
        y = selective_scan_materialised(xa, da, Aa.T, Ba, Ca, Da, None if ha is None else ha.transpose(1, 2),
                                        neg_eigen=neg)
        alias = (xa, da, Aa, Ba, Ca, Da, ha)
        grads = torch.autograd.grad(y, [alias[i] for i in wrt], gy, create_graph=True, allow_unused=True)
    out = [None] * 7
    for i, gi in zip(wrt, grads):
        out[i] = torch.zeros_like(inputs[i]) if gi is None else gi
    return tuple(out)


def selective_scan_fused(x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
                         D: Tensor | None = None, h0: Tensor | None = None, *,
                         chunk: int | None = None, batch_chunk: int | None = None, neg_eigen: bool = False) -> Tensor:
    """The fused loop (module docstring). ``chunk``: segment length K (= checkpoint
    interval); ``batch_chunk``: sequences per block. Defaults from the cache budget."""
    _check(x, delta, A, B, C, D, h0)
    dtype = x.dtype
    for t in (delta, A, B, C, D, h0):
        if t is not None:
            dtype = torch.promote_types(dtype, t.dtype)
    b, L, d = x.shape
    n = A.shape[-1]
    bc, K = _block_shape(b, L, d * n * torch.empty((), dtype=dtype).element_size())
    bc = max(1, min(batch_chunk or bc, b))
    K = max(1, min(chunk or K, L))

    def cast(t):  # promoted, contiguous
        return t if t is None else t.to(dtype).contiguous()

    def swap(t):  # A (d, N) -> (N, d), h0 (b, d, N) -> (b, N, d)
        return t if t is None else cast(t.transpose(-1, -2))

    y, _ = _SelectiveScan.apply(cast(x), cast(delta), swap(A), cast(B), cast(C), cast(D), swap(h0), K, bc,
                                bool(neg_eigen))
    return y


def _check(x, delta, A, B, C, D, h0) -> None:
    if x.dim() != 3 or delta.shape != x.shape:
        raise ValueError(f"x and delta must be (b, L, d) alike, got {tuple(x.shape)} and {tuple(delta.shape)}")
    b, L, d = x.shape
    if A.dim() != 2 or A.shape[0] != d:
        raise ValueError(f"A must be (d={d}, N), got {tuple(A.shape)}")
    n = A.shape[1]
    for name, t in (("B", B), ("C", C)):
        if tuple(t.shape) != (b, L, n):
            raise ValueError(f"{name} must be (b, L, N) = {(b, L, n)}, got {tuple(t.shape)}")
    if D is not None and tuple(D.shape) != (d,):
        raise ValueError(f"D must be ({d},), got {tuple(D.shape)}")
    if h0 is not None and tuple(h0.shape) != (b, d, n):
        raise ValueError(f"h0 must be (b, d, N) = {(b, d, n)}, got {tuple(h0.shape)}")


def selective_scan(x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None = None,
                   h0: Tensor | None = None, *, impl: str = "auto", neg_eigen: bool = False) -> Tensor:
    """y (b, L, d) of the selective scan; ``impl`` one of models.scan.policy.SELECTIVE_IMPLS."""
    impl = resolve_impl("selective", impl, x.device)
    if impl == "fused":
        return selective_scan_fused(x, delta, A, B, C, D, h0, neg_eigen=neg_eigen)
    if impl == "scan":
        return selective_scan_materialised(x, delta, A, B, C, D, h0, neg_eigen=neg_eigen)
    return selective_scan_reference(x, delta, A, B, C, D, h0, neg_eigen=neg_eigen)
