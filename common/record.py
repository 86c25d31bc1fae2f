"""The result record (SPEC §6), declared once: the run builds one of these and writes it,
the leaderboard reads and checks files against the same declaration.

Each section is a dataclass; its annotations are both what the harness fills in and what a
file read back must hold. Reading is lenient where it must be: a record may carry keys the
declaration does not name (they are free), an optional field may be missing or null (an older
schema simply lacks it), and a plain-dict field such as `config` is checked only on the
keys its `view` names. A file of the wrong shape is skipped with one line naming the first
bad field (common/record_io.py), never fatal to a build.

Schema 1: the first cpu track. Schema 2 adds the verdict and memory-curve fields
(`published`, `outcome`, `solved_at`, `budget`, `lr_reference`, `task.axis`, `task.curve`,
`task.solve`, `task.horizon`). Schema 3 (the fair protocol, third edition) adds the validation
`history` and `left_baseline_at`, and is written from a clean tree only when published.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from common.rules import Criterion

SCHEMA = 3            # stamped on new records
READABLE = (1, 2, 3)  # what the builder reads
STATUSES = ("ok", "diverged", "failed")
VERDICTS = ("solved", "plateaued", "budget")  # the outcomes of a run a stop rule could end
COMPLETE = "complete"  # the whole schedule, with no stop rule to meet (harness/stopping.py)
OUTCOMES = (*VERDICTS, COMPLETE)
THIRD_EDITION = 3     # the first schema of the cpu track's third edition (SPEC §6.2)


def old(record: dict) -> bool:
    """A record of the second edition (SPEC §6.1) or earlier, made under the protocol the third replaces."""
    return (record.get("schema") or 1) < THIRD_EDITION


def view(of: type) -> dict:
    """Field metadata: a plain-dict field whose named keys are checked against `of`."""
    return {"view": of}


@dataclass
class ModelInfo:
    name: str
    layer: str | None = None
    params: int | None = None
    state_size: int | None = None
    diagonal: bool | None = None   # every recurrent layer's RecurrentLayer.diagonal (None: a record from before)


@dataclass
class Axis:
    name: str    # shown on the page, e.g. "T"
    key: str     # the config key, e.g. "task.delay"
    value: float
    easier: str | None = None  # "up": larger values are easier (a state size); None or "down": harder (memory)


@dataclass
class TaskInfo:
    name: str
    variant: str
    data_source: str | None = None
    baselines: dict[str, float | None] | None = None
    primary: str | None = None
    higher_is_better: bool | None = None
    axis: Axis | None = None
    curve: str | None = None
    solve: Criterion | None = None     # met on validation: the run is `solved`
    horizon: Criterion | None = None   # met on test: the point is within the horizon


@dataclass
class SolvedAt:
    step: int
    tokens: int | None = None
    seconds: float | None = None


@dataclass
class Budget:
    max_steps: int | None = None
    max_epochs: int | None = None
    batch_size: int | None = None
    patience: int | None = None
    val_every: float | None = None
    not_before: float | None = None  # the fraction of the steps before which the patience does not run


@dataclass
class LrReference:
    """Where the learning rate was chosen: {"at": {"task.delay": 64}} (or, in early
    records, {"axis_value": 64}), the grid it was chosen from and the seeds it averaged."""

    axis_value: float | None = None
    at: dict | None = None
    grid: list[float] | None = None
    seeds: int | None = None


@dataclass
class Metrics:
    val: dict[str, float | None] | None = None
    test: dict[str, float | None] | None = None


@dataclass
class Cost:
    wall_s: float | None = None
    train_s: float | None = None
    sensitivity_s: float | None = None
    sensitivity_share: float | None = None
    tokens_per_s: float | None = None
    peak_mem_mb: float | None = None
    device: str | None = None
    world_size: int | None = None


@dataclass
class OptimizerView:
    lr: float | None = None


@dataclass
class ConfigView:
    """The keys of the resolved config that the leaderboard reads."""

    optimizer: dict | None = field(default=None, metadata=view(OptimizerView))
    task: dict | None = None


@dataclass
class SensitivityView:
    init: dict | None = None
    final: dict | None = None


@dataclass
class Record:
    schema: int
    run_id: str
    created: str
    seed: int
    status: Literal[STATUSES]
    model: ModelInfo
    task: TaskInfo
    metrics: Metrics
    git_commit: str | None = None
    run_key: str | None = None
    config: dict | None = field(default=None, metadata=view(ConfigView))
    published: bool | None = None
    track: str | None = None
    outcome: Literal[OUTCOMES] | None = None
    solved_at: SolvedAt | None = None
    budget: Budget | None = None
    lr_reference: LrReference | None = None
    error: str | None = None
    diverged_at_step: int | None = None
    steps: int | None = None
    resumed_from: str | None = None
    paths: dict | None = None
    sensitivity: dict | None = field(default=None, metadata=view(SensitivityView))
    cost: Cost | None = None
    # every validation: {"step", "lr", <metric>: value, ...}, for learning curves and for checking a verdict
    history: list[dict] | None = None
    # the step at which the monitored validation metric first left the memoryless baseline (None: never)
    left_baseline_at: int | None = None
