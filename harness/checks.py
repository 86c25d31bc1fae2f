"""Checks that run before anything is built or trained: each failure is one line
saying what is wrong and what to do (a ConfigError), never a traceback later on."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from common.config import ConfigError

# Bytes a training step keeps per (sequence, step, channel, layer) for the backward pass:
# norm, layer input/output and state, GELU, GLU (2x), dropout and residual, in fp32, with slack.
ACTIVATION_BYTES = 4 * 24


def check_run_keys(cfg: DictConfig) -> None:
    if cfg.seed < 0:
        raise ConfigError(f"seed={cfg.seed} is invalid: use a seed >= 0 (e.g. seed=0)")
    if cfg.threads is not None and cfg.threads < 1:
        raise ConfigError(f"threads={cfg.threads} is invalid: expected a positive number or null")
    for key in ("results_dir", "checkpoint_dir"):
        if not str(cfg[key]).strip():
            raise ConfigError(f"{key} is empty: give a directory, e.g. {key}={'results' if key == 'results_dir' else 'checkpoints'}")
    if cfg.stop.patience is not None and cfg.stop.patience < 1:
        raise ConfigError(f"stop.patience={cfg.stop.patience}: a number of validations >= 1, or null for no plateau stop")


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
            kind = "CPU cores" if on_cpu else "GPUs"
            raise ConfigError(f"trainer.devices={devices}: only {have} {kind} here; use trainer.devices={have} or fewer")


def available_memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def estimate_memory(task, model_cfg: DictConfig) -> dict[str, float]:
    """Bytes of the evaluation sets held in memory and of one training step's activations."""
    spec = task.spec
    per_pos = 17 if spec.input_kind == "tokens" else 4 * (spec.d_input + spec.d_output) + 1
    n_eval = getattr(task, "n_val", 0) + getattr(task, "n_test", 0)
    layer = OmegaConf.to_container(model_cfg.layer, resolve=True)
    width = max(model_cfg.d_model, 2 * (layer.get("d_state") or 0))
    depth = 1 if model_cfg.mode == "bare" else model_cfg.n_layers
    step = task.batch_size * spec.seq_len * (width * depth * ACTIVATION_BYTES + 12 * spec.d_output)
    return {"eval_sets": n_eval * spec.seq_len * per_pos, "train_step": step}


def check_memory(task, model_cfg: DictConfig) -> None:
    limit = available_memory_bytes()
    if limit is None:
        return
    need = estimate_memory(task, model_cfg)
    total = sum(need.values())
    if total > limit:
        gib = 2**30
        raise ConfigError(
            f"this run needs about {total / gib:.1f} GiB (evaluation sets {need['eval_sets'] / gib:.1f} GiB, one "
            f"training step {need['train_step'] / gib:.1f} GiB) but {limit / gib:.1f} GiB are available; "
            f"shorten the sequences or lower task.batch_size / task.n_val / task.n_test")
