"""Shared fixtures: keep every test off the hub and out of the repository's own folders."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # one torch thread per xdist worker (and for the runs it starts): two workers with two
    # OpenMP threads each on two cores make the parallel scans many times slower
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def run_dirs(tmp_path: Path) -> list[str]:
    """Overrides that send a run's record, checkpoints and logs into tmp_path."""
    return [f"results_dir={tmp_path / 'results'}", f"checkpoint_dir={tmp_path / 'ck'}", f"hydra.run.dir={tmp_path / 'out'}"]
