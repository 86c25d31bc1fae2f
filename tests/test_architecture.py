"""The structure the code promises: packages in layers with no import cycle, small
files, and no hand-kept list of model names (models are discovered from conf/model/)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from common.registry import model_names

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "models", "tasks", "sensitivity", "harness", "leaderboard", "benchmarks")


def package_imports() -> dict[str, set[str]]:
    """Top-level package -> the project packages its modules import (at any depth)."""
    graph: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top in PACKAGES and top != pkg:
                        graph[pkg].add(top)
    return graph


def test_no_import_cycle_between_packages():
    graph = package_imports()
    state: dict[str, int] = {}

    def visit(p: str, path: list[str]) -> None:
        state[p] = 1
        for q in sorted(graph[p]):
            assert state.get(q) != 1, "import cycle: " + " -> ".join([*path, p, q])
            if q not in state:
                visit(q, [*path, p])
        state[p] = 2

    for p in PACKAGES:
        if p not in state:
            visit(p, [])
    assert graph["common"] == set(), "common is the leaf every package may import"
    assert graph["leaderboard"] <= {"common"}, "the leaderboard builder needs neither torch models nor the harness"
    assert "leaderboard" not in graph["harness"], "the harness writes records and reads rules from common, not the page"


def test_no_source_file_over_450_lines():
    long = [f"{p.relative_to(ROOT)}: {n}" for pkg in (*PACKAGES, "train.py") for p in
            ([ROOT / pkg] if pkg.endswith(".py") else (ROOT / pkg).rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > 450]
    assert not long, long


def test_no_list_of_model_names_outside_conf_model():
    """Sweeps, tests and benchmarks take every model from conf/model/ (a file may still
    exclude one by name). Expected values per model (dicts, comparisons) are data, not lists."""
    names = [n for n in model_names() if "/" not in n]
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    offenders = []
    files = [*(ROOT / "conf" / "experiment" / "leaderboard").glob("*.yaml"), *(ROOT / "benchmarks").glob("*.py"),
             *(ROOT / "tests").glob("*.py")]
    for path in files:
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if "==" in line or re.search(r"[\"']\w+[\"']\s*:", line):
                continue
            listed = {w.strip("\"'") for w in re.split(r"[\s,\[\]()=]+", line) if pattern.fullmatch(w.strip("\"'"))}
            if len(listed) >= 4:
                offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
