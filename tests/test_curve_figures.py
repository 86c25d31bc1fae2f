"""leaderboard/curve_figures.py: every log axis the page draws names its values."""
from __future__ import annotations

import matplotlib.pyplot as plt

from leaderboard.curve_figures import _label_log_y


def _labels(ys: list[float]) -> list[float]:
    fig, ax = plt.subplots()
    ax.plot(range(len(ys)), ys)
    ax.set_yscale("log")
    _label_log_y(ax)
    fig.canvas.draw()
    lo, hi = ax.get_ylim()
    shown = [t for t in ax.yaxis.get_major_ticks() if t.label1.get_text() and lo <= t.get_loc() <= hi]
    plt.close(fig)
    return [t.get_loc() for t in shown]


def test_a_log_axis_within_one_decade_still_has_labelled_ticks():
    assert len(_labels([23.4, 40.0, 21.0])) >= 2   # matplotlib alone labels none: no power of ten inside


def test_a_log_axis_with_one_power_of_ten_inside_gets_more_than_that_one():
    assert len(_labels([0.03, 0.2, 0.05])) >= 2
    assert {200, 500, 1000, 2000} <= set(_labels([200, 3000, 400]))   # the low end named too


def test_a_log_axis_over_decades_keeps_its_powers_of_ten():
    assert {1e-4, 1e-2, 1.0} <= set(_labels([1e-6, 1e-2, 1.0]))


def test_the_metric_figure_draws_the_solve_threshold_and_spreads_values_crowding_towards_one(tmp_path):
    from common.record_io import write_record
    from leaderboard.build import collect
    from leaderboard.curve_figures import metric_figure
    from tests.test_leaderboard_curves import crec
    for nu in (0.5, 0.9, 0.99, 0.999):   # the teacher's axis, on copy's records: only the values matter here
        for s in range(3):
            r = crec("lru", 64, s, 0.95)
            r["task"]["axis"].update(name="nu0", key="task.nu0", value=nu)
            r["task"]["solve"]["threshold"], r["task"]["horizon"]["threshold"] = 0.93, 0.5
            r["run_id"] += f"-{nu}"
            write_record(r, tmp_path)
    (curve,) = collect(tmp_path).curves
    fig = metric_figure([curve], {"lru": "C0"})
    ax = fig.axes[0]
    assert [line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"] == [0.93]
    assert ax.get_xscale() == "logit"
    plt.close(fig)
