"""Where a run's learning rate comes from: the config, a sweep's declared grid
(`lr_grid` + `lr_index`), or the value chosen on validation at a curve's reference point
(`lr_reference`), so one learning rate serves a whole memory curve; and whether a declared
run of a grid is needed at all. The rules are common/lr_rules.py, shared with the page."""
from __future__ import annotations

from collections import defaultdict

from omegaconf import DictConfig, OmegaConf

from common.config import ConfigError
from common.lr_rules import Choice, Reference, check_grid, choose_reference, grid_of, parse_reference, run_needed
from harness.identity import per_read, records_of_setting, setting_blob


def declared_grid(cfg: DictConfig):
    """The learning-rate grid this run's sweep declared: `lr_grid`, or its entry for this
    model when `lr_grid` maps model names to lists (None when no grid is declared)."""
    grid = cfg.get("lr_grid")
    if isinstance(grid, DictConfig):
        if cfg.model.name not in grid:
            raise ConfigError(f"lr_grid has no entry for model {cfg.model.name!r}; it has: {', '.join(grid)}")
        grid = grid[cfg.model.name]
    return grid


def apply_lr_grid(cfg: DictConfig) -> None:
    """`lr_index` picks optimizer.lr from the declared grid (the model's own grid when
    `lr_grid` maps model names to lists), so one sweep can give each model its grid."""
    if cfg.get("lr_index") is None:
        return
    grid = declared_grid(cfg)
    if grid is None or not 0 <= cfg.lr_index < len(grid):
        raise ConfigError(f"lr_index={cfg.lr_index} is outside the declared lr_grid {OmegaConf.to_container(grid) if grid else None}")
    cfg.optimizer.lr = float(sorted(grid)[cfg.lr_index])


def _reference(cfg: DictConfig) -> tuple[Reference, list[float] | None] | None:
    spec = cfg.get("lr_reference")
    spec = OmegaConf.to_container(spec, resolve=True) if isinstance(spec, DictConfig) else spec
    axis = cfg.get("curve_axis")  # a declared axis brings its direction: the reference is its hardest solved point
    try:
        ref = parse_reference(spec, axis.get("easier") if axis is not None and axis.get("key") else None)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if ref is None:
        return None
    climb = (cfg.get("stop") or {}).get("climb_failures")
    if not ref.monotone and climb is not None:
        # a climb that stops at a failure takes the axis as monotone: the two would disagree on what runs
        raise ConfigError(f"lr_reference.monotone=false with stop.climb_failures={climb}: an axis that is not "
                          f"monotone runs every point; set stop.climb_failures=null")
    grid = declared_grid(cfg)
    if grid is not None and not isinstance(grid, (list, tuple)):
        grid = OmegaConf.to_container(grid, resolve=True)
    grid = grid_of(grid, cfg.model.name) if grid else None
    if grid and ref.extend and (problem := check_grid(grid, ref.extend)):
        raise ConfigError(f"lr_grid {grid} with lr_reference.extend={ref.extend}: {problem}")
    return ref, grid


def _points(cfg: DictConfig, ref: Reference) -> dict[float | None, list[dict]]:
    """This setting's records (learning rate and seed aside) by their value of the reference's axis key."""
    points: dict[float | None, list[dict]] = defaultdict(list)
    for rec in records_of_setting(cfg, ignore=(ref.key,) if ref.key else ()):
        points[ref.value_of(rec["config"])].append(rec)
    return points


def reference_choice(cfg: DictConfig) -> tuple[Reference, list[float] | None, dict, Choice] | None:
    """This run's reference (None without `lr_reference`), declared grid, records by axis value, and choice."""
    found = _reference(cfg)
    if found is None:
        return None
    ref, grid = found

    def choose() -> tuple[Reference, list[float] | None, dict, Choice]:
        points = _points(cfg, ref)
        return ref, grid, points, choose_reference(points, ref, grid)

    # a sweep job asks for it up to five times (the rate, the climb, each point below, the grid)
    key = ("reference_choice", ref, tuple(grid or ()), setting_blob(cfg, (ref.key,) if ref.key else ()))
    return per_read(cfg.results_dir, key, choose)


def lr_from_reference(cfg: DictConfig, task) -> dict | None:
    """With `lr_reference`, the rate chosen on validation at the curve's reference point (the
    largest candidate some rate solves: common/lr_rules.py) among the records of this same setting
    in results_dir. A run without `lr_index` takes that rate; a run with one keeps its own (the
    sweep decides in `lr_skip` whether it is needed). Runs at a candidate need no decided reference:
    they are what decides it."""
    found = reference_choice(cfg)
    if found is None:
        return None
    ref, grid, points, choice = found
    config = OmegaConf.to_container(cfg, resolve=True)
    if choice.waiting:
        if cfg.get("lr_index") is None or not ref.matches(config):
            raise ConfigError(f"lr_reference: {choice.waiting} in {cfg.results_dir}; finish the curve's reference "
                              f"sweep first (it tries every learning rate of the grid there)")
        return None
    if cfg.get("lr_index") is None:
        cfg.optimizer.lr = float(choice.rate)
    at = {ref.key: choice.value} if ref.key else dict(ref.fixed)
    return {"at": at, "grid": list(choice.rates), "seeds": ref.seeds}


def at_reference(cfg: DictConfig, axis_key: str) -> bool:
    """Whether this run is at its setting's decided reference point on the curve's axis (`axis_key`):
    there the learning-rate rules alone decide (its seeds confirm the rate the whole curve uses),
    whatever the climb says below it."""
    found = reference_choice(cfg)
    if found is None or found[0].key != axis_key:
        return False
    ref, _, _, choice = found
    if choice.waiting or choice.value is None:
        return False
    return ref.value_of(OmegaConf.to_container(cfg, resolve=True)) == choice.value


def lr_skip(cfg: DictConfig) -> tuple[str, str] | None:
    """None when this run is needed; else (outcome, why): the grid's rules (common/lr_rules.py)
    read from the records already in results_dir, so a sweep that lists every rate stays
    idempotent and a second pass runs what the first one's results call for."""
    found = reference_choice(cfg)
    if found is None:
        return None
    ref, grid, points, choice = found
    config = OmegaConf.to_container(cfg, resolve=True)
    if choice.waiting and not ref.matches(config):
        return "waiting", choice.waiting
    return run_needed(config, cfg.optimizer.lr, cfg.seed, points, ref, grid, choice)


__all__ = ["apply_lr_grid", "at_reference", "lr_from_reference", "lr_skip", "reference_choice"]
