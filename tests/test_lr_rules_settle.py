"""The sweep's rules settle every curve: a sweep that runs whatever they call for, pass after pass,
ends with the reference decided, every point it climbed to decided, and no run left waiting, whatever
the runs' outcomes. Synthetic outcomes (seeded at random), jobs in the order Hydra lists them, and
the sweep's own decision (harness.horizon.skip_reason: the climb and the learning-rate rules) on the
records written so far; a rule that calls a point open while no rule runs what would settle it shows
up as a sweep that stops with runs waiting. Both directions of an axis: a memory axis (copy's delay)
and one that gets easier upwards (the state size of mqar_state), played here on the delay key."""
from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from common.lr_rules import OPEN, by_rate, choose_reference, parse_reference, point_verdict
from common.record_io import read_records, write_record
from harness.horizon import skip_reason
from tasks.copy import CopyTask
from tests.test_lr_rules import GRID, _cfg, rec

SEED0_EDGE = 0.3   # seed 0 luckier than the others: rates compared on seed 0 then fail seeds 1 and 2
                   # and the reference moves, as on the track


@dataclass(frozen=True)
class Curve:
    candidates: tuple
    points: tuple          # in the order the sweep lists them: easiest first
    easier: str | None     # None: a memory axis; "up": easier upwards
    monotone: bool = True  # False: every point and candidate runs (lr_reference.monotone, no climb stop)

    @property
    def spec(self) -> dict:
        return {"at": {"seed": 0, "task.delay": list(self.candidates)}, "extend": 1,
                **({} if self.monotone else {"monotone": False})}

    @property
    def axis(self) -> dict | None:
        return {"name": "T", "key": "task.delay", "easier": self.easier} if self.easier else None


MEMORY = Curve((4, 16, 64), (4, 8, 16, 32, 64, 128), None)
STATE = Curve((256, 512, 1024), (1024, 512, 256, 128), "up")
ANY_STATE = Curve((256, 1024), (1024, 512, 256, 128), "up", monotone=False)   # mqar_state's declaration


def decision(results, curve: Curve, T: int, lr: float, seed: int, climb: int):
    cfg = _cfg(results, T, lr, seed)
    cfg.lr_reference = curve.spec
    cfg.stop.climb_failures = climb
    if curve.axis:
        cfg.curve_axis = curve.axis
    return skip_reason(cfg, CopyTask(delay=T))


def declared(curve: Curve):
    """One pass: the reference sweep (candidates, seed 0), then the curve (every point, rate, seed)."""
    yield from ((T, lr, 0) for T in curve.points if T in curve.candidates for lr in GRID)
    yield from ((T, lr, s) for T in curve.points for lr in GRID for s in range(3))


def write(results, curve: Curve, T: int, lr: float, seed: int, solved: bool, val: float, climb: int) -> None:
    r = rec(T, lr, seed, solved, val=val, candidates=curve.candidates)
    r["config"]["stop"]["climb_failures"] = climb
    if curve.axis:
        r["config"]["curve_axis"] = curve.axis
        r["task"]["axis"]["easier"] = curve.easier
    write_record(r, results)


# MEMORY 18: a candidate's own grid reached a rate the reference never ran, which solved seed 0 there
# (test_a_rate_outside_the_references_grid_that_solved_seed_0_at_a_candidate_runs_its_other_seeds)
# ANY_STATE, failing 1024: no run solves the easiest point (Mamba on mqar_state), yet the harder ones run
@pytest.mark.parametrize(("curve", "climb", "seed", "fail"),
                         [(MEMORY, climb, seed, ()) for climb in (1, 2) for seed in (*range(4), 18)]
                         + [(STATE, 1, seed, ()) for seed in range(3)]
                         + [(ANY_STATE, None, seed, fail) for seed in range(3) for fail in ((), (1024,))])
def test_a_sweep_ends_with_every_point_decided_and_nothing_waiting(tmp_path, curve, climb, seed, fail):
    rng = random.Random(seed)
    ease = {T: rng.uniform(0.2, 0.95) for T in curve.points}   # each point solved by some share of the runs
    ease.update({T: -1.0 for T in fail})
    outcome = {job: (rng.random() < min(1.0, ease[job[0]] + (SEED0_EDGE if job[2] == 0 else 0)), rng.random())
               for job in declared(curve)}
    done: set = set()
    for _ in range(30):   # passes; in each, every job decides on the records of the jobs before it
        ran = 0
        for T, lr, s in declared(curve):
            if (T, lr, s) in done or decision(tmp_path, curve, T, lr, s, climb) is not None:
                continue
            write(tmp_path, curve, T, lr, s, *outcome[(T, lr, s)], climb)
            done.add((T, lr, s))
            ran += 1
        if not ran:
            break
    else:
        raise AssertionError("the sweep still ran something after 30 passes")
    left = {job: why for job in declared(curve) if job not in done
            and (why := decision(tmp_path, curve, *job, climb))}
    assert not {job: why for job, why in left.items() if why[0] == "waiting"}, f"runs waiting for good: {left}"
    points: dict[float, list[dict]] = {}
    for r in read_records(tmp_path):
        points.setdefault(float(r["config"]["task"]["delay"]), []).append(r)
    choice = choose_reference(points, parse_reference(curve.spec, curve.easier), GRID)
    assert choice.waiting is None
    # the chosen rate has a tried rate on each side at the reference, or sits at a declared end
    assert choice.rate in (GRID[0], GRID[-1]) or min(choice.rates) < choice.rate < max(choice.rates), choice
    beyond = {T for (T, _, _), why in left.items() if why[0] == "beyond_horizon"}
    if not curve.monotone:   # no failure stands for another point: every point runs and is decided
        assert not beyond and set(points) == set(curve.points)
    for T, runs in points.items():   # every point the climb reached is decided
        if T not in beyond:
            assert point_verdict(by_rate(runs), choice.rate, choice.rates)[0] != OPEN, f"T = {T:g} left open"
