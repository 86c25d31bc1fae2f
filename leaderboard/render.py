"""Markdown for the leaderboard: one table per (track, task variant)."""
from __future__ import annotations

import math
import re

from common.record import COMPLETE, VERDICTS
from common.selection import Row, primary_of

SENS_COLUMNS = [("act_m2_max", "E[y²] max"), ("grad_ratio", "grad rec/other"), ("state_sens_rel_max", "state sens rel"),
                ("tau_max_over_T", "τ_max/T"), ("jac_fro_lag", "‖∂h_T/∂h_T-k‖²")]
TRACKS = {"cpu": "cpu track: each run within a fixed budget on a 2-core CPU",
          "gpu": "gpu track: one H100-class GPU"}


# Markdown's and HTML's active characters in text taken from records (names, variants, metric
# keys, devices): a record is data, and a hostile or careless one must not put HTML, a link,
# an image or emphasis on the page. `_` inside a word (linear_rnn) is never emphasis and
# stays as it is, and `|` is escaped where a table row is joined.
_MD_ESCAPES = {"\\": "\\\\", "`": "\\`", "*": "\\*", "[": "\\[", "]": "\\]", "~": "\\~",
               "&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_ACTIVE = re.compile(r"[\\`*\[\]~&<>]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|(?<=:)//|(?<![0-9A-Za-z])www\.")


def _one_line(text: object) -> str:
    return re.sub(r"[\x00-\x1f\x7f]+", " ", str(text))


def md(text: object) -> str:
    """Text from a record, for a markdown page: shown as written, never interpreted."""
    def escape(m: re.Match) -> str:
        s = m.group(0)
        if s in _MD_ESCAPES:
            return _MD_ESCAPES[s]
        if s == "//":
            return "\\/\\/"  # no bare-URL autolink (http://...)
        if s == "www.":
            return "www\\."
        return "\\_"
    return _MD_ACTIVE.sub(escape, _one_line(text))


def code(text: object) -> str:
    """Text from a record as an inline code span: nothing inside one is interpreted but a
    backtick, so the fence is one backtick longer than the longest run inside."""
    text = _one_line(text)
    longest = max((len(r) for r in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest and (text.startswith("`") or text.endswith("`")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


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


def is_bound(row: Row) -> bool:
    """A run at the chosen rate hit its cap: the mean is a bound, not a value."""
    return any(r.get("outcome") == "budget" for r in row.chosen)


def metric_cell(row: Row, metric: str, one: str = "(1 seed)") -> str:
    """Mean ± std at the chosen rate (`≥`/`≤`: a bound, some run hit its cap). One seed has no spread to
    show (`± 0` would claim seeds that agree), so its value stands alone, followed by `one`."""
    mean, std, n = row.mean_std(metric)
    if mean is None:
        return "–"
    primary, higher = primary_of(row.records[0])
    value = f"{num(mean)} ± {num(std)}" if n > 1 else f"{num(mean)} {one}".rstrip()
    return ("≥ " if higher else "≤ ") * (metric == primary and is_bound(row)) + value


def outcomes_of(rows: list[Row]) -> list[str]:
    """The outcomes a table counts: solved / plateaued / budget, and `complete` where a run
    trained its whole schedule with no stop rule (an image table's runs: then it alone)."""
    seen = {r.get("outcome") for row in rows for r in row.chosen}
    return [*VERDICTS * bool(seen & set(VERDICTS)), *[COMPLETE] * (COMPLETE in seen)]


def outcomes_cell(row: Row, outcomes: list[str]) -> str:
    """Verdicts of the runs at the chosen rate, as counts of `outcomes`."""
    return " / ".join(str(sum(r.get("outcome") == o for r in row.chosen)) for o in outcomes)


def budget_text(records: list[dict]) -> str:
    """The declared budgets of these runs (each distinct one once), as a sentence."""
    def one(b: dict) -> str:
        steps = b.get("max_steps")
        cap = f"step cap {steps}" if steps is not None and steps > 0 else f"epoch cap {b.get('max_epochs', '?')}"
        parts = [cap, f"batch {b.get('batch_size', '?')}",
                 f"validation every {b['val_every']} steps" if b.get("val_every") else "validation every epoch",
                 (f"patience {b['patience']} validations" + (f" counted from {b['not_before']:.0%} of the steps"
                                                              if b.get("not_before") else ""))
                 if b.get("patience") is not None else "no early stop"]
        return ", ".join(parts)
    # compared as shown: a budget whose record lists an unset key (not_before: null) reads as one without it
    seen = sorted({one(b) for r in records if (b := r.get("budget"))})
    return "Budget per run: " + ("; ".join(seen) if seen else "not recorded") + "."


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def seeds_cell(row: Row, metric: str) -> str:
    """Seeds behind the mean; 'k/n' when only k of the n seeds at the chosen LR finished finite."""
    counted, ran = row.mean_std(metric)[2], len(row.chosen)
    return str(counted) if counted == ran else f"{counted}/{ran}"


def state_per_layer(record: dict) -> float | None:
    """The recurrent state of one layer: the record's state size (all layers) over the layers, which
    the third edition sizes equally (`model.state`); the page compares models by it."""
    total = record["model"].get("state_size")
    layers = ((record.get("config") or {}).get("model") or {}).get("n_layers") or 1
    if not isinstance(total, (int, float)) or isinstance(total, bool) or not isinstance(layers, int) or layers < 1:
        return None
    return int(total) // layers if float(total).is_integer() and int(total) % layers == 0 else total / layers


def table(rows: list[Row]) -> list[str]:
    metric, higher = primary_of(rows[0].records[0])
    others = sorted({k for row in rows for r in row.chosen for k in (r["metrics"].get("test") or {})} - {metric})
    verdicts = any(r.get("outcome") for row in rows for r in row.records)
    outcomes = outcomes_of(rows)
    head = (["model", f"test {md(metric)} {'↑' if higher else '↓'}", "seeds", *[" / ".join(outcomes)] * verdicts,
             *[f"test {md(m)}" for m in others], "lr (grid)", "diverged"] + [f"{title} init→final" for _, title in SENS_COLUMNS]
            + ["params", "state/layer", "tokens/s", "device", *["wall time"] * verdicts])
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["--:"] * (len(head) - 1)) + "|"]
    for row in rows:
        first = row.chosen[0]
        state = state_per_layer(first)
        grid = ", ".join(lr_text(x) for x in row.lr_grid)
        cells = [
            md(row.label), metric_cell(row, metric), seeds_cell(row, metric), *[outcomes_cell(row, outcomes)] * verdicts,
            *[metric_cell(row, m) for m in others],
            f"{lr_text(row.lr)} ({grid})" if len(row.lr_grid) > 1 else lr_text(row.lr),
            f"{row.diverged}/{len(row.records)}",
            *[f"{num(row.sensitivity('init', k))} → {num(row.sensitivity('final', k))}" for k, _ in SENS_COLUMNS],
            md(first["model"].get("params", "–")), md("–" if state is None else f"{state:,}"),
            num(row.cost("tokens_per_s"), 0), md((first.get("cost") or {}).get("device", "–")),
            *[duration(sum((r.get("cost") or {}).get("wall_s") or 0.0 for r in row.records))] * verdicts,
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def section(track: str, task: str, variant: str, rows: list[Row], baselines: dict) -> list[str]:
    metric, higher = primary_of(rows[0].records[0])
    out = [f"### {md(task)} · {code(variant)} · {md(track)}", "",
           f"Protocol: task {code(task)} with {code(variant)}; {TRACKS.get(track, md(track))}. "
           f"Rows ranked by test {md(metric)} ({'higher' if higher else 'lower'} is better) at the learning rate chosen on "
           f"validation {md(metric)}; mean ± std over seeds, or `(1 seed)` with its value alone "
           f"(`k/n` seeds: only k of the n runs at that learning rate ended finite); "
           f"`diverged` counts runs over the whole grid."]
    if baselines:
        out[-1] += " Baselines: " + ", ".join(f"{md(k)} = {num(v, 4)}" for k, v in sorted(baselines.items())) + "."
    records = [r for row in rows for r in row.records]
    if any(r.get("budget") for r in records):
        out[-1] += f" {budget_text(records)}"
        if any(r.get("outcome") in VERDICTS for r in records):
            out[-1] += (f" A run's outcome is `plateaued` when validation {md(metric)} stops improving within the "
                        f"patience and `budget` when the cap stops it, still improving or never off the memoryless "
                        f"baseline (its mean is then a bound: `≥`/`≤`).")
        if any(r.get("outcome") == COMPLETE for r in records):
            out[-1] += (" A run's outcome is `complete` when it trained its whole schedule with no early stop, as "
                        "image benchmarks report: its test metric is the schedule's result, not a bound.")
        out[-1] += " Wall time sums every run of the row's grid."
    return out + ["", *table(rows), ""]
