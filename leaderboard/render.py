"""Markdown for the leaderboard: one table per (track, task variant)."""
from __future__ import annotations

import math

from leaderboard.aggregate import Row, primary_of

SENS_COLUMNS = [("act_m2_max", "E[y²] max"), ("grad_ratio", "grad rec/other"), ("state_sens_rel_max", "state sens rel"),
                ("tau_max_over_T", "τ_max/T"), ("jac_fro_lag", "‖∂h_T/∂h_T-k‖²")]
TRACKS = {"cpu": "cpu track: each run within a fixed budget on a 2-core CPU",
          "gpu": "gpu track: one H100-class GPU"}


def num(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, int):
        return str(v)
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e4:
        return f"{v:.{digits}f}" if abs(v) < 10 else f"{v:.{max(0, digits - 2)}f}"
    return f"{v:.2e}"


def lr_text(lr: float | None) -> str:
    return "–" if lr is None else f"{lr:g}"


def metric_cell(row: Row, metric: str) -> str:
    mean, std, n = row.mean_std(metric)
    return "–" if mean is None else f"{num(mean)} ± {num(std)}"


def seeds_cell(row: Row, metric: str) -> str:
    """Seeds behind the mean; 'k/n' when only k of the n seeds at the chosen LR finished finite."""
    counted, ran = row.mean_std(metric)[2], len(row.chosen)
    return str(counted) if counted == ran else f"{counted}/{ran}"


def table(rows: list[Row]) -> list[str]:
    metric, higher = primary_of(rows[0].records[0])
    others = sorted({k for row in rows for r in row.chosen for k in (r["metrics"].get("test") or {})} - {metric})
    head = (["model", f"test {metric} {'↑' if higher else '↓'}", "seeds", *[f"test {m}" for m in others], "lr (grid)",
             "diverged"] + [f"{title} init→final" for _, title in SENS_COLUMNS]
            + ["params", "state", "tokens/s", "device"])
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["--:"] * (len(head) - 1)) + "|"]
    for row in rows:
        first = row.chosen[0]
        grid = ", ".join(lr_text(x) for x in row.lr_grid)
        cells = [
            row.label, metric_cell(row, metric), seeds_cell(row, metric),
            *[metric_cell(row, m) for m in others],
            f"{lr_text(row.lr)} ({grid})" if len(row.lr_grid) > 1 else lr_text(row.lr),
            f"{row.diverged}/{len(row.records)}",
            *[f"{num(row.sensitivity('init', k))} → {num(row.sensitivity('final', k))}" for k, _ in SENS_COLUMNS],
            str(first["model"].get("params", "–")), str(first["model"].get("state_size", "–")),
            num(row.cost("tokens_per_s"), 0), (first.get("cost") or {}).get("device", "–"),
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def section(track: str, task: str, variant: str, rows: list[Row], baselines: dict) -> list[str]:
    metric, higher = primary_of(rows[0].records[0])
    out = [f"### {task} · `{variant}` · {track}", "",
           f"Protocol: task `{task}` with `{variant}`; {TRACKS.get(track, track)}. "
           f"Rows ranked by test {metric} ({'higher' if higher else 'lower'} is better) at the learning rate chosen on "
           f"validation {metric}; mean ± std over seeds (`k/n` seeds: only k of the n runs at that learning rate "
           f"ended finite); `diverged` counts runs over the whole grid."]
    if baselines:
        out[-1] += " Baselines: " + ", ".join(f"{k} = {num(v, 4)}" for k, v in sorted(baselines.items())) + "."
    return out + ["", *table(rows), ""]
