"""Running the real entry point in a subprocess, as a user would."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def train(*overrides: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, "train.py", *overrides], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def records(results_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(Path(results_dir).glob("*.json"))]


def train_here(tmp: Path, *overrides: str) -> dict:
    """A short run in this process, through the same `harness.run.train` that train.py calls:
    for tests whose subject is the run, not the process (no torch import per test). The record
    goes to tmp/r, checkpoints to tmp/ck, logs to a fresh folder under tmp/o."""
    import uuid

    from harness.compose import compose_run
    from harness.run import train as train_in_process

    cfg, published = compose_run([*overrides, f"results_dir={tmp / 'r'}", f"checkpoint_dir={tmp / 'ck'}"])
    record, _ = train_in_process(cfg, output_dir=str(tmp / "o" / uuid.uuid4().hex[:8]), published=published)
    return record


def cli_here(*argv: str) -> subprocess.CompletedProcess:
    """`python train.py *argv` run in this process: the real entry (Hydra, the guard, the
    one-line errors) with its stdout, stderr and exit code captured, without starting Python
    and importing torch again. For tests whose subject is what the command says and writes."""
    import contextlib
    import io

    import train as entry
    from harness.cli import guard_cli

    old_argv, out, err = sys.argv, io.StringIO(), io.StringIO()
    sys.argv = [str(ROOT / "train.py"), *argv]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = guard_cli(entry.main)
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 1
    finally:
        sys.argv = old_argv
    return subprocess.CompletedProcess([sys.executable, "train.py", *argv], code, out.getvalue(), err.getvalue())
