"""Figures of the memory curves, one panel per curve of a track: the test metric, the steps
to solve and the end-of-training sensitivity diagnostics along the memory axis, per model.
The paper's story (memory costs sensitivity, sensitivity costs trainability) told with the
harness's own runs."""
from __future__ import annotations

import math
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

from leaderboard.curves import Curve, CurveRow  # noqa: E402

SENSITIVITY = (("state_sens_rel_max", "state sensitivity E|∂h/∂ω|²/E|h|² (max over layers)"),
               ("grad_ratio", "gradient second moment, recurrent / other"))


def _colours(curves: list[Curve]) -> dict[str, str]:
    """One colour per row label on every panel, in a fixed order."""
    labels = sorted({row.label for c in curves for row in c.rows})
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {label: cycle[i % len(cycle)] for i, label in enumerate(labels)}


def _x_axis(ax, curve: Curve) -> None:
    positive = [v for v in curve.values if v > 0]
    fractions = [v for v in positive if v < 1]
    if len(fractions) == len(curve.values) > 1 and (1 - min(fractions)) / (1 - max(fractions)) >= 8:
        # values crowding towards 1 (the teacher's nu0 = 0.99, 0.999: memory ~ 1 / (1 - nu0)) spread out
        ax.set_xscale("logit")
        ax.minorticks_off()
    elif len(positive) == len(curve.values) > 1 and max(positive) / min(positive) >= 8:
        ax.set_xscale("log", base=2)
        ax.minorticks_off()
    ax.set_xticks(curve.values, [f"{v:g}" for v in curve.values])  # the values run, not powers of two
    ax.set_xlabel(f"{curve.axis_name} (`{curve.axis_key}`)")
    ax.grid(alpha=0.3)


def _series(row: CurveRow, value: Callable) -> tuple[list[float], list[float]]:
    pts = [(v, y) for v, cell in sorted(row.cells.items()) if (y := value(cell)) is not None and math.isfinite(y)]
    return [p[0] for p in pts], [p[1] for p in pts]


def _panels(curves: list[Curve], n_rows: int = 1):
    fig, axes = plt.subplots(n_rows, len(curves), figsize=(5.2 * len(curves), 3.9 * n_rows), squeeze=False)
    return fig, axes


def _label_log_y(ax) -> None:
    """A log y axis whose data span fewer than two powers of ten gets one labelled tick or none from
    matplotlib (a model whose sensitivity stays within a factor 2 drew an axis without numbers): a
    few plain ticks there."""
    if ax.get_yscale() != "log" or not ax.has_data():
        return
    lo, hi = ax.get_ylim()
    if lo > 0 and math.floor(math.log10(hi)) - math.ceil(math.log10(lo)) < 1:  # fewer than two powers of ten inside
        # within a decade, evenly spaced values; across one power of ten, 1, 2 and 5 times each
        ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=4) if hi / lo < 10 else ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda y, _: f"{y:.4g}"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def _finish(fig, axes, title: str) -> None:
    handles = {}
    for ax in axes.flat:
        _label_log_y(ax)
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()


def metric_figure(curves: list[Curve], colours: dict[str, str]):
    fig, axes = _panels(curves)
    for ax, curve in zip(axes[0], curves):
        for row in curve.rows:
            colour = colours[row.label]
            xs, ys = _series(row, lambda c: c.row.mean_std(curve.metric)[0])
            err = [row.cells[x].row.mean_std(curve.metric)[1] or 0.0 for x in xs]
            ax.errorbar(xs, ys, yerr=err, color=colour, marker="o", capsize=3, label=row.label)
            bx = [x for x in xs if row.cells[x].bound]
            ax.plot(bx, [ys[xs.index(x)] for x in bx], "o", ms=11, mfc="none", color=colour)
        thresholds = {s["threshold"] for s in curve.criteria("solve").values()}  # test must meet it too
        if len(thresholds) == 1:
            ax.axhline(thresholds.pop(), color="grey", ls="--", lw=1)
        if not curve.higher:
            ax.set_yscale("log")
        _x_axis(ax, curve)
        ax.set_ylabel(f"test {curve.metric} (mean ± std over seeds)")
        ax.set_title(f"{curve.title} ({curve.track})", fontsize=10)
    _finish(fig, axes, "Test metric along the memory axis (dashed: solve threshold; ringed: bound, step cap hit "
                       "while improving; missing: not run)")
    return fig


