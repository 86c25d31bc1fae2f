"""The few lines a run ends with."""
from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from common.keys import SUMMARY_KEYS


def _fmt(v) -> str:
    return "n/a" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


def summary_lines(record: dict) -> list[str]:
    """The summary as plain text, one string per line (paths and names verbatim)."""
    test = record["metrics"].get("test") or {}
    base = record["task"].get("baselines") or {}
    head = (f"{record['model']['name']} on {record['task']['name']} [{record['task']['variant']}] "
            f"seed {record['seed']}: {record['status']}")
    if record["status"] == "diverged":
        head += f" at step {record.get('diverged_at_step')}"
    elif record.get("outcome"):
        solved = record.get("solved_at") or {}
        head += f", {record['outcome']}" + (f" at step {solved['step']}" if solved else "") + f" ({record['steps']} steps)"
        if record["outcome"] == "budget" and "left_baseline_at" in record and record["left_baseline_at"] is None:
            head += "; it never left the memoryless baseline"
    lines = [head]
    if test:
        lines.append("  test   " + "  ".join(f"{k}={_fmt(v)}" for k, v in sorted(test.items())))
    elif record["metrics"].get("val"):
        lines.append("  last val  " + "  ".join(f"{k}={_fmt(v)}" for k, v in sorted(record["metrics"]["val"].items())))
    elif record["status"] == "diverged":
        lines.append("  last val  none: it diverged before its first finite validation")
    if base:
        lines.append("  baseline  " + "  ".join(f"{k}={_fmt(v)}" for k, v in sorted(base.items())))
    sens = record.get("sensitivity") or {}
    for when in ("init", "final"):
        if sens.get(when):
            lines.append(f"  sensitivity {when:<5} " + "  ".join(f"{k}={_fmt(sens[when].get(k))}" for k in SUMMARY_KEYS))
    cost = record["cost"]
    lines.append(f"  {_fmt(cost['wall_s'])} s wall, {_fmt(cost['tokens_per_s'])} train tokens/s on {cost['device']}")
    paths = record.get("paths") or {}
    if paths:
        lines.append(f"  logs: {paths['logs']}  checkpoints: {paths['checkpoints']}")
    where = record.get("_path")
    lines.append(f"  record: {where}" if where else "  record: NOT WRITTEN (the error below says why and how to recover it)")
    return lines


def print_summary(record: dict, console: Console | None = None, log_dir: str | Path | None = None) -> None:
    """Print the summary; with `log_dir`, also append it to the run's train.log."""
    console = console or Console(stderr=False, highlight=False, soft_wrap=True)
    lines = summary_lines(record)
    # every field is printed through escape(): a path or a name such as "rb[/x]" or "[click]"
    # is text, not rich markup (unescaped, the first crashed the run after its record was written)
    console.print(f"[bold]{escape(lines[0])}[/bold]")
    for line in lines[1:]:
        console.print(escape(line))
    if log_dir is not None:
        try:
            with open(Path(log_dir) / "train.log", "a") as f:
                f.write("\n".join(lines) + "\n")
        except OSError as err:  # a full disk must not hide the summary already printed
            print(f"warning: could not append the summary to {Path(log_dir) / 'train.log'} ({err.strerror or err})",
                  file=sys.stderr)
