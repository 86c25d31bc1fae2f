"""Seeded streams of the synthetic tasks: no evaluation sequence is ever drawn for
training, and a batch is a pure function of (seed, step). (Copy's layout and
baseline are tested in tests/test_copy.py.)"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tasks.base import _TrainStream
from tasks.copy import CopyTask
from tasks.selective_copy import SelectiveCopyTask
from tasks.streams import TRAIN, eval_partition, rng_for
from tasks.teacher import TeacherTask

N_TRAIN_BATCHES = 60  # x 64 = 3840 training draws per task

TASKS = {
    "copy": lambda seed: CopyTask(delay=10, batch_size=64, n_val=512, n_test=512, seed=seed),
    "copy-recall": lambda seed: CopyTask(delay=10, loss_on="recall", batch_size=64, n_val=256, n_test=256, seed=seed),
    "selective_copy": lambda seed: SelectiveCopyTask(seq_len=64, n_tokens=6, vocab_size=8, batch_size=64,
                                                     n_val=512, n_test=512, seed=seed),
    # ~7,700 distinct sequences in all: without the partition, thousands of training
    # draws would certainly repeat evaluation sequences
    "selective_copy-tiny": lambda seed: SelectiveCopyTask(seq_len=14, n_tokens=3, vocab_size=6, batch_size=64,
                                                          n_val=256, n_test=256, seed=seed),
}


def _keys(task, batches) -> set[tuple]:
    rows = set()
    for b in batches:
        key = task.content_key({k: v.numpy() for k, v in b.items()})
        rows.update(map(tuple, key.tolist()))
    return rows


@pytest.mark.parametrize("name", list(TASKS))
def test_no_evaluation_sequence_in_training(name):
    task = TASKS[name](seed=7)
    val, test = task.eval_batches("val"), task.eval_batches("test")
    eval_keys = _keys(task, val) | _keys(task, test)
    train = [task.batch(rng_for(task.seed, TRAIN, k), task.batch_size, "train") for k in range(N_TRAIN_BATCHES)]
    train_keys = _keys(task, train)
    assert len(train_keys) > 0 and len(eval_keys) > 0
    assert train_keys.isdisjoint(eval_keys)
    # the partition is what guarantees it: every key lies on its own side
    assert eval_partition(np.array(sorted(eval_keys))).all()
    assert not eval_partition(np.array(sorted(train_keys))).any()
    # whole inputs too, not just the keys
    eval_x = {tuple(r) for b in val + test for r in b["x"].tolist()}
    assert not any(tuple(r) in eval_x for b in train for r in b["x"].tolist())


def test_tiny_space_would_collide_without_partition():
    """The tiny selective-copy space is small enough that raw draws do repeat
    sequences reserved for evaluation, so the test above is not vacuous."""
    task = TASKS["selective_copy-tiny"](seed=7)
    raw = task.draw(np.random.default_rng(0), 4000, "train")
    assert eval_partition(task.content_key(raw)).any()


@pytest.mark.parametrize("name", list(TASKS) + ["teacher"])
def test_same_seed_and_step_same_batch(name):
    make = TASKS.get(name, lambda seed: TeacherTask(nu0=0.9, seq_len=30, batch_size=16, n_val=32, n_test=32,
                                                   seed=seed))
    a, a2, b = make(3), make(3), make(4)
    for step in (0, 5, 123):
        one = a.batch(rng_for(3, TRAIN, step), a.batch_size, "train")
        two = a2.batch(rng_for(3, TRAIN, step), a2.batch_size, "train")
        for k in one:
            assert torch.equal(one[k], two[k])
        assert not torch.equal(one["x"], a.batch(rng_for(3, TRAIN, step + 1), a.batch_size, "train")["x"])
        assert not torch.equal(one["x"], b.batch(rng_for(4, TRAIN, step), b.batch_size, "train")["x"])
    # the training stream (what the dataloader iterates) is that same function of (seed, step),
    # also when it starts mid-way (resume)
    stream = iter(_TrainStream(a))
    first = [next(stream) for _ in range(3)]
    a2.trainer = SimpleNamespace(global_step=2, accumulate_grad_batches=1, global_rank=0)  # restored at step 2
    resumed = next(iter(_TrainStream(a2)))
    assert torch.equal(first[2]["x"], resumed["x"])
    assert torch.equal(first[1]["x"], a.batch(rng_for(3, TRAIN, 1), a.batch_size, "train")["x"])
    # evaluation sets do not depend on the run seed
    for split in ("val", "test"):
        for ea, eb in zip(a.eval_batches(split), b.eval_batches(split)):
            assert torch.equal(ea["x"], eb["x"]) and torch.equal(ea["y"], eb["y"])


def test_teacher_streams_are_distinct():
    a, b = (TeacherTask(nu0=0.9, seq_len=30, batch_size=16, n_val=32, n_test=32, seed=s) for s in (0, 1))
    train_a = torch.cat([a.batch(rng_for(0, TRAIN, k), 16, "train")["x"] for k in range(50)])
    train_b = torch.cat([b.batch(rng_for(1, TRAIN, k), 16, "train")["x"] for k in range(50)])
    evals = torch.cat([x["x"] for s in ("val", "test") for x in a.eval_batches(s)])
    assert a.content_key({"x": train_a.numpy()}) is None  # continuous inputs: streams alone separate them
    rows = lambda t: {tuple(r) for r in t[..., 0].tolist()}  # noqa: E731
    assert len(rows(train_a)) == len(train_a)
    assert rows(train_a).isdisjoint(rows(train_b))
    assert rows(train_a).isdisjoint(rows(evals)) and rows(train_b).isdisjoint(rows(evals))
    # val and test differ too, and the targets are the teacher's
    val, test = a.eval_batches("val")[0], a.eval_batches("test")[0]
    assert not torch.equal(val["x"], test["x"])
    np.testing.assert_allclose(val["y"].numpy(), a.teacher_output(val["x"].double().numpy()), rtol=1e-6, atol=1e-5)


def test_epoch_shuffle_is_a_function_of_seed_and_epoch():
    from tasks.base import EpochShuffle

    a, b = EpochShuffle(50, seed=3), EpochShuffle(50, seed=3)
    first = list(a)
    a.set_epoch(1)
    second = list(a)
    b.set_epoch(1)  # a fresh sampler (a resumed run) at epoch 1 gives epoch 1's order
    assert sorted(first) == list(range(50)) and first != second and list(b) == second
