"""The paragraph under each memory curve (leaderboard/story.py): it names the points run, who solves
the hardest and who solves none, the bounds, steps to solve at the reference point and the change of
the final relative state sensitivity along the axis, from the same small synthetic records as the
curve and state-curve tests."""
from __future__ import annotations

from leaderboard.build import build
from leaderboard.curves import Curve, curves_of
from leaderboard.render import md
from leaderboard.story import curve_story
from tests.test_faults import HOSTILE
from tests.test_leaderboard_curves import crec, curve_records, write_all
from tests.test_state_curve import state_records


def story(records: list[dict]) -> str:
    (curve,) = curves_of(records)[0]
    return curve_story(curve)


def memory_records() -> list[dict]:
    """lru: horizon T = 128 (2 of 3 seeds), 1 of 3 at 256 where one seed hit the step cap; gru:
    horizon 32; rnn: nothing at 32 or 64. Sensitivity T/10 at every run."""
    records = [r for r in curve_records() if not (r["model"]["name"] == "lru" and r["task"]["axis"]["value"] == 256)]
    records += [crec("lru", 256, s, acc, outcome=o) for s, (acc, o) in enumerate([(0.95, None), (0.2, "budget"),
                                                                                 (0.3, None)])]
    return records + [crec("rnn", T, s, 0.1, lr=1e-3) for T in (32, 64) for s in range(3)]


def test_the_paragraph_names_the_range_the_horizons_and_who_solves_nothing():
    text = story(memory_records())
    assert text.startswith("The curve runs T from 32 to 256 (4 points) for 3 models.")
    assert "No model solves the hardest point run, T = 256." in text
    assert "Horizons, largest first: lru 128, gru 32." in text
    assert "rnn solves none of the points it ran, not even T = 32." in text
    assert "Median steps to solve at the reference point T = 64, fewest first: lru 200." in text


def test_a_model_solving_the_hardest_point_is_marked_as_not_at_its_limit():
    records = [r for r in memory_records() if r["model"]["name"] != "lru" or r["task"]["axis"]["value"] != 256]
    records += [crec("lru", 256, s, 0.95) for s in range(3)]
    text = story(records)
    assert "lru solves the hardest point run, T = 256 (3/3 seeds at the chosen rate), so the curve has not " \
           "found its limit." in text
    assert "Horizons, largest first: lru ≥ 256, gru 32." in text


def test_a_model_that_did_not_run_the_first_point_is_not_said_to_fail_it():
    records = [r for r in memory_records() if r["model"]["name"] != "rnn" or r["task"]["axis"]["value"] != 32]
    text = story(records)
    assert "rnn solves none of the points it ran, from T = 64 on." in text and "not even" not in text


def test_a_step_cap_beyond_the_horizon_makes_it_a_lower_bound():
    text = story(memory_records())
    assert "For lru, a run beyond the horizon hit the step cap while still improving, so the horizon is a " \
           "lower bound." in text
    # without the capped run, no bound is claimed
    uncapped = [r for r in memory_records() if r.get("outcome") != "budget" or r["model"]["name"] != "lru"]
    assert "bound" not in story(uncapped)


def test_a_model_that_solves_nothing_but_hit_the_cap_is_said_to_maybe_solve_with_more_steps():
    records = memory_records()
    capped = next(r for r in records if r["model"]["name"] == "rnn")
    capped["outcome"] = "budget"
    assert "rnn had runs stopped by the step cap while still improving, so more steps might solve a point." \
           in story(records)


def test_a_capped_run_that_never_left_the_baseline_is_not_said_to_be_improving():
    """The third edition trains a run that never leaves the memoryless baseline to its cap (no plateau
    counts there), so its `budget` outcome says nothing about improving: the story says which it was."""
    records = memory_records()
    rnn = [r for r in records if r["model"]["name"] == "rnn"]
    for r in rnn[:2]:
        r["outcome"], r["left_baseline_at"] = "budget", None
    text = story(records)
    assert "rnn had runs stopped by the step cap without leaving the memoryless baseline (2 runs), so more " \
           "steps might solve a point." in text and "still improving, so more steps" not in text
    rnn[1]["left_baseline_at"] = 500
    assert "rnn had runs stopped by the step cap still improving or, 1 of 2 runs, without leaving the " \
           "memoryless baseline, so more steps might solve a point." in story(records)


def test_the_sensitivity_change_is_the_ratio_from_the_first_to_the_last_point_run():
    text = story(memory_records())
    assert "grows 8.0-fold for lru (3.200 at T = 32, 25.6 at T = 256)" in text
    assert "grows 2.0-fold for gru (3.200 at T = 32, 6.400 at T = 64)" in text
    records = memory_records()
    for r in records:
        if r["model"]["name"] == "rnn":       # flat: 1.0, 1.5
            r["sensitivity"]["final"]["state_sens_rel_max"] = r["task"]["axis"]["value"] / 64 + 0.5
        if r["model"]["name"] == "gru":       # a missing value leaves one point: gru is not mentioned
            del r["sensitivity"]["final"]["state_sens_rel_max"]
    text = story(records)
    assert "stays within a factor 2 for rnn (1.000 at T = 32, 1.500 at T = 64)" in text
    assert "for gru" not in text


def test_the_sensitivity_sentence_is_left_out_without_values():
    records = memory_records()
    for r in records:
        del r["sensitivity"]
    assert "sensitivity" not in story(records)


def test_a_state_size_curve_reads_as_the_smallest_state_that_solves():
    records = state_records()
    # lru's chosen rate at S = 256 (below its smallest S solved) stopped at the step cap still improving
    next(r for r in records if r["run_id"] == "lru-256-0.001-0")["outcome"] = "budget"
    text = story(records)
    assert text.startswith("The curve runs S from 256 to 4096 (5 points) for 3 models; a larger S is easier, so "
                           "a model's result is the smallest S it solves.")
    assert "No model solves the hardest point run, S = 256." in text
    assert "Smallest S solved, smallest first: lru 512, gru 4096." in text
    assert "rnn solves none of the points it ran, not even S = 4096." in text
    assert "For lru, a run below the smallest S solved hit the step cap while still improving, so that value " \
           "is an upper bound." in text
    assert "lower bound" not in text and "Horizons" not in text


def test_names_from_records_are_escaped_and_the_paragraph_sits_under_the_title(tmp_path):
    records = memory_records()
    for r in records:
        if r["model"]["name"] == "rnn":
            r["model"]["name"] = r["config"]["model"]["name"] = HOSTILE
    text = story(records)
    assert f"{md(HOSTILE)} solves none" in text and "<img" not in text
    write_all(records, tmp_path / "r")
    build(tmp_path / "r", tmp_path / "lb.md")
    lines = (tmp_path / "lb.md").read_text().splitlines()
    title = next(i for i, line in enumerate(lines) if line.startswith("### copy `loss=all`"))
    assert lines[title + 1:title + 4] == ["", text, ""]


def test_the_paragraph_is_the_same_each_time():
    curves: list[Curve] = curves_of(memory_records())[0]
    assert [curve_story(c) for c in curves] == [curve_story(c) for c in curves_of(memory_records())[0]]


def test_the_paragraph_gives_each_models_learning_rate_window_at_its_reference_point():
    text = story(memory_records())
    # lru: of the three rates at T = 64 only its chosen 0.003 solves on seed 0; gru: none of them
    assert ("Learning-rate window at the reference point (rates whose seed-0 run solves it, of those tried), "
            "widest first: lru 1/3 (0.003), gru 0/3.") in text
