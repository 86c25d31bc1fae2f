"""No finished result is lost or mislabelled: a full disk, a checkpoint of another run, a
damaged checkpoint, a name that cannot be a file name, a path that looks like markup, a
value of the wrong type, a hostile name on the pages. Each case ends in one line that says
what to do, and a finished run's metrics and verdict always reach the user.

Most cases run in-process (harness.run.train on a composed config, or the check itself);
the real entry point (tests.helpers.cli_here) only where the subject is what the command prints."""
from __future__ import annotations

import errno
import fcntl
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from rich.console import Console

from common.config import ConfigError
from common.record_io import read_records
from harness import checkpointing, checks, saving
from harness.cli import check_overrides, normalise_overrides
from harness.compose import compose_run
from harness.identity import run_key
from harness.run import complete_defaults, instantiate_checked, train
from harness.summary import print_summary
from tests.helpers import ROOT, cli_here, records

TINY = ["debug=fast", "task.delay=10", "model.d_model=16", "model.n_layers=1", "threads=1", "sensitivity.enabled=false"]
HOSTILE = "<img src=x onerror=alert(1)>[click](javascript:alert(1))"


def run_here(base: Path, *overrides: str, results: Path | None = None, ck: Path | None = None):
    """One tiny run in this process; its record, checkpoints and logs under `base`."""
    cfg, published = compose_run([*TINY, f"results_dir={results or base / 'r'}", f"checkpoint_dir={ck or base / 'ck'}",
                                  *overrides])
    return train(cfg, output_dir=str(base / "o"), published=published)


@pytest.fixture(scope="module")
def lru_run(tmp_path_factory) -> tuple[Path, dict]:
    """One finished LRU run at lr 0.003: (its folder, its record); checkpoints in folder/ck."""
    base = tmp_path_factory.mktemp("lru")
    record, _ = run_here(base, "optimizer.lr=0.003")
    return base, record


def _ckpt_dir(base: Path) -> Path:
    (folder,) = [p for p in (base / "ck").iterdir() if p.is_dir()]  # beside it: the run's lock file
    return folder


# -- 1: a full results disk --------------------------------------------------------------

def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_results_disk_keeps_the_summary_and_the_record_and_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(saving, "write_record", _no_space)
    with pytest.raises(saving.RecordNotSaved) as caught:
        run_here(tmp_path)
    message = str(caught.value)
    kept = tmp_path / "o" / saving.KEPT_NAME
    assert "\n" not in message
    assert message.startswith(f"no space left on device writing {tmp_path / 'r'}/copy-lru-s0-")
    assert f"the record is kept in {kept}" in message and f"python -m harness.saving {kept}" in message
    assert "df -h" in message  # where to free space
    out = capsys.readouterr().out
    assert "lru on copy [T=10,loss=all] seed 0: ok" in out and "  test   acc=" in out
    assert "record: NOT WRITTEN" in out
    log = (tmp_path / "o" / "train.log").read_text()
    assert "seed 0: ok" in log and "  test   acc=" in log
    kept_record = json.loads(kept.read_text())
    assert kept_record["status"] == "ok" and kept_record["metrics"]["test"]

    monkeypatch.undo()
    assert saving.main([str(kept)]) == 0
    (installed,) = [r for r in read_records(tmp_path / "r")]
    assert installed["metrics"] == kept_record["metrics"] and installed["outcome"] == kept_record["outcome"]