def steps_figure(curves: list[Curve], colours: dict[str, str]):
    fig, axes = _panels(curves)
    for ax, curve in zip(axes[0], curves):
        for row in curve.rows:
            xs, ys = _series(row, lambda c: c.steps)
            ax.plot(xs, ys, marker="o", color=colours[row.label], label=row.label)
        ax.set_yscale("log")
        _x_axis(ax, curve)
        ax.set_ylabel("median steps to solve (validation)")
        ax.set_title(f"{curve.title} ({curve.track})", fontsize=10)
    _finish(fig, axes, "Steps to solve along the memory axis (points where at least half the seeds solved)")
    return fig


def sensitivity_figure(curves: list[Curve], colours: dict[str, str]):
    fig, axes = _panels(curves, len(SENSITIVITY))
    for j, curve in enumerate(curves):
        for i, (key, label) in enumerate(SENSITIVITY):
            ax = axes[i][j]
            for row in curve.rows:
                xs, ys = _series(row, lambda c, key=key: c.final(key))
                keep = [k for k, y in enumerate(ys) if y > 0]  # log axis
                ax.plot([xs[k] for k in keep], [ys[k] for k in keep], marker="o", color=colours[row.label],
                        label=row.label)
            ax.set_yscale("log")
            _x_axis(ax, curve)
            ax.set_ylabel(label, fontsize=8)
            ax.set_title(f"{curve.title} ({curve.track})", fontsize=10)
    _finish(fig, axes, "Sensitivity at the end of training along the memory axis (mean over seeds)")
    return fig


def reference_histories(row: CurveRow, metric: str) -> list[tuple[int, list[int], list[float]]]:
    """(seed, steps, values) of each run at the row's reference point and chosen rate that kept a
    validation history (records older than schema 3 have none and are left out)."""
    cell = row.cells.get(row.reference) if row.reference is not None else None
    out = []
    for r in (cell.runs if cell else []):
        points = [(h["step"], h[metric]) for h in r.get("history") or []
                  if isinstance(h.get(metric), (int, float)) and math.isfinite(h[metric])]
        if points:
            out.append((r["seed"], [p[0] for p in points], [p[1] for p in points]))
    return out


def learning_figure(curves: list[Curve], colours: dict[str, str]):
    """Validation metric against step at each row's reference point (its chosen rate), one line per seed."""
    fig, axes = _panels(curves)
    for ax, curve in zip(axes[0], curves):
        for row in curve.rows:
            for i, (_, steps, values) in enumerate(reference_histories(row, curve.metric)):
                ax.plot(steps, values, color=colours[row.label], lw=1, alpha=0.8,
                        label=row.label if i == 0 else None)
        thresholds = {s["threshold"] for s in curve.criteria("solve").values()}
        if len(thresholds) == 1:
            ax.axhline(thresholds.pop(), color="grey", ls="--", lw=1)
        if not curve.higher:
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(f"validation {curve.metric}")
        ax.grid(alpha=0.3)
        ax.set_title(f"{curve.title} ({curve.track}) at each model's reference point", fontsize=9)
    _finish(fig, axes, "Learning curves at the reference point, chosen rate, one line per seed (dashed: solve "
                       "threshold)")
    return fig


def draw_curves(curves: list[Curve], out, save) -> list[str]:
    names = []
    for track in sorted({c.track for c in curves}):
        on_track = [c for c in curves if c.track == track]
        colours = _colours(on_track)
        for kind, draw in (("metric", metric_figure), ("steps", steps_figure), ("sensitivity", sensitivity_figure)):
            names.append(save(draw(on_track, colours), out / f"{track}_curves_{kind}.png"))
        with_history = [c for c in on_track if any(reference_histories(row, c.metric) for row in c.rows)]
        if with_history:
            names.append(save(learning_figure(with_history, colours), out / f"{track}_curves_learning.png"))
    return names
