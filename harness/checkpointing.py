"""Checkpoints that never mislead a resume: each is written to a temporary file and renamed
(a full disk leaves the previous one intact, never a truncated file), carries the identity
of the run that wrote it, and is checked before a run resumes from it:

- `resume=auto` or `resume=PATH` continues a run only from a checkpoint of the same run
  (same run key and seed): another run's checkpoint would silently keep its own optimizer
  state (learning rate included) under this command's settings and run key;
- `resume=finetune:PATH` starts this run from another checkpoint's weights, with a fresh
  optimizer and step count, under a run key of its own, and records where it came from;
- an unreadable checkpoint is named, and `resume=auto` falls back to the newest intact one.

One run of an identity at a time owns its checkpoint folder (a lock beside it): a second
identical run started together would otherwise delete the first one's checkpoints.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import math
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from weakref import proxy

import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from common.config import ConfigError
from common.errors import UserError
from harness.identity import identity_config
from harness.saving import mount_point

log = logging.getLogger("harness")

IDENTITY_KEY = "run_identity"
WALL_KEY = "run_wall_s"  # the run's wall time up to this checkpoint, over every session it ran in
FINETUNE = "finetune:"


class CheckpointNotSaved(UserError):
    """A checkpoint could not be written; the previous one is intact."""


def identity_of(run) -> dict:
    """What a checkpoint says about the run that wrote it."""
    return {"run_key": run.key, "seed": int(run.cfg.seed), "name": run.checkpoint_dir().name,
            "config": identity_config(run.cfg)}


class AtomicCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that writes each file under a temporary name, then renames it, and
    stamps the run's identity into it."""

    def __init__(self, identity: dict, clock: Callable[[], float] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.identity, self.clock = identity, clock

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint[IDENTITY_KEY] = self.identity
        if self.clock is not None:  # a resumed run's record then counts the time before the interruption too
            checkpoint[WALL_KEY] = round(self.clock(), 2)

    def teardown(self, trainer, pl_module, stage: str) -> None:
        if stage == "fit" and self.dirpath:  # no more checkpoints: the folder is free for the next run
            release(Path(self.dirpath))

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if self.dirpath:  # Lightning skips teardown when fit raises
            release(Path(self.dirpath))

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        final = Path(filepath)
        tmp = final.with_name(f".tmp-{os.getpid()}-{final.name}.part")
        try:
            trainer.save_checkpoint(str(tmp), self.save_weights_only)
            if trainer.is_global_zero:
                with open(tmp, "rb") as f:  # the data is on disk before the name points at it
                    os.fsync(f.fileno())
                os.replace(tmp, final)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            reason = os.strerror(err.errno) if err.errno else str(err)
            mount = mount_point(final.parent)
            remedy = (f"free space on {mount} (df -h {mount}) or choose another checkpoint_dir=" if err.errno in
                      (errno.ENOSPC, errno.EDQUOT) else "choose a writable checkpoint_dir=")
            previous = self._last_checkpoint_saved
            kept = f"the previous checkpoint {previous} is intact" if previous else "no checkpoint was written yet"
            raise CheckpointNotSaved(f"{reason[:1].lower() + reason[1:]} writing {final}: {remedy}; {kept}"
                                     + ("; resume with the same command plus resume=auto" if previous else "")) from None
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))


# -- reading ---------------------------------------------------------------------------

class Unreadable(Exception):
    """A checkpoint file that does not load; the message says why."""


