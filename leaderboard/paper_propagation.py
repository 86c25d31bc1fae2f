"""Section 4 of REPRODUCTION.md: signal propagation at initialisation (Fig. 5), from
leaderboard/paper/propagation.json (written by `python -m sensitivity.propagation`).

Growth is always log10 of E[g²] at τ = 100 over E[g²] at τ = 1, of one parameter group,
either within one layer (the paper's reading) or over all layers' entries at once.
"""
from __future__ import annotations

import math
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from leaderboard.figures import save  # noqa: E402

GROUP_NAMES = {"recurrent": "λ / ν / W_hh", "angle": "θ", "norm": "γ", "other": "other"}
# Decades over τ = 1 → 100 in the authors' saved outputs (4 layers, BERT inputs).
PAPER_GROWTH = {("crnn", "recurrent"): 16.0, ("crnn", "other"): 12.0, ("lru", "recurrent"): 0.0,
                ("lru", "other"): 0.0, ("lru", "angle"): 4.0}
# The cRNN's λ group per layer, range over layers 0–3, at τ = 1 and τ = 100.
PAPER_TAU1 = (2e-6, 4e-6)
PAPER_TAU100 = (4.9e9, 4.3e10)
# Any pairing of a layer's τ = 1 value with its τ = 100 value lies between these.
PAPER_LAYER_GROWTH = (math.log10(PAPER_TAU100[0] / PAPER_TAU1[1]), math.log10(PAPER_TAU100[1] / PAPER_TAU1[0]))
TARGET = 16.0


