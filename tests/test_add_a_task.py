"""Adding a task is one .py file plus one YAML, and nothing else: a toy task written to a
temporary folder (its YAML in a config folder on the search path) is discovered, trains
in-process through the same `train` that `train.py` calls, and its records are drawn on the
leaderboard as a memory curve. A task whose variant forgets its axis value fails loudly."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from common.config import ConfigError
from common.registry import task_names
from harness.compose import compose_run
from harness.run import train
from leaderboard.build import build, collect

TASK = '''
"""Echo: repeat the token seen `lag` steps ago; only the last position is scored."""
import numpy as np

from tasks.base import RECALL_HORIZON, RECALL_SOLVED, SyntheticTask
from tasks.spec import IGNORE, TaskSpec


class EchoTask(SyntheticTask):
    name = "echo"
    axis, solve, horizon = ("lag", "task.lag"), RECALL_SOLVED, RECALL_HORIZON

    def __init__(self, lag: int = 2, vocab: int = 4, **kwargs):
        if lag < 1:
            raise ValueError(f"task.lag={lag}: must be >= 1")
        super().__init__(**kwargs)
        self.lag, self.vocab = lag, vocab

    @property
    def spec(self):
        return TaskSpec("tokens", self.vocab, "classes", self.vocab, "step", self.lag + 1)

    @property
    def variant(self):
        return f"lag={self.lag},V={self.vocab}" if self.vocab > 0 else "V=0"

    def baselines(self):
        return {"chance_acc": 1.0 / self.vocab}

    def draw(self, rng, n, split):
        x = rng.integers(0, self.vocab, size=(n, self.lag + 1))
        y = np.full_like(x, IGNORE)
        y[:, -1] = x[:, 0]
        mask = np.zeros(x.shape, dtype=bool)
        mask[:, -1] = True
        return {"x": x, "y": y, "mask": mask}
'''


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("toy_task")
    (root / "echo_task.py").write_text(TASK)
    (root / "conf" / "task").mkdir(parents=True)
    (root / "conf" / "task" / "echo.yaml").write_text(
        "# @package _global_\n# a toy echo task\ntask:\n  _target_: echo_task.EchoTask\n")
    return root


def run_echo(toy: Path, tmp: Path, *overrides: str) -> dict:
    cfg, _ = compose_run(["task=echo", "model=lru", "model.d_model=8", "model.layer.d_state=4", "debug=fast",
                          "trainer.max_steps=4", "trainer.val_check_interval=2", "sensitivity.enabled=false", f"results_dir={tmp / 'r'}",
                          f"checkpoint_dir={tmp / 'ck'}", *overrides], config_dirs=[toy / "conf"])
    record, _ = train(cfg, output_dir=str(tmp / "out" / uuid.uuid4().hex[:8]))
    return record


def test_the_toy_task_is_discovered_trained_and_drawn_as_a_curve(toy, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(toy))
    assert "echo" in task_names([toy / "conf"]) and "echo" not in task_names()
    for lag in (1, 2):
        for seed in (0, 1):
            rec = run_echo(toy, tmp_path, f"task.lag={lag}", f"seed={seed}")
            assert rec["status"] == "ok" and rec["steps"] == 4
            assert rec["task"]["axis"] == {"name": "lag", "key": "task.lag", "value": lag, "easier": None}
            assert rec["task"]["curve"] == "V=4" and rec["config"]["task"]["batch_size"] == 64  # base default written in
    (curve,) = collect(tmp_path / "r").curves
    assert curve.values == [1, 2] and [row.model for row in curve.rows] == ["lru"]
    build(tmp_path / "r", tmp_path / "page.md")
    page = (tmp_path / "page.md").read_text()
    assert "echo" in page and "lag" in page


def test_a_base_class_argument_is_checked_through_kwargs(toy, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(toy))
    with pytest.raises(ConfigError, match=r"task.batch_size='x' is invalid"):
        run_echo(toy, tmp_path, "task.batch_size=x")
    with pytest.raises(ConfigError, match=r"unknown key task.n_vall \(did you mean task.n_val\?\)"):
        run_echo(toy, tmp_path, "task.n_vall=3")


def test_a_variant_without_its_axis_value_fails_before_training(toy, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(toy))
    with pytest.raises(TypeError, match="must name its axis value once, as lag=<value>"):
        run_echo(toy, tmp_path, "task.vocab=0")
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").glob("*.json"))