def load(path: str | os.PathLike) -> dict:
    """A checkpoint's contents, or Unreadable with the reason (truncated, not a checkpoint)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises RuntimeError, EOFError, pickle errors... for a damaged file
        text = str(err).splitlines()[0].split(". ")[0] if str(err) else ""  # torch adds a paragraph of advice
        raise Unreadable(f"{type(err).__name__}: {text}" if text else type(err).__name__) from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise Unreadable("not a Lightning checkpoint (no state_dict)")
    return ckpt


def newest_intact(folder: Path, besides: Path | None = None) -> tuple[Path, dict] | None:
    """The most recently written checkpoint in `folder` that loads, skipping `besides`."""
    candidates = sorted((p for p in folder.glob("*.ckpt") if besides is None or p.resolve() != besides.resolve()),
                        key=lambda p: p.stat().st_mtime, reverse=True)
    for p in candidates:
        try:
            return p, load(p)
        except Unreadable:
            continue
    return None


def weights_problem(module: torch.nn.Module, state: Any) -> str | None:
    """None when `state` loads into `module`, else what does not fit."""
    if not isinstance(state, dict):
        return "it holds no model weights"
    mine = module.state_dict()
    missing = [k for k in mine if k not in state]
    extra = [k for k in state if k not in mine]
    shape = [k for k in mine if k in state and tuple(state[k].shape) != tuple(mine[k].shape)]
    if not (missing or extra or shape):
        return None
    example = (missing or extra or shape)[0]
    return (f"its weights do not fit this model ({len(missing)} missing, {len(extra)} unexpected, "
            f"{len(shape)} of another shape; e.g. {example})")


def lr_problem(run, ckpt: dict) -> str | None:
    """None when the checkpoint's optimizer started from this command's learning rates, else
    what differs: resuming restores the optimizer state, whose rates would win silently."""
    states = ckpt.get("optimizer_states") or [{}]
    groups = states[0].get("param_groups", []) if isinstance(states[0], dict) else []
    theirs = {g.get("name"): g["initial_lr"] for g in groups if isinstance(g.get("initial_lr"), float)}
    mine = {g["name"]: g["lr"] for g in run.optimizer.param_groups(run.model)}
    differ = [f"{name} group: lr {theirs[name]:g} there, {mine[name]:g} here" for name in sorted(theirs)
              if name in mine and not math.isclose(theirs[name], mine[name], rel_tol=1e-6)]
    return f"its optimizer was trained at other learning rates ({'; '.join(differ)})" if differ else None


def _flat(d: Any, prefix: str = "") -> dict:
    if not isinstance(d, dict):
        return {prefix.rstrip("."): d}
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}."))
    return out


# named first when a checkpoint's run differs from the command's: what a reader recognises a run by
FIRST = ("model.name", "task._target_", "seed", "optimizer.lr")


def differences(theirs: dict, mine: dict) -> dict[str, list]:
    """{dotted key: [checkpoint's value, this command's value]} over config and seed."""
    a = {**_flat(theirs.get("config") or {}), "seed": theirs.get("seed")}
    b = {**_flat(mine.get("config") or {}), "seed": mine.get("seed")}
    keys = sorted(set(a) | set(b), key=lambda k: (FIRST.index(k) if k in FIRST else len(FIRST), k))
    return {k: [a.get(k), b.get(k)] for k in keys if a.get(k) != b.get(k)}


def _diff_text(diff: dict[str, list], most: int = 3) -> str:
    parts = [f"{k}={v[0]} there, {v[1]} here" for k, v in list(diff.items())[:most]]
    more = len(diff) - most
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


# -- resuming --------------------------------------------------------------------------

def resume_override(value: str | os.PathLike) -> str:
    """`resume=VALUE` as a user can paste it: Hydra's grammar refuses `=` (as in step=20.ckpt)
    and most punctuation in an unquoted value."""
    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9_./:+-]+", text):
        return f"resume={text}"
    return f"'resume=\"{text}\"'"


def checked_resume(run) -> str | None:
    """The checkpoint `trainer.fit` should resume from (None: start fresh), after checking that
    it is readable and belongs to this run; `resume=finetune:PATH` loads its weights instead."""
    spec = run.cfg.resume
    if isinstance(spec, str) and spec.startswith(FINETUNE):
        return _finetune(run, spec[len(FINETUNE):])
    path = run.resume_path()
    if path is None:
        return None
    path = Path(path)
    try:
        ckpt = load(path)
    except Unreadable as err:
        found = newest_intact(path.parent, besides=path)
        if run.cfg.resume == "auto" and found is not None:
            log.warning("resume=auto: %s is unreadable (%s); resuming from %s (step %s), the newest intact checkpoint",
                        path, err, found[0], found[1].get("global_step"))
            path, ckpt = found
        else:
            beside = (f"the newest intact checkpoint beside it is {found[0]} (step {found[1].get('global_step')}): "
                      f"{resume_override(found[0])}" if found else "no intact checkpoint beside it: start again without resume")
            raise ConfigError(f"resume: {path} is unreadable ({err}); {beside}") from None
    check_identity(run, path, ckpt)
    run.wall_before = float(ckpt.get(WALL_KEY) or 0.0)
    return str(path)


def check_identity(run, path: Path, ckpt: dict) -> None:
    theirs, mine = ckpt.get(IDENTITY_KEY), identity_of(run)
    if theirs is None:  # written before checkpoints carried an identity: weights and learning rate must match
        problem = weights_problem(run.module, ckpt.get("state_dict")) or lr_problem(run, ckpt)
        if problem:
            raise ConfigError(f"resume={path}: {problem}: the checkpoint belongs to another run; "
                              f"resume it with that run's command, or pass "
                              f"{resume_override(f'{FINETUNE}{path}')} to start this run from its weights")
        return
    if (theirs.get("run_key"), theirs.get("seed")) != (mine["run_key"], mine["seed"]):
        raise ConfigError(f"resume={path}: the checkpoint belongs to another run, {theirs.get('name')} "
                          f"({_diff_text(differences(theirs, mine))}); resume it with that run's command, or pass "
                          f"{resume_override(f'{FINETUNE}{path}')} to start this run from its weights")


def _finetune(run, path_text: str) -> None:
    path = Path(path_text)
    if not path.is_file():
        raise ConfigError(f"resume={FINETUNE}{path_text}: no such checkpoint file")
    try:
        ckpt = load(path)
    except Unreadable as err:
        raise ConfigError(f"resume={FINETUNE}{path}: unreadable checkpoint ({err})") from None
    problem = weights_problem(run.module, ckpt.get("state_dict"))
    if problem:
        raise ConfigError(f"resume={FINETUNE}{path}: {problem}")
    run.module.load_state_dict(ckpt["state_dict"])
    theirs = ckpt.get(IDENTITY_KEY) or {}
    source = theirs.get("run_key") or hashlib.sha1(f"{path.resolve()}:{ckpt.get('global_step')}".encode()).hexdigest()
    run.finetuned_from = {"checkpoint": str(path), "run_key": theirs.get("run_key"), "seed": theirs.get("seed"),
                          "step": ckpt.get("global_step"),
                          "differs": differences(theirs, identity_of(run)) if theirs else None}
    # a run key of its own: the same settings trained from scratch are another experiment,
    # which a sweep must not skip because this fine-tuned run exists
    run.key = hashlib.sha1(f"{run.key}+{FINETUNE}{source}".encode()).hexdigest()[:12]
    callback = run.trainer.checkpoint_callback
    if isinstance(callback, ModelCheckpoint):
        callback.dirpath = str(run.checkpoint_dir())
        if isinstance(callback, AtomicCheckpoint):
            callback.identity = identity_of(run)
    log.info("fine-tuning from %s (run %s, step %s): its weights, this command's settings, a fresh optimizer",
             path, theirs.get("name", "unknown"), ckpt.get("global_step"))
    return None


def provenance(run) -> dict:
    """The record field that says where a fine-tuned run's weights came from (none otherwise)."""
    source = getattr(run, "finetuned_from", None)
    return {"finetuned_from": source} if source else {}


