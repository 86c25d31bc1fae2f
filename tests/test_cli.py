"""User mistakes end in one line on stderr, exit code 2, no traceback, nothing written,
within seconds. The entry runs in-process (tests.helpers.cli_here: the same Hydra main and
guard, its output captured); Ctrl-C, whose subject is the process, runs train.py itself."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import ROOT, cli_here


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["model=lruu"], "unknown model 'lruu' (did you mean model=lru?)"),
        (["model.n_layerz=2"], "unknown key model.n_layerz (did you mean model.n_layers?)"),
        (["task.delay=-3"], "task.delay=-3"),
        (["model.param=expp"], "model.layer.param='expp' is invalid"),
        (["-m", "model=lru,lstm", "task.dela=3"], "unknown key task.dela"),
        (["model=lru,lstm"], "add -m to sweep"),
        (["seed=-1"], "seed=-1 is invalid"),
        (["stop.not_before=1.0"], "stop.not_before=1.0: a fraction of the run's steps in [0, 1)"),
        (["trainer.devices=64", "trainer.accelerator=cpu"], "trainer.devices=64: only"),
        (["trainer.accelerator=gpu"], "no CUDA GPU is visible here"),
        (["model.max_phase=-1"], "max_phase=-1"),
        (["task.delay=1000000"], "this run needs about"),
        (["experiment=leaderboard/copy_lr", "lr_reference={at:{seed:0},extent:1}"],
         "unknown key lr_reference.extent in the value of lr_reference"),
    ],
)
def test_bad_input_is_one_clear_line(args, fragment, run_dirs, tmp_path):
    t0 = time.time()
    out = cli_here(*args, *run_dirs)
    print(f"{args}: exit {out.returncode} after {time.time() - t0:.1f} s")
    assert out.returncode == 2
    lines = [l for l in out.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("where", ["/proc/forbidden", ""])
def test_unwritable_or_empty_results_dir_fails_before_training(where, tmp_path):
    out = cli_here(f"results_dir={where}", f"checkpoint_dir={tmp_path / 'ck'}", f"hydra.run.dir={tmp_path / 'out'}",
                   "debug=fast")
    lines = [l for l in out.stderr.splitlines() if l.strip()]
    assert out.returncode == 2 and len(lines) == 1 and "results_dir" in lines[0], out.stderr
    assert not (tmp_path / "ck").exists() or not any((tmp_path / "ck").iterdir())


def _default_sigint() -> None:
    # pytest-xdist workers ignore SIGINT, and an ignored signal stays ignored across exec: Python
    # would then never raise KeyboardInterrupt. A user's shell starts train.py with the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_says_where_the_checkpoint_is_and_exits_130(run_dirs, tmp_path):
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "train.py", "trainer.max_steps=100000", "trainer.val_check_interval=5",
                             "task.delay=20", "task.n_val=32", "task.n_test=32", "sensitivity.enabled=false",
                             # a run that cannot finish on its own before the signal: it never learns
                             "optimizer.lr=1e-7", "stop.on_solve=false",
                             "trainer.enable_progress_bar=false", *run_dirs],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, preexec_fn=_default_sigint)
    ck = tmp_path / "ck"
    deadline = time.time() + 120
    while time.time() < deadline and not list(ck.rglob("last.ckpt")):
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    last = [l for l in err.splitlines() if l.startswith("error: ")]
    assert last and "last.ckpt" in last[-1] and "resume=auto" in last[-1], err[-2000:]
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").glob("*.json"))


def test_resume_auto_without_checkpoint_starts_fresh_and_a_finished_run_is_not_redone(run_dirs, tmp_path):
    small = ["debug=fast", "trainer.max_steps=4", "trainer.val_check_interval=2", "task.delay=10", *run_dirs]
    first = cli_here("resume=auto", *small)
    assert first.returncode == 0 and "starting from scratch" in first.stderr + first.stdout
    again = cli_here("resume=auto", *small)
    assert again.returncode == 0 and "already finished" in again.stderr + again.stdout
    assert len(list((tmp_path / "results").glob("*.json"))) == 1
