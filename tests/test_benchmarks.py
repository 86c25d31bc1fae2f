"""`python -m benchmarks` writes the JSON rows its README and the issue promise: every scan path
in real and complex, and the layer of every model config (the teacher's bare-mode ladder aside)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.__main__ import HAND_MARK
from common.registry import model_names

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"name", "device", "shape", "dtype", "fwd_ms", "fwdbwd_ms", "peak_mb"}


def test_quick_benchmark_writes_every_row(tmp_path):
    out, readme = tmp_path / "rows.json", tmp_path / "README.md"
    hand = f"{HAND_MARK}\n## Measured by hand\n\nkeep me\n"
    readme.write_text("stale table\n" + hand)
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--readme", str(readme), "--threads", "1",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = readme.read_text()
    assert "stale table" not in text and text.endswith(hand) and "| name | shape |" in text
    rows = json.loads(out.read_text())
    assert all(set(r) >= KEYS for r in rows)
    assert all(r["fwd_ms"] > 0 and r["fwdbwd_ms"] > 0 and r["device"] == "cpu" for r in rows)
    scans = {(r["name"], r["dtype"]) for r in rows if r["name"].startswith("scan:")}
    assert scans >= {(f"scan:{k}", d) for k in ("reference", "parallel", "fft") for d in ("float32", "complex64")}
    layers = {r["name"] for r in rows if r["name"].startswith("layer:")}
    assert layers >= {f"layer:{m}" for m in model_names() if not m.startswith("ladder/")}
    assert "| name | shape |" in proc.stdout


def test_track_step_times_a_synthetic_and_an_image_sweep_from_their_own_training_batches(tmp_path):
    """benchmarks.track_step runs each sweep's own config on the task's own training batches, so an
    image sweep (no synthetic generator) is timed too (here on a small stand-in in the IDX format)."""
    from benchmarks.track_step import step_times
    from tests.fakes import write_idx_dataset

    write_idx_dataset(tmp_path, n_train=40, n_test=8)
    image = step_times("smnist", "lru", [f"++task.data_dir={tmp_path}"], steps=1, warmup=0)
    copy = step_times("copy", "lru", ["++task.delay=8"], steps=1, warmup=0)
    for row in (image, copy):
        assert row["ms"] > 0 and row["tokens_s"] > 0 and row["state"] and set(row["state"]) == {row["state"][0]}
    assert image["state"][0] == 64 and copy["state"][0] == 256   # each sweep's own S (the images' cut)
