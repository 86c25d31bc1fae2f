"""One run: validate -> build task and model -> Lightning fit/test -> write the record."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path

import lightning as L
import torch
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from lightning.pytorch.loggers import CSVLogger
from omegaconf import DictConfig

from common.config import ConfigError, check_node, resolve_target, with_defaults
from common.errors import RunInterrupted, UserError
from common.provenance import publishable_commit, writes_published
from common.record_io import to_dict
from harness import checkpointing, checks
from harness.callbacks import DivergenceGuard, StepProgressBar, Throughput
from harness.compose import compose_run
from harness.horizon import run_axis, skip_reason
from harness.identity import results, run_key
from harness.learning_rate import apply_lr_grid, lr_from_reference
from harness.quiet import quiet_libraries
from harness.record import build_record, device_name
from harness.saving import save_record
from harness.state_cap import apply_state_cap
from harness.stopping import SolveWatch, early_stopping, outcome
from models.backbone import Backbone
from models.build import BACKBONE_PROVIDED, LAYER_PROVIDED, build_model
from tasks.base import SyntheticTask
from tasks.image_preflight import preflight
from tasks.module import SequenceModule

log = logging.getLogger("harness")

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


def complete_defaults(cfg: DictConfig) -> None:
    """Write every signature default into the config, so the record and the run key
    name every value the run used (the YAMLs list only what differs)."""
    with_defaults(cfg.model, [Backbone], provided=BACKBONE_PROVIDED)
    if "layer" in cfg.model and "_target_" in cfg.model.layer:
        with_defaults(cfg.model.layer, [resolve_target(cfg.model.layer._target_, "model.layer")], provided=LAYER_PROVIDED)
    for key in ("task", "optimizer", "sensitivity"):
        with_defaults(cfg[key], [resolve_target(cfg[key]._target_, key)], provided=("seed",))


def prepare(cfg: DictConfig) -> None:
    """What a run adds to its composed config before it takes its identity: every signature
    default, the rate `lr_index` names, and a dense layer's cap on its rate's state candidates."""
    complete_defaults(cfg)
    apply_lr_grid(cfg)
    apply_state_cap(cfg)


def run_config(overrides: Iterable[str]) -> DictConfig:
    """The config a run of these command-line overrides takes its identity from (benchmarks and tests
    name a sweep's runs with it, as the run itself would)."""
    cfg, _ = compose_run(overrides)
    prepare(cfg)
    return cfg


# A diverged run is finished too: the guard stops it at the same step every time (same config, same
# seed), so a later pass of a sweep would only write the same record again. A `failed` run (an
# exception) is retried.
FINISHED = ("ok", "diverged")


def finished_record(results_dir: str, key: str, seed: int) -> dict | None:
    for rec in results(results_dir):  # the sweep's cached read of results_dir
        if rec.get("run_key") == key and rec.get("seed") == seed and rec.get("status") in FINISHED:
            return rec
    return None


class Run:
    """Everything about one training run, from a resolved config to its record."""

    def __init__(self, cfg: DictConfig, output_dir: str | None = None, skip_finished: bool = False,
                 published: bool = False):
        """Validate the config and build every part of the run (task, model, optimiser,
        callbacks, trainer); nothing trains until `execute`. A run the records say is not needed
        (`skip_decision`) builds its task only."""
        self.cfg = cfg
        self.output_dir = Path(output_dir or "outputs/latest")
        self.skip_finished = skip_finished
        self.published = published
        self.skipped = "skipped"  # why execute() returned no record
        self.t_start = time.time()
        self.wall_before = 0.0  # wall time of earlier sessions of this run, read from the checkpoint it resumes
        if published and writes_published(cfg.results_dir):
            publishable_commit()  # a published record names a commit that exists, clean
        quiet_libraries()
        checks.check_run_keys(cfg)
        checks.check_devices(cfg.trainer)
        checks.settle_precision(cfg.trainer)
        prepare(cfg)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.task = instantiate_checked(cfg.task, "task", {"seed": cfg.seed})
        spec = self.task.spec
        self.task.curve()  # a task whose variant lacks its axis value fails here, not after training
        run_axis(cfg, self.task)  # so does a declared curve_axis naming no number of the config
        self.lr_reference: dict | None = lr_from_reference(cfg, self.task)
        self.key = run_key(cfg)
        # decided before the model and the trainer are built: a sweep's pass skips most of its runs,
        # and building them for nothing cost more than the decision itself
        self.skip = self.skip_decision()
        if self.skip is not None:
            self.model = self.module = self.trainer = None
            return
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        try:
            self.model = build_model(cfg.model, d_input=spec.d_input, d_output=spec.d_output,
                                     input_kind=spec.input_kind, readout=spec.readout)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        checks.check_memory(self.task, cfg.model, self.model)  # before the evaluation sets are drawn
        self.optimizer = instantiate_checked(cfg.optimizer, "optimizer")
        self.sensitivity = instantiate_checked(cfg.sensitivity, "sensitivity")
        check_node(cfg.trainer, "trainer", [get_class(cfg.trainer._target_)], provided=TRAINER_PROVIDED)
        if isinstance(self.task, SyntheticTask) and (cfg.trainer.max_steps is None or cfg.trainer.max_steps <= 0):
            raise ConfigError(f"task {self.task.name} draws fresh data forever: set trainer.max_steps to a positive number")
        checks.check_writable(cfg.results_dir, "results_dir")
        checks.check_writable(cfg.checkpoint_dir, "checkpoint_dir")
        self.module = SequenceModule(self.model, spec, self.optimizer)
        self.guard, self.throughput = DivergenceGuard(), Throughput()
        self.watch = SolveWatch(self.task.solve_criterion(), getattr(self.task, "batch_size", 1) * spec.seq_len)
        self.stopper = early_stopping(self.task, cfg.stop.patience, cfg.stop.min_delta, cfg.stop.on_solve,
                                      warmup=self.optimizer.warmup, min_error_drop=cfg.stop.min_error_drop,
                                      not_before=cfg.stop.not_before)
        self.trainer = self.make_trainer(self.checkpoint_dir())

    def checkpoint_dir(self) -> Path:
        return Path(self.cfg.checkpoint_dir) / f"{self.task.name}-{self.cfg.model.name}-{self.key}-s{self.cfg.seed}"

    def resume_path(self) -> str | None:
        resume = self.cfg.resume
        if resume in (None, "", "none"):
            return None
        if resume == "auto":
            last = self.checkpoint_dir() / "last.ckpt"
            if last.exists():
                return str(last)
            log.warning("resume=auto: no checkpoint of this run in %s; starting from scratch", self.checkpoint_dir())
            return None
        if not Path(resume).is_file():
            raise ConfigError(f"resume={resume!r}: no such checkpoint file (use resume=auto or a .ckpt path)")
        return resume

    def budget(self) -> dict:
        t, stop = self.cfg.trainer, self.cfg.stop
        return {"max_steps": t.get("max_steps"), "max_epochs": t.get("max_epochs"),
                "batch_size": getattr(self.task, "batch_size", None), "patience": stop.patience,
                "val_every": t.get("val_check_interval"),
                **({"not_before": stop.not_before} if stop.not_before is not None else {})}

    def make_trainer(self, ckpt_dir: Path) -> L.Trainer:
        trainer_cfg = self.cfg.trainer
        every = trainer_cfg.val_check_interval if isinstance(trainer_cfg.val_check_interval, int) else None
        checkpoint = checkpointing.AtomicCheckpoint(checkpointing.identity_of(self), clock=self.elapsed, dirpath=ckpt_dir,
                                                    filename="{step}", save_last=True, save_top_k=1,
                                                    every_n_train_steps=every)
        callbacks = [self.guard, self.throughput, self.watch, self.stopper, checkpoint, self.sensitivity]
        if trainer_cfg.enable_progress_bar:
            callbacks.append(StepProgressBar(leave=True))
        loggers = [CSVLogger(self.output_dir, name="logs", version="")]
        try:
            import tensorboard  # noqa: F401  (optional: only when installed)
            from lightning.pytorch.loggers import TensorBoardLogger

            loggers.append(TensorBoardLogger(self.output_dir, name="logs", version="tb"))
        except ImportError:
            pass
        return instantiate(trainer_cfg, callbacks=callbacks, logger=loggers, default_root_dir=str(self.output_dir))

    def outcome(self) -> str:
        return outcome(self.watch, self.stopper)

    def announce(self, ckpt_dir: Path) -> None:
        accel = self.cfg.trainer.get("accelerator", "auto")
        cuda = accel in ("gpu", "cuda") or (accel == "auto" and torch.cuda.is_available())
        where = "cuda" if cuda else device_name(torch.device("cpu"))
        log.info("%s on %s [%s] seed %s, %s; logs %s, checkpoints %s, record into %s/",
                 self.cfg.model.name, self.task.name, self.task.variant, self.cfg.seed, where,
                 self.output_dir, ckpt_dir, self.cfg.results_dir)

    # -- the run ---------------------------------------------------------------
    def skip_decision(self) -> tuple[str, str] | None:
        """None when this run is to train; else (outcome, why) for the sweep's report."""
        if not self.cfg.force:
            done = finished_record(self.cfg.results_dir, self.key, self.cfg.seed)
            if done is not None and (self.skip_finished or self.cfg.resume == "auto"):
                return "skipped", f"this run already finished ({done['_path']}); force=true redoes it"
        # the climb and the learning-rate grid (common/lr_rules.py) decide from the records whether this run is needed
        return skip_reason(self.cfg, self.task)

    def execute(self) -> dict | None:
        if self.skip is not None:
            self.skipped, why = self.skip
            log.info("skipped: %s", why)
            return None
        resume = checkpointing.checked_resume(self)
        ckpt_dir = self.checkpoint_dir()
        checkpointing.claim(ckpt_dir, fresh=resume is None)
        self.announce(ckpt_dir)
        self.task.prepare_data()
        self.task.setup("fit")  # fail fast (e.g. data unavailable) before Lightning starts
        status, error = "ok", None
        try:
            self.trainer.fit(self.module, datamodule=self.task, ckpt_path=resume)
        except (KeyboardInterrupt, SystemExit):
            # Lightning catches Ctrl-C, closes the progress bar, then calls sys.exit(1)
            if not self.trainer.interrupted:
                raise
            last = ckpt_dir / "last.ckpt"
            where = f"the last checkpoint is {last}" if last.exists() else "no checkpoint was written yet"
            raise RunInterrupted(f"interrupted at step {self.trainer.global_step}; {where}; "
                                 f"resume with the same command plus resume=auto") from None
        except UserError:
            raise
        except Exception as err:  # recorded as failed, then re-raised for the traceback
            status, error = "failed", f"{type(err).__name__}: {err}"
            self.write(status, error, resume)
            raise
        if self.guard.diverged_at is not None or not self.params_finite():
            status = "diverged"
        else:
            if not self.module.last_val:
                self.finish_at_cap()
            if not self.module.last_test:
                self.trainer.test(self.module, datamodule=self.task, verbose=False)
        return self.write(status, error, resume)

    def finish_at_cap(self) -> None:
        """A fit that validated nothing was resumed from the checkpoint saved at its step cap
        (Lightning writes it just before that step's validation) and, with no step left, called no
        training hook: run that validation and the final measurement here, as the uninterrupted run did."""
        self.trainer.validate(self.module, datamodule=self.task, verbose=False)
        self.stopper.note_departure(self.trainer)
        self.sensitivity.measure_final(self.trainer, self.module)

    def elapsed(self) -> float:
        """The run's wall time so far: this session's, plus that of the sessions before a resume."""
        return self.wall_before + time.time() - self.t_start

    def params_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.model.parameters())

    def write(self, status: str, error: str | None, resume: str | None) -> dict | None:
        record = to_dict(build_record(self, status, error, resume, self.elapsed()))
        if self.trainer.global_rank == 0:  # one record per run, written by rank 0
            record.update(checkpointing.provenance(self))
            record["_path"] = save_record(record, self.cfg.results_dir, self.output_dir)
        return record


def train(cfg: DictConfig, output_dir: str | None = None, *, skip_finished: bool = False,
          published: bool = False) -> tuple[dict | None, dict]:
    """One run as a function: `python train.py` calls it, and so do the tests that need a
    short training run without a new process. Returns the record (None when the run was
    skipped) and the objects it built, for inspection."""
    preflight(cfg.task)
    run = Run(cfg, output_dir=output_dir, skip_finished=skip_finished, published=published)
    record = run.execute()
    return record, {"run": run, "task": run.task, "model": run.model, "module": run.module, "trainer": run.trainer}
