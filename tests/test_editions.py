"""python -m leaderboard.editions: each edition's horizon, state, rate and reference per (curve, model),
computed by the page's code on each edition's records; a change of horizon is marked."""
from __future__ import annotations

import subprocess

import pytest

from common.record_io import write_record
from leaderboard.editions import main, records_at
from tests.test_lr_rules import rec


def _curve(tmp_path, name, schema, solved_up_to, state, lr=1e-3, model="lru"):
    folder = tmp_path / name
    for T in (4, 8, 16):
        for seed in range(3):
            r = rec(T, lr, seed, T <= solved_up_to, schema=schema, state=2 * state, model=model)
            r["config"]["model"]["n_layers"] = 2
            r["run_id"] += f"-{schema}"
            write_record(r, folder)
    return folder


def test_a_changed_horizon_is_marked_beside_state_rate_and_how_the_runs_past_it_ended(tmp_path, capsys):
    before = _curve(tmp_path, "old", 2, solved_up_to=4, state=64)
    after = _curve(tmp_path, "new", 3, solved_up_to=8, state=256, lr=3e-3)
    _curve(tmp_path, "new", 3, solved_up_to=8, state=256, model="gru")
    _curve(tmp_path, "old", 2, solved_up_to=8, state=128, model="gru")
    assert main(["--old", str(before), "--results", str(after)]) == 0
    lines = capsys.readouterr().out.splitlines()
    lru = next(line for line in lines if "| lru |" in line)
    assert "| 4 → 8 **changed** | 64 → 256 | 0.001 → 0.003 |" in lru
    assert "T = 8: 3 plateaued" in lru and lru.endswith("| T = 16: 3 plateaued |")
    gru = next(line for line in lines if "| gru |" in line)
    assert "| 8 → 8 | 128 → 256 |" in gru and "changed" not in gru


def test_the_older_edition_is_read_from_a_commit(tmp_path, capsys, monkeypatch):
    repo = tmp_path / "repo"
    _curve(tmp_path, "repo/leaderboard/results", 2, solved_up_to=4, state=64)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    for step in (["init", "-q"], ["add", "."], ["commit", "-qm", "second edition"]):
        subprocess.run([*git, *step], check=True)
    after = _curve(tmp_path, "new", 3, solved_up_to=8, state=256)
    monkeypatch.chdir(repo)
    assert main(["--before", "HEAD", "--results", str(after)]) == 0
    assert "| 4 → 8 **changed** |" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="cannot read leaderboard/results at 'no-such-commit'"):
        main(["--before", "no-such-commit", "--results", str(after)])


# a commit of this repository's history whose records hold a third-edition copy curve (6000-step cap)
THIRD_EDITION_COPY = "b3fce8701446a0b493505661ef52893ecdbb5a3c"


def test_the_default_older_edition_is_the_last_commit_with_every_second_edition_record(tmp_path, capsys):
    after = records_at(THIRD_EDITION_COPY, tmp_path)                  # this repository's own history
    assert main(["--results", str(after)]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line for line in out if line.startswith("| copy loss=all |")]
    # the second edition ran every model on copy, so each row rerun has a horizon before
    assert len(rows) == 7 and all(not row.split("|")[3].strip().startswith(("·", "–")) for row in rows)
    # the word problem is new in the third edition: its rows are marked new, not changed
    new = [line for line in out if line.startswith("| word_problem")]
    assert new and all("(new)" in row and "changed" not in row for row in new)
