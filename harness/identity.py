"""A run's identity: which resolved config (minus bookkeeping) and which seed.

Two runs with the same identity are the same experiment: sweeps skip identities
that already have an `ok` record, and `resume=auto` finds the checkpoint by it.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from common.keys import SELECTED_OVER, drop_keys, identity_part
from common.record_io import read_records
from common.selection import setting_of


def identity_config(cfg: DictConfig) -> dict:
    data = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    data.pop("hydra", None)
    return identity_part(data)


def run_key(cfg: DictConfig) -> str:
    blob = json.dumps(identity_config(cfg), sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


_READ: dict[str, tuple[int, list[dict], dict[tuple, object]]] = {}


def _entry(results_dir: str) -> tuple | None:
    """The cached read of results_dir: (stamp, records, answers derived from them: `per_read`)."""
    path = Path(results_dir)
    try:  # before reading: a record added meanwhile changes the key again
        stamp = hash(frozenset(name for name in os.listdir(path) if name.endswith(".json")))
    except FileNotFoundError:
        return None
    key = str(path.resolve())
    if key not in _READ or _READ[key][0] != stamp:
        _READ[key] = (stamp, [rec for rec in read_records(path) if isinstance(rec, dict)], {})
    return _READ[key]


def results(results_dir: str) -> list[dict]:
    """Every readable record in results_dir, read again only when the directory has changed: a
    sweep job asks several questions of the same records (the reference, the climb, the grid), and
    a pass of a sweep that lists every rate asks them of thousands of runs that mostly skip.
    Records are written by renaming into the directory and never edited, so the names of its
    records are the key (not its mtime, which every run's write probe moves)."""
    entry = _entry(results_dir)
    return entry[1] if entry else []


def _setting(cfg: DictConfig, ignore: tuple[str, ...]) -> tuple[tuple[str, ...], dict]:
    """The keys a setting leaves out (rate, seed and the like, plus `ignore`) and this run's setting."""
    keys = ("lr_reference", *SELECTED_OVER, *ignore)
    return keys, drop_keys(identity_config(cfg), keys)


def records_of_setting(cfg: DictConfig, ignore: tuple[str, ...] = ()) -> list[dict]:
    """The records in results_dir of this run's setting (learning rate and seed aside),
    also ignoring the dotted keys in `ignore` (e.g. the memory axis)."""
    keys, mine = _setting(cfg, ignore)
    entry = _entry(cfg.results_dir)
    if entry is None:
        return []
    _, records, settings = entry
    if keys not in settings:  # each record's setting once per read, not once per question
        settings[keys] = [drop_keys(setting_of(rec), keys) if isinstance(rec.get("config"), dict) else None
                          for rec in records]
    return [rec for rec, setting in zip(records, settings[keys]) if setting == mine]


def per_read(results_dir: str, key: tuple, compute):
    """`compute()` once per read of results_dir: an answer derived from its records alone (`key`
    names the question and everything else it depends on) is kept with them until they change."""
    entry = _entry(results_dir)
    if entry is None:
        return compute()
    memo = entry[2]
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def setting_blob(cfg: DictConfig, ignore: tuple[str, ...] = ()) -> str:
    """This run's setting (as `records_of_setting` matches it) as a string, for a `per_read` key."""
    return json.dumps(_setting(cfg, ignore)[1], sort_keys=True, default=str)
