"""The record a run ends with (SPEC §6; declared in common/record.py), built from the run's parts."""
from __future__ import annotations

import resource
from datetime import datetime, timezone

import torch
from omegaconf import OmegaConf

from common.provenance import git_commit
from common.record import SCHEMA, Budget, Cost, LrReference, Metrics, ModelInfo, Record, SolvedAt, TaskInfo
from common.record_io import new_run_id
from harness.horizon import run_axis


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    # ru_maxrss is in KiB on Linux: the process's high-water mark of resident memory.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    n = torch.get_num_threads()
    return f"cpu ({n} thread{'s' if n != 1 else ''})"


def task_info(task, cfg=None) -> TaskInfo:
    """The task's part of the record; its curve axis is the sweep's `curve_axis` when the config
    declares one (harness/horizon.py: `run_axis`), else the task's own."""
    axis, curve = run_axis(cfg, task)
    return TaskInfo(name=task.name, variant=task.variant, data_source=task.data_source(),
                    baselines=task.baselines(), primary=task.spec.primary,
                    higher_is_better=task.spec.higher_is_better,
                    axis=axis, curve=curve, solve=task.solve_criterion(), horizon=task.horizon_criterion())


def build_record(run, status: str, error: str | None, resume: str | None, wall_s: float) -> Record:
    cfg, module, trainer = run.cfg, run.module, run.trainer
    # the device the run trained on: Lightning's teardown has moved the module back to the CPU by now
    device = trainer.strategy.root_device
    ok = status == "ok"
    sens = run.sensitivity.record()
    sens_s = sens.get("seconds") if isinstance(sens, dict) else None
    return Record(
        schema=SCHEMA,
        run_id=new_run_id(),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        git_commit=git_commit(),
        run_key=run.key,
        config=OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
        published=run.published,
        model=ModelInfo(cfg.model.name, cfg.model.layer._target_, run.model.num_params(), run.model.state_size(),
                        all(layer.diagonal for layer in run.model.recurrent_layers())),
        task=task_info(run.task, cfg),
        seed=cfg.seed,
        track=str(cfg.track.value),
        status=status,
        outcome=run.outcome() if ok else None,
        solved_at=SolvedAt(**run.watch.solved_at) if ok and run.watch.solved_at else None,
        budget=Budget(**run.budget()),
        lr_reference=LrReference(**run.lr_reference) if run.lr_reference else None,
        error=error,
        diverged_at_step=run.guard.diverged_at if status == "diverged" else None,
        steps=trainer.global_step,
        resumed_from=resume,
        paths={"logs": str(run.output_dir), "checkpoints": str(run.checkpoint_dir())},
        metrics=Metrics(val=module.last_val, test=module.last_test if ok else {}),
        sensitivity=sens,
        history=module.history,
        left_baseline_at=run.stopper.left_baseline_at,
        cost=Cost(
            wall_s=round(wall_s, 2),
            train_s=round(run.throughput.seconds, 2),
            sensitivity_s=sens_s,
            sensitivity_share=round(sens_s / wall_s, 4) if sens_s is not None and wall_s > 0 else None,
            tokens_per_s=run.throughput.tokens_per_s,
            peak_mem_mb=round(peak_memory_mb(device), 1),
            device=device_name(device),
            world_size=trainer.world_size,
        ),
    )
