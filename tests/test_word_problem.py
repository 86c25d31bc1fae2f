"""Word problem: targets are running products, every position scored, baselines exact,
determinism per seed and step, evaluation sequences held out of training."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tasks.groups import make_group
from tasks.metrics import TaskMetrics
from tasks.streams import TRAIN, eval_partition, rng_for
from tasks.word_problem import WordProblemTask


def test_parity_targets_are_running_xor():
    task = WordProblemTask(group="Z2", seq_len=23, batch_size=16, n_val=16, n_test=16)
    b = task.eval_batches("val")[0]
    x, y = b["x"].numpy(), b["y"].numpy()
    assert x.shape == y.shape == (16, 23) and set(np.unique(x)) <= {0, 1}
    np.testing.assert_array_equal(y, np.cumsum(x, axis=1) % 2)
    assert b["mask"].all()


@pytest.mark.parametrize("group,L", [("S3", 13), ("Z5", 9), ("S5", 7)])
def test_layout_spec_and_targets(group, L):
    # L differs from |G| throughout, so a swapped class/position axis cannot pass
    task = WordProblemTask(group=group, seq_len=L, batch_size=8, n_val=8, n_test=8)
    G = make_group(group)
    s = task.spec
    assert (s.input_kind, s.d_input, s.output_kind, s.d_output, s.readout, s.seq_len) == \
        ("tokens", G.order, "classes", G.order, "step", L)
    assert task.variant == f"G={group},L={L}" and task.curve() == f"G={group}" and task.axis_value() == L
    b = task.eval_batches("test")[0]
    assert b["x"].dtype == b["y"].dtype == torch.int64 and b["mask"].dtype == torch.bool
    x, y = b["x"].numpy(), b["y"].numpy()
    for row, target in zip(x, y):
        acc = G.identity
        for t in range(L):
            acc = G.table[acc, row[t]]
            assert target[t] == acc


def test_inputs_are_uniform_over_the_group():
    task = WordProblemTask(group="S3", seq_len=50)
    x = task.batch(rng_for(0, TRAIN, 0), 400, "train")["x"].numpy()
    freq = np.bincount(x.ravel(), minlength=6) / x.size
    np.testing.assert_allclose(freq, 1 / 6, atol=0.01)


def test_same_seed_same_batch_and_fixed_eval_set():
    a, b = WordProblemTask(group="Z5", seq_len=12, seed=3), WordProblemTask(group="Z5", seq_len=12, seed=4)
    assert torch.equal(a.batch(rng_for(3, TRAIN, 5), 4, "train")["x"], a.batch(rng_for(3, TRAIN, 5), 4, "train")["x"])
    assert not torch.equal(a.batch(rng_for(3, TRAIN, 5), 4, "train")["x"], a.batch(rng_for(3, TRAIN, 6), 4, "train")["x"])
    assert torch.equal(a.eval_batches("val")[0]["x"], b.eval_batches("val")[0]["x"])  # independent of training seed
    assert not torch.equal(a.eval_batches("val")[0]["x"], a.eval_batches("test")[0]["x"])


def test_evaluation_sequences_never_in_training():
    task = WordProblemTask(group="Z2", seq_len=12, batch_size=64, n_val=128, n_test=128)
    train = np.concatenate([task.batch(rng_for(0, TRAIN, i), 64, "train")["x"].numpy() for i in range(20)])
    evals = np.concatenate([b["x"].numpy() for s in ("val", "test") for b in task.eval_batches(s)])
    assert not eval_partition(train).any() and eval_partition(evals).all()
    seen = {r.tobytes() for r in train}
    assert not any(r.tobytes() in seen for r in evals)


def test_memoryless_baseline_is_reached_by_the_input_alone():
    # predict "the running product is g_t itself": right at t = 1, at chance after
    task = WordProblemTask(group="S3", seq_len=10, batch_size=256, n_val=2048)
    base = task.baselines()
    assert base["chance_acc"] == pytest.approx(1 / 6)
    assert base["memoryless_acc"] == pytest.approx((1 + 9 / 6) / 10)
    assert base["memoryless_loss"] == pytest.approx(0.9 * math.log(6))
    m = TaskMetrics(task.spec)
    for b in task.eval_batches("val"):
        logits = torch.zeros(*b["x"].shape, 6)
        logits[:, 0] = torch.nn.functional.one_hot(b["x"][:, 0], 6).float() * 1e4
        m.update(logits, b)
    out = m.compute()
    assert out["loss"] == pytest.approx(base["memoryless_loss"], rel=1e-4)
    # uniform logits after t = 1 pick class 0, right whenever the product is 0: 1/6 on average
    assert out["acc"] == pytest.approx(base["memoryless_acc"], abs=0.01)
    assert out["exact"] < 0.01


def test_every_position_scored_and_exact_means_right_to_the_end():
    task = WordProblemTask(group="Z5", seq_len=9, batch_size=32, n_val=32)
    b = task.eval_batches("val")[0]
    y = b["y"]
    m = TaskMetrics(task.spec)
    m.update(torch.nn.functional.one_hot(y, 5).float(), b)
    assert m.compute()["acc"] == 1.0 and m.compute()["exact"] == 1.0
    wrong_last = y.clone()
    wrong_last[:, -1] = (y[:, -1] + 1) % 5
    m.reset()
    m.update(torch.nn.functional.one_hot(wrong_last, 5).float(), b)
    out = m.compute()
    assert out["acc"] == pytest.approx(8 / 9) and out["exact"] == 0.0


def test_curve_declaration():
    task = WordProblemTask(group="S3", seq_len=16)
    assert task.axis == ("L", "task.seq_len")
    assert task.solve_criterion().met({"acc": 0.995}) and not task.solve_criterion().met({"acc": 0.95})
    assert task.horizon_criterion() == task.solve_criterion()


@pytest.mark.parametrize("kw,field", [
    (dict(group="Q8"), "task.group=Q8"),
    (dict(group="Z1"), "task.group=Z1"),
    (dict(group="S9"), "task.group=S9"),
    (dict(group="Z2", seq_len=11), "task.seq_len=11"),   # 2^11 < 4096 distinct sequences
    (dict(group="Z2", seq_len=0), "task.seq_len=0"),
    (dict(group="Z2", seq_len=5000), "task.seq_len=5000"),
])
def test_impossible_parameters(kw, field):
    with pytest.raises(ValueError) as err:
        WordProblemTask(**kw)
    msg = str(err.value)
    assert msg.startswith(field) and "\n" not in msg


def test_smallest_lengths_allowed():
    assert WordProblemTask(group="Z2", seq_len=12).seq_len == 12
    assert WordProblemTask(group="S5", seq_len=2).seq_len == 2  # 120^2 = 14400 sequences
