"""What a newcomer sees: a start line naming where everything goes, a progress bar with a
real total, readable checkpoint names, the summary (with the chance accuracy) also in
train.log, and records readable by others (0644 under the usual umask)."""
from __future__ import annotations

import os
import stat

from common.record_io import write_record
from tests.helpers import cli_here, records


def test_a_short_run_tells_where_things_go_and_shows_its_total(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = cli_here("trainer.max_steps=12", "trainer.val_check_interval=6", "task.delay=8", "task.n_val=32",
                "task.n_test=32", "sensitivity.enabled=false", f"results_dir={tmp_path / 'r'}",
                f"checkpoint_dir={tmp_path / 'ck'}", f"hydra.run.dir={tmp_path / 'o'}")
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout + out.stderr
    assert "lru on copy [T=8,loss=all] seed 0, cpu (" in text and f"record into {tmp_path / 'r'}/" in text
    assert "12/12" in text and "Epoch 0/-2" not in text
    assert "thread)" in text or "threads)" in text
    assert "chance_acc=0.125" in text
    ckpts = sorted(p.name for p in (tmp_path / "ck").rglob("*.ckpt"))
    assert ckpts == ["last.ckpt", "step=12.ckpt"]
    log = (tmp_path / "o" / "train.log").read_text()
    assert "seed 0: ok" in log and "record:" in log
    rec = records(tmp_path / "r")[0]
    assert rec["paths"]["checkpoints"].startswith(str(tmp_path / "ck"))


def test_records_get_the_usual_file_mode(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_record({"task": {"name": "t"}, "model": {"name": "m"}, "seed": 0, "run_id": "x"}, tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
