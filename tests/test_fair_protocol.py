"""The fair protocol's run-side rules (issue "A fair race"): no plateau verdict before learning
has started (warm-up, memoryless baseline), a per-task notion of improvement, one meaning of
solved, a validation history in every record, and published records from a clean tree only."""
from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from common.errors import UserError
from common.provenance import publishable_commit
from common.rules import run_solved
from tasks.copy import CopyTask
from tasks.mqar import MQARTask
from tasks.teacher import TeacherTask
from tasks.word_problem import WordProblemTask
from tests.helpers import cli_here, train_here

SMALL = ["task.delay=4", "task.batch_size=32", "task.n_val=64", "task.n_test=64", "sensitivity.enabled=false",
         "trainer.enable_progress_bar=false", "threads=1"]


def test_no_plateau_verdict_while_at_the_baseline(tmp_path):
    """At lr 1e-7 copy never leaves chance: however short the patience, the run trains to its
    cap and records that it never left the baseline."""
    rec = train_here(tmp_path, *SMALL, "optimizer.lr=1e-7", "trainer.max_steps=60", "trainer.val_check_interval=5",
                     "stop.patience=1")
    assert rec["outcome"] == "budget" and rec["steps"] == 60 and rec["left_baseline_at"] is None
    assert all(h["acc"] < 0.125 + 0.05 for h in rec["history"])


def test_the_patience_waits_for_the_warm_up(tmp_path):
    """No gain counts (min_delta 0.5), patience 1: the run may plateau only once the warm-up
    (half of 80 steps) is over, even though it left chance long before."""
    rec = train_here(tmp_path, "task.delay=8", *SMALL[1:], "optimizer.lr=0.01", "optimizer.warmup=0.5", "trainer.max_steps=80",
                     "trainer.val_check_interval=5", "stop.patience=1", "stop.min_delta=0.5")
    assert rec["outcome"] == "plateaued" and rec["left_baseline_at"] < 40 <= rec["steps"] < 80


def test_stop_not_before_holds_the_patience_past_the_warm_up(tmp_path):
    """The same run without warm-up, the patience opened at half the steps by stop.not_before:
    no verdict before step 40, and the record's budget says so."""
    rec = train_here(tmp_path, "task.delay=8", *SMALL[1:], "optimizer.lr=0.002", "optimizer.warmup=0", "trainer.max_steps=80",
                     "trainer.val_check_interval=5", "stop.patience=1", "stop.min_delta=0.5", "stop.not_before=0.5")
    assert rec["outcome"] == "plateaued" and rec["left_baseline_at"] < 40 <= rec["steps"] < 80
    assert rec["budget"]["not_before"] == 0.5


def test_every_record_carries_its_validation_history(tmp_path):
    rec = train_here(tmp_path, *SMALL, "optimizer.lr=0.01", "trainer.max_steps=30", "trainer.val_check_interval=10")
    hist = rec["history"]
    assert [h["step"] for h in hist] == [10, 20, 30] and rec["schema"] == 3
    assert {k: v for k, v in hist[-1].items() if k not in ("step", "lr")} == rec["metrics"]["val"]
    # the scheduled rate: warm-up (10 % of 30 steps), then cosine decay from 0.01 to 0 at the cap
    assert 0 <= hist[-1]["lr"] < hist[1]["lr"] < hist[0]["lr"] <= 0.01


