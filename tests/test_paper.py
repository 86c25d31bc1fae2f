"""The paper's experiments: their records turn into figures and REPRODUCTION.md deterministically."""
from __future__ import annotations

import json

from leaderboard.paper import build_paper
from leaderboard.records import write_record
from sensitivity.curse1d import main as curse1d_main
from sensitivity.propagation import main as propagation_main


def teacher_record(model: str, nu0: float, lr: float, seed: int, loss: float) -> dict:
    return {"schema": 1, "run_id": f"{model}-{nu0}-{lr}-{seed}", "created": "", "seed": seed, "status": "ok",
            "model": {"name": model}, "task": {"name": "teacher", "variant": f"nu0={nu0}", "primary": "loss",
                                                "higher_is_better": False},
            "config": {"model": {"name": model}, "task": {"nu0": nu0}, "optimizer": {"lr": lr}},
            "metrics": {"val": {"loss": loss}, "test": {"loss": loss * 1.01}}, "cost": {}}


def test_paper_pages_from_small_records(tmp_path):
    paper = tmp_path / "paper"
    assert curse1d_main(["--out", str(paper / "curse1d.json"), "--n-seq", "16"]) == 0
    assert propagation_main(["--out", str(paper / "propagation.json"), "--width", "8", "--layers", "2",
                             "--seq-len", "24", "--batch", "2"]) == 0
    for nu0 in (0.32, 0.99):
        for seed in (0, 1):
            write_record(teacher_record("lru", nu0, 0.01, seed, 1e-3), paper / "teacher_quick")
            write_record(teacher_record("linear_rnn", nu0, 1e-3, seed, 1e-2 if nu0 < 0.9 else 10.0), paper / "teacher_quick")
            write_record(teacher_record("linear_rnn", nu0, 1e-4, seed, 50.0), paper / "teacher_quick")
    outs = []
    for i in range(2):
        md = tmp_path / f"R{i}.md"
        names = build_paper(paper, tmp_path / f"fig{i}", md)
        outs.append((md.read_text(), sorted((n, (tmp_path / f"fig{i}" / n).read_bytes()) for n in names)))
    assert outs[0] == outs[1]
    text = outs[0][0]
    assert "## 1. The curse of memory" in text and "## 4. Signal propagation" in text
    assert "**Verdict: reproduced: at ν₀ = 0.99 the LRU's loss is 1e+04× lower" in text
    rows = json.loads((paper / "propagation.json").read_text())["rows"]
    assert {r["model"] for r in rows} == {"crnn", "crnn+ln", "lru", "gru", "lstm"}
