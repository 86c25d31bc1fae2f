"""The builder's command line and its robustness: records of an unexpected shape are skipped
with one line, only the published records refresh the committed pages, a missing directory
is a one-line error, and building imports neither torch nor lightning."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.record_io import write_record
from leaderboard.build import build, collect
from tests.test_leaderboard import rec
from tests.test_leaderboard_curves import crec, write_all

ROOT = Path(__file__).resolve().parent.parent
MARKED = "# Project\n\n<!-- headline:start -->\nold\n<!-- headline:end -->\n"


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m leaderboard` in `cwd` (its defaults are relative to the working directory)."""
    code = ("import sys, runpy; sys.argv = ['leaderboard', *sys.argv[1:]]\n"
            "try:\n    runpy.run_module('leaderboard', run_name='__main__')\n"
            "finally:\n    heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'lightning'})\n"
            "    print('heavy imports:', heavy, file=sys.stderr)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def project(tmp_path: Path) -> Path:
    """A working directory shaped like the repository: published records, pages, README."""
    (tmp_path / "leaderboard").mkdir()
    for s in range(2):
        write_record(rec("lru", 1e-3, s, 0.9, 0.8), tmp_path / "leaderboard" / "results")
    (tmp_path / "leaderboard" / "README.md").write_text("committed page\n")
    (tmp_path / "README.md").write_text(MARKED)
    return tmp_path


@pytest.mark.parametrize("field, value, reason", [
    ("metrics.test", [0.1], "field metrics.test should be an object of numbers or nulls, not a list"),
    ("task", "copy", 'field task should be an object, not "copy"'),
    ("model.name", None, "field model.name is null"),
    ("seed", 1.5, "field seed should be an integer, not 1.5"),
    ("status", "done", 'field status should be one of ok, diverged, failed, not "done"'),
    ("config.optimizer", 3, "field config.optimizer should be an object, not 3"),
    ("task.axis", {"name": "T", "key": "task.delay"}, "missing field task.axis.value"),
    ("outcome", "maybe", 'field outcome should be one of solved, plateaued, budget, complete, not "maybe"'),
    ("schema", 4, "schema 4 is newer than the schemas this builder reads (1, 2, 3)"),
    ("schema", "1", 'schema "1" is not one of the schemas this builder reads (1, 2, 3)'),
])
def test_a_record_of_an_unexpected_shape_is_skipped_with_the_field_named(tmp_path, field, value, reason):
    good = crec("lru", 64, 0, 0.95)
    bad = crec("lru", 64, 1, 0.95)
    *parents, leaf = field.split(".")
    node = bad
    for p in parents:
        node = node[p]
    node[leaf] = value
    write_record(good, tmp_path)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    data = collect(tmp_path)
    assert [(s.path, s.reason) for s in data.skipped] == [(path, reason)]
    assert len(data.records) == 1
    build(tmp_path, tmp_path / "lb.md")


def test_a_record_without_a_required_field_or_not_an_object_is_skipped(tmp_path):
    (tmp_path / "a.json").write_text("[1, 2]")
    (tmp_path / "b.json").write_text(json.dumps({k: v for k, v in rec("lru", 1e-3, 0, 0.5, 0.5).items() if k != "model"}))
    (tmp_path / "c.json").write_text("{not json")
    reasons = [s.reason for s in collect(tmp_path).skipped]
    assert reasons[:2] == ["not a JSON object but list", "missing field model"]
    assert reasons[2].startswith("not valid JSON")


def test_skipped_records_are_one_line_each_on_stderr_and_the_build_goes_on(tmp_path):
    root = project(tmp_path)
    results = root / "leaderboard" / "results"
    (results / "broken.json").write_text(json.dumps({**rec("lru", 1e-3, 5, 0.5, 0.5), "task": "copy"}))
    proc = cli(root, "--paper", "")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("skipped")]
    assert lines == [f"skipped {Path('leaderboard/results/broken.json')}: field task should be an object, not \"copy\""]
    assert "Traceback" not in proc.stderr and "from 2 records (1 skipped)" in proc.stdout


def test_published_build_refreshes_the_committed_pages(tmp_path):
    root = project(tmp_path)
    proc = cli(root, "--paper", "")
    assert proc.returncode == 0, proc.stderr
    assert "| lru | 4 | 10 | 0.800 ± 0 |" in (root / "README.md").read_text()  # beside state and params
    assert (root / "leaderboard" / "README.md").read_text().startswith("<!-- Generated")
    assert (root / "leaderboard" / "figures").is_dir()
    assert "heavy imports: []" in proc.stderr


def test_building_another_directory_never_touches_the_committed_pages(tmp_path):
    root = project(tmp_path)
    mine = root / "mine"
    write_record(rec("gru", 1e-3, 0, 0.5, 0.5), mine)
    proc = cli(root, "--results", "mine")
    assert proc.returncode == 0, proc.stderr
    assert (root / "README.md").read_text() == MARKED
    assert (root / "leaderboard" / "README.md").read_text() == "committed page\n"
    assert not (root / "leaderboard" / "figures").exists()
    assert "| gru |" in (mine / "README.md").read_text() and (mine / "figures").is_dir()
    # the page written beside the records is not read back as a record
    assert cli(root, "--results", "mine").returncode == 0


def test_a_missing_results_directory_is_a_one_line_error(tmp_path):
    root = project(tmp_path)
    proc = cli(root, "--results", "nowhere")
    assert proc.returncode == 2
    assert [line for line in proc.stderr.splitlines() if not line.startswith("heavy")] == [
        "python -m leaderboard: error: no results directory nowhere"]
    assert (root / "README.md").read_text() == MARKED


def test_help_imports_neither_torch_nor_lightning(tmp_path):
    proc = cli(tmp_path, "--help")
    assert proc.returncode == 0 and "--results" in proc.stdout
    assert "heavy imports: []" in proc.stderr


def test_records_a_sweep_did_not_write_stay_off_the_published_pages(tmp_path):
    write_record(crec("lru", 64, 0, 0.95), tmp_path)
    mine = crec("lru", 64, 1, 0.95)
    mine["published"] = False
    write_record(mine, tmp_path)
    assert len(collect(tmp_path).records) == 2
    published = collect(tmp_path, published=True)
    assert len(published.records) == 1 and "not written by a declared sweep" in published.skipped[0].reason


def test_the_project_readme_gets_the_sweeps_cost_table_between_its_markers(tmp_path):
    from leaderboard.build import update_project_readme

    readme = tmp_path / "README.md"
    readme.write_text(MARKED + "\n<!-- cost:start -->\nstale\n<!-- cost:end -->\ntail\n")
    records = [crec("lru", 64, s, 0.95) for s in range(3)]
    write_all(records, tmp_path / "r")
    assert update_project_readme(readme, collect(tmp_path / "r"))
    text = readme.read_text()
    assert "stale" not in text and text.endswith("<!-- cost:end -->\ntail\n")
    assert "| cpu | copy | 3 | 33 s | 12 s | 12 s |" in text and "Total cpu-track job time: 33 s over 3 runs" in text
