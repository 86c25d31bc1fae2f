"""While the third edition's rerun is under way the page says which curves it has reached, with how
many runs and models and how far along the axis; once every declared sweep has begun and no point is
open, or before the rerun's first record, it says nothing."""
from __future__ import annotations

from common.record_io import write_record
from leaderboard.build import collect, headline_lines
from tests.test_lr_rules import INNER, grid_runs, rec


def _headline(tmp_path, records, published: bool = False) -> str:
    for r in records:
        write_record(r, tmp_path)
    return "\n".join(headline_lines(collect(tmp_path, published))[0])


def test_a_partial_rerun_is_named_with_its_models_and_span(tmp_path):
    new = grid_runs(4, INNER, best=1e-3, solving=tuple(INNER)) + grid_runs(16, INNER, best=1e-3, model="gru")
    old = [rec(8, 1e-3, s, False, schema=2, model="rnn") for s in range(3)]
    text = _headline(tmp_path, new + old)
    assert ("**Third edition in progress.** The rerun under the fair protocol (SPEC §6.2) has reached: "
            "copy `loss=all`: 24 runs, 2 models (gru, lru), T = 4 to 16.") in text


def test_one_edition_says_nothing(tmp_path):
    assert "in progress" not in _headline(tmp_path, grid_runs(4, INNER, best=1e-3))
    assert "in progress" not in _headline(tmp_path / "old", [rec(8, 1e-3, s, False, schema=2) for s in range(3)])


def test_a_declared_sweep_not_begun_keeps_the_rerun_in_progress_with_one_edition(tmp_path):
    """On the published pages, the last second-edition record leaving does not end the rerun: a
    declared sweep with no third-edition record yet is named."""
    text = _headline(tmp_path, grid_runs(4, INNER, best=1e-3), published=True)
    assert "**Third edition in progress.**" in text and "copy `loss=all`: 12 runs, 1 model (lru), T = 4." in text
    assert "Not begun yet: `mqar`, `mqar_state`, " in text and "`copy`," not in text


def test_an_open_point_keeps_the_rerun_in_progress_and_a_settled_curve_ends_it(tmp_path):
    """One edition only: a point the chosen rate has run on one seed of three is open, so the rerun
    is under way; without that run the curve is settled and the paragraph goes."""
    settled = grid_runs(4, INNER, best=1e-3, solving=tuple(INNER))
    started = [r for r in grid_runs(8, [1e-3], best=1e-3) if r["seed"] == 0]
    assert "in progress" not in _headline(tmp_path / "settled", settled)
    text = _headline(tmp_path / "open", settled + started)
    assert "**Third edition in progress.**" in text and "copy `loss=all`: 13 runs, 1 model (lru), T = 4 to 8." in text
