"""One run: validate -> build task and model -> Lightning fit/test -> write the record."""
from __future__ import annotations

import logging
import resource
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import lightning as L
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger
from omegaconf import DictConfig, OmegaConf

from common.config import ConfigError, check_node, check_value, resolve_target
from common.errors import UserError
from common.provenance import git_commit
from harness.callbacks import DivergenceGuard, Throughput
from harness.identity import run_key
from harness.quiet import quiet_libraries
from leaderboard.records import SCHEMA, finite_or_none, new_run_id, read_records, write_record
from models.build import build_model
from tasks.base import SyntheticTask
from tasks.module import SequenceModule

log = logging.getLogger("harness")

TOP_LEVEL = {
    "seed": int, "results_dir": str, "checkpoint_dir": str, "resume": str | None,
    "force": bool, "track": str, "model": dict, "task": dict, "trainer": dict, "optimizer": dict,
    "sensitivity": dict, "threads": int | None, "lr_grid": list | dict | None, "lr_index": int | None,
}
TRAINER_PROVIDED = ("callbacks", "logger", "default_root_dir", "enable_checkpointing")


def instantiate_checked(node: DictConfig, where: str, provided: dict | None = None):
    """Check `node` against its target's signature, then instantiate it; a
    ValueError raised by the constructor is a user error about that node."""
    provided = provided or {}
    target = resolve_target(node._target_, where)
    check_node(node, where, [target], provided=provided)
    try:
        return instantiate(node, **provided)
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, (ValueError, UserError)):
            raise ConfigError(str(cause)) from None
        raise


def validate_top_level(cfg: DictConfig) -> None:
    for key in cfg:
        if key not in TOP_LEVEL:
            raise ConfigError(f"unknown top-level key {key!r}; allowed: {', '.join(sorted(TOP_LEVEL))}")
    for key in ("seed", "results_dir", "checkpoint_dir", "force", "track", "threads", "lr_grid", "lr_index"):
        check_value(key, cfg[key], TOP_LEVEL[key])
    if cfg.threads is not None and cfg.threads < 1:
        raise ConfigError(f"threads={cfg.threads} is invalid: expected a positive number or null")
    if cfg.track not in ("cpu", "gpu"):
        raise ConfigError(f"track={cfg.track!r} is invalid: expected cpu or gpu")


def apply_lr_grid(cfg: DictConfig) -> None:
    """`lr_index` picks optimizer.lr from the declared grid (the model's own grid when
    `lr_grid` maps model names to lists), so one sweep can give each model its grid."""
    if cfg.lr_index is None:
        return
    grid = cfg.lr_grid
    if isinstance(grid, DictConfig):
        if cfg.model.name not in grid:
            raise ConfigError(f"lr_grid has no entry for model {cfg.model.name!r}; it has: {', '.join(grid)}")
        grid = grid[cfg.model.name]
    if grid is None or not 0 <= cfg.lr_index < len(grid):
        raise ConfigError(f"lr_index={cfg.lr_index} is outside the declared lr_grid {OmegaConf.to_container(grid) if grid else None}")
    cfg.optimizer.lr = float(grid[cfg.lr_index])


def finished_record(results_dir: str, key: str, seed: int) -> dict | None:
    for rec in read_records(results_dir):
        if isinstance(rec, dict) and rec.get("run_key") == key and rec.get("seed") == seed and rec.get("status") == "ok":
            return rec
    return None


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    # ru_maxrss is in KiB on Linux: the process's high-water mark of resident memory.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


