import math

import numpy as np
import torch

from tasks.copy import BLANK, DELIMITER, CopyTask, copy_sequences, memoryless_loss
from tasks.metrics import TaskMetrics
from tasks.spec import IGNORE


def test_layout_and_vocabulary():
    delay = 7
    x, y = copy_sequences(np.random.default_rng(0), 50, delay)
    assert x.shape == y.shape == (50, delay + 20)
    data = x[:, :10]
    assert ((data >= 1) & (data <= 8)).all()
    assert (x[:, 10:10 + delay - 1] == BLANK).all()
    assert (x[:, 10 + delay - 1] == DELIMITER).all()
    assert (x[:, -10:] == BLANK).all()
    assert (y[:, :-10] == BLANK).all()
    assert (y[:, -10:] == data).all()
    assert set(np.unique(x)) <= set(range(10))


def test_memoryless_baseline():
    assert math.isclose(memoryless_loss(100), 10 * math.log(8) / 120)
    task = CopyTask(delay=100)
    assert task.baselines()["memoryless_loss"] == memoryless_loss(100)
    # predicting blank with certainty, then uniform over the 8 symbols, reaches it exactly
    batch = task.eval_batches("val")[0]
    logits = torch.full((*batch["x"].shape, 10), -1e9)
    logits[:, :-10, BLANK] = 0
    logits[:, -10:, 1:9] = 0
    metrics = TaskMetrics(task.spec)
    metrics.update(logits, batch)
    assert math.isclose(metrics.compute()["loss"], memoryless_loss(100), rel_tol=1e-5)


def test_recall_only_loss_masks_training_targets():
    task = CopyTask(delay=5, loss_on="recall", batch_size=8)
    train = task.batch(np.random.default_rng(0), 8, "train")
    assert (train["y"][:, :-10] == IGNORE).all() and (train["y"][:, -10:] > 0).all()
    val = task.eval_batches("val")[0]
    assert (val["y"] != IGNORE).all()  # evaluation loss always covers every position


def test_accuracy_counts_only_the_recall_window():
    task = CopyTask(delay=5, batch_size=16, n_val=16)
    batch = task.eval_batches("val")[0]
    target = batch["y"]
    logits = torch.nn.functional.one_hot(target, 10).float()
    logits[:, :-10] = torch.nn.functional.one_hot(torch.full_like(target[:, :-10], 9), 10).float()  # wrong off-window
    m = TaskMetrics(task.spec)
    m.update(logits, batch)
    out = m.compute()
    assert out["acc"] == 1.0 and out["exact"] == 1.0
    logits[:, -1] = torch.nn.functional.one_hot((target[:, -1] % 8) + 1, 10).float()  # one wrong recall position
    m.reset()
    m.update(logits, batch)
    out = m.compute()
    assert math.isclose(out["acc"], 0.9, rel_tol=1e-6) and out["exact"] == 0.0


def test_same_seed_same_batch_and_fixed_eval_set():
    a, b = CopyTask(delay=10, seed=3), CopyTask(delay=10, seed=4)
    from tasks.streams import TRAIN, rng_for

    assert torch.equal(a.batch(rng_for(3, TRAIN, 5), 4, "train")["x"], a.batch(rng_for(3, TRAIN, 5), 4, "train")["x"])
    assert torch.equal(a.eval_batches("test")[0]["x"], b.eval_batches("test")[0]["x"])  # independent of training seed
