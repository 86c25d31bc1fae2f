"""No lost or corrupted work: divergence, resume after SIGKILL, determinism,
atomic and concurrent records, DDP, parallel sweeps."""
from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.record_io import read_records, write_record
from tests.helpers import ROOT, cli_here, records, train, train_here

SMALL = ["task.delay=10", "model.d_model=16", "model.n_layers=1", "sensitivity.hessian=off", "threads=1"]


def test_nan_learning_rate_ends_as_diverged_with_exit_code_zero(run_dirs, tmp_path):
    out = cli_here("model=lstm", "debug=fast", "optimizer.lr=1e30", *SMALL, *run_dirs)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    (rec,) = records(tmp_path / "results")
    assert rec["status"] == "diverged" and rec["diverged_at_step"] is not None
    assert rec["metrics"]["test"] == {}
    # the validation Lightning runs after the stop sees NaN weights: it must not replace the last finite one
    assert all(v is not None for v in rec["metrics"]["val"].values()), rec["metrics"]["val"]
    assert "diverged at step" in out.stdout


def _resume_args(tmp: Path) -> list[str]:
    return ["model=lru", "task.delay=100", "task.batch_size=16", "model.d_model=32", "model.n_layers=1",
            "trainer.max_steps=200", "trainer.val_check_interval=40", "task.n_val=64", "task.n_test=128",
            "trainer.enable_progress_bar=false", "sensitivity.hessian=off", "threads=1", "seed=3"]


def test_killed_run_resumes_to_the_same_final_metrics(tmp_path):
    """The uninterrupted reference and the resumed run train in this process; the run that is
    killed is a real process, killed with SIGKILL after its step-80 checkpoint."""
    ref_dir, cut_dir = tmp_path / "ref", tmp_path / "cut"
    a = train_here(ref_dir, *_resume_args(ref_dir))

    args = [*_resume_args(cut_dir), f"results_dir={cut_dir / 'r'}", f"checkpoint_dir={cut_dir / 'ck'}",
            f"hydra.run.dir={cut_dir / 'o'}"]
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "train.py", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:
        while not list((cut_dir / "ck").glob("*/step*=80*.ckpt")) and time.time() < deadline:
            assert proc.poll() is None, "the run finished before it could be killed"
            time.sleep(0.05)
        time.sleep(0.2)  # let the checkpoint file land
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not list((cut_dir / "r").glob("*.json")), "a killed run must not leave a record"
    # the checkpoint carries the run's wall time so far; stretched here so the record must show it
    import torch
    (last,) = (cut_dir / "ck").glob("*/last.ckpt")
    ckpt = torch.load(last, weights_only=False)
    assert 0 < ckpt["run_wall_s"] < 300
    ckpt["run_wall_s"] = 1e5
    torch.save(ckpt, last)
    b = train_here(cut_dir, *_resume_args(cut_dir), "resume=auto")
    assert b["resumed_from"] and b["resumed_from"].endswith("last.ckpt")
    assert 1e5 < b["cost"]["wall_s"] < 1e5 + 300   # the killed session's time and this one's: the run's job time
    assert b["steps"] == a["steps"] == 200
    assert a["metrics"]["test"] == b["metrics"]["test"]
    assert a["metrics"]["val"] == b["metrics"]["val"]
    assert a["sensitivity"]["init"]["act_m2_max"] == b["sensitivity"]["init"]["act_m2_max"]


def test_a_run_resumed_from_its_checkpoint_at_the_cap_writes_the_record_it_would_have(tmp_path):
    """Lightning saves the checkpoint at the step cap just before that step's validation; a run
    resumed from it (its record lost, or the process stopped while testing) trains no step and
    calls no training hook, and once wrote a record with no validation metrics, a history one
    entry short and no final sensitivity."""
    a = train_here(tmp_path, *_resume_args(tmp_path))
    assert a["outcome"] == "budget" and a["steps"] == 200
    Path(a["_path"]).unlink()
    b = train_here(tmp_path, *_resume_args(tmp_path), "resume=auto")
    assert b["resumed_from"].endswith("last.ckpt") and b["steps"] == 200
    assert b["metrics"] == a["metrics"] and b["metrics"]["val"]
    assert b["history"] == a["history"]
    for key in ("outcome", "solved_at", "left_baseline_at", "status"):
        assert b[key] == a[key], key
    assert b["sensitivity"]["final"]["state_sens_rel_max"] == a["sensitivity"]["final"]["state_sens_rel_max"]


