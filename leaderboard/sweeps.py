"""The track's declared sweeps (conf/experiment/leaderboard/<name>.yaml) and which one a record came from.

A curve's two files run as a pair, `<name>_lr` (the learning rates at the reference candidates) and
`<name>` (the curve), and write records of one setting; the pair is named by `<name>`. A record says
its sweep through its task, its axis and its model: the state-size curve is MQAR with the state as its
axis, and Mamba with negative eigenvalues has a word-problem sweep of its own. A sweep added without a
line here has no record of its own name, and the audit says so."""
from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from common.registry import CONF_DIR

SWEEP_DIR = CONF_DIR / "experiment" / "leaderboard"


def declared_sweeps(directory: Path = SWEEP_DIR) -> list[str]:
    """The curves and image tables the track declares: each sweep file but the `_lr` ones."""
    return sorted(p.stem for p in directory.glob("*.yaml") if not p.stem.endswith("_lr"))


def sweep_of(record: dict) -> str:
    """The declared sweep a third-edition record came from, read from the record."""
    task, axis = record["task"]["name"], record["task"].get("axis") or {}
    layer = (record.get("config") or {}).get("model", {}).get("layer") or {}
    if task == "mqar" and axis.get("key") == "model.layer.state":
        return "mqar_state"
    return "word_problem_neg" if task == "word_problem" and layer.get("neg_eigen") else task


def declared_points(sweep: str, axis_key: str, directory: Path = SWEEP_DIR) -> list[float]:
    """The axis values a declared sweep lists for `axis_key` in its sweeper's parameters (`1024,512,...`);
    [] where it lists none as plain numbers (a value set elsewhere, or a range)."""
    params = OmegaConf.select(OmegaConf.load(directory / f"{sweep}.yaml"), "hydra.sweeper.params") or {}
    for key, values in params.items():
        if key.lstrip("+") == axis_key:
            try:
                return [float(v) for v in str(values).split(",")]
            except ValueError:
                return []
    return []
