"""Runs end in a verdict: solved (criterion met on validation, the run stops there),
plateaued (declared patience ran out) or budget (step cap reached while improving);
a curve sweep stops climbing after two failed axis values."""
from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from common.config import ConfigError
from common.record_io import write_record
from harness.horizon import failed_below
from harness.learning_rate import lr_from_reference
from tasks.copy import CopyTask
from tests.helpers import train_here

SMALL = ["task.delay=4", "task.batch_size=32", "task.n_val=64", "task.n_test=64", "sensitivity.enabled=false",
         "trainer.enable_progress_bar=false"]


def run(tmp_path: Path, *overrides: str) -> dict:
    return train_here(tmp_path, *SMALL, *overrides)


def test_a_solved_run_stops_at_the_first_validation_that_meets_the_criterion(tmp_path):
    rec = run(tmp_path, "optimizer.lr=0.01", "trainer.max_steps=1500", "trainer.val_check_interval=25")
    assert rec["outcome"] == "solved" and rec["metrics"]["val"]["acc"] >= 0.99
    assert rec["solved_at"]["step"] == rec["steps"] < 1500
    assert rec["solved_at"]["tokens"] == rec["steps"] * 32 * (4 + 20)
    assert rec["task"]["solve"] == {"metric": "acc", "mode": "max", "threshold": 0.99}


def test_plateau_and_budget(tmp_path):
    # a gain of 0.5 never counts: once it has left chance (the patience starts there), it plateaus
    rec = run(tmp_path / "p", "optimizer.lr=0.01", "optimizer.warmup=0", "trainer.max_steps=400",
              "trainer.val_check_interval=5", "stop.patience=2", "stop.min_delta=0.5")
    assert rec["outcome"] == "plateaued" and rec["steps"] < 400 and rec["solved_at"] is None
    assert rec["left_baseline_at"] is not None and rec["steps"] >= rec["left_baseline_at"] + 2 * 5
    rec = run(tmp_path / "b", "trainer.max_steps=10", "trainer.val_check_interval=5")
    assert rec["outcome"] == "budget" and rec["steps"] == 10
    assert rec["budget"]["max_steps"] == 10 and rec["budget"]["patience"] is None


def _record(delay: int, seed: int, acc: float, lr: float = 0.003) -> dict:
    task = CopyTask(delay=delay)
    config = {"model": {"name": "lru"}, "task": {"_target_": "tasks.copy.CopyTask", "delay": delay},
              "optimizer": {"lr": lr}, "seed": seed}
    return {"schema": 2, "run_id": f"{delay}-{seed}-{lr}", "created": "2026-11-29T00:00:00+00:00",
            "config": config, "model": {"name": "lru"}, "seed": seed, "status": "ok", "track": "cpu",
            "task": {"name": "copy", "variant": task.variant, "primary": "acc", "higher_is_better": True,
                     "axis": {"name": "T", "key": "task.delay", "value": delay},
                     "solve": task.solve_criterion().as_dict(), "horizon": task.horizon_criterion().as_dict()},
            "outcome": "solved" if task.solve_criterion().met({"acc": acc}) else "plateaued",
            "metrics": {"val": {"acc": acc}, "test": {"acc": acc}}}


@pytest.mark.parametrize("accs, skip", [((0.2, 0.3), True), ((0.995, 0.3), False), ((0.2, None), False)])
def test_climbing_stops_after_two_failed_axis_values(tmp_path, accs, skip):
    # None: one seed has failed at T = 64 and two are still to run, so the point is not decided
    for delay, acc in zip((32, 64), accs):
        for seed in range(3 if acc is not None else 1):
            write_record(_record(delay, seed, acc if acc is not None else 0.1), tmp_path)
    for seed in range(3):
        write_record(_record(16, seed, 1.0), tmp_path)
    cfg = OmegaConf.create({"model": {"name": "lru"}, "task": {"_target_": "tasks.copy.CopyTask", "delay": 128},
                            "optimizer": {"lr": 0.003}, "seed": 0, "results_dir": str(tmp_path)})
    got = failed_below(cfg, CopyTask(delay=128), 2)
    assert (got == [64, 32]) if skip else got is None


def test_a_point_beyond_the_horizon_with_one_seed_run_counts_as_failed(tmp_path):
    """Seeds 1 and 2 at T = 128 were skipped (beyond the horizon) while seed 0 had already
    started: T = 256 is beyond the horizon too, instead of running for want of seeds."""
    for delay in (32, 64):
        for seed in range(3):
            write_record(_record(delay, seed, 0.2), tmp_path)
    write_record(_record(128, 0, 0.2), tmp_path)
    cfg = OmegaConf.create({"model": {"name": "lru"}, "task": {"_target_": "tasks.copy.CopyTask", "delay": 256},
                            "optimizer": {"lr": 0.003}, "seed": 0, "results_dir": str(tmp_path)})
    assert failed_below(cfg, CopyTask(delay=256), 2) == [128, 64]


def _curve_cfg(tmp_path: Path, delay: int, seed: int, reference: dict) -> OmegaConf:
    return OmegaConf.create({"model": {"name": "lru"}, "task": {"_target_": "tasks.copy.CopyTask", "delay": delay},
                             "optimizer": {"lr": 0.001}, "seed": seed, "results_dir": str(tmp_path),
                             "lr_grid": [0.001, 0.003, 0.01], "lr_reference": reference})


def test_a_rate_chosen_on_seed_0_stays_chosen_as_more_seeds_run(tmp_path):
    """sMNIST's grid runs on seed 0 only; seeds 1 and 2 then run at its choice, and their
    (weaker) results must not move the choice for the runs after them."""
    for lr, acc in ((0.001, 0.5), (0.003, 0.9), (0.01, 0.7)):
        write_record(_record(64, 0, acc, lr), tmp_path)
    cfg = _curve_cfg(tmp_path, 64, 1, {"seed": 0})
    assert lr_from_reference(cfg, CopyTask(delay=64))["seeds"] == 1 and cfg.optimizer.lr == 0.003
    write_record(_record(64, 1, 0.1, 0.003), tmp_path)
    cfg = _curve_cfg(tmp_path, 64, 2, {"seed": 0})
    lr_from_reference(cfg, CopyTask(delay=64))
    assert cfg.optimizer.lr == 0.003


def test_an_unfinished_reference_grid_is_an_error_not_a_choice(tmp_path):
    for lr in (0.001, 0.003):
        for seed in range(3):
            write_record(_record(64, seed, 0.5, lr), tmp_path)
    with pytest.raises(ConfigError, match="no run at lr 0.01 .*finish the curve's reference sweep"):
        lr_from_reference(_curve_cfg(tmp_path, 128, 0, {"task.delay": 64}), CopyTask(delay=128))
