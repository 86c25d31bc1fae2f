"""A run's identity: which resolved config (minus bookkeeping) and which seed.

Two runs with the same identity are the same experiment: sweeps skip identities
that already have an `ok` record, and `resume=auto` finds the checkpoint by it.
"""
from __future__ import annotations

import hashlib
import json

from omegaconf import DictConfig, OmegaConf

# Keys that say where or how verbosely a run happens, or what is observed, not what it computes.
NOT_IDENTITY = {
    "seed", "results_dir", "checkpoint_dir", "resume", "force", "threads", "lr_grid", "lr_index",
    "trainer.enable_progress_bar", "trainer.enable_model_summary", "trainer.log_every_n_steps",
    "trainer.accelerator", "trainer.devices", "trainer.strategy", "trainer.num_nodes",
    "sensitivity",  # the diagnostics observe a run; they change nothing it computes
}


def identity_config(cfg: DictConfig) -> dict:
    data = OmegaConf.to_container(cfg, resolve=True)
    data.pop("hydra", None)
    for dotted in NOT_IDENTITY:
        node, *rest = dotted.split(".")
        if not rest:
            data.pop(node, None)
        elif isinstance(data.get(node), dict):
            data[node].pop(rest[0], None)
    return data


def run_key(cfg: DictConfig) -> str:
    blob = json.dumps(identity_config(cfg), sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]
