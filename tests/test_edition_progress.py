"""While the third edition's rerun is under way the page says which curves it has reached, with how
many runs and models and how far along the axis; with one edition only it says nothing."""
from __future__ import annotations

from common.record_io import write_record
from leaderboard.build import collect, headline_lines
from tests.test_lr_rules import INNER, grid_runs, rec


def _headline(tmp_path, records) -> str:
    for r in records:
        write_record(r, tmp_path)
    return "\n".join(headline_lines(collect(tmp_path))[0])


def test_a_partial_rerun_is_named_with_its_models_and_span(tmp_path):
    new = grid_runs(4, INNER, best=1e-3, solving=tuple(INNER)) + grid_runs(16, INNER, best=1e-3, model="gru")
    old = [rec(8, 1e-3, s, False, schema=2, model="rnn") for s in range(3)]
    text = _headline(tmp_path, new + old)
    assert ("**Third edition in progress.** The rerun under the fair protocol (SPEC §6.2) has reached: "
            "copy `loss=all`: 24 runs, 2 models (gru, lru), T = 4 to 16.") in text


def test_one_edition_says_nothing(tmp_path):
    assert "in progress" not in _headline(tmp_path, grid_runs(4, INNER, best=1e-3))
    assert "in progress" not in _headline(tmp_path / "old", [rec(8, 1e-3, s, False, schema=2) for s in range(3)])