# -- owning the folder -----------------------------------------------------------------

_held: dict[str, int] = {}


def _is_secondary_rank() -> bool:
    # Lightning's DDP launcher starts ranks > 0 as copies of the command: they run under rank 0's claim
    return any(int(os.environ.get(v, "0") or 0) > 0 for v in ("LOCAL_RANK", "NODE_RANK", "RANK"))


def claim(ckpt_dir: Path, fresh: bool) -> None:
    """Own `ckpt_dir` for this process (a lock beside it); a fresh run then clears what an
    earlier run of this identity left there. A second live run of the same identity is refused."""
    if _is_secondary_rank():
        return
    for fd in _held.values():  # runs in one process are sequential: the earlier ones are over
        os.close(fd)
    _held.clear()
    key = os.path.realpath(ckpt_dir)
    ckpt_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = ckpt_dir.parent / f".{ckpt_dir.name}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise ConfigError(f"another run of this identity (pid {holder}) is using {ckpt_dir}: wait for it to finish "
                          f"or stop it; a different seed= is a different run") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _held[key] = fd
    if fresh and ckpt_dir.exists():
        shutil.rmtree(ckpt_dir)  # an earlier run of this identity; this one supersedes it
    for part in ckpt_dir.glob(".tmp-*.part"):  # a killed run's half-written file: nobody else writes here now
        part.unlink(missing_ok=True)


def release(ckpt_dir: Path) -> None:
    """Give up `claim`'s lock (closing the file releases it): for a process that goes on
    after its run, e.g. a notebook or a test calling harness.run.train."""
    fd = _held.pop(os.path.realpath(ckpt_dir), None)
    if fd is not None:
        os.close(fd)
