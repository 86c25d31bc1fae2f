"""benchmarks/track_cost.py: the projection's inputs come from the records and the sweeps' configs."""
from __future__ import annotations

import pytest

from benchmarks.track_cost import TRACK, capped_run_seconds, curves_per_sweep, measured, point_configs, project
from harness.state_cap import state_cap_skip


def _record(model, task, steps, cap, tokens_per_s, wall_s, params=1000, axis_key=None, status="ok"):
    return {"model": {"name": model, "params": params}, "task": {"name": task}, "steps": steps,
            "budget": {"max_steps": cap}, "status": status, "config": {"curve_axis": {"key": axis_key}},
            "cost": {"tokens_per_s": tokens_per_s, "wall_s": wall_s}}


def test_measured_takes_seconds_per_token_runs_per_curve_and_hours_spent_from_the_records():
    records = [_record("lstm", "copy", 6000, 6000, 1e4, 3600), _record("lstm", "copy", 3000, 6000, 3e4, 1800),
               _record("lstm", "copy", 600, 6000, 2e4, 360),
               _record("lstm", "mqar", 4000, 4000, 1e4, 1800, axis_key="model.layer.state"),
               _record("lru", "copy", 200, 6000, 1e5, 36, status="diverged")]
    seconds, runs, spent = measured(records)
    # per token and parameter, the median over ok runs (1e4, 3e4, 2e4, 1e4 tokens/s); a diverged run gives none
    assert seconds == {"lstm": pytest.approx((1 / 2e4 + 1 / 1e4) / 2 / 1000)}
    # copy: 1 + 0.5 + 0.1 capped-run equivalents; the state curve (MQAR keyed on the state): 1; mean 1.3
    assert runs["lstm"] == pytest.approx(1.3) and runs["lru"] == pytest.approx(200 / 6000)
    assert spent[("copy", "", False)] == pytest.approx((3600 + 1800 + 360 + 36) / 3600)
    assert spent[("mqar", "model.layer.state", False)] == pytest.approx(0.5)


def test_sweeps_are_read_from_their_configs():
    assert curves_per_sweep("word_problem", "task.seq_len") == 2      # Z2 and S3
    assert curves_per_sweep("copy", "task.delay") == 1
    assert [c.task.delay for c in point_configs("copy", "lstm")] == [4, 16, 64]   # the reference candidates
    assert len(point_configs("smnist", "lstm")) == 1                             # no axis
    states = {m: [c.model.layer.state for c in point_configs("mqar_state", m)] for m in ("gru", "lru")}
    assert states == {"gru": [256, 1024], "lru": [256, 1024]}
    # the sweep runs no dense layer (dense_state_max: 0), so none is projected
    assert all(state_cap_skip(c) for c in point_configs("mqar_state", "gru"))
    assert not any(state_cap_skip(c) for c in point_configs("mqar_state", "lru"))
    assert project("mqar_state", {"gru": 1e-12}, {"gru": 1.0}) == {}


def test_a_capped_run_costs_cap_times_tokens_times_seconds_per_token_scaled_by_parameters():
    cfg = point_configs("copy", "lstm")[2]                             # T = 64: 84 tokens x batch 32, cap 12000
    seconds, params = capped_run_seconds(cfg, 1e-9)
    assert seconds == pytest.approx(12000 * 32 * 84 * 1e-9 * params)
    bigger, more = capped_run_seconds(_at_state(512), 1e-9)          # twice the state: about 4x the weights
    assert more > 3 * params and bigger == pytest.approx(seconds * more / params)


def _at_state(state):
    from harness.compose import compose_run
    from harness.run import complete_defaults
    cfg, _ = compose_run(["experiment=leaderboard/copy", "model=lstm", "results_dir=/tmp/track_cost",
                          "++task.delay=64", f"++model.layer.state={state}"])
    complete_defaults(cfg)
    return cfg


def test_the_track_lists_every_sweep_of_make_cpu_track():
    from pathlib import Path
    make = Path(__file__).resolve().parent.parent.joinpath("Makefile").read_text()
    listed = make.split("CPU_TRACK :=")[1].split("SWEEP_PASSES")[0].replace("\\", " ").split()
    assert listed == TRACK
    # the target runs <curve>_lr then <curve> for each: both sweep files must exist
    sweeps = Path(__file__).resolve().parent.parent / "conf/experiment/leaderboard"
    assert all((sweeps / f"{c}{end}.yaml").is_file() for c in TRACK for end in ("_lr", ""))


def test_mamba_with_negative_eigenvalues_is_a_curve_of_its_own():
    plain = _record("mamba", "word_problem", 600, 6000, 2e4, 360, axis_key=None)
    neg = _record("mamba", "word_problem", 600, 6000, 2e4, 720, axis_key=None)
    neg["config"]["model"] = {"layer": {"neg_eigen": True}}
    _, _, spent = measured([plain, neg])
    assert spent[("word_problem", "", False)] == pytest.approx(0.1)
    assert spent[("word_problem", "", True)] == pytest.approx(0.2)
