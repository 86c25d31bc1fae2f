"""The paper's experiments: their records turn into figures and REPRODUCTION.md deterministically."""
from __future__ import annotations

import json

from common.record_io import write_record
from leaderboard.paper import LADDER, build_paper
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
    assert {r["inputs"] for r in rows if r["model"] == "crnn"} == {"white", "ar1", "bert_fit", "bert_pad"}
    assert {"paper", "torch_init", "phase_pi"} <= {r["variant"] for r in rows}
    assert "| inputs | layer 0 | layer 1 | all layers |" in text and "### 4b. What moves the number" in text


def test_ladder_page_says_partly_reproduced_when_a_rung_is_worse_than_the_one_before(tmp_path):
    paper = tmp_path / "paper"
    losses = [10.0, 3.0, 1.0, 0.01, 0.001, 0.005]  # the LRU rung is worse than + γ
    for model, loss in zip(LADDER, losses):
        for seed in (0, 1):
            write_record(teacher_record(model, 0.99, 1e-3, seed, loss), paper / "ladder_quick")
    text = (tmp_path / "R.md").read_text() if build_paper(paper, tmp_path / "fig", tmp_path / "R.md") else ""
    verdict = next(line for line in text.splitlines() if line.startswith("**Verdict"))
    assert verdict.startswith("**Verdict: partly reproduced:") and "LRU (0.00505 vs 0.00101)" in verdict
