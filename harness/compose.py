"""The config `python train.py <overrides>` runs, composed in-process (no new Python,
no Hydra job): for tests and notebooks that call `harness.run.train` directly."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from harness.cli import CONF_DIR, normalise_overrides


def compose_run(overrides: Iterable[str] = (), config_dirs: Iterable[str | Path] = ()) -> tuple[DictConfig, bool]:
    """(config, published): the same overrides, with the same shorthands (`model.d_state`
    for `model.layer.d_state`), as on the command line; `published` is whether a declared
    leaderboard sweep (`experiment=leaderboard/...`) chose it."""
    argv = normalise_overrides(list(overrides))
    dirs = [f"file://{Path(d).resolve()}" for d in config_dirs]
    if dirs:
        argv = [f"hydra.searchpath=[{','.join(dirs)}]", *argv]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("config", overrides=argv, return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
    published = str(cfg.hydra.runtime.choices.get("experiment") or "").startswith("leaderboard/")
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, published
