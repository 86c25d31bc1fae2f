"""Adding a model is one .py file plus one YAML, and nothing else: a toy diagonal layer
written to a temporary folder (with its YAML in a config folder given as --config-dir)
passes the every-config check on every task, trains for 5 steps (in-process, as train.py runs it), and
gets a benchmark row."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from common.config import ConfigError
from common.registry import CONF_DIR, model_names, task_names
from harness.cli import normalise_overrides
from harness.compose import compose_run
from harness.run import Run, train
from tests.helpers import ROOT

LAYER = '''
"""A toy real diagonal recurrence h_t = a * h_{t-1} + B x_t, y_t = C h_t + x_t."""
import torch
from torch import nn

from models.layer import ParamRole, RecurrentLayer


class ToyDiagonal(RecurrentLayer):
    diagonal = True

    def __init__(self, d_model: int, d_state: int = 8, decay: float = 0.9):
        super().__init__()
        if not 0 < decay < 1:
            raise ValueError(f"model.decay={decay}: need 0 < decay < 1")
        self.a_logit = nn.Parameter(torch.full((d_state,), float(torch.logit(torch.tensor(decay)))))
        self.B = nn.Parameter(torch.randn(d_state, d_model) / d_model**0.5)
        self.C = nn.Parameter(torch.randn(d_model, d_state) / d_state**0.5)

    def param_roles(self):
        return {"a_logit": ParamRole("recurrent", slow=True)}

    def state_size(self) -> int:
        return self.a_logit.numel()

    def eigenvalues(self, x=None):
        return torch.sigmoid(self.a_logit)

    def states(self, x):
        a, u = torch.sigmoid(self.a_logit), x @ self.B.T
        h, out = torch.zeros_like(u[:, 0]), []
        for t in range(u.shape[1]):
            h = a * h + u[:, t]
            out.append(h)
        return torch.stack(out, 1)

    def forward(self, x):
        return self.states(x) @ self.C.T + x
'''


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("toy")
    (root / "toy_layer.py").write_text(LAYER)
    (root / "conf" / "model").mkdir(parents=True)
    (root / "conf" / "model" / "toy.yaml").write_text("# a toy diagonal layer\nname: toy\nlayer:\n  _target_: toy_layer.ToyDiagonal\n")
    return root


def env_with(toy: Path) -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(toy), str(ROOT)]), "HF_DATASETS_OFFLINE": "1",
            "HF_HUB_OFFLINE": "1"}


def test_the_toy_model_is_discovered_and_builds_on_every_task(toy, monkeypatch):
    monkeypatch.syspath_prepend(str(toy))
    assert "toy" in model_names([toy / "conf"]) and "toy" not in model_names()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        for task in task_names():
            overrides = [f"hydra.searchpath=[file://{toy / 'conf'}]", "model=toy", f"task={task}", "model.d_state=4"]
            run = Run(compose("config", overrides=normalise_overrides(overrides)))
            assert run.model.state_size() == 2 * 4 and run.cfg.model.layer.decay == 0.9  # default written in
        with pytest.raises(ConfigError, match="decay"):
            Run(compose("config", overrides=normalise_overrides(
                [f"hydra.searchpath=[file://{toy / 'conf'}]", "model=toy", "model.decay=2"])))
    GlobalHydra.instance().clear()


def test_the_toy_model_trains_and_gets_a_benchmark_row(toy, tmp_path, monkeypatch):
    env = env_with(toy)
    # the run trains in this process, through the same harness.run.train as train.py's --config-dir
    monkeypatch.syspath_prepend(str(toy))
    cfg, _ = compose_run(["model=toy", "debug=fast", "trainer.max_steps=5", "trainer.val_check_interval=5",
                          "task.delay=6", f"results_dir={tmp_path / 'r'}", f"checkpoint_dir={tmp_path / 'ck'}"],
                         config_dirs=[toy / "conf"])
    rec, _ = train(cfg, output_dir=str(tmp_path / "o"))
    assert rec["model"]["name"] == "toy" and rec["status"] == "ok" and rec["steps"] == 5
    assert rec["sensitivity"]["final"]["tau_max_over_T"] is not None  # eigenvalues reached the suite
    assert 0 < rec["cost"]["sensitivity_s"] and 0 < rec["cost"]["sensitivity_share"] < 1
    bench = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "layer", "--config-dir",
                            str(toy / "conf"), "--model", "toy", "--json", str(tmp_path / "b.json"), "--no-readme"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert bench.returncode == 0, bench.stderr[-2000:]
    rows = json.loads((tmp_path / "b.json").read_text())
    assert [r["name"] for r in rows] == ["layer:toy"] and rows[0]["fwdbwd_ms"] > 0