def test_when_the_log_folder_is_full_too_the_record_is_printed(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(saving, "write_record", _no_space)
    monkeypatch.setattr(saving, "write_json_atomic", _no_space)
    with pytest.raises(saving.RecordNotSaved) as caught:
        saving.save_record(_summary_record(), tmp_path / "r", tmp_path / "o")
    out = capsys.readouterr().out
    assert "acc=0.5" in out
    printed = out.split(saving.JSON_START, 1)[1].split(saving.JSON_END, 1)[0]
    assert json.loads(printed)["metrics"] == {"test": {"acc": 0.5}}
    assert "printed above" in str(caught.value) and "python -m harness.saving FILE" in str(caught.value)


def _mount_tmpfs(mnt: Path, size: str) -> None:
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")


def _summary_record() -> dict:
    return {"model": {"name": "lru"}, "task": {"name": "copy", "variant": "T=10", "baselines": {}}, "seed": 0,
            "run_id": "x", "status": "ok", "outcome": "budget", "steps": 20, "metrics": {"test": {"acc": 0.5}},
            "cost": {"wall_s": 1.0, "tokens_per_s": 10.0, "device": "cpu"}, "_path": None}


@pytest.mark.parametrize("code, reason, remedy", [
    (errno.ENAMETOOLONG, "file name too long", "shorten model.name"),
    (errno.EACCES, "permission denied", "writable (or install into another folder with --results DIR)"),
])
def test_other_write_failures_name_their_cause_and_remedy(code, reason, remedy, tmp_path, monkeypatch, capsys):
    def refuses(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(saving, "write_record", refuses)
    with pytest.raises(saving.RecordNotSaved) as caught:
        saving.save_record(_summary_record(), tmp_path / "r", tmp_path / "o")
    assert str(caught.value).startswith(f"{reason} writing {tmp_path / 'r' / 'copy-lru-s0-x.json'}")
    assert remedy in str(caught.value) and (tmp_path / "o" / saving.KEPT_NAME).exists()
    assert "acc=0.5" in capsys.readouterr().out


def test_installing_something_that_is_not_a_record_is_one_line(tmp_path, capsys):
    bad = tmp_path / "record.json"
    bad.write_text(json.dumps({"schema": 2, "run_id": "x"}))
    assert saving.main([str(bad), "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {bad}: not a record the leaderboard can read (")
    assert not (tmp_path / "r").exists()


@pytest.fixture
def full_tmpfs(tmp_path):
    """A 64 KiB tmpfs filled up (root only)."""
    mnt = tmp_path / "full"
    _mount_tmpfs(mnt, "64k")
    try:
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 1024):
                pass
        except OSError:
            pass  # full
        finally:
            os.close(fd)
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 200 KiB tmpfs: room for two checkpoints of the tiny run (about 89 KB each), not three."""
    mnt = tmp_path / "small"
    _mount_tmpfs(mnt, "200k")
    try:
        yield mnt
    finally:  # "target is busy" here would mean the finished run still holds a file open on it
        assert subprocess.run(["umount", str(mnt)], capture_output=True).returncode == 0


def test_full_disk_on_the_command_line_prints_the_summary_and_one_error_line(full_tmpfs, tmp_path):
    out = cli_here(*TINY, f"results_dir={full_tmpfs / 'results'}", f"checkpoint_dir={tmp_path / 'ck'}",
                    f"hydra.run.dir={tmp_path / 'o'}")
    errors = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-3000:]
    assert len(errors) == 1 and errors[0].startswith(f"error: no space left on device writing {full_tmpfs}/results/")
    assert f"free space on {full_tmpfs}" in errors[0] and "python -m harness.saving" in errors[0]
    assert "seed 0: ok" in out.stdout and "  test   acc=" in out.stdout
    log = (tmp_path / "o" / "train.log").read_text()
    assert "  test   acc=" in log and errors[0] in log
    assert json.loads((tmp_path / "o" / saving.KEPT_NAME).read_text())["status"] == "ok"


# -- 2: a full checkpoint disk -----------------------------------------------------------

def test_full_checkpoint_disk_on_the_command_line_is_one_line(small_tmpfs, tmp_path):
    out = cli_here(*TINY, f"results_dir={tmp_path / 'r'}", f"checkpoint_dir={small_tmpfs}",
                    f"hydra.run.dir={tmp_path / 'o'}")
    errors = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert out.returncode == 2 and "Traceback" not in out.stdout + out.stderr, out.stderr[-3000:]
    (folder,) = [p for p in small_tmpfs.iterdir() if p.is_dir()]
    assert errors == [f"error: no space left on device writing {folder / 'step=20.ckpt'}: free space on {small_tmpfs} "
                      f"(df -h {small_tmpfs}) or choose another checkpoint_dir=; the previous checkpoint "
                      f"{folder / 'last.ckpt'} is intact; resume with the same command plus resume=auto"]
    assert sorted(p.name for p in folder.iterdir()) == ["last.ckpt", "step=10.ckpt"]


def test_full_checkpoint_disk_is_one_line_and_leaves_no_truncated_checkpoint(tmp_path, monkeypatch):
    import lightning.fabric.plugins.io.torch_io as torch_io

    real, calls = torch_io._atomic_save, []

    def fills_up(checkpoint, path):
        calls.append(path)
        if len(calls) < 3:
            return real(checkpoint, path)
        Path(path).write_bytes(b"PK\x03\x04 half a checkpoint")  # what a full disk leaves behind
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch_io, "_atomic_save", fills_up)
    with pytest.raises(checkpointing.CheckpointNotSaved) as caught:
        run_here(tmp_path)
    message = str(caught.value)
    folder = _ckpt_dir(tmp_path)
    assert "\n" not in message and message.startswith(f"no space left on device writing {folder / 'step=20.ckpt'}")
    assert f"the previous checkpoint {folder / 'last.ckpt'} is intact" in message and "resume=auto" in message
    assert sorted(p.name for p in folder.iterdir()) == ["last.ckpt", "step=10.ckpt"]  # no partial file, no temp
    for p in folder.iterdir():
        assert checkpointing.load(p)["global_step"] == 10


# -- 3, 4, 5: resuming ---------------------------------------------------------------------

def test_resume_with_another_learning_rate_is_refused(lru_run, tmp_path):
    base, _ = lru_run
    last = _ckpt_dir(base) / "last.ckpt"
    with pytest.raises(ConfigError) as caught:
        run_here(tmp_path, f"resume={last}", "optimizer.lr=0.0003")
    message = str(caught.value)
    assert "\n" not in message and "belongs to another run, copy-lru-" in message
    assert "optimizer.lr=0.003 there, 0.0003 here" in message and f"resume=finetune:{last}" in message
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").glob("*.json"))


def test_finetune_records_both_runs_under_a_key_of_its_own(lru_run, tmp_path):
    base, source = lru_run
    last = _ckpt_dir(base) / "last.ckpt"
    record, parts = run_here(tmp_path, f"resume=finetune:{last}", "optimizer.lr=0.0003")
    assert record["config"]["optimizer"]["lr"] == 0.0003
    assert record["finetuned_from"]["run_key"] == source["run_key"]
    assert record["finetuned_from"]["differs"]["optimizer.lr"] == [0.003, 0.0003]
    scratch_key = run_key(compose_run([*TINY, "optimizer.lr=0.0003"])[0])
    assert record["run_key"] not in (source["run_key"], scratch_key)  # a sweep at 0.0003 still runs
    assert record["steps"] == 20  # a fresh step count: the checkpoint's optimizer state did not win
    assert max(g["initial_lr"] for g in parts["trainer"].optimizers[0].param_groups) == pytest.approx(0.0003)
    assert record["run_key"] in record["paths"]["checkpoints"]


def test_resume_with_another_model_names_the_run_it_belongs_to(lru_run, tmp_path):
    base, source = lru_run
    folder = _ckpt_dir(base)
    with pytest.raises(ConfigError) as caught:
        run_here(tmp_path, f"resume={folder / 'last.ckpt'}", "model=rnn")
    message = str(caught.value)
    assert "\n" not in message and f"belongs to another run, {folder.name}" in message
    assert "model.name=lru there, rnn here" in message


def test_an_old_checkpoint_without_identity_is_checked_by_its_weights_and_learning_rate(lru_run, tmp_path):
    base, _ = lru_run
    ckpt = torch.load(_ckpt_dir(base) / "last.ckpt", weights_only=False)
    del ckpt[checkpointing.IDENTITY_KEY]  # as written before checkpoints carried one
    old = tmp_path / "old.ckpt"
    torch.save(ckpt, old)
    with pytest.raises(ConfigError, match="weights do not fit this model"):
        run_here(tmp_path, f"resume={old}", "model=rnn")
    with pytest.raises(ConfigError, match=r"other learning rates \(decay group: lr 0.003 there, 0.0003 here"):
        run_here(tmp_path, f"resume={old}", "optimizer.lr=0.0003")
    record, _ = run_here(tmp_path, f"resume={old}", "optimizer.lr=0.003")  # its own run resumes
    assert record["resumed_from"] == str(old)


def _copy_with_truncated_last(base: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "ck" / _ckpt_dir(base).name
    shutil.copytree(_ckpt_dir(base), folder)
    last = folder / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])
    os.utime(last, (os.path.getmtime(folder / "step=20.ckpt") + 10,) * 2)
    return folder


def test_truncated_last_checkpoint_resume_auto_falls_back_and_says_so(lru_run, tmp_path, caplog):
    base, source = lru_run
    folder = _copy_with_truncated_last(base, tmp_path)
    caplog.set_level("WARNING", logger="harness")
    record, _ = run_here(tmp_path, "resume=auto", "optimizer.lr=0.003")
    warning = next(r.getMessage() for r in caplog.records if "unreadable" in r.getMessage())
    assert str(folder / "last.ckpt") in warning and str(folder / "step=20.ckpt") in warning
    assert record["resumed_from"] == str(folder / "step=20.ckpt")
    assert record["steps"] == 20 and record["metrics"]["test"]


def test_truncated_checkpoint_named_explicitly_points_at_the_intact_one(lru_run, tmp_path):
    base, _ = lru_run
    folder = _copy_with_truncated_last(base, tmp_path)
    with pytest.raises(ConfigError) as caught:
        run_here(tmp_path, f"resume={folder / 'last.ckpt'}", "optimizer.lr=0.003")
    message = str(caught.value)
    assert "\n" not in message and f"{folder / 'last.ckpt'} is unreadable" in message
    assert f"'resume=\"{folder / 'step=20.ckpt'}\"'" in message  # quoted: Hydra refuses an unquoted '='
    assert check_overrides([f"resume=\"{folder / 'step=20.ckpt'}\""]) is None


def test_a_second_live_run_of_the_same_identity_is_refused_its_checkpoints(tmp_path):
    folder = tmp_path / "ck" / "copy-lru-abc-s0"
    folder.mkdir(parents=True)
    (folder / "step=10.ckpt").write_bytes(b"the first run's")
    lock = os.open(tmp_path / "ck" / ".copy-lru-abc-s0.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the first run, still training
        os.write(lock, b"4242")
        with pytest.raises(ConfigError, match=r"another run of this identity \(pid 4242\) is using"):
            checkpointing.claim(folder, fresh=True)
        assert (folder / "step=10.ckpt").exists()
    finally:
        os.close(lock)
    (folder / ".tmp-4242-step=20.ckpt.part").write_bytes(b"killed while writing")
    checkpointing.claim(folder, fresh=False)  # the first run is over: resuming keeps its checkpoints...
    assert sorted(p.name for p in folder.iterdir()) == ["step=10.ckpt"]  # ...but not its half-written one
    checkpointing.claim(folder, fresh=True)  # a fresh run supersedes it
    assert not folder.exists()


def test_a_finished_run_releases_its_checkpoint_folder(lru_run):
    base, _ = lru_run
    folder = _ckpt_dir(base)
    fd = os.open(folder.parent / f".{folder.name}.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError while a run holds it
    finally:
        os.close(fd)


# -- 6, 7, 8: names that become file names ------------------------------------------------

@pytest.mark.parametrize("name, fragment", [
    ("a/b", "contains '/'"),
    ("x" * 230, "is 230 bytes long"),
    ("x" * 300, "is 300 bytes long"),
])
def test_names_that_cannot_be_file_names_fail_before_training(name, fragment):
    overrides = normalise_overrides([f"model.name={name}"])
    problem = check_overrides(overrides)
    assert problem and problem.startswith("model.name") and fragment in problem and "\n" not in problem
    cfg, _ = compose_run([f"model.name={name}"])
    with pytest.raises(ConfigError, match=fragment):
        checks.check_run_keys(cfg)  # for callers of harness.run.train, which skip the command-line guard


def test_a_300_character_name_is_one_line_on_the_command_line(run_dirs, tmp_path):
    out = cli_here("model.name=" + "x" * 300, *TINY, *run_dirs)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2 and len(lines) == 1 and "is 300 bytes long" in lines[0], out.stderr[-2000:]
    assert not (tmp_path / "out").exists()


# -- 9: paths that look like markup -------------------------------------------------------

def test_summary_prints_paths_and_names_verbatim(tmp_path):
    record = {"model": {"name": "lru[bold]"}, "task": {"name": "copy", "variant": "T=10", "baselines": {}}, "seed": 0,
              "status": "ok", "outcome": "budget", "steps": 20, "metrics": {"test": {"acc": 0.5}},
              "cost": {"wall_s": 1.0, "tokens_per_s": 10.0, "device": "cpu"},
              "paths": {"logs": "DIR/rb[/x]/o", "checkpoints": "DIR/[click]/ck"}, "_path": "DIR/rb[/x]/r.json"}
    buf = io.StringIO()
    print_summary(record, Console(file=buf, width=300), log_dir=tmp_path)
    for text in (buf.getvalue(), (tmp_path / "train.log").read_text()):
        assert "lru[bold] on copy" in text
        assert "logs: DIR/rb[/x]/o  checkpoints: DIR/[click]/ck" in text and "record: DIR/rb[/x]/r.json" in text


# -- 10, 11: values Lightning accepts but that spoil a run --------------------------------

def test_more_threads_than_cores_is_refused():
    cfg, _ = compose_run(["threads=999"])
    with pytest.raises(ConfigError, match=rf"threads=999: only {checks.usable_cores()} CPU cores here"):
        checks.check_run_keys(cfg)


def test_validation_interval_beyond_the_step_cap_is_refused():
    cfg, _ = compose_run(["trainer.max_steps=10", "trainer.val_check_interval=50"])
    with pytest.raises(ConfigError, match="no validation would run; use trainer.val_check_interval=10"):
        checks.check_run_keys(cfg)
    checks.check_run_keys(compose_run(["trainer.max_steps=50", "trainer.val_check_interval=50"])[0])


def test_negative_gradient_clip_is_refused():
    cfg, _ = compose_run(["trainer.gradient_clip_val=-1"])
    with pytest.raises(ConfigError, match="gradient_clip_val=-1"):
        checks.check_run_keys(cfg)


def test_fp16_on_a_cpu_is_recorded_as_the_bf16_that_runs():
    cfg, _ = compose_run(["trainer.precision=16-mixed", "trainer.accelerator=cpu"])
    checks.settle_precision(cfg.trainer)
    assert cfg.trainer.precision == "bf16-mixed"


# -- 12, 13: the reason for a refused value -----------------------------------------------

@pytest.mark.parametrize("override, expected", [
    ("seed=1.5", "seed=1.5: seed must be an integer"),
    ("threads=abc", "threads=abc: threads must be an integer (or null)"),
    ("stop.patience=x", "stop.patience=x: stop.patience must be an integer (or null)"),
    ("track=tpu", "track=tpu: track must be one of cpu, gpu"),
    ("force=maybe", "force=maybe: force must be true or false"),
])
def test_a_value_of_the_wrong_type_says_what_the_key_takes(override, expected):
    assert check_overrides([override]) == expected


def test_an_unquoted_accented_path_gets_a_hint_to_quote_it(tmp_path):
    value = f"{tmp_path}/rünï"
    problem = check_overrides([f"results_dir={value}"])
    assert problem == (f"cannot parse results_dir={value}: quote the value, e.g. 'results_dir=\"{value}\"' "
                       f"(the shell needs the outer quotes, Hydra the inner ones)")
    assert check_overrides([f'results_dir="{value}"']) is None  # the hint works


# -- 14: the memory hint ------------------------------------------------------------------

def _memory_message(monkeypatch, *overrides: str) -> str:
    cfg, _ = compose_run(list(overrides))
    complete_defaults(cfg)
    task = instantiate_checked(cfg.task, "task", {"seed": 0})
    monkeypatch.setattr(checks, "available_memory_bytes", lambda: 2**20)
    with pytest.raises(ConfigError) as caught:
        checks.check_memory(task, cfg.model)
    return str(caught.value)


def test_memory_hint_names_the_state_when_it_dominates(monkeypatch):
    message = _memory_message(monkeypatch, "model.d_state=100000")
    hint = message.split("available; ", 1)[1]
    assert hint.startswith("lower model.d_state") and "n_val" not in hint


def test_memory_hint_names_the_evaluation_sets_when_they_dominate(monkeypatch):
    message = _memory_message(monkeypatch, "task.n_val=100000", "task.n_test=100000", "task.batch_size=1",
                              "model.d_model=8", "model.n_layers=1")
    assert message.split("available; ", 1)[1].startswith("lower task.n_val / task.n_test")


# -- 15: hostile names on the pages -------------------------------------------------------

def _hostile_records(directory: Path) -> None:
    directory.mkdir()
    published = sorted((ROOT / "leaderboard" / "results").glob("*.json"))
    curve = json.loads(next(p for p in published if p.name.startswith("copy-")).read_text())
    # a memory curve's record, and the same run as an image table's (no axis), whatever the results hold
    table = {**curve, "run_id": "sfmnist-" + curve["run_id"],
             "task": {k: v for k, v in curve["task"].items() if k not in ("axis", "curve")}}
    table["task"].update(name="sfmnist", variant="sfmnist,readout=mean")
    for rec in (curve, table):
        rec["model"]["name"] = HOSTILE
        rec["cost"]["device"] = "<b>cpu</b> *x* `y` http://evil.example"
        rec["metrics"]["test"]["<script>alert(1)</script>"] = 0.5
        (directory / f"{rec['run_id']}.json").write_text(json.dumps(rec))


def _assert_inert(page: str) -> None:
    for raw in ("<img", "<script", "<b>", "[click]", "http://evil"):
        assert raw not in page, raw
    assert not re.search(r"(?<!\\)\]\(", page), "an unescaped link"
    assert "&lt;img src=x onerror=alert(1)&gt;\\[click\\](javascript:alert(1))" in page


def test_hostile_names_in_records_are_escaped_on_the_page(tmp_path):
    from leaderboard.build import build

    _hostile_records(tmp_path / "r")
    build(tmp_path / "r", tmp_path / "README.md")
    page = (tmp_path / "README.md").read_text()
    _assert_inert(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;cpu&lt;/b&gt; \\*x\\* \\`y\\`" in page


def test_a_hostile_name_given_on_the_command_line_is_inert_on_the_page(run_dirs, tmp_path):
    from leaderboard.build import build

    out = cli_here(f'model.name="{HOSTILE}"', *TINY, *run_dirs)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"{HOSTILE} on copy" in out.stdout  # the summary prints it as typed
    (rec,) = records(tmp_path / "results")
    assert rec["model"]["name"] == HOSTILE
    build(tmp_path / "results", tmp_path / "page.md")
    _assert_inert((tmp_path / "page.md").read_text())


def test_escaping_leaves_the_published_page_as_it_is(tmp_path, monkeypatch):
    """The published names are benign: escaping them changes no byte of the page."""
    import leaderboard.render as render
    import leaderboard.render_curves as render_curves
    from leaderboard.build import build

    build(ROOT / "leaderboard" / "results", tmp_path / "escaped.md", published=True)
    for module in (render, render_curves):
        monkeypatch.setattr(module, "md", str)
        monkeypatch.setattr(module, "code", lambda text: f"`{text}`")
    build(ROOT / "leaderboard" / "results", tmp_path / "raw.md", published=True)
    assert (tmp_path / "escaped.md").read_text() == (tmp_path / "raw.md").read_text()