def test_baselines_and_improvement_are_declared_per_task():
    copy = CopyTask(delay=10)
    assert copy.left_baseline().as_dict() == {"metric": "acc", "mode": "max", "threshold": 0.125 + 0.05}
    assert (copy.plateau_delta, copy.plateau_relative) == (0.01, False)
    teacher = TeacherTask(nu0=0.5)
    base = teacher.left_baseline()
    assert base.mode == "min" and math.isclose(base.threshold, 0.9 * teacher.baselines()["memoryless_loss"])
    assert teacher.plateau_relative and 0 < teacher.plateau_delta < 1
    # parity: the first position is predictable without memory, so the floor is the memoryless accuracy
    parity = WordProblemTask(group="Z2", seq_len=16)
    assert math.isclose(parity.left_baseline().threshold, parity.baselines()["memoryless_acc"] + 0.05)
    # MQAR: knowing the sequence's values without their keys scores 1/N, and models sit there
    # before the bindings form, so the plateau counts from above it (N = 2: 0.55, not 2/V + 0.05)
    assert MQARTask(n_pairs=2).left_baseline().as_dict() == {"metric": "acc", "mode": "max", "threshold": 0.55}
    assert math.isclose(MQARTask(n_pairs=8).left_baseline().threshold, 0.125 + 0.05)
    # one pair: remembering its value is the recall, so chance over the values is the only floor
    assert math.isclose(MQARTask(n_pairs=1, seq_len=16).left_baseline().threshold, 2 / 128 + 0.05)


def test_a_relative_improvement_is_a_fraction_of_the_loss(tmp_path):
    """The teacher's loss falls by decades: a 5 % lower loss is a gain at any scale, so a run whose
    loss keeps halving never plateaus, however small the absolute steps."""
    from harness.stopping import early_stopping

    stop = early_stopping(TeacherTask(nu0=0.5), patience=1, min_delta=None, on_solve=False, warmup=0.0)
    stop._patience_open = True
    for loss in (1e-3, 5e-4, 2.5e-4, 1.2e-4):
        should_stop, _ = stop._evaluate_stopping_criteria(__import__("torch").tensor(loss))
        assert not should_stop
    should_stop, _ = stop._evaluate_stopping_criteria(__import__("torch").tensor(1.19e-4))
    assert should_stop  # under 5 % better: no gain, and the patience of 1 is used up


def _rec(outcome: str | None, test_acc: float, status: str = "ok") -> dict:
    return {"status": status, "outcome": outcome, "metrics": {"test": {"acc": test_acc}},
            "task": {"solve": {"metric": "acc", "mode": "max", "threshold": 0.99},
                     "horizon": {"metric": "acc", "mode": "max", "threshold": 0.9}}}


@pytest.mark.parametrize("outcome, acc, solved", [
    ("solved", 0.995, True),
    ("solved", 0.95, False),     # solved on validation, not on test by the same criterion
    ("budget", 0.995, False),    # never met the criterion on validation
    ("plateaued", 0.92, False),  # the old horizon threshold (0.9) no longer counts
])
def test_one_meaning_of_solved(outcome, acc, solved):
    assert run_solved(_rec(outcome, acc)) is solved


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo, check=True,
                   capture_output=True)


def test_published_records_come_from_a_clean_commit_on_main(tmp_path):
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "a.py").write_text("x = 1\n")
    _git(tmp_path, "add", "a.py")
    _git(tmp_path, "commit", "-q", "-m", "a")
    assert len(publishable_commit(tmp_path)) == 40
    (tmp_path / "a.py").write_text("x = 2\n")
    with pytest.raises(UserError, match=r"clean tree: commit or stash 1 changed file\(s\) first \(a.py\)"):
        publishable_commit(tmp_path)
    _git(tmp_path, "checkout", "-q", "-b", "side")
    _git(tmp_path, "commit", "-q", "-am", "b")
    with pytest.raises(UserError, match="is not on main"):
        publishable_commit(tmp_path)


def test_a_published_sweep_refuses_to_start_from_a_dirty_tree(tmp_path, monkeypatch):
    import common.provenance

    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "a.py").write_text("x = 1\n")
    _git(tmp_path, "add", "a.py")
    _git(tmp_path, "commit", "-q", "-m", "a")
    (tmp_path / "a.py").write_text("x = 2\n")
    monkeypatch.setattr(common.provenance, "ROOT", tmp_path)
    out = cli_here("-m", "experiment=leaderboard/copy_lr", "model=lru", "lr_index=0", "seed=0",
                   f"hydra.sweep.dir={tmp_path / 'm'}")
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2 and len(lines) == 1 and "clean tree" in lines[0], out.stderr
    assert not (tmp_path / "leaderboard").exists()
    # the same sweep into a scratch directory publishes nothing, so it may run from any tree
    assert not common.provenance.writes_published(tmp_path / "scratch", tmp_path)
    assert common.provenance.writes_published("leaderboard/results", tmp_path)