def test_same_seed_gives_identical_metrics(tmp_path):
    outs = [train_here(tmp_path / str(i), "model=lru", "debug=fast", *SMALL) for i in range(2)]
    assert outs[0]["metrics"] == outs[1]["metrics"]
    assert outs[0]["sensitivity"]["final"]["state_sens_rel_max"] == outs[1]["sensitivity"]["final"]["state_sens_rel_max"]


def _write_many(directory: str, writer: int, n: int) -> None:
    for i in range(n):
        write_record({"schema": 1, "run_id": f"w{writer}-{i}", "created": "", "model": {"name": "m"},
                      "task": {"name": "t", "variant": "v"}, "seed": i, "status": "ok", "metrics": {},
                      "payload": "x" * 20000}, directory)


def test_two_concurrent_writers_lose_nothing(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(tmp_path), w, 40)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    recs = list(read_records(tmp_path))
    assert len(recs) == 80 and all(isinstance(r, dict) for r in recs)
    assert not list(tmp_path.glob(".tmp-*"))


def test_a_crash_while_writing_leaves_no_partial_record(tmp_path, monkeypatch):
    import common.record_io as rec_mod

    def broken_dump(obj, f, **kw):
        f.write('{"schema": 1, "run_')
        raise OSError("disk full")

    monkeypatch.setattr(rec_mod.json, "dump", broken_dump)
    with pytest.raises(OSError):
        write_record({"run_id": "x", "task": {"name": "t"}, "model": {"name": "m"}, "seed": 0}, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_ddp_with_two_cpu_processes_writes_one_record(run_dirs, tmp_path):
    out = train("trainer=ddp", "trainer.accelerator=cpu", "debug=fast", *SMALL, *run_dirs, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    (rec,) = records(tmp_path / "results")
    assert rec["cost"]["world_size"] == 2 and rec["status"] == "ok"


def test_joblib_sweep_writes_two_records_and_a_rerun_skips_them(tmp_path):
    args = ["-m", "seed=0,1", "debug=fast", *SMALL, f"results_dir={tmp_path / 'r'}", f"checkpoint_dir={tmp_path / 'ck'}"]
    first = train(*args, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={tmp_path / 'm1'}",
                  timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert sorted(r["seed"] for r in records(tmp_path / "r")) == [0, 1]
    assert "sweep finished: 2 runs (2 ok)" in first.stdout
    # the rerun's subject is the skipping, not the launcher: Hydra's basic launcher, in this process
    again = cli_here(*args, "hydra/launcher=basic", f"hydra.sweep.dir={tmp_path / 'm2'}")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "2 skipped" in again.stdout and len(records(tmp_path / "r")) == 2


def test_malformed_record_is_reported_and_skipped(tmp_path):
    good = tmp_path / "results"
    _write_many(str(good), 0, 2)
    (good / "broken.json").write_text("{not json")
    out = subprocess.run([sys.executable, "-m", "leaderboard", "--results", str(good), "--out", str(tmp_path / "lb.md"),
                          "--figures", "", "--readme", ""], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "broken.json" in lines[0]
    assert "| m |" in (tmp_path / "lb.md").read_text()


def test_the_sweep_report_counts_each_reason_a_declared_run_did_not_run(tmp_path, capsys):
    from omegaconf import OmegaConf

    from harness.sweep import SweepReport, note_outcome

    for i, outcome in enumerate(["ok", "skipped", "beyond_horizon", "beyond_state_cap", "beyond_state_cap", "waiting"]):
        note_outcome(tmp_path / str(i), outcome)
    SweepReport().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}}))
    line = capsys.readouterr().out
    assert line.startswith("sweep finished: 6 runs (1 ok); 1 skipped")
    assert "1 not run: beyond the model's horizon (every rate failed at an easier point" in line
    assert "2 not run: a dense recurrence above the sweep's dense_state_max" in line
    assert "1 waiting for runs not made yet" in line


def test_every_leaderboard_sweep_resumes_a_run_cut_off_before_it_finished():
    """The cpu track runs over many sessions, and its longest runs (copy at large T) outlast one:
    without resume=auto a run stopped at a session's end would start again from step 0 every time."""
    from harness.compose import compose_run
    from leaderboard.sweeps import SWEEP_DIR

    for path in sorted(SWEEP_DIR.glob("*.yaml")):
        cfg, _ = compose_run([f"experiment=leaderboard/{path.stem}", "results_dir=/tmp/resume_check"])
        assert cfg.resume == "auto", path.name
