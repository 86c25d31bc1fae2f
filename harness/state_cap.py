"""The range of states a sweep runs a dense recurrence at (`dense_state_max`): a dense layer's step
grows with S² (its S x S recurrent matrix), a diagonal one's with S, so on a CPU a state-size curve
that runs every model to the same largest S costs hundreds of hours for the dense ones alone
(benchmarks/track_cost.py). Which layers are dense is each layer's own declaration
(`RecurrentLayer.diagonal`), so a sweep names no model to cap. A cap of 0 runs no dense recurrence at
all: a sweep whose dense points another curve already settles (mqar_state.yaml, leaderboard/implied.py)."""
from __future__ import annotations

from omegaconf import DictConfig, OmegaConf, open_dict

from common.config import ConfigError, resolve_target

STATE_KEY = "model.layer.state"


def dense_cap(cfg: DictConfig) -> int | None:
    """The largest state this run's layer may run at: `dense_state_max` for a dense recurrence, else None."""
    cap = cfg.get("dense_state_max")
    layer = cfg.model.get("layer")
    if cap is None or layer is None or "_target_" not in layer:
        return None
    if cap < 0:
        raise ConfigError(f"dense_state_max={cap}: must be a state size >= 0 (0: no dense recurrence; null: no cap)")
    return None if getattr(resolve_target(layer._target_, "model.layer"), "diagonal", False) else int(cap)


def apply_state_cap(cfg: DictConfig) -> None:
    """Drop the learning-rate reference's state candidates above a dense layer's cap, so its rate
    is chosen among the states it runs at; the record then carries the candidates it used."""
    cap = dense_cap(cfg)
    at = (cfg.get("lr_reference") or {}).get("at")
    if not cap or not isinstance(at, DictConfig) or STATE_KEY not in at:  # none, or 0: the run is skipped
        return
    values = OmegaConf.to_container(at[STATE_KEY], resolve=True)
    if not isinstance(values, list):
        return
    kept = [v for v in values if v <= cap]
    if not kept:
        raise ConfigError(f"lr_reference.at.{STATE_KEY}={values}: no candidate at or below dense_state_max={cap}, "
                          f"where a dense layer ({cfg.model.name}) runs; add one or raise the cap")
    with open_dict(at):
        at[STATE_KEY] = kept


def state_cap_skip(cfg: DictConfig) -> tuple[str, str] | None:
    """(outcome, why) when this run's state is above its layer's cap; None when it runs."""
    cap = dense_cap(cfg)
    state = cfg.model.layer.get("state") if cap is not None else None
    if state is None or state <= cap:
        return None
    if cap == 0:
        return "beyond_state_cap", (f"{cfg.model.name} has a dense recurrence: this sweep runs none "
                                    f"(dense_state_max: 0)")
    return "beyond_state_cap", (f"{cfg.model.name} has a dense recurrence (step ~ S²): this sweep runs it at "
                                f"S <= {cap} (dense_state_max), not {state}")