def test_the_summary_says_when_a_run_never_left_the_baseline(tmp_path):
    from harness.summary import summary_lines

    rec = train_here(tmp_path, *SMALL, "optimizer.lr=1e-7", "trainer.max_steps=10", "trainer.val_check_interval=5")
    assert summary_lines(rec)[0].endswith("budget (10 steps); it never left the memoryless baseline")


def _stops(stop, values) -> list[bool]:
    import torch

    stop._patience_open = True
    return [stop._evaluate_stopping_criteria(torch.tensor(v))[0] for v in values]


def test_a_run_closing_in_on_the_solve_threshold_in_small_steps_is_not_a_plateau():
    """Copy's GRU at T = 32 stopped at 0.989, 0.981 and 0.987 under min_delta 0.01 alone, its error
    falling by a fifth to two fifths in each patience window: with min_error_drop, a gain counts when
    it shrinks the error 1 - acc by that fraction, so such a run goes on; a stalled one still stops;
    and below 1 - min_delta / min_error_drop (here 0.9) nothing changes."""
    from harness.stopping import early_stopping

    closing = [0.95, 0.955, 0.96, 0.964, 0.968, 0.971, 0.974]     # gains of 0.003-0.005
    stalled = [0.95, 0.955, 0.953, 0.956, 0.954]                 # the error moves by < 10 %
    far = [0.5, 0.505, 0.51, 0.515]                              # below 0.9: min_delta decides
    for values, old, new in ((closing, True, False), (stalled, True, True), (far, True, True)):
        absolute = early_stopping(CopyTask(delay=4), patience=2, min_delta=0.01, on_solve=True, warmup=0.0)
        drop = early_stopping(CopyTask(delay=4), patience=2, min_delta=0.01, on_solve=True, warmup=0.0,
                              min_error_drop=0.1)
        assert any(_stops(absolute, values)) is old and any(_stops(drop, values)) is new, values


def test_min_error_drop_is_for_a_score_bounded_by_one_and_part_of_identity_only_once_set():
    from common.config import ConfigError
    from harness.compose import compose_run
    from harness.identity import identity_config, run_key
    from harness.stopping import early_stopping

    with pytest.raises(ConfigError, match="stop.min_error_drop=0.1: .* task teacher monitors loss"):
        early_stopping(TeacherTask(nu0=0.5), patience=1, min_delta=None, on_solve=False, warmup=0.0,
                       min_error_drop=0.1)
    with pytest.raises(ConfigError, match="a fraction in"):
        early_stopping(CopyTask(delay=4), patience=1, min_delta=None, on_solve=False, warmup=0.0, min_error_drop=1.5)
    plain, _ = compose_run(["model=lru", "task=copy"])
    unset, _ = compose_run(["model=lru", "task=copy", "stop.min_error_drop=null"])
    drop, _ = compose_run(["model=lru", "task=copy", "stop.min_error_drop=0.1"])
    assert "min_error_drop" not in identity_config(plain)["stop"] and run_key(plain) == run_key(unset)
    assert identity_config(drop)["stop"]["min_error_drop"] == 0.1 and run_key(drop) != run_key(plain)


