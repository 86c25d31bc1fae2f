"""Leaderboard figures: test metric vs memory where a sweep has it, the sensitivity
summary per model, and the memory-curve figures. PNG, labelled, deterministic for given records."""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common.selection import Row, primary_of  # noqa: E402

PNG_META = {"Software": None}  # no version stamp: the same records give the same bytes


def save(fig, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight", metadata=PNG_META)
    plt.close(fig)
    return path.name


def memory_axis(variants: dict[str, list[Row]]) -> tuple[str, dict[str, float]] | None:
    """The one numeric task option that changes across a task's variants (e.g. copy delay T)."""
    values: dict[str, dict] = {}
    for variant, rows in variants.items():
        values[variant] = {k: v for k, v in ((rows[0].records[0].get("config") or {}).get("task") or {}).items()
                           if isinstance(v, (int, float)) and not isinstance(v, bool)}
    keys = set.intersection(*(set(v) for v in values.values()))
    varying = [k for k in sorted(keys) if len({values[v][k] for v in values}) > 1]
    if len(varying) != 1:
        return None
    return varying[0], {v: float(values[v][varying[0]]) for v in values}


def metric_vs_memory(track: str, task: str, variants: dict[str, list[Row]], out: Path) -> str | None:
    axis = memory_axis(variants) if len(variants) > 1 else None
    if axis is None:
        return None
    key, xs = axis
    metric, higher = primary_of(next(iter(variants.values()))[0].records[0])
    series: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for variant, rows in variants.items():
        for model in sorted({r.model for r in rows}):
            best = next(r for r in rows if r.model == model)
            mean, std, n = best.mean_std(metric)
            if mean is not None:
                series[model].append((xs[variant], mean, std))
    fig, ax = plt.subplots(figsize=(6, 4))
    for model, pts in sorted(series.items()):
        pts.sort()
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], marker="o", capsize=3, label=model)
    ax.set_xlabel(f"task.{key}")
    ax.set_ylabel(f"test {metric} (mean ± std over seeds)")
    ax.set_title(f"{task}: test {metric} vs task.{key} ({track} track)")
    if not higher:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, out / f"{track}_{task}_{metric}_vs_{key}.png")


def sensitivity_bars(track: str, task: str, variants: dict[str, list[Row]], out: Path) -> str | None:
    key = "state_sens_rel_max"
    panels = [(v, rows) for v, rows in sorted(variants.items())
              if any(r.sensitivity("init", key) is not None for r in rows)]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
    for ax, (variant, rows) in zip(axes[0], panels):
        rows = sorted(rows, key=lambda r: r.label)
        xs = range(len(rows))
        for offset, when, colour in ((-0.2, "init", "tab:blue"), (0.2, "final", "tab:orange")):
            vals = [r.sensitivity(when, key) for r in rows]
            ax.bar([x + offset for x in xs], [v if v and v > 0 and math.isfinite(v) else float("nan") for v in vals],
                   width=0.4, color=colour, label=when)
        ax.set_xticks(list(xs), [r.label for r in rows], rotation=45, ha="right", fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("max over layers of E|∂h/∂ω|² / E|h|²")
        ax.set_title(f"{task} {variant}", fontsize=9)
        ax.legend(fontsize=8)
    fig.suptitle(f"Relative state sensitivity to recurrent parameters ({track} track)")
    return save(fig, out / f"{track}_{task}_sensitivity.png")


def draw_all(tables: dict[tuple[str, str, str], list[Row]], out: Path, curves: list | None = None) -> list[str]:
    """Figures of the tasks without a memory axis, then of the curves (leaderboard/curve_figures.py)."""
    from leaderboard.curve_figures import draw_curves

    by_task: dict[tuple[str, str], dict[str, list[Row]]] = defaultdict(dict)
    for (track, task, variant), rows in tables.items():
        by_task[(track, task)][variant] = rows
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for (track, task), variants in sorted(by_task.items()):
        for draw in (metric_vs_memory, sensitivity_bars):
            name = draw(track, task, variants, out)
            if name:
                names.append(name)
    return names + (draw_curves(curves, out, save) if curves else [])
