"""Published and personal results apart: a default run (what `make train` does) writes
into the git-ignored results/ and leaves the published records and pages untouched."""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from common.record import OUTCOMES, STATUSES, old
from leaderboard.sweeps import sweep_of
from tests.helpers import ROOT, cli_here, records

PUBLISHED = [ROOT / "leaderboard" / "results", ROOT / "leaderboard" / "README.md", ROOT / "README.md"]


def fingerprint() -> str:
    h = hashlib.sha1()
    for path in PUBLISHED:
        for f in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if f.is_file():
                h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def test_default_run_leaves_published_pages_unchanged(tmp_path: Path):
    before = fingerprint()
    personal = ROOT / "results"
    existing = set(personal.glob("*.json")) if personal.is_dir() else set()
    out = cli_here("debug=fast", "trainer.max_steps=2", "trainer.val_check_interval=2",
                   f"checkpoint_dir={tmp_path / 'ck'}", f"hydra.run.dir={tmp_path / 'out'}")
    assert out.returncode == 0, out.stderr[-2000:]
    new = set(personal.glob("*.json")) - existing
    try:
        assert len(new) == 1, "the default run's record goes to results/"
        assert records(personal) and not next(iter(new)).read_text().count('"published": true')
        subprocess.run(["git", "check-ignore", "-q", str(next(iter(new)))], cwd=ROOT, check=True)
        assert fingerprint() == before, "a default run changed the published records or pages"
    finally:
        for f in new:
            f.unlink()


def test_every_published_run_ends_in_a_verdict():
    """A finished run carries its outcome; a run that diverged or failed has none, its status is the verdict."""
    published = records(ROOT / "leaderboard" / "results")
    assert published
    for rec in published:
        if rec["status"] == "ok":
            assert rec.get("outcome") in OUTCOMES, rec["run_id"]
        else:
            assert rec["status"] in STATUSES and rec.get("outcome") is None, rec["run_id"]


def test_third_edition_records_name_a_clean_commit_on_main():
    """Published records of the fair protocol (schema >= 3) name the commit that made them: clean
    (no `-dirty`), present in this repository and on main, and carry their validation history.
    The second edition's records (schema <= 2) stay, marked as such on the page, until rerun."""
    for rec in records(ROOT / "leaderboard" / "results"):
        if rec.get("schema", 1) < 3:
            continue
        commit = rec.get("git_commit") or ""
        assert commit and not commit.endswith("-dirty"), (rec["run_id"], commit)
        on_main = subprocess.run(["git", "merge-base", "--is-ancestor", commit, "HEAD"], cwd=ROOT)
        assert on_main.returncode == 0, f"{rec['run_id']}: commit {commit} is not in this history"
        assert rec["status"] != "ok" or rec.get("history"), rec["run_id"]


def test_published_runs_keep_their_identity_under_todays_code():
    """A sweep skips a run whose identity (harness/identity.py) already has a record. A config key
    added with a default changes every identity unless it is left out while unset (common/keys.py:
    UNSET): stop.not_before, added without that, made a sweep rerun the LRU's 8,000-step MQAR run at
    S = 1024 it had published that morning. One record per (sweep, model): composed again from its
    sweep with its model, seed, axis value and rate, it must give the run key it was written with."""
    from harness.identity import run_key
    from harness.run import run_config

    first: dict[tuple, dict] = {}
    for rec in records(ROOT / "leaderboard" / "results"):
        if not old(rec) and rec.get("status") == "ok":
            first.setdefault((sweep_of(rec), rec["config"]["task"].get("group"), rec["model"]["name"]), rec)
    assert len(first) >= 30
    for (sweep, group, model), rec in first.items():
        cfg, axis = rec["config"], rec["task"].get("axis") or {}
        overrides = [f"experiment=leaderboard/{sweep}", f"model={model}", f"seed={cfg['seed']}",
                     *([f"{axis['key']}={axis['value']}"] if axis.get("key") else []),
                     *([f"task.group={group}"] if group else []),
                     # wherever this machine keeps the images: where they are read is not identity
                     *(["task.data_dir=/elsewhere/images"] if "data_dir" in cfg["task"] else [])]
        composed = run_config(overrides)
        composed.optimizer.lr = cfg["optimizer"]["lr"]  # the rate as run (not lr_index: grids grew, indices moved)
        assert run_key(composed) == rec["run_key"], (sweep, group, model, rec["run_id"])
