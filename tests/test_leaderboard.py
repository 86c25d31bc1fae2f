"""The leaderboard: selection on validation, honest aggregation, deterministic output."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from common.record_io import write_record
from common.selection import table_rows
from leaderboard.build import build

ROOT = Path(__file__).resolve().parent.parent


def rec(model: str, lr: float, seed: int, val: float, test: float, status: str = "ok", **model_opts) -> dict:
    return {
        "schema": 1, "run_id": f"{model}-{lr}-{seed}-{status}", "created": "", "seed": seed, "status": status,
        "model": {"name": model, "params": 10, "state_size": 4},
        "task": {"name": "copy", "variant": "T=10", "primary": "acc", "higher_is_better": True},
        "config": {"model": {"name": model, **model_opts}, "optimizer": {"lr": lr}, "seed": seed},
        "metrics": {"val": {"acc": val} if status == "ok" else {}, "test": {"acc": test} if status == "ok" else {}},
        "cost": {"tokens_per_s": 100.0, "device": "cpu"},
    }


def test_learning_rate_is_chosen_on_validation_not_test():
    records = [rec("lru", 1e-3, s, val=0.9, test=0.1) for s in range(3)]
    records += [rec("lru", 3e-3, s, val=0.5, test=0.99) for s in range(3)]
    (row,) = table_rows(records)
    assert row.lr == 1e-3 and row.mean_std("acc")[:2] == (0.1, 0.0) and row.mean_std("acc")[2] == 3


def test_learning_rates_are_compared_on_the_seeds_they_all_ran():
    """A grid on seed 0, then seeds 1 and 2 at the rate chosen there: weaker later seeds
    must not hand the choice to a rate that only ran the lucky seed."""
    records = [rec("lru", 1e-3, 0, val=0.80, test=0.8), rec("lru", 1e-2, 0, val=0.70, test=0.7)]
    records += [rec("lru", 1e-3, s, val=0.60, test=0.6) for s in (1, 2)]
    (row,) = table_rows(records)
    assert row.lr == 1e-3 and [r["seed"] for r in row.chosen] == [0, 1, 2]


def test_divergence_counts_against_its_learning_rate_and_is_reported():
    records = [rec("lru", 1e-2, 0, val=0.99, test=0.99), rec("lru", 1e-2, 1, 0, 0, status="diverged")]
    records += [rec("lru", 1e-3, s, val=0.6, test=0.6) for s in range(2)]
    (row,) = table_rows(records)
    assert row.lr == 1e-3 and row.diverged == 1


def test_seed_column_says_when_a_seed_at_the_chosen_learning_rate_diverged():
    from leaderboard.render import table

    records = [rec("lru", 1e-3, s, val=0.5, test=0.5) for s in range(2)] + [rec("lru", 1e-3, 2, 0, 0, status="diverged")]
    full = [rec("gru", 1e-3, s, val=0.5, test=0.5) for s in range(3)]
    lines = table(table_rows(records + full))
    cells = {line.split(" | ")[0].strip("| "): line.split(" | ")[2] for line in lines[2:]}
    assert cells == {"lru": "2/3", "gru": "3"}


def test_a_rerun_supersedes_its_earlier_record_instead_of_adding_a_seed():
    first = rec("lru", 1e-3, 0, val=0.2, test=0.2, status="diverged")
    first["created"] = "2026-01-01T00:00:00"
    again = rec("lru", 1e-3, 0, val=0.2, test=0.2, status="diverged")
    again["created"], again["run_id"] = "2026-01-02T00:00:00", "rerun"
    redone = rec("lru", 1e-3, 1, val=0.5, test=0.5)
    redone["created"] = "2026-01-03T00:00:00"
    older = rec("lru", 1e-3, 1, val=0.9, test=0.9)
    older["created"] = "2026-01-01T00:00:00"
    (row,) = table_rows([first, again, older, redone])
    assert row.diverged == 1 and row.mean_std("acc") == (0.5, 0.0, 1)


def test_settings_differing_in_model_options_are_separate_rows():
    records = [rec("lru", 1e-3, 0, 0.5, 0.5, param="exp"), rec("lru", 1e-3, 0, 0.4, 0.4, param="re_im")]
    rows = table_rows(records)
    assert sorted(r.label for r in rows) == ["lru (model.param=exp)", "lru (model.param=re_im)"]


def test_regenerating_gives_byte_identical_files(tmp_path):
    results = tmp_path / "results"
    runs = [rec("lru", 1e-3, s, 0.9, 0.8 + s / 100) for s in range(3)] + [rec("lstm", 1e-3, 0, 0.5, 0.4)]
    long = [rec("lru", 1e-3, s, 0.7, 0.6) for s in range(2)]
    for r in long:
        r["task"]["variant"], r["config"]["task"] = "T=50", {"delay": 50}
    for i, r in enumerate(runs + long):
        r["config"].setdefault("task", {"delay": 10})
        r["sensitivity"] = {"init": {"state_sens_rel_max": 1.0 + i}, "final": {"state_sens_rel_max": 2.0 + i}}
        write_record(r, results)
    outs = []
    out, fig = tmp_path / "lb.md", tmp_path / "fig"
    for _ in range(2):
        shutil.rmtree(fig, ignore_errors=True)
        build(results, out, None, fig)
        outs.append((out.read_bytes(), sorted((p.name, p.read_bytes()) for p in fig.iterdir())))
    assert [name for name, _ in outs[0][1]] == ["cpu_copy_acc_vs_delay.png", "cpu_copy_sensitivity.png"]
    assert outs[0] == outs[1]


def test_committed_leaderboard_is_what_the_committed_records_give(tmp_path):
    out = tmp_path / "README.md"
    proc = subprocess.run([sys.executable, "-m", "leaderboard", "--out", str(out), "--figures", str(tmp_path / "fig"),
                           "--readme", ""], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    committed = (ROOT / "leaderboard" / "README.md").read_text()
    assert _without_figure_links(out.read_text()) == _without_figure_links(committed)


def _without_figure_links(text: str) -> str:
    """Figure links are relative to where the page is written; everything else must match."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("!["))


def _image_page(tmp_path, runs: dict, budget: dict, **fields) -> str:
    """The page of one image-like table: `runs` maps a model to its test accuracy and the outcome of
    each seed's run (all at lr 1e-3, 60 s each)."""
    for model, (test, outcomes) in runs.items():
        for s, outcome in enumerate(outcomes):
            r = rec(model, 1e-3, s, val=0.9, test=test)
            r.update(outcome=outcome, track="cpu", published=True, budget=budget, **fields)
            r["cost"]["wall_s"] = 60.0
            write_record(r, tmp_path / "r")
    build(tmp_path / "r", tmp_path / "lb.md")
    return (tmp_path / "lb.md").read_text()


def test_a_task_without_an_axis_shows_verdicts_budget_and_bounds(tmp_path):
    """sMNIST-like rows: outcome counts, the budget sentence, `≥` for a row whose run hit the
    cap still improving (also in the headline), a plain value for a plateaued row, wall time."""
    text = _image_page(tmp_path, {"lru": (0.8, ["plateaued"] * 3), "gru": (0.7, ["budget", "plateaued", "plateaued"])},
                       {"max_steps": -1, "max_epochs": 5, "batch_size": 32, "patience": 3, "val_every": 94}, schema=2)
    assert "Budget per run: epoch cap 5, batch 32, validation every 94 steps, patience 3 validations." in text
    assert "| lru | 0.800 ± 0 | 3 | 0 / 3 / 0 |" in text and "| gru | ≥ 0.700 ± 0 | 3 | 0 / 2 / 1 |" in text
    assert "| gru | 4 | 10 | ≥ 0.700 ± 0 |\n" in text  # the headline marks the bound too (beside state, params)
    assert text.count("| 3.0 min |") == 2


def test_one_seed_shows_no_spread_it_does_not_have(tmp_path):
    """A row with one finished seed (a sweep under way) names it instead of `± 0`, which would claim
    seeds that agree; rows of several seeds keep mean ± std."""
    text = _image_page(tmp_path, {"lru": (0.8, ["complete"]), "gru": (0.7, ["complete"] * 3)},
                       {"max_steps": 3384, "max_epochs": -1, "batch_size": 32, "patience": None, "val_every": 94})
    assert "| lru | 0.800 (1 seed) | 1 | 1 |" in text and "| gru | 0.700 ± 0 | 3 | 3 |" in text
    assert "| lru | 4 | 10 | 0.800 (1 seed) |\n" in text  # the headline, which has no seeds column
    assert "0.800 ± 0" not in text


def test_a_table_of_fixed_schedule_runs_counts_them_complete_and_marks_no_bound(tmp_path):
    """Image runs with no early stop end `complete`: the table counts that outcome alone, says the
    number is the schedule's result, and marks no `≥` (the cap is the schedule, not a cut)."""
    text = _image_page(tmp_path, {"lru": (0.8, ["complete"] * 3), "gru": (0.7, ["complete"] * 3)},
                       {"max_steps": 3384, "max_epochs": -1, "batch_size": 32, "patience": None, "val_every": 94})
    assert "| model | test acc ↑ | seeds | complete |" in text
    assert "| lru | 0.800 ± 0 | 3 | 3 |" in text and "| gru | 0.700 ± 0 | 3 | 3 |" in text
    assert "step cap 3384, batch 32, validation every 94 steps, no early stop." in text
    assert "outcome is `complete` when it trained its whole schedule" in text and "`plateaued` when" not in text
    assert "≥ 0.700" not in text


def test_the_budget_sentence_names_each_budget_once_as_it_reads():
    """A record made after stop.not_before existed lists it unset (null); its budget reads as the
    same as one without the key, and the page says it once."""
    from leaderboard.render import budget_text

    plain = {"max_steps": 8000, "max_epochs": None, "batch_size": 32, "patience": 5, "val_every": 200}
    late = {**plain, "not_before": None}
    images = {**plain, "max_steps": -1, "max_epochs": 12, "patience": 3, "val_every": 94, "not_before": 0.5}
    assert budget_text([{"budget": plain}, {"budget": late}]) == (
        "Budget per run: step cap 8000, batch 32, validation every 200 steps, patience 5 validations.")
    assert budget_text([{"budget": late}, {"budget": images}, {}]) == (
        "Budget per run: epoch cap 12, batch 32, validation every 94 steps, patience 3 validations counted from 50% "
        "of the steps; step cap 8000, batch 32, validation every 200 steps, patience 5 validations.")
    assert budget_text([{}]) == "Budget per run: not recorded."
