"""The sweep's rules settle every curve: a sweep that runs whatever they call for, pass after pass,
ends with the reference decided, every point it climbed to decided, and no run left waiting, whatever
the runs' outcomes. Synthetic outcomes (seeded at random), jobs in the order Hydra lists them, and
the sweep's own decision (harness.horizon.skip_reason: the climb and the learning-rate rules) on the
records written so far; a rule that calls a point open while no rule runs what would settle it shows
up as a sweep that stops with runs waiting."""
from __future__ import annotations

import random

import pytest

from common.lr_rules import OPEN, by_rate, choose_reference, parse_reference, point_verdict
from common.record_io import read_records, write_record
from harness.horizon import skip_reason
from tasks.copy import CopyTask
from tests.test_lr_rules import GRID, _cfg, rec

CANDIDATES = (4, 16, 64)
POINTS = (4, 8, 16, 32, 64, 128)
REF = parse_reference({"at": {"seed": 0, "task.delay": list(CANDIDATES)}, "extend": 1})
TASKS = {T: CopyTask(delay=T) for T in POINTS}
SEED0_EDGE = 0.3


def decision(results, T: int, lr: float, seed: int, climb: int):
    cfg = _cfg(results, T, lr, seed)
    cfg.lr_reference = {"at": {"seed": 0, "task.delay": list(CANDIDATES)}, "extend": 1}
    cfg.stop.climb_failures = climb
    return skip_reason(cfg, TASKS[T])


def declared():
    """One pass: the reference sweep (candidates, seed 0), then the curve (every point, rate, seed)."""
    yield from ((T, lr, 0) for T in CANDIDATES for lr in GRID)
    yield from ((T, lr, s) for T in POINTS for lr in GRID for s in range(3))


def by_point(results) -> dict[float, list[dict]]:
    points: dict[float, list[dict]] = {}
    for r in read_records(results):
        points.setdefault(float(r["config"]["task"]["delay"]), []).append(r)
    return points


# 18: a candidate's own grid reached a rate the reference never ran, which solved seed 0 there
# (test_a_rate_outside_the_references_grid_that_solved_seed_0_at_a_candidate_runs_its_other_seeds)
@pytest.mark.parametrize("climb", [1, 2])
@pytest.mark.parametrize("seed", [*range(6), 18])
def test_a_sweep_ends_with_every_point_decided_and_nothing_waiting(tmp_path, seed, climb):
    rng = random.Random(seed)
    ease = {T: rng.uniform(0.2, 0.95) for T in POINTS}         # each point solved by some share of the runs
    # seed 0 luckier than the others: rates compared on seed 0 then fail seeds 1 and 2, and the
    # reference moves, as on the track
    outcome = {job: (rng.random() < min(1.0, ease[job[0]] + (SEED0_EDGE if job[2] == 0 else 0)), rng.random())
               for job in declared()}
    done: set = set()
    for _ in range(30):   # passes; in each, every job decides on the records of the jobs before it
        ran = 0
        for T, lr, s in declared():
            if (T, lr, s) in done or decision(tmp_path, T, lr, s, climb) is not None:
                continue
            solved, val = outcome[(T, lr, s)]
            r = rec(T, lr, s, solved, val=val, candidates=CANDIDATES)
            r["config"]["stop"]["climb_failures"] = climb
            write_record(r, tmp_path)
            done.add((T, lr, s))
            ran += 1
        if not ran:
            break
    else:
        raise AssertionError("the sweep still ran something after 30 passes")
    left = {job: why for job in declared() if job not in done and (why := decision(tmp_path, *job, climb))}
    assert not {job: why for job, why in left.items() if why[0] == "waiting"}, f"runs waiting for good: {left}"
    points = by_point(tmp_path)
    choice = choose_reference(points, REF, GRID)
    assert choice.waiting is None
    beyond = {T for (T, _, _), why in left.items() if why[0] == "beyond_horizon"}
    for T, runs in points.items():   # every point the climb reached is decided
        if T not in beyond:
            assert point_verdict(by_rate(runs), choice.rate, choice.rates)[0] != OPEN, f"T = {T:g} left open"