class Run:
    """Everything about one training run, from a resolved config to its record."""

    def __init__(self, cfg: DictConfig, output_dir: str | None = None, skip_finished: bool = False):
        self.cfg = cfg
        self.output_dir = Path(output_dir or "outputs/latest")
        self.skip_finished = skip_finished
        self.t_start = time.time()

    # -- set-up -----------------------------------------------------------------
    def build(self) -> None:
        cfg = self.cfg
        quiet_libraries()
        validate_top_level(cfg)
        apply_lr_grid(cfg)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.key = run_key(cfg)
        self.task = instantiate_checked(cfg.task, "task", {"seed": cfg.seed})
        spec = self.task.spec
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        try:
            self.model = build_model(cfg.model, d_input=spec.d_input, d_output=spec.d_output,
                                     input_kind=spec.input_kind, readout=spec.readout)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        self.optimizer = instantiate_checked(cfg.optimizer, "optimizer")
        self.sensitivity = instantiate_checked(cfg.sensitivity, "sensitivity")
        check_node(cfg.trainer, "trainer", [L.Trainer], provided=TRAINER_PROVIDED)
        if isinstance(self.task, SyntheticTask) and (cfg.trainer.max_steps is None or cfg.trainer.max_steps <= 0):
            raise ConfigError(f"task {self.task.name} draws fresh data forever: set trainer.max_steps to a positive number")
        self.module = SequenceModule(self.model, spec, self.optimizer)

    def checkpoint_dir(self) -> Path:
        return Path(self.cfg.checkpoint_dir) / f"{self.task.name}-{self.cfg.model.name}-{self.key}-s{self.cfg.seed}"

    def resume_path(self) -> str | None:
        resume = self.cfg.resume
        if resume in (None, "", "none"):
            return None
        if resume == "auto":
            last = self.checkpoint_dir() / "last.ckpt"
            return str(last) if last.exists() else None
        if not Path(resume).is_file():
            raise ConfigError(f"resume={resume!r}: no such checkpoint file (use resume=auto or a .ckpt path)")
        return resume

    def make_trainer(self, ckpt_dir: Path) -> L.Trainer:
        trainer_cfg = self.cfg.trainer
        self.guard, self.throughput = DivergenceGuard(), Throughput()
        every = trainer_cfg.val_check_interval if isinstance(trainer_cfg.val_check_interval, int) else None
        checkpoint = ModelCheckpoint(dirpath=ckpt_dir, filename="step{step}", save_last=True, save_top_k=1,
                                     every_n_train_steps=every)
        callbacks = [self.guard, self.throughput, checkpoint, self.sensitivity]
        if trainer_cfg.enable_progress_bar:
            callbacks.append(RichProgressBar(leave=True))
        loggers = [CSVLogger(self.output_dir, name="logs", version="")]
        try:
            import tensorboard  # noqa: F401  (optional: only when installed)
            from lightning.pytorch.loggers import TensorBoardLogger

            loggers.append(TensorBoardLogger(self.output_dir, name="logs", version="tb"))
        except ImportError:
            pass
        return instantiate(trainer_cfg, callbacks=callbacks, logger=loggers, default_root_dir=str(self.output_dir))

    # -- the run ---------------------------------------------------------------
    def execute(self) -> dict | None:
        self.build()
        if self.skip_finished and not self.cfg.force:
            done = finished_record(self.cfg.results_dir, self.key, self.cfg.seed)
            if done is not None:
                log.info("skipped: %s already has an ok record (%s); force=true to redo", self.key, done["_path"])
                return None
        resume = self.resume_path()
        ckpt_dir = self.checkpoint_dir()
        if resume is None and ckpt_dir.exists():
            shutil.rmtree(ckpt_dir)  # an earlier run of this identity; this one supersedes it
        self.trainer = self.make_trainer(ckpt_dir)
        self.task.prepare_data()
        self.task.setup("fit")  # fail fast (e.g. data unavailable) before Lightning starts
        status, error = "ok", None
        try:
            self.trainer.fit(self.module, datamodule=self.task, ckpt_path=resume)
        except (KeyboardInterrupt, UserError):
            raise
        except Exception as err:  # recorded as failed, then re-raised for the traceback
            status, error = "failed", f"{type(err).__name__}: {err}"
            self.write(status, error, resume)
            raise
        if self.guard.diverged_at is not None or not self.params_finite():
            status = "diverged"
        elif not self.module.last_test:
            self.trainer.test(self.module, datamodule=self.task, verbose=False)
        return self.write(status, error, resume)

    def params_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.model.parameters())

    def record(self, status: str, error: str | None, resume: str | None) -> dict:
        cfg, module = self.cfg, self.module
        device = module.device
        config = OmegaConf.to_container(cfg, resolve=True)
        trainer = getattr(self, "trainer", None)
        return finite_or_none({
            "schema": SCHEMA,
            "run_id": new_run_id(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "run_key": self.key,
            "config": config,
            "model": {"name": cfg.model.name, "layer": cfg.model._target_, "params": self.model.num_params(),
                      "state_size": self.model.state_size()},
            "task": {"name": self.task.name, "variant": self.task.variant, "data_source": self.task.data_source(),
                     "baselines": self.task.baselines(), "primary": self.task.spec.primary,
                     "higher_is_better": self.task.spec.higher_is_better},
            "seed": cfg.seed,
            "track": cfg.track,
            "status": status,
            "error": error,
            "diverged_at_step": self.guard.diverged_at if status == "diverged" else None,
            "steps": trainer.global_step if trainer else 0,
            "resumed_from": resume,
            "metrics": {"val": module.last_val, "test": module.last_test if status == "ok" else {}},
            "sensitivity": self.sensitivity.record(),
            "cost": {
                "wall_s": round(time.time() - self.t_start, 2),
                "train_s": round(self.throughput.seconds, 2),
                "tokens_per_s": self.throughput.tokens_per_s,
                "peak_mem_mb": round(peak_memory_mb(device), 1),
                "device": device_name(device),
                "world_size": trainer.world_size if trainer else 1,
            },
        })

    def write(self, status: str, error: str | None, resume: str | None) -> dict | None:
        record = self.record(status, error, resume)
        if self.trainer.global_rank == 0:  # one record per run, written by rank 0
            record["_path"] = str(write_record(record, self.cfg.results_dir))
        return record
