"""The few lines a run ends with."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from common.keys import SUMMARY_KEYS


def _fmt(v) -> str:
    return "n/a" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


def print_summary(record: dict, console: Console | None = None, log_dir: str | Path | None = None) -> None:
    """Print the summary; with `log_dir`, also append it to the run's train.log."""
    console = console or Console(stderr=False, highlight=False, soft_wrap=True, record=log_dir is not None)
    test = record["metrics"].get("test") or {}
    base = record["task"].get("baselines") or {}
    head = escape(f"{record['model']['name']} on {record['task']['name']} [{record['task']['variant']}] "
                  f"seed {record['seed']}: {record['status']}")
    if record["status"] == "diverged":
        head += f" at step {record.get('diverged_at_step')}"
    elif record.get("outcome"):
        solved = record.get("solved_at") or {}
        head += f", {record['outcome']}" + (f" at step {solved['step']}" if solved else "") + f" ({record['steps']} steps)"
    console.print(f"[bold]{head}[/bold]")
    if test:
        console.print("  test   " + "  ".join(f"{k}={_fmt(v)}" for k, v in sorted(test.items())))
    elif record["metrics"].get("val"):
        console.print("  last val  " + "  ".join(f"{k}={_fmt(v)}" for k, v in sorted(record["metrics"]["val"].items())))
    elif record["status"] == "diverged":
        console.print("  last val  none: it diverged before its first finite validation")
    if base:
        console.print("  baseline  " + "  ".join(f"{k}={_fmt(v)}" for k, v in sorted(base.items())))
    sens = record.get("sensitivity") or {}
    for when in ("init", "final"):
        if sens.get(when):
            console.print(f"  sensitivity {when:<5} " + "  ".join(f"{k}={_fmt(sens[when].get(k))}" for k in SUMMARY_KEYS))
    cost = record["cost"]
    console.print(f"  {_fmt(cost['wall_s'])} s wall, {_fmt(cost['tokens_per_s'])} train tokens/s on {cost['device']}")
    paths = record.get("paths") or {}
    if paths:
        console.print(f"  logs: {paths['logs']}  checkpoints: {paths['checkpoints']}")
    console.print(f"  record: {record['_path']}")
    if log_dir is not None:
        with open(Path(log_dir) / "train.log", "a") as f:
            f.write(console.export_text())
