"""benchmarks/climb_cost.py: a curve's cost by where the horizon falls, from the climb's rules."""
from __future__ import annotations

import pytest

from benchmarks.climb_cost import axis_of, cap_fractions, climb_hours


def test_the_climb_prices_the_reference_phase_the_seeds_and_the_failing_value():
    # three values (one capped run: 1, 2, 4 h), the first and last reference candidates; a solving
    # run uses half the cap, a failing one all of it; 4 inner rates
    hours = climb_hours([3600.0, 7200.0, 14400.0], [True, False, True], solve=0.5, fail=1.0, inner=4)
    # fails the first (a candidate): its 4 rates on seed 0, then the chosen rate's second seed
    assert hours[0] == pytest.approx(5)
    # solves the first (1 solving rate + 3 failing, 2 more seeds: 4.5), fails the second (chosen rate on
    # 2 seeds, the 3 others once: 2 x 5), and the reference phase ran the last candidate (4 x 4)
    assert hours[1] == pytest.approx(4.5 + 10 + 16)
    # fails the last (a candidate): its 4 rates and the chosen rate's second seed, 4 x 5
    assert hours[2] == pytest.approx(4.5 + 3 + 20)
    # solves all: the last candidate 4 x (0.5 + 3) and 2 more seeds 4 x 1
    assert hours[3] == pytest.approx(4.5 + 3 + 18)


def test_fractions_of_the_cap_are_per_model_with_every_model_as_the_fallback():
    def rec(model, steps, solved):
        return {"model": {"name": model}, "status": "ok", "steps": steps, "budget": {"max_steps": 1000},
                "outcome": "solved" if solved else "plateaued"}   # a solved run stopped on validation
    fr = cap_fractions([rec("gru", 200, True), rec("gru", 1000, False), rec("lru", 400, True)])
    assert fr["gru"] == pytest.approx((0.2, 1.0))
    assert fr["lru"] == pytest.approx((0.4, 1.0))      # no failed run of its own: every model's


def test_axes_are_read_from_the_sweeps_easiest_first():
    key, values, ref = axis_of("copy")
    assert key == "task.delay" and values[:3] == [4, 8, 16] and values[-1] == 1024
    assert list(ref.candidates) == [4, 16, 64]
    key, values, _ = axis_of("mqar_state")
    assert key == "model.layer.state" and values == [1024, 512, 256, 128]   # the state curve climbs down
