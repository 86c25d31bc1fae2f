"""`make cpu-track` runs the track in two streams (one job each): every other curve of CPU_TRACK per
stream, each curve in rounds of <curve>_lr then <curve> until a round adds no record of that curve."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from benchmarks.track_cost import TRACK

ROOT = Path(__file__).resolve().parent.parent

# Stands in for .venv/bin/python: logs each sweep, and writes one record the first two times a curve's
# main sweep runs (named as the harness names records: <task>-<model>-s<seed>-...), none after.
STUB = r"""#!/usr/bin/env bash
exp=${3#experiment=leaderboard/}
echo "$exp $4" >> "$LOG"
curve=${exp%_lr}
[ "$curve" = "$exp" ] || exit 0
n=$(grep -c "^$curve " "$LOG")
[ "$n" -le 2 ] || exit 0
case $curve in
  word_problem_neg) name=word_problem-mamba ;;
  mqar_state) name=mqar-lru ;;
  *) name=$curve-lru ;;
esac
touch "$RESULTS/$name-s0-$curve-$n.json"
"""


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("stream", [0, 1])
def test_a_stream_runs_every_other_curve_in_rounds_until_one_adds_no_record(tmp_path, stream):
    stub = tmp_path / "python"
    stub.write_text(STUB)
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    results, log = tmp_path / "results", tmp_path / "sweeps.log"
    results.mkdir()
    env = {**os.environ, "LOG": str(log), "RESULTS": str(results)}
    subprocess.run(["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed", f"cpu-track-stream-{stream}",
                    f"PY={stub}", f"RESULTS={results}"], env=env, check=True, capture_output=True, text=True)
    curves = TRACK[stream::2]
    # two rounds add a record, the third adds none and ends the curve
    expected = [line for c in curves for _ in range(3) for line in (f"{c}_lr hydra.launcher.n_jobs=1",
                                                                   f"{c} hydra.launcher.n_jobs=1")]
    assert log.read_text().splitlines() == expected
    assert len(list(results.iterdir())) == 2 * len(curves)