def test_where_the_images_are_read_from_is_not_part_of_a_runs_identity():
    """A published sMNIST run keeps its key (and its setting on the page) on a machine that keeps MNIST
    elsewhere, and equals a run that found its data through the environment (task.data_dir unset)."""
    from common.selection import setting_of
    from harness.compose import compose_run
    from harness.identity import identity_config, run_key

    here, _ = compose_run(["experiment=leaderboard/smnist", "model=lru", "task.data_dir=/work/shared/data/mnist"])
    there, _ = compose_run(["experiment=leaderboard/smnist", "model=lru", "task.data_dir=/elsewhere/mnist"])
    unset, _ = compose_run(["experiment=leaderboard/smnist", "model=lru", "task.data_dir=null"])
    other, _ = compose_run(["experiment=leaderboard/smnist", "model=lru", "task.data_dir=/elsewhere/mnist",
                            "task.readout=last"])
    assert identity_config(here)["task"]["data_dir"] is None
    assert run_key(here) == run_key(there) == run_key(unset) != run_key(other)
    record = {"config": OmegaConf.to_container(here, resolve=True)}
    assert setting_of(record) == setting_of({"config": OmegaConf.to_container(there, resolve=True)})
    assert record["config"]["task"]["data_dir"] == "/work/shared/data/mnist"   # the record keeps where


def test_a_record_names_the_commit_its_code_was_imported_from(tmp_path):
    """A sweep runs for hours; a pull into its tree moves HEAD. The record names the commit the
    process imported, clean while the files of its code are unchanged since, `-dirty` otherwise."""
    from common.provenance import git_commit, head

    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "model.py").write_text("x = 1\n")
    (tmp_path / "notes.md").write_text("a\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "a")
    loaded = head(tmp_path)
    sha = loaded[0]
    assert git_commit(loaded, ["model.py"], tmp_path) == sha
    (tmp_path / "notes.md").write_text("b\n")            # a pull that touches no code
    _git(tmp_path, "commit", "-q", "-am", "docs")
    assert head(tmp_path)[0] != sha and git_commit(loaded, ["model.py"], tmp_path) == sha
    (tmp_path / "model.py").write_text("x = 2\n")         # an edit to the code that ran
    assert git_commit(loaded, ["model.py"], tmp_path) == sha + "-dirty"
    _git(tmp_path, "commit", "-q", "-am", "code")          # the same, committed
    assert git_commit(loaded, ["model.py"], tmp_path) == sha + "-dirty"
    (tmp_path / "new.py").write_text("y = 1\n")           # code in no commit
    assert git_commit(head(tmp_path), ["new.py"], tmp_path).endswith("-dirty")
    assert git_commit((sha, True), ["notes.md"], tmp_path) == sha + "-dirty"   # a tree dirty at import


def test_a_published_run_refuses_to_start_when_its_code_moved_since_the_process_imported_it(tmp_path, monkeypatch):
    import common.provenance

    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "task.yaml").write_text("delay: 4\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "a")
    monkeypatch.setattr(common.provenance, "LOADED_ROOT", tmp_path)
    monkeypatch.setattr(common.provenance, "LOADED", common.provenance.head(tmp_path))
    assert publishable_commit(tmp_path) == common.provenance.LOADED[0]
    (tmp_path / "conf" / "task.yaml").write_text("delay: 8\n")
    _git(tmp_path, "commit", "-q", "-am", "b")            # pulled into the tree while a sweep ran
    with pytest.raises(UserError, match=r"this process imported [0-9a-f]{12} and conf/task.yaml changed since; "
                                        r"start the sweep again"):
        publishable_commit(tmp_path)


def test_the_code_of_a_process_is_its_project_modules_and_configs(monkeypatch):
    import sys
    import types

    from common.provenance import ROOT, source_files

    bare = types.ModuleType("bare_ops")
    bare.__file__ = "_ops.py"    # as some extension modules name theirs: not a file of the project
    monkeypatch.setitem(sys.modules, "bare_ops", bare)
    files = source_files()
    assert "conf" in files and "common/provenance.py" in files and "_ops.py" not in files
    assert not any(f.startswith(".venv") for f in files)
    # each module's file is resolved once per process (common/provenance.py): one imported after an
    # earlier call still counts, and one that left sys.modules no longer does
    late = types.ModuleType("late_project_module")
    late.__file__ = str(ROOT / "tasks" / "late_project_module.py")
    monkeypatch.setitem(sys.modules, "late_project_module", late)
    assert "tasks/late_project_module.py" in source_files()
    monkeypatch.delitem(sys.modules, "late_project_module")
    assert "tasks/late_project_module.py" not in source_files() and source_files() == files
