"""MQAR: layout, the power law of query positions, scoring only the queries, baselines,
determinism per seed and step, evaluation prefixes held out of training, impossible settings."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tasks.metrics import TaskMetrics
from tasks.mqar import MQARTask, mqar_sequences, query_slot_weights
from tasks.spec import IGNORE
from tasks.streams import TRAIN, eval_partition, rng_for


# N, V/2 and L all differ, so that no two axes can be swapped and still pass
@pytest.mark.parametrize("L,N,V", [(40, 5, 16), (64, 3, 20), (15, 4, 10), (128, 8, 128)])
def test_layout(L, N, V):
    out = mqar_sequences(np.random.default_rng(0), 300, L, N, V, 0.01)
    x, y, mask, q = out["x"], out["y"], out["mask"], out["queries"]
    half = V // 2
    assert x.shape == y.shape == mask.shape == (300, L) and q.shape == (300, N)
    assert x.dtype == y.dtype == np.int64 and mask.dtype == bool
    assert x.min() >= 0 and x.max() < V
    keys, values = x[:, 0:2 * N:2], x[:, 1:2 * N:2]
    assert (keys < half).all() and (values >= half).all()
    for i in range(300):
        assert len(set(keys[i])) == N and len(set(values[i])) == N
        # each key queried once, in the query region, at an even offset from its start
        assert len(set(q[i])) == N and (q[i] >= 2 * N).all() and ((q[i] - 2 * N) % 2 == 0).all()
        np.testing.assert_array_equal(x[i, q[i]], keys[i])
        np.testing.assert_array_equal(y[i, q[i]], values[i])
        np.testing.assert_array_equal(np.flatnonzero(mask[i]), np.sort(q[i]))
        assert (y[i, ~mask[i]] == IGNORE).all()
    # every key and value token occurs across rows; filler covers the whole vocabulary
    assert set(np.unique(keys)) == set(range(half)) and set(np.unique(values)) == set(range(half, V))
    filler = x[:, 2 * N:][~mask[:, 2 * N:]]
    assert set(np.unique(filler)) == set(range(V))


def test_query_positions_follow_the_power_law():
    # one query per sequence: its slot frequencies are the weights themselves
    L, N, V, a, n = 41, 1, 16, 0.3, 40000
    q = mqar_sequences(np.random.default_rng(1), n, L, N, V, a)["queries"][:, 0]
    slots = (q - 2 * N) // 2
    w = query_slot_weights((L - 2 * N + 1) // 2, a)
    assert len(w) == 20 and w[0] > w[1] > w[-1]
    np.testing.assert_allclose(np.bincount(slots, minlength=20) / n, w, atol=0.006)
    # a = 1 is uniform
    np.testing.assert_allclose(query_slot_weights(7, 1.0), np.full(7, 1 / 7))


def test_several_queries_are_successive_weighted_draws():
    # with two queries, P(first slot taken) = w0 + Σ_{j≠0} w_j w0 / (1 - w_j)
    L, N, V, a, n = 14, 2, 8, 0.2, 40000
    q = mqar_sequences(np.random.default_rng(2), n, L, N, V, a)["queries"]
    w = query_slot_weights((L - 2 * N + 1) // 2, a)
    p0 = w[0] + sum(w[j] * w[0] / (1 - w[j]) for j in range(1, len(w)))
    assert ((q == 2 * N).any(1)).mean() == pytest.approx(p0, abs=0.01)
    # which key is queried first is uniform over the pairs
    first_key = np.argmin(q, axis=1)
    assert np.bincount(first_key, minlength=2) / n == pytest.approx([0.5, 0.5], abs=0.01)


def test_task_spec_variant_and_curve():
    task = MQARTask(n_pairs=5, seq_len=40, vocab_size=24, batch_size=8, n_val=16, n_test=16)
    s = task.spec
    assert (s.input_kind, s.d_input, s.output_kind, s.d_output, s.readout, s.seq_len) == \
        ("tokens", 24, "classes", 24, "step", 40)
    assert task.variant == "L=40,pairs=5,V=24,a=0.01" and task.curve() == "L=40,V=24,a=0.01"
    assert task.axis == ("pairs", "task.n_pairs") and task.axis_value() == 5
    assert task.solve_criterion().threshold == 0.99 and task.horizon_criterion().threshold == 0.9
    b = task.eval_batches("val")[0]
    assert b["x"].shape == b["y"].shape == b["mask"].shape == (8, 40)
    assert (b["mask"].sum(1) == 5).all()


def test_same_seed_same_batch_and_fixed_eval_set():
    a, b = MQARTask(n_pairs=4, seq_len=32, vocab_size=32, seed=3), MQARTask(n_pairs=4, seq_len=32, vocab_size=32, seed=4)
    assert torch.equal(a.batch(rng_for(3, TRAIN, 5), 4, "train")["x"], a.batch(rng_for(3, TRAIN, 5), 4, "train")["x"])
    assert not torch.equal(a.batch(rng_for(3, TRAIN, 5), 4, "train")["x"], a.batch(rng_for(3, TRAIN, 6), 4, "train")["x"])
    assert torch.equal(a.eval_batches("test")[0]["x"], b.eval_batches("test")[0]["x"])
    assert not torch.equal(a.eval_batches("val")[0]["x"], a.eval_batches("test")[0]["x"])


def test_evaluation_prefixes_never_in_training():
    # a small prefix space (8 keys, 8 values, 3 pairs: 336^2 prefixes), so that repeats are likely
    task = MQARTask(n_pairs=3, seq_len=16, vocab_size=16, batch_size=64, n_val=64, n_test=64)
    train = np.concatenate([task.batch(rng_for(0, TRAIN, i), 64, "train")["x"].numpy()[:, :6] for i in range(30)])
    evals = np.concatenate([b["x"].numpy()[:, :6] for s in ("val", "test") for b in task.eval_batches(s)])
    assert not eval_partition(train).any() and eval_partition(evals).all()
    seen = {r.tobytes() for r in train}
    assert not any(r.tobytes() in seen for r in evals)
    np.testing.assert_array_equal(task.content_key({"x": evals}), evals)


def test_accuracy_counts_only_the_queries_and_the_baseline():
    task = MQARTask(n_pairs=6, seq_len=50, vocab_size=36, batch_size=64, n_val=64)
    assert task.baselines() == {"memoryless_loss": pytest.approx(math.log(18)), "chance_acc": pytest.approx(1 / 18),
                                "unbound_loss": pytest.approx(math.log(6)), "unbound_acc": pytest.approx(1 / 6)}
    b = task.eval_batches("val")[0]
    y, mask = b["y"], b["mask"]
    target = torch.where(mask, y, 0)
    wrong = torch.where(mask, (target - 18 + 1) % 18 + 18, 5)   # another value at each query
    right_off = torch.nn.functional.one_hot(torch.where(mask, wrong, target), 36).float()
    m = TaskMetrics(task.spec)
    m.update(torch.nn.functional.one_hot(torch.where(mask, target, 3), 36).float(), b)
    assert m.compute()["acc"] == 1.0 and m.compute()["exact"] == 1.0
    m.reset()
    m.update(right_off, b)
    assert m.compute()["acc"] == 0.0
    # one wrong query per sequence
    pred = target.clone()
    first = mask.float().argmax(1)
    pred[torch.arange(64), first] = wrong[torch.arange(64), first]
    m.reset()
    m.update(torch.nn.functional.one_hot(pred, 36).float(), b)
    assert m.compute()["acc"] == pytest.approx(5 / 6) and m.compute()["exact"] == 0.0
    # uniform over the values on the queries: the memoryless loss
    logits = torch.full((64, 50, 36), -1e4)
    logits[..., 18:] = 0
    m.reset()
    m.update(logits, b)
    assert m.compute()["loss"] == pytest.approx(math.log(18), rel=1e-5)
    # uniform over the sequence's own 6 values, bindings unknown: the unbound loss, and a draw
    # among them the unbound accuracy
    values = b["x"][:, 1:12:2]
    logits = torch.full((64, 50, 36), -1e4).scatter_(2, values[:, None, :].expand(64, 50, 6), 0.0)
    m.reset()
    m.update(logits, b)
    assert m.compute()["loss"] == pytest.approx(math.log(6), rel=1e-5)
    draws = values.gather(1, torch.randint(0, 6, (64, 50), generator=torch.Generator().manual_seed(0)))
    m.reset()
    m.update(torch.nn.functional.one_hot(draws, 36).float(), b)
    assert m.compute()["acc"] == pytest.approx(1 / 6, abs=0.05)   # 384 queries: sd 0.019


@pytest.mark.parametrize("kw,field", [
    (dict(n_pairs=9, vocab_size=16, seq_len=64), "task.n_pairs=9"),      # 8 keys only
    (dict(n_pairs=8, seq_len=30), "task.seq_len=30"),                    # needs 4N-1 = 31
    (dict(vocab_size=15), "task.vocab_size=15"),
    (dict(n_pairs=0), "task.n_pairs=0"),
    (dict(power_a=0.0), "task.power_a=0.0"),
    (dict(n_pairs=1, vocab_size=16, seq_len=8), "task.vocab_size=16"),   # 8 x 8 prefixes
])
def test_impossible_parameters(kw, field):
    with pytest.raises(ValueError) as err:
        MQARTask(**kw)
    msg = str(err.value)
    assert msg.startswith(field) and "\n" not in msg


def test_smallest_length_allowed():
    task = MQARTask(n_pairs=8, seq_len=31, vocab_size=128, n_val=8, n_test=8)   # L = 4N-1: every slot a query
    b = task.eval_batches("val")[0]
    assert (b["mask"][:, 16::2]).all() and not b["mask"][:, 17::2].any()
