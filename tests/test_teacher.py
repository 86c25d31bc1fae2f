"""Linear teacher: eigenvalues, exactness of the targets (loss 0 at the teacher's own
parameters), baselines, and a student run through the harness in bare and stack mode."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tasks.metrics import TaskMetrics, loss_fn
from tasks.streams import TRAIN, rng_for
from tasks.teacher import TeacherTask, make_teacher, teacher_output


@pytest.mark.parametrize("nu0", [0.0, 0.32, 0.68, 0.9, 0.99])
@pytest.mark.parametrize("max_phase", [math.pi, 1.0, 0.1, 0.0])
def test_eigenvalues(nu0, max_phase):
    t = make_teacher(nu0, max_phase)
    assert t.A.dtype == np.float64 and t.A.shape == (10, 10)
    assert t.B.shape == (10, 1) and t.C.shape == (1, 10) and t.D.shape == (1, 1)
    ev = t.eigenvalues()
    assert (np.abs(ev) >= nu0 - 1e-9).all() and (np.abs(ev) < 1).all()
    assert (np.abs(np.angle(ev)) <= max_phase + 1e-9).all()
    # the moduli follow the map of the random matrix's eigenvalues
    lam = np.linalg.eigvals(np.random.default_rng(0).normal(0, math.sqrt(0.1), (10, 10)))
    want = np.sort(nu0 + (1 - nu0) * np.tanh(np.abs(lam)))
    np.testing.assert_allclose(np.sort(np.abs(ev)), want, atol=1e-8)


def test_phases_kept_at_pi_and_teacher_seed():
    lam = np.linalg.eigvals(np.random.default_rng(0).normal(0, math.sqrt(0.1), (10, 10)))
    ev = make_teacher(0.5, math.pi).eigenvalues()
    np.testing.assert_allclose(np.sort(np.angle(ev)), np.sort(np.angle(lam)), atol=1e-8)
    assert not np.allclose(make_teacher(0.5, teacher_seed=1).A, make_teacher(0.5, teacher_seed=0).A)


def test_targets_follow_the_recurrence():
    task = TeacherTask(nu0=0.9, seq_len=50, batch_size=4, n_val=4, n_test=4)
    A, B, C, D = task.teacher_params()
    x = np.random.default_rng(3).standard_normal((2, 50, 1))
    h = np.zeros(10)
    for t in range(50):
        h = A @ h + B[:, 0] * x[0, t, 0]
        assert task.teacher_output(x)[0, t, 0] == pytest.approx(C[0] @ h + D[0, 0] * x[0, t, 0], abs=1e-10)


class Oracle(torch.nn.Module):
    """A student that is the teacher: dense linear RNN built from (A, B, C, D)."""

    def __init__(self, A, B, C, D):
        super().__init__()
        for name, m in zip("ABCD", (A, B, C, D)):
            self.register_buffer(name, torch.tensor(m, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.double()
        h = torch.zeros(x.shape[0], self.A.shape[0], dtype=torch.float64)
        ys = []
        for t in range(x.shape[1]):
            h = h @ self.A.T + x[:, t] @ self.B.T
            ys.append(h @ self.C.T + x[:, t] @ self.D.T)
        return torch.stack(ys, 1).float()


@pytest.mark.parametrize("nu0", [0.32, 0.99])
def test_loss_zero_at_teacher_parameters(nu0):
    task = TeacherTask(nu0=nu0, seq_len=300, batch_size=32, n_val=64, n_test=64)
    oracle = Oracle(*task.teacher_params())
    batch = task.eval_batches("test")[0]
    loss, n = loss_fn(task.spec, oracle(batch["x"]), batch["y"])
    scale = task.baselines()["zero_loss"]
    assert float(loss) < 1e-10 * scale and int(n) == 32 * 300
    m = TaskMetrics(task.spec)
    for b in task.eval_batches("val"):
        m.update(oracle(b["x"]), b)
    assert set(m.compute()) == {"loss"} and m.compute()["loss"] < 1e-10 * scale
    # a slightly different student has a clearly positive loss
    A, B, C, D = task.teacher_params()
    off = Oracle(A, B, C, D + 0.1)
    assert float(loss_fn(task.spec, off(batch["x"]), batch["y"])[0]) == pytest.approx(0.5 * 0.01, rel=0.2)


def test_batches_spec_variant_baselines():
    task = TeacherTask(nu0=0.99, seed=5)
    s = task.spec
    assert (s.input_kind, s.d_input, s.output_kind, s.d_output, s.readout, s.seq_len) == \
        ("real", 1, "regression", 1, "step", 300)
    assert s.primary == "loss" and s.higher_is_better is False
    assert task.variant == "nu0=0.99,max_phase=3.1416,T=300,teacher_seed=0"
    assert task.batch_size == 128
    b = task.batch(rng_for(5, TRAIN, 0), 1024, "train")
    assert b["x"].shape == b["y"].shape == (1024, 300, 1) and b["x"].dtype == b["y"].dtype == torch.float32
    x, y = b["x"].double().numpy(), b["y"].double().numpy()
    assert abs(x.mean()) < 0.01 and abs(x.std() - 1) < 0.01
    # baselines: predicting 0, and the best predictor that sees only x_t
    base = task.baselines()
    A, B, C, D = task.teacher_params()
    assert 0.5 * (y ** 2).mean() == pytest.approx(base["zero_loss"], rel=0.1)
    g0 = float(C[0] @ B[:, 0] + D[0, 0])
    assert 0.5 * ((y - g0 * x) ** 2).mean() == pytest.approx(base["memoryless_loss"], rel=0.1)
    assert base["memoryless_loss"] <= base["zero_loss"]


@pytest.mark.parametrize("kw,field", [(dict(nu0=1.0), "task.nu0=1.0"), (dict(nu0=-0.1), "task.nu0=-0.1"),
                                      (dict(max_phase=4.0), "task.max_phase=4.0"), (dict(seq_len=0), "task.seq_len=0")])
def test_impossible_parameters(kw, field):
    with pytest.raises(ValueError) as err:
        TeacherTask(**kw)
    assert str(err.value).startswith(field) and "\n" not in str(err.value)


def test_teacher_output_function_matches_task():
    t = make_teacher(0.68)
    x = np.random.default_rng(0).standard_normal((3, 20, 1))
    np.testing.assert_array_equal(teacher_output(t, x), TeacherTask(nu0=0.68, seq_len=20).teacher_output(x))


@pytest.mark.parametrize("mode", ["bare", "stack"])
def test_students_train_through_the_harness(tmp_path, mode):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from harness.cli import CONF_DIR, normalise_overrides
    from harness.run import Run

    overrides = ["model=lru", "task=teacher", "task.nu0=0.99", "debug=fast", "trainer.max_steps=3",
                 "trainer.val_check_interval=3", "task.seq_len=40", "task.batch_size=16", "model.d_state=8",
                 f"results_dir={tmp_path}/results", f"checkpoint_dir={tmp_path}/ck"]
    overrides += ["model.mode=bare"] if mode == "bare" else ["model.d_model=8", "model.n_layers=1"]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=normalise_overrides(overrides))
    GlobalHydra.instance().clear()
    rec = Run(cfg, output_dir=str(tmp_path / "out")).execute()
    assert rec["status"] == "ok" and rec["steps"] == 3
    assert math.isfinite(rec["metrics"]["test"]["loss"])
    assert rec["task"]["variant"] == "nu0=0.99,max_phase=3.1416,T=40,teacher_seed=0"
    assert set(rec["task"]["baselines"]) == {"zero_loss", "memoryless_loss"}
    assert rec["task"]["axis"] == {"name": "nu0", "key": "task.nu0", "value": 0.99, "easier": None}
