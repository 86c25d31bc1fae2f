"""Every command in README.md runs. Long ones run in their smoke form: training
commands get `debug=fast` and temporary output folders, the leaderboard builder
writes to a temporary place; `make test` is this suite itself."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import cli_here

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    cmds = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                cmds.append(line)
    return cmds


def smoke_form(cmd: str, tmp: Path) -> list[str] | None:
    args = shlex.split(cmd)
    dirs = [f"results_dir={tmp / 'results'}", f"checkpoint_dir={tmp / 'ck'}", f"hydra.run.dir={tmp / 'out'}",
            f"hydra.sweep.dir={tmp / 'multi'}"]
    if args[:2] == ["make", "test"]:
        return None
    if args[:2] == ["make", "train"]:
        recipe = (ROOT / "Makefile").read_text().split("\ntrain:", 1)[1].split("\n\n", 1)[0]
        assert "train.py" in recipe
        return [sys.executable, "train.py", "debug=fast", *dirs]
    if args[:2] == ["python", "train.py"]:
        sweep = ["hydra.sweeper.params=null", "lr_reference=null"] if any(a.startswith("experiment=") for a in args) else []
        return [sys.executable, "train.py", *args[2:], *sweep, "debug=fast", "sensitivity.hessian=off", *dirs]
    if args[:3] in (["python", "-m", "leaderboard.audit"], ["python", "-m", "leaderboard.editions"]):
        return [sys.executable, *args[1:]]
    if args[:3] == ["python", "-m", "leaderboard"]:
        readme = tmp / "README.md"
        readme.write_text((ROOT / "README.md").read_text())
        return [sys.executable, "-m", "leaderboard", *args[3:], "--out", str(tmp / "lb.md"),
                "--figures", str(tmp / "fig"), "--readme", str(readme)]
    if args[:3] == ["python", "-m", "sensitivity.check"]:
        return [sys.executable, *args[1:]]
    if args[:3] == ["python", "-m", "sensitivity.curse1d"]:
        return [sys.executable, *args[1:], "--out", str(tmp / "c.json"), "--n-seq", "16"]
    if args[:3] == ["python", "-m", "sensitivity.propagation"]:
        return [sys.executable, *args[1:], "--out", str(tmp / "p.json"), "--width", "8", "--layers", "2",
                "--seq-len", "24", "--batch", "2"]
    if args[:3] == ["python", "-m", "benchmarks"]:
        return [sys.executable, *args[1:], "--quick", "--json", str(tmp / "bench.json"), "--readme", str(tmp / "b.md")]
    raise AssertionError(f"README command without a smoke form in tests/test_readme.py: {cmd}")


@pytest.mark.parametrize("cmd", readme_commands())
def test_readme_command_runs(cmd: str, tmp_path: Path):
    argv = smoke_form(cmd, tmp_path)
    if argv is None:
        pytest.skip("this is the command running the suite")
    if argv[1] == "train.py":
        # the real entry in this process (no new Python and torch import per command); a sweep's jobs
        # run in it too, one after another (its parallel launcher has tests of its own)
        declared = any(a.startswith("experiment=") for a in argv)  # these sweeps use the joblib launcher
        out = cli_here(*argv[2:], *(["hydra.launcher.n_jobs=1"] if declared else []))
    else:
        env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
        out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, f"{cmd}\n{out.stdout[-1500:]}\n{out.stderr[-3000:]}"
