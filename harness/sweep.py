"""What a sweep did, told once at its end: each job leaves its outcome in its own
output folder (works for any launcher, including separate processes), and a Hydra
callback counts them when the multirun ends."""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

OUTCOME_FILE = "outcome.txt"


def note_outcome(output_dir: str | Path, outcome: str) -> None:
    if int(os.environ.get("LOCAL_RANK", "0")) != 0:
        return  # DDP ranks > 0 share rank 0's output folder
    path = Path(output_dir)
    path.mkdir(parents=True, exist_ok=True)
    (path / OUTCOME_FILE).write_text(outcome + "\n")


class SweepReport(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        counts = Counter(p.read_text().strip() for p in sweep_dir.glob(f"*/{OUTCOME_FILE}"))
        total = sum(counts.values())
        parts = [f"{counts[k]} {k}" for k in ("ok", "diverged", "failed", "invalid") if counts[k]]
        skipped = counts["skipped"]
        line = f"sweep finished: {total} runs" + (f" ({', '.join(parts)})" if parts else "")
        if skipped:
            line += f"; {skipped} skipped: an ok record already exists (force=true to redo)"
        if counts["beyond_horizon"]:
            line += f"; {counts['beyond_horizon']} not run: beyond the model's horizon (every rate failed at an easier point: stop.climb_failures)"
        if counts["beyond_state_cap"]:
            line += (f"; {counts['beyond_state_cap']} not run: a dense recurrence above the sweep's "
                     f"dense_state_max")
        if counts["not_needed"]:
            line += f"; {counts['not_needed']} not run: the learning-rate rules do not call for them"
        if counts["waiting"]:
            line += (f"; {counts['waiting']} waiting for runs not made yet (of this sweep, or of its curve's "
                     f"other sweep): run both again (make cpu-track repeats a curve's two sweeps until a "
                     f"round adds no record)")
        print(line)
