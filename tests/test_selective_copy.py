"""Selective copy: layout, constraints, and that acc/exact score only the answer slots."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tasks.copy import CopyTask
from tasks.metrics import TaskMetrics
from tasks.selective_copy import SelectiveCopyTask, selective_copy_sequences
from tasks.spec import IGNORE


@pytest.mark.parametrize("L,N,V", [(40, 5, 16), (30, 4, 10), (9, 4, 16)])
def test_layout(L, N, V):
    out = selective_copy_sequences(np.random.default_rng(0), 200, L, N, V)
    x, y, mask, pos = out["x"], out["y"], out["mask"], out["positions"]
    noise, marker, ctx = V - 2, V - 1, L - N - 1
    assert x.shape == y.shape == mask.shape == (200, L) and pos.shape == (200, N)
    assert x.dtype == y.dtype == np.int64 and mask.dtype == bool
    # marker once, at L-N-1; answer slots hold noise
    assert (x[:, ctx] == marker).all() and (x == marker).sum(1).tolist() == [1] * 200
    assert (x[:, ctx + 1:] == noise).all()
    # exactly N data tokens in the context, at sorted distinct positions
    assert (np.diff(pos, axis=1) > 0).all() and pos.min() >= 0 and pos.max() < ctx
    for i in range(200):
        data_at = np.flatnonzero(x[i, :ctx] < noise)
        np.testing.assert_array_equal(data_at, pos[i])
        others = np.setdiff1d(np.arange(ctx), pos[i])
        assert (x[i, others] == noise).all()
        # targets: the data tokens in order, at the last N positions only
        np.testing.assert_array_equal(y[i, L - N:], x[i, pos[i]])
        assert (y[i, : L - N] == IGNORE).all()
    assert (x[:, :ctx][x[:, :ctx] < noise] <= V - 3).all()
    assert mask[:, L - N:].all() and not mask[:, : L - N].any()
    # every data token value and (spread-out) position occurs
    assert set(np.unique(y[:, L - N:])) == set(range(V - 2))
    if N < ctx:
        assert len(np.unique(pos)) > ctx // 2


def test_positions_uniform():
    # each of the L-N-1 context slots holds a data token with probability N/(L-N-1)
    L, N, V, n = 24, 3, 6, 20000
    pos = selective_copy_sequences(np.random.default_rng(1), n, L, N, V)["positions"]
    freq = np.bincount(pos.ravel(), minlength=L - N - 1) / n
    np.testing.assert_allclose(freq, N / (L - N - 1), atol=0.015)


def test_task_batches_spec_variant():
    task = SelectiveCopyTask(seq_len=40, n_tokens=5, vocab_size=16, batch_size=8, n_val=16, n_test=16)
    assert task.variant == "L=40,N=5,V=16"
    s = task.spec
    assert (s.input_kind, s.d_input, s.output_kind, s.d_output, s.readout, s.seq_len) == \
        ("tokens", 16, "classes", 16, "step", 40)
    assert s.primary == "acc" and s.higher_is_better
    b = task.eval_batches("val")[0]
    assert b["x"].shape == (8, 40) and b["y"].shape == (8, 40) and b["mask"].shape == (8, 40)
    assert b["x"].dtype == torch.int64 and b["mask"].dtype == torch.bool
    assert task.baselines()["memoryless_loss"] == pytest.approx(math.log(14))
    # content key: positions and tokens; moving one data token changes it
    key = task.content_key({k: v.numpy() for k, v in b.items()})
    assert key.shape == (8, 5)
    x = b["x"].numpy().copy()
    row, p = next((r, p) for r in range(8) for p in range(33) if x[r, p] < 14 and x[r, p + 1] == 14)
    x[row, p], x[row, p + 1] = 14, x[row, p]
    moved = task.content_key({"x": x})
    assert not np.array_equal(moved[row], key[row])
    np.testing.assert_array_equal(np.delete(moved, row, 0), np.delete(key, row, 0))


@pytest.mark.parametrize("kw,field", [
    (dict(seq_len=10, n_tokens=5), "task.seq_len=10"),
    (dict(vocab_size=2), "task.vocab_size=2"),
    (dict(n_tokens=0), "task.n_tokens=0"),
    (dict(seq_len=5, n_tokens=2, vocab_size=3), "task.seq_len=5"),  # 2 distinct sequences
])
def test_impossible_parameters(kw, field):
    with pytest.raises(ValueError) as err:
        SelectiveCopyTask(**kw)
    msg = str(err.value)
    assert msg.startswith(field) and "\n" not in msg


def test_smallest_length_allowed():
    task = SelectiveCopyTask(seq_len=17, n_tokens=8, vocab_size=16, n_val=8, n_test=8)  # L = 2N+1: no noise
    x = task.eval_batches("val")[0]["x"]
    assert (x[:, :8] < 14).all() and (x[:, 8] == 15).all()


def _one_hot(tokens: torch.Tensor, n: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(tokens, n).float() * 10


@pytest.mark.parametrize("make", [
    lambda: SelectiveCopyTask(seq_len=40, n_tokens=5, vocab_size=16, batch_size=32, n_val=64, n_test=64),
    lambda: SelectiveCopyTask(seq_len=30, n_tokens=4, vocab_size=10, batch_size=32, n_val=64, n_test=64),
    lambda: CopyTask(delay=15, batch_size=32, n_val=64, n_test=64),
], ids=["sel-V16-N5", "sel-V10-N4", "copy"])
def test_accuracy_counts_only_scored_positions(make):
    task = make()
    spec = task.spec
    batch = task.eval_batches("val")[0]
    y, mask = batch["y"], batch["mask"]
    target = torch.where(y == IGNORE, torch.zeros_like(y), y)
    wrong = (target + 1) % spec.d_output
    # right on the scored positions, wrong everywhere else
    good = TaskMetrics(spec)
    good.update(_one_hot(torch.where(mask, target, wrong), spec.d_output), batch)
    m = good.compute()
    assert m["acc"] == 1.0 and m["exact"] == 1.0
    # wrong on the scored positions, right everywhere else
    bad = TaskMetrics(spec)
    bad.update(_one_hot(torch.where(mask, wrong, target), spec.d_output), batch)
    m = bad.compute()
    assert m["acc"] == 0.0 and m["exact"] == 0.0
    # one error per sequence on a scored position: acc = 1 - 1/n_scored, exact = 0
    pred = target.clone()
    first = mask.float().argmax(1)
    pred[torch.arange(len(pred)), first] = wrong[torch.arange(len(pred)), first]
    one = TaskMetrics(spec)
    one.update(_one_hot(pred, spec.d_output), batch)
    m = one.compute()
    assert m["acc"] == pytest.approx(1 - 1 / int(mask[0].sum())) and m["exact"] == 0.0
