"""A run's identity: which resolved config (minus bookkeeping) and which seed.

Two runs with the same identity are the same experiment: sweeps skip identities
that already have an `ok` record, and `resume=auto` finds the checkpoint by it.
"""
from __future__ import annotations

import copy
import hashlib
import json

from omegaconf import DictConfig, OmegaConf

from common.keys import NOT_IDENTITY, SELECTED_OVER, drop_keys
from common.record_io import read_records
from common.selection import Row, setting_of, table_rows


def identity_config(cfg: DictConfig) -> dict:
    data = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    data.pop("hydra", None)
    return drop_keys(data, NOT_IDENTITY)


def run_key(cfg: DictConfig) -> str:
    blob = json.dumps(identity_config(cfg), sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def records_of_setting(cfg: DictConfig, ignore: tuple[str, ...] = ()) -> list[dict]:
    """The records in results_dir of this run's setting (learning rate and seed aside),
    also ignoring the dotted keys in `ignore` (e.g. the memory axis)."""
    keys = ("lr_reference", *SELECTED_OVER, *ignore)
    mine = drop_keys(identity_config(cfg), keys)
    return [rec for rec in read_records(cfg.results_dir)
            if isinstance(rec, dict) and isinstance(rec.get("config"), dict) and drop_keys(setting_of(rec), keys) == mine]


def chosen_row(records: list[dict]) -> Row:
    """The leaderboard's choice among these records: learning rate on validation, its runs."""
    return table_rows(copy.deepcopy(records))[0]
