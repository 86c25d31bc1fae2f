"""The typed declaration of the top-level run keys, and the one place their defaults
live. Hydra merges conf/config.yaml onto it, so OmegaConf rejects an unknown key or a
value of the wrong type before anything runs; the nodes below (model, task, trainer,
optimizer, sensitivity) are checked against their `_target_`'s signature instead."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hydra.core.config_store import ConfigStore

SCHEMA_NAME = "run_schema"


class Track(str, Enum):
    cpu = "cpu"
    gpu = "gpu"


@dataclass
class StopRule:
    """When a run ends before its step cap: solved (the task's criterion on validation)
    or plateaued (no improvement of the validation metric for `patience` validations, counted
    only after the warm-up and once the metric has left the memoryless baseline)."""

    patience: int | None = None   # null: never stop for a plateau
    min_delta: float | None = None  # smallest change that counts as an improvement (null: the task's declared one)
    on_solve: bool = True         # stop as soon as the task's solve criterion holds
    climb_failures: int | None = None  # sweeps: skip axis values above this many consecutive failures
    # also an improvement: the error 1 - metric of a score bounded by 1 (accuracy) falling by this fraction of
    # the best so far, so a run closing in on a solve threshold of 0.99 in steps smaller than min_delta is not
    # a plateau (harness/stopping.py); null: min_delta alone. Part of a run's identity once set.
    min_error_drop: float | None = None
    # no plateau verdict before this fraction of the run's steps, even after the warm-up: where the
    # learning rate near its peak makes validation swing (a GRU on sMNIST: 0.44, 0.15, 0.39 in one epoch),
    # a short patience judges the noise. null: from the warm-up on. Part of a run's identity once set.
    not_before: float | None = None


@dataclass
class CurveAxis:
    """A sweep's curve axis taken from the config instead of the task: e.g. {name: S, key:
    model.layer.state, easier: up} makes the runs points of a state-size curve, the task's own
    axis value fixed on it. `easier`: the direction in which the axis gets easier (up: larger
    is easier, as for a state budget; down or null: larger is harder, as for a memory axis)."""

    name: str | None = None   # shown on the page (null: the key)
    key: str | None = None    # null: no declared axis, the task's own (if any) is the curve's
    easier: str | None = None


@dataclass
class RunSchema:
    seed: int = 0
    results_dir: str = "results"           # personal runs (git-ignored); declared sweeps write leaderboard/results
    checkpoint_dir: str = "checkpoints"     # per-run checkpoints, keyed by config and seed
    resume: str | None = None               # null | auto (last checkpoint of this config+seed) | a .ckpt path of
                                            # this run | finetune:PATH (another run's weights: harness/checkpointing.py)
    force: bool = False                     # redo a (config, seed) that already has an `ok` record
    track: Track = Track.cpu                # leaderboard track the run counts for
    threads: int | None = None              # torch CPU threads (null: torch's default); 1 for parallel sweep jobs
    lr_grid: Any = None                     # a sweep's declared learning rates: a list, or {model name: list}
    lr_index: int | None = None             # when set, optimizer.lr = lr_grid[lr_index]
    lr_reference: Any = None                # {key: value}: take optimizer.lr chosen on validation at that point of the curve
    # key null: the task's own axis (if any) is the curve's; part of the run's identity once set (common/keys.py: UNSET)
    curve_axis: CurveAxis = field(default_factory=CurveAxis)
    # sweeps: a layer with a dense recurrence (step ~ S², models.layer.RecurrentLayer.diagonal False) runs only
    # at model.layer.state <= this (0: not at all); null: every state the sweep lists (harness/state_cap.py)
    dense_state_max: int | None = None
    stop: StopRule = field(default_factory=StopRule)
    model: Any = None
    task: Any = None
    trainer: Any = None
    optimizer: Any = None
    sensitivity: Any = None


def register() -> None:
    ConfigStore.instance().store(name=SCHEMA_NAME, node=RunSchema)


register()
