"""Discovery: the models and tasks are the YAML files in conf/model/ and conf/task/
(plus any extra config directories), so adding one needs no list edited anywhere."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def _roots(extra: Iterable[str | Path]) -> list[Path]:
    return [CONF_DIR, *(Path(d) for d in extra)]


def config_names(group: str, extra_dirs: Iterable[str | Path] = ()) -> list[str]:
    """Every option of a config group, sub-folders included (e.g. `ladder/dense`)."""
    names = set()
    for root in _roots(extra_dirs):
        folder = root / group
        if folder.is_dir():
            names.update(str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.yaml"))
    return sorted(names)


def config_path(group: str, name: str, extra_dirs: Iterable[str | Path] = ()) -> Path:
    for root in reversed(_roots(extra_dirs)):  # later search-path entries win, as in Hydra
        path = root / group / f"{name}.yaml"
        if path.is_file():
            return path
    raise FileNotFoundError(f"no {group} config named {name!r}; available: {', '.join(config_names(group, extra_dirs))}")


def load_config(group: str, name: str, extra_dirs: Iterable[str | Path] = ()) -> DictConfig:
    """The option's YAML as written (no Hydra defaults list or package directives applied)."""
    return OmegaConf.load(config_path(group, name, extra_dirs))


def model_names(extra_dirs: Iterable[str | Path] = ()) -> list[str]:
    return config_names("model", extra_dirs)


def task_names(extra_dirs: Iterable[str | Path] = ()) -> list[str]:
    return config_names("task", extra_dirs)
