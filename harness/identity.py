"""A run's identity: which resolved config (minus bookkeeping) and which seed.

Two runs with the same identity are the same experiment: sweeps skip identities
that already have an `ok` record, and `resume=auto` finds the checkpoint by it.
"""
from __future__ import annotations

import hashlib
import json

from omegaconf import DictConfig, OmegaConf

from common.keys import NOT_IDENTITY, drop_keys


def identity_config(cfg: DictConfig) -> dict:
    data = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    data.pop("hydra", None)
    return drop_keys(data, NOT_IDENTITY)


def run_key(cfg: DictConfig) -> str:
    blob = json.dumps(identity_config(cfg), sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]
