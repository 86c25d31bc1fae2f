"""Where a run's learning rate comes from: the config, a sweep's declared grid
(`lr_grid` + `lr_index`), or the value chosen on validation at a curve's reference
point (`lr_reference`), so one learning rate serves a whole memory curve."""
from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from common.config import ConfigError
from harness.identity import chosen_row, records_of_setting


def declared_grid(cfg: DictConfig):
    """The learning-rate grid this run's sweep declared: `lr_grid`, or its entry for this
    model when `lr_grid` maps model names to lists (None when no grid is declared)."""
    grid = cfg.lr_grid
    if isinstance(grid, DictConfig):
        if cfg.model.name not in grid:
            raise ConfigError(f"lr_grid has no entry for model {cfg.model.name!r}; it has: {', '.join(grid)}")
        grid = grid[cfg.model.name]
    return grid


def apply_lr_grid(cfg: DictConfig) -> None:
    """`lr_index` picks optimizer.lr from the declared grid (the model's own grid when
    `lr_grid` maps model names to lists), so one sweep can give each model its grid."""
    if cfg.lr_index is None:
        return
    grid = declared_grid(cfg)
    if grid is None or not 0 <= cfg.lr_index < len(grid):
        raise ConfigError(f"lr_index={cfg.lr_index} is outside the declared lr_grid {OmegaConf.to_container(grid) if grid else None}")
    cfg.optimizer.lr = float(grid[cfg.lr_index])


def lr_from_reference(cfg: DictConfig, task) -> dict | None:
    """With `lr_reference: {task.delay: 64}`, set optimizer.lr to the learning rate chosen
    on validation (mean over seeds) among the records of this same setting at that point
    of the curve; those runs must exist in results_dir (the reference sweep runs first)."""
    ref = cfg.lr_reference
    if ref is None:
        return None
    ref = OmegaConf.to_container(ref, resolve=True)
    matching = [rec for rec in records_of_setting(cfg, ignore=tuple(ref))
                if all(OmegaConf.select(OmegaConf.create(rec["config"]), k) == v for k, v in ref.items())]
    if not matching:
        at = ", ".join(f"{k}={v}" for k, v in ref.items())
        raise ConfigError(f"lr_reference: no records of this setting at {at} in {cfg.results_dir}; "
                          f"run the curve's reference sweep first (it tries every learning rate of the grid there)")
    row = chosen_row(matching)
    missing = sorted(set(map(float, declared_grid(cfg) or ())) - set(row.lr_grid))
    if missing:  # choosing among the rates run so far would fix a rate the full grid might not
        raise ConfigError(f"lr_reference: no run at lr {', '.join(map(str, missing))} of the declared grid yet; "
                          f"finish the curve's reference sweep first")
    cfg.optimizer.lr = float(row.lr)
    return {"at": ref, "grid": row.lr_grid, "seeds": len(row.chosen)}


__all__ = ["apply_lr_grid", "lr_from_reference"]
