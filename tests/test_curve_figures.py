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


def test_a_log_axis_over_decades_keeps_its_powers_of_ten():
    assert {1e-4, 1e-2, 1.0} <= set(_labels([1e-6, 1e-2, 1.0]))