def fmt(v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    return f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 else f"{v:.2e}"


def pm(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def series(rows: list[dict], model: str, inputs: str, variant: str = "paper") -> dict[int, list[dict]]:
    """seed -> that seed's rows sorted by τ."""
    out: dict[int, list[dict]] = {}
    for r in rows:
        if r["model"] == model and r["inputs"] == inputs and r["variant"] == variant:
            out.setdefault(r["seed"], []).append(r)
    return {s: sorted(rs, key=lambda r: r["tau"]) for s, rs in sorted(out.items())}


def growth(rs: list[dict], group: str, layer: int | None = None) -> float | None:
    def value(r: dict) -> float | None:
        return (r["grad"] if layer is None else r["grad_layers"][layer]).get(group)

    first, last = value(rs[0]), value(rs[-1])
    return math.log10(last / first) if first and last else None


def growths(by_seed: dict[int, list[dict]], group: str, layer: int | None = None) -> list[float]:
    return [g for rs in by_seed.values() if (g := growth(rs, group, layer)) is not None]


def n_layers(rows: list[dict]) -> int:
    return len(rows[0]["grad_layers"])


# -- figures --------------------------------------------------------------------------------------
def activity_figure(rows: list[dict], models: list[str], inputs: list[str], figures: Path) -> str:
    fig, axes = plt.subplots(1, len(inputs), figsize=(6 * len(inputs), 4.2), squeeze=False)
    for ax, kind in zip(axes[0], inputs):
        for model in models:
            for rs in list(series(rows, model, kind).values())[:1]:
                ax.plot([r["tau"] for r in rs], [max(r["act"]) for r in rs], marker="o", label=model)
        ax.set(xscale="log", yscale="log", xlabel="memory τ (eigenvalue moduli in [1-1/τ, 1-1/(2τ)])",
               ylabel="max over layers of E[y²]", title=f"activity, {kind} inputs")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    return save(fig, figures / "paper_propagation_activity.png")


def gradients_figure(rows: list[dict], models: list[str], inputs: list[str], figures: Path) -> str:
    fig, axes = plt.subplots(len(inputs), len(models), figsize=(3.6 * len(models), 3.4 * len(inputs)), squeeze=False)
    for i, kind in enumerate(inputs):
        for j, model in enumerate(models):
            ax = axes[i][j]
            for rs in list(series(rows, model, kind).values())[:1]:
                for group in GROUP_NAMES:
                    ys = [r["grad"].get(group) for r in rs]
                    if any(y is not None for y in ys):
                        ax.plot([r["tau"] for r in rs], [y if y else float("nan") for y in ys], marker="o",
                                label=GROUP_NAMES[group])
            ax.set(xscale="log", yscale="log", title=f"{model}, {kind}", xlabel="τ", ylabel="E[g²]")
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=7)
    fig.suptitle("Gradient second moment per parameter group at initialisation (first seed)")
    fig.tight_layout()
    return save(fig, figures / "paper_propagation_gradients.png")


def layers_figure(rows: list[dict], inputs: list[str], figures: Path) -> str:
    """The cRNN's λ-gradient per layer (geometric mean over seeds), against the paper's range over layers."""
    fig, axes = plt.subplots(1, len(inputs), figsize=(4.2 * len(inputs), 3.8), squeeze=False, sharey=True)
    for ax, kind in zip(axes[0], inputs):
        by_seed = series(rows, "crnn", kind)
        seqs = list(by_seed.values())
        taus = [r["tau"] for r in seqs[0]]
        for layer in range(n_layers(rows)):
            ys = [10 ** statistics.mean(math.log10(rs[k]["grad_layers"][layer]["recurrent"]) for rs in seqs)
                  for k in range(len(taus))]
            ax.plot(taus, ys, marker="o", label=f"layer {layer}")
        for tau, (lo, hi) in ((taus[0], PAPER_TAU1), (taus[-1], PAPER_TAU100)):
            ax.plot([tau, tau], [lo, hi], color="black", linewidth=2, marker="_", markersize=16,
                    label="paper, range over layers" if tau == taus[0] else None)
        ax.set(xscale="log", yscale="log", xlabel="τ", title=f"cRNN λ-gradient, {kind}")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("E[g²] of the layer's λ entries")
    fig.tight_layout()
    return save(fig, figures / "paper_propagation_layers.png")


# -- the section ----------------------------------------------------------------------------------
def growth_table(rows: list[dict], inputs: list[str], layers: int) -> list[str]:
    head = ("| inputs | " + " | ".join(f"layer {i}" for i in range(layers))
            + " | all layers | other params (all layers) | seeds |")
    table = [head, "|---|" + "--:|" * (layers + 3)]
    for kind in inputs:
        by_seed = series(rows, "crnn", kind)
        cells = [pm(growths(by_seed, "recurrent", i)) for i in range(layers)]
        table.append(f"| {kind} | " + " | ".join(cells) + f" | {pm(growths(by_seed, 'recurrent'))} | "
                     f"{pm(growths(by_seed, 'other'))} | {len(by_seed)} |")
    lo, hi = PAPER_LAYER_GROWTH
    table.append("| paper (BERT embeddings) | " + " | ".join([f"{lo:.1f} to {hi:.1f}"] * layers)
                 + f" | ≈ {TARGET:.0f} | ≈ 12 | 1 |")
    return table


def levels_table(rows: list[dict], inputs: list[str]) -> list[str]:
    """Range over layers (and seeds) of the cRNN's λ-gradient at both ends of the sweep."""
    table = ["| inputs | E[g²] at τ = 1, range over layers | at τ = 100 |", "|---|--:|--:|"]
    for kind in inputs:
        seqs = list(series(rows, "crnn", kind).values())
        ends = [[l["recurrent"] for rs in seqs for l in rs[k]["grad_layers"]] for k in (0, -1)]
        table.append(f"| {kind} | {fmt(min(ends[0]))} – {fmt(max(ends[0]))} | {fmt(min(ends[1]))} – {fmt(max(ends[1]))} |")
    table.append(f"| paper | {fmt(PAPER_TAU1[0])} – {fmt(PAPER_TAU1[1])} | {fmt(PAPER_TAU100[0])} – {fmt(PAPER_TAU100[1])} |")
    return table


def ablation_table(rows: list[dict], rec: dict, best: str, layers: int) -> tuple[list[str], list[tuple[str, float]]]:
    base_by_seed = series(rows, "crnn", best)
    seeds = sorted({r["seed"] for r in rows if r["variant"] != "paper"})
    # Compare each change with the paper's setting on the same seeds.
    base = {s: rs for s, rs in base_by_seed.items() if s in seeds}
    base_all = growths(base, "recurrent")
    table = ["| change from the paper's setting | all layers | per layer (mean over seeds, min – max over layers) "
             "| shift (decades) |", "|---|--:|--:|--:|"]

    def layer_span(by_seed: dict) -> str:
        means = [statistics.mean(g) for i in range(layers) if (g := growths(by_seed, "recurrent", i))]
        return f"{min(means):.1f} – {max(means):.1f}" if means else "–"

    table.append(f"| none (the paper's setting, {best} inputs) | {pm(base_all)} | {layer_span(base)} | 0 |")
    shifts = []
    for name, note in rec["settings"].get("ablations", {}).items():
        by_seed = series(rows, "crnn", best, name)
        g = growths(by_seed, "recurrent")
        if not g or not base_all:
            continue
        shift = statistics.mean(g) - statistics.mean(base_all)
        shifts.append((name, shift))
        table.append(f"| `{name}`: {note} | {pm(g)} | {layer_span(by_seed)} | {shift:+.1f} |")
    return table, shifts


def propagation_section(rec: dict, figures: Path) -> tuple[list[str], list[str]]:
    rows, st = rec["rows"], rec["settings"]
    best = st["best_inputs"]
    layers = n_layers(rows)
    models = list(dict.fromkeys(r["model"] for r in rows))
    inputs = list(dict.fromkeys(r["inputs"] for r in rows if r["model"] == "crnn" and r["variant"] == "paper"))
    names = [activity_figure(rows, models, [best], figures), gradients_figure(rows, models, [best], figures),
             layers_figure(rows, inputs, figures)]
    lags = list(st["bert_fit_autocorrelation"])
    acf = ["| inputs | " + " | ".join(f"R({d})" for d in lags) + " |", "|---|" + "--:|" * len(lags),
           "| the authors' fit | " + " | ".join(f"{st['bert_fit_autocorrelation'][d]:.4f}" for d in lags) + " |"]
    for kind, values in st["input_autocorrelation"].items():
        acf.append(f"| {kind} | " + " | ".join(f"{values[d]:.4f}" if d in values else "–" for d in lags) + " |")
    table = [f"| model | group | E[g²] at τ = 1 → 100, {best} inputs, first seed | paper (BERT inputs) |",
             "|---|---|--:|--:|"]
    for model in models:
        for rs in list(series(rows, model, best).values())[:1]:
            for group in GROUP_NAMES:
                first, last = rs[0]["grad"].get(group), rs[-1]["grad"].get(group)
                if first and last:
                    paper = PAPER_GROWTH.get((model, group))
                    table.append(f"| {model} | {GROUP_NAMES[group]} | {fmt(first)} → {fmt(last)} "
                                 f"(10^{math.log10(last / first):.1f}) | "
                                 + (f"10^{paper:.0f}" if paper is not None else "–") + " |")
    abl, shifts = ablation_table(rows, rec, best, layers)
    findings = crnn_findings(rows, best, inputs, layers, shifts)
    lines = [
        "## 4. Signal propagation at initialisation (Fig. 5)", "",
        "Command: `python -m sensitivity.propagation` (writes `leaderboard/paper/propagation.json`).", "",
        f"Network, as in the authors' notebook: {st['network']}. Memory τ ∈ {{1, 10^0.5, 10, 10^1.5, 100}} with "
        f"eigenvalue moduli in [1 − 1/τ, 1 − 1/(2τ)] and phases in [0, 2π]; sequences of {st['seq_len']}, batch "
        f"{st['batch']}, no training; loss {st['loss']}. Growth below is log10 of E[g²] at τ = 100 over τ = 1, "
        f"mean ± sd over seeds {st['seeds']}.", "",
        "Inputs (the paper's Wikipedia embeddings cannot be had offline):",
        *[f"- `{k}`: {v}" for k, v in st["inputs"].items()], "",
        "Their measured autocorrelation (channels, time and 16 sequences averaged) against the authors' fit:", "",
        *acf, "",
        "### 4a. The cRNN's λ-gradient growth per layer and per input variant", "",
        "The paper reports, for each τ, the range over layers 0–3 of each layer's mean squared gradient entry: "
        f"{fmt(PAPER_TAU1[0])} – {fmt(PAPER_TAU1[1])} at τ = 1 and {fmt(PAPER_TAU100[0])} – {fmt(PAPER_TAU100[1])} at "
        "τ = 100. Its ≈ 10^16 compares τ = 100 with τ = 1 within a layer, and whatever layer holds which end of the "
        f"ranges, every layer's growth lies in 10^{PAPER_LAYER_GROWTH[0]:.1f} – 10^{PAPER_LAYER_GROWTH[1]:.1f}. Our "
        "earlier figure was the growth of the mean over all four layers' entries (`all layers`), which is dominated "
        "by the largest layer; both readings are shown.", "",
        *growth_table(rows, inputs, layers), "", *levels_table(rows, inputs), "",
        f"### 4b. What moves the number (cRNN, `{best}` inputs, τ = 1 → 100, seeds "
        f"{sorted({r['seed'] for r in rows if r['variant'] != 'paper'})})", "", *abl, "",
        "### 4c. Every model", "", *table, "",
        "Paper (authors' saved outputs, 4 layers): over τ = 1 → 100 the cRNN's λ-gradient rises ~10^16 and its "
        "other parameters' ~10^12; the LRU's ν and other-parameter gradients stay flat; its θ gradient rises ~10^4.",
        "", *findings, "", *[f"**Verdict: {v}.**" for v in lru_verdicts(rows, best)], "",
        *[f"![{n}](figures/{n})" for n in names], ""]
    return lines, names


def layer_means(by_seed: dict, layers: int) -> list[float]:
    return [statistics.mean(v) for i in range(layers) if (v := growths(by_seed, "recurrent", i))]


def crnn_findings(rows: list[dict], best: str, inputs: list[str], layers: int,
                  shifts: list[tuple[str, float]]) -> list[str]:
    """The cRNN's verdict and, each in one line, what moves its growth and by how much."""
    by_seed = {kind: series(rows, "crnn", kind) for kind in inputs}
    mean = {k: statistics.mean(g) for k, s in by_seed.items() if (g := growths(s, "recurrent"))}
    if best not in mean:
        return []
    vals = growths(by_seed[best], "recurrent")
    g, sd = statistics.mean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)
    per_layer = layer_means(by_seed[best], layers)
    top = max((v, k) for k in mean for v in layer_means(by_seed[k], layers))
    close = abs(g - TARGET) <= 1
    out = [f"**Verdict: {'reproduced' if close else 'partly reproduced'}: with the authors' network and `{best}` "
           f"inputs the cRNN's λ-gradient grows 10^{g:.1f} ± {sd:.1f} over τ = 1 → 100 (per layer "
           f"10^{min(per_layer):.1f} – 10^{max(per_layer):.1f}; paper ≈ 10^{TARGET:.0f}, per layer "
           f"10^{PAPER_LAYER_GROWTH[0]:.1f} – 10^{PAPER_LAYER_GROWTH[1]:.1f}): "
           + ("within one decade." if close else f"{TARGET - g:.1f} decades short; the largest per-layer mean of "
              f"any input variant is 10^{top[0]:.1f} (`{top[1]}`).") + "**"]
    readings = [abs(mean[k] - statistics.mean(layer_means(by_seed[k], layers))) for k in mean]
    out.append(f"- *Reading of the figure*: the paper's number is a within-layer growth; our per-layer and "
               f"all-layer growths differ by at most {max(readings):.1f} decades, so the reading does not move it.")
    spread = max(mean.values()) - min(mean.values())
    out.append("- *Input statistics*: " + ", ".join(f"`{k}` 10^{v:.1f}" for k, v in mean.items())
               + f" — {spread:.1f} decades between the extremes"
               + (f"; padding moves it {mean['bert_pad'] - mean['bert_fit']:+.1f}" if {"bert_pad", "bert_fit"} <= set(mean)
                  else "") + ".")
    shift_of = dict(shifts)
    if "our_earlier_study" in shift_of and "torch_init" in shift_of:
        out.append(f"- *Our earlier 10^11.8*: our first study's network and loss (`our_earlier_study`) give "
                   f"10^{g + shift_of['our_earlier_study']:.1f} on these inputs, {-shift_of['our_earlier_study']:.1f} "
                   f"decades below the authors' network; the dense maps' initialisation (`torch_init`) alone accounts "
                   f"for {-shift_of['torch_init']:.1f} of them.")
    for name, shift in sorted(shifts, key=lambda s: -abs(s[1])):
        verb = "moves it" if abs(shift) >= max(0.5, sd) else "does not move it beyond the seed spread"
        out.append(f"- *{name}*: {verb} ({shift:+.1f} decades).")
    if not close:
        phase = shift_of.get("phase_pi_10")
        out.append(
            "- *Why the rest needs the original embeddings*: every stand-in matches the embeddings in their "
            f"per-channel second-order statistics only, and those move the growth by at most {spread:.1f} decades, "
            f"less than the {TARGET - g:.1f} missing. The growth depends on how strongly the inputs drive the "
            "eigenvalues nearest 1"
            + (f" (phases drawn in [0, π/10], which puts every eigenvalue near 1, add {phase:.1f} decades)"
               if phase is not None else "")
            + ", and so on what the fit leaves out and we cannot test without the embeddings (their structure across "
            "the 768 channels, shared directions, heavy-tailed coordinates), or on a phase range the notes do not "
            "give. Neither can be settled offline.")
    return out


def lru_verdicts(rows: list[dict], best: str) -> list[str]:
    out = []
    by_seed = series(rows, "lru", best)
    nu, theta = growths(by_seed, "recurrent"), growths(by_seed, "angle")
    if nu:
        worst = max(abs(v) for v in nu)
        out.append(f"LRU ν-gradient changes at most 10^{worst:.1f} over the same sweep: "
                   f"{'flat (< 10×), reproduced' if worst < 1 else 'not flat'}")
    if theta:
        out.append(f"LRU θ-gradient grows 10^{max(theta):.1f} (paper 10^4): "
                   + ("the angle stays cursed, as in the paper" if max(theta) > 2 else "less than in the paper"))
    return out
