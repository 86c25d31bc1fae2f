"""The JSON record a run ends with (SPEC §6): built from the run's parts, never edited."""
from __future__ import annotations

import resource
from datetime import datetime, timezone

import torch
from omegaconf import OmegaConf

from common.provenance import git_commit
from leaderboard.records import SCHEMA, finite_or_none, new_run_id


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


def task_entry(task) -> dict:
    solve, horizon = task.solve_criterion(), task.horizon_criterion()
    return {"name": task.name, "variant": task.variant, "data_source": task.data_source(),
            "baselines": task.baselines(), "primary": task.spec.primary,
            "higher_is_better": task.spec.higher_is_better,
            "axis": {"name": task.axis[0], "key": task.axis[1], "value": task.axis_value()} if task.axis else None,
            "curve": task.curve(),
            "solve": solve.as_dict() if solve else None,
            "horizon": horizon.as_dict() if horizon else None}


def build_record(run, status: str, error: str | None, resume: str | None, wall_s: float) -> dict:
    cfg, module = run.cfg, run.module
    device = module.device
    trainer = getattr(run, "trainer", None)
    ok = status == "ok"
    sens = run.sensitivity.record()
    return finite_or_none({
        "schema": SCHEMA,
        "run_id": new_run_id(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "run_key": run.key,
        "config": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
        "published": run.published,
        "model": {"name": cfg.model.name, "layer": cfg.model.layer._target_, "params": run.model.num_params(),
                  "state_size": run.model.state_size()},
        "task": task_entry(run.task),
        "seed": cfg.seed,
        "track": str(cfg.track.value),
        "status": status,
        "outcome": run.outcome() if ok else None,
        "solved_at": run.watch.solved_at if ok and hasattr(run, "watch") else None,
        "budget": run.budget(),
        "lr_reference": run.lr_reference,
        "error": error,
        "diverged_at_step": run.guard.diverged_at if status == "diverged" else None,
        "steps": trainer.global_step if trainer else 0,
        "resumed_from": resume,
        "paths": {"logs": str(run.output_dir), "checkpoints": str(run.checkpoint_dir())},
        "metrics": {"val": module.last_val, "test": module.last_test if ok else {}},
        "sensitivity": sens,
        "cost": {
            "wall_s": round(wall_s, 2),
            "train_s": round(run.throughput.seconds, 2),
            "sensitivity_s": sens.get("seconds") if isinstance(sens, dict) else None,
            "sensitivity_share": (round(sens["seconds"] / wall_s, 4)
                                  if isinstance(sens, dict) and sens.get("seconds") is not None and wall_s > 0 else None),
            "tokens_per_s": run.throughput.tokens_per_s,
            "peak_mem_mb": round(peak_memory_mb(device), 1),
            "device": device_name(device),
            "world_size": trainer.world_size if trainer else 1,
        },
    })
