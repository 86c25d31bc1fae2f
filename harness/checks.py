"""Checks that run before anything is built or trained: each failure is one line
saying what is wrong and what to do (a ConfigError), never a traceback later on."""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from omegaconf import DictConfig

from common.config import ConfigError
from common.names import check_names

# Bytes a training step keeps per (sequence, step, channel, layer) for the backward pass:
# norm, layer input/output and state, GELU, GLU (2x), dropout and residual, in fp32, with slack.
ACTIVATION_BYTES = 4 * 24


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, e.g. under taskset or a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_run_keys(cfg: DictConfig) -> None:
    check_names(cfg)
    if cfg.seed < 0:
        raise ConfigError(f"seed={cfg.seed} is invalid: use a seed >= 0 (e.g. seed=0)")
    if cfg.threads is not None and cfg.threads < 1:
        raise ConfigError(f"threads={cfg.threads} is invalid: expected a positive number or null")
    # more threads than cores makes torch's workers wait on each other: measured 36x slower
    # (threads=999 on 2 cores: 72.6 s instead of 2.0 s for the same run)
    if cfg.threads is not None and cfg.threads > (cores := usable_cores()):
        raise ConfigError(f"threads={cfg.threads}: only {cores} CPU cores here; use threads={cores} or fewer")
    check_trainer_budget(cfg.trainer)
    for key in ("results_dir", "checkpoint_dir"):
        if not str(cfg[key]).strip():
            raise ConfigError(f"{key} is empty: give a directory, e.g. {key}={'results' if key == 'results_dir' else 'checkpoints'}")
    if cfg.stop.patience is not None and cfg.stop.patience < 1:
        raise ConfigError(f"stop.patience={cfg.stop.patience}: a number of validations >= 1, or null for no plateau stop")
    if cfg.stop.not_before is not None and not 0 <= cfg.stop.not_before < 1:
        raise ConfigError(f"stop.not_before={cfg.stop.not_before}: a fraction of the run's steps in [0, 1), "
                          f"before which no plateau verdict is given, or null")


def check_trainer_budget(trainer: DictConfig) -> None:
    """Trainer values Lightning accepts but that make a run's verdict meaningless."""
    steps, every = trainer.get("max_steps"), trainer.get("val_check_interval")
    if (isinstance(steps, int) and steps > 0 and isinstance(every, int) and not isinstance(every, bool)
            and every > steps and (trainer.get("limit_val_batches") != 0)):
        # no validation would ever run: the verdict would read "still improving" with nothing measured
        raise ConfigError(f"trainer.val_check_interval={every} is larger than trainer.max_steps={steps}: no "
                          f"validation would run; use trainer.val_check_interval={steps} or less")
    clip = trainer.get("gradient_clip_val")
    if isinstance(clip, (int, float)) and not isinstance(clip, bool) and clip < 0:
        raise ConfigError(f"trainer.gradient_clip_val={clip} is invalid: a norm >= 0 to clip at, or null for no clipping")


def settle_precision(trainer: DictConfig) -> None:
    """Write into the config the precision Lightning will really use, so the record and the
    run key name what ran: on a CPU Lightning swaps fp16 AMP for bf16 with only a warning."""
    import torch

    accel = str(trainer.get("accelerator", "auto"))
    on_cpu = accel == "cpu" or (accel == "auto" and not torch.cuda.is_available())
    if on_cpu and str(trainer.get("precision")) in ("16-mixed", "16"):
        logging.getLogger("harness").warning(
            "trainer.precision=%s: fp16 autocast is not available on a CPU; this run uses bf16-mixed and its "
            "record says so", trainer.precision)
        trainer.precision = "bf16-mixed"


def check_writable(directory: str, key: str) -> None:
    """Create `directory` and write a probe file in it, so a run never trains for an
    hour and then loses its record to a permission error."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-probe-"):
            pass
    except OSError as err:
        raise ConfigError(f"{key}={directory}: cannot write there ({err.strerror or err}); "
                          f"choose a writable directory, e.g. {key}=results") from None


def check_devices(trainer: DictConfig) -> None:
    import torch  # only here: the rest of this module runs before torch loads

    accel = str(trainer.get("accelerator", "auto"))
    devices = trainer.get("devices", 1)
    if accel in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.accelerator={accel}: no CUDA GPU is visible here; use trainer.accelerator=cpu (or auto)")
    on_cpu = accel == "cpu" or (accel == "auto" and not torch.cuda.is_available())
    if isinstance(devices, int) and devices > 1:
        have = (os.cpu_count() or 1) if on_cpu else torch.cuda.device_count()
        if devices > have:
            if on_cpu:
                raise ConfigError(f"trainer.devices={devices}: only {have} CPU cores here; use trainer.devices={have} or fewer")
            raise ConfigError(f"trainer.devices={devices}: only {have} GPU{'s' if have != 1 else ''} here; use "
                              f"trainer.devices={have} or fewer, or trainer.accelerator=cpu for {devices} CPU processes")


def available_memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def memory_terms(task, model_cfg: DictConfig, d_state: int = 0) -> dict:
    """Bytes of the evaluation sets held in memory and of one training step's activations, and
    the factors of the latter, so the hint can name the term that dominates. `d_state` is the
    built layer's (a config may leave it to `model.state` or to the layer's default)."""
    spec = task.spec
    per_pos = 17 if spec.input_kind == "tokens" else 4 * (spec.d_input + spec.d_output) + 1
    n_eval = getattr(task, "n_val", 0) + getattr(task, "n_test", 0)
    width = max(model_cfg.d_model, 2 * d_state)
    depth = 1 if model_cfg.mode == "bare" else model_cfg.n_layers
    step = task.batch_size * spec.seq_len * (width * depth * ACTIVATION_BYTES + 12 * spec.d_output)
    return {"eval_sets": n_eval * spec.seq_len * per_pos, "train_step": step,
            "state_sets_width": 2 * d_state > model_cfg.d_model, "d_state": d_state, "width": width}


def memory_hint(terms: dict) -> str:
    """What to lower, naming the term that dominates the estimate."""
    if terms["eval_sets"] >= terms["train_step"]:
        return "lower task.n_val / task.n_test (the evaluation sets dominate) or shorten the sequences"
    if terms["state_sets_width"]:
        return (f"lower model.d_state (its {terms['d_state']} states, {terms['width']} values per position and layer, "
                f"dominate one training step), or task.batch_size")
    return ("lower task.batch_size, model.d_model or model.n_layers, or shorten the sequences (one training step "
            "dominates)")


def check_memory(task, model_cfg: DictConfig, model=None) -> None:
    limit = available_memory_bytes()
    if limit is None:
        return
    # the built layer knows its d_state even when the config leaves it to model.state or the default
    layers = [m for m in (model.modules() if model is not None else []) if hasattr(m, "d_state")]
    d_state = getattr(layers[0], "d_state", 0) if layers else model_cfg.layer.get("d_state")
    terms = memory_terms(task, model_cfg, int(d_state or 0))
    total = terms["eval_sets"] + terms["train_step"]
    if total > limit:
        gib = 2**30
        raise ConfigError(
            f"this run needs about {total / gib:.1f} GiB (evaluation sets {terms['eval_sets'] / gib:.1f} GiB, one "
            f"training step {terms['train_step'] / gib:.1f} GiB) but {limit / gib:.1f} GiB are available; "
            f"{memory_hint(terms)}")
