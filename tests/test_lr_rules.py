"""The learning-rate rules of the third edition (common/lr_rules.py), from both sides: the sweep
(whether a declared run is needed: harness/horizon.py, harness/learning_rate.py) and the page
(reference, window, columns: leaderboard/). Small synthetic records; nothing trains."""
from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from common.lr_rules import (
    FAILED,
    OPEN,
    SOLVED,
    Reference,
    by_rate,
    candidate_grid,
    check_grid,
    choose_reference,
    grid_point,
    parse_reference,
    point_verdict,
    run_needed,
)
from common.record_io import write_record
from harness.compose import compose_run
from harness.horizon import skip_reason
from harness.learning_rate import lr_from_reference
from leaderboard.build import build, collect
from tasks.copy import CopyTask

GRID = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]       # 4 inside, one more at each end
INNER = GRID[1:-1]
CRIT = {"metric": "acc", "mode": "max", "threshold": 0.99}


def rec(T: int, lr: float, seed: int, solved: bool, val: float | None = None, model: str = "lru",
        candidates: tuple = (4, 32, 256), schema: int = 3, history: list | None = None, state: int = 64,
        params: int = 1000) -> dict:
    acc = 1.0 if solved else 0.2
    return {
        "schema": schema, "run_id": f"{model}-{T}-{lr:g}-{seed}", "created": "2026-12-02T00:00:00+00:00",
        "seed": seed, "status": "ok", "track": "cpu", "published": True,
        "model": {"name": model, "params": params, "state_size": state},
        "task": {"name": "copy", "variant": f"T={T},loss=all", "curve": "loss=all", "primary": "acc",
                 "higher_is_better": True, "axis": {"name": "T", "key": "task.delay", "value": T},
                 "solve": CRIT, "horizon": CRIT},
        "config": {"model": {"name": model}, "optimizer": {"lr": lr}, "seed": seed,
                   "task": {"_target_": "tasks.copy.CopyTask", "delay": T},
                   "lr_grid": GRID, "lr_reference": {"at": {"task.delay": list(candidates)}, "extend": 1},
                   "stop": {"climb_failures": 2}},
        "outcome": "solved" if solved else "plateaued",
        "solved_at": {"step": 100} if solved else None,
        "metrics": {"val": {"acc": acc if val is None else val}, "test": {"acc": acc}},
        "history": history, "cost": {"wall_s": 1.0},
    }


def grid_runs(T: int, rates: list[float], best: float, solving: tuple = (), **kw) -> list[dict]:
    """Every rate on 3 seeds at T: `best` wins on validation, the rates in `solving` solve."""
    return [rec(T, lr, s, lr in solving, val=0.9 if lr == best else 0.5 - 0.01 * i, **kw)
            for i, lr in enumerate(rates) for s in range(3)]


REF = Reference(key="task.delay", candidates=(4.0, 32.0, 256.0), extend=1)


# -- the grid: at least four log-spaced rates, extended at an end --------------------------------

def test_a_choice_at_an_end_of_the_inner_grid_brings_in_the_next_declared_rate():
    runs = by_rate(grid_runs(4, INNER, best=1e-2))
    gp = grid_point(runs, GRID, 1, 3)
    assert gp.rates == INNER + [3e-2] and gp.missing == [3e-2] and gp.chosen is None
    # the rate beyond is worse: the choice is bracketed and stays
    runs = by_rate(grid_runs(4, INNER, best=1e-2) + [rec(4, 3e-2, s, False, val=0.1) for s in range(3)])
    gp = grid_point(runs, GRID, 1, 3)
    assert gp.missing == [] and gp.chosen == 1e-2 and gp.rates == INNER + [3e-2]
    # the rate beyond wins: chosen at the declared end, where the grid stops
    runs = by_rate(grid_runs(4, INNER, best=1e-2) + [rec(4, 3e-2, s, False, val=0.95) for s in range(3)])
    assert grid_point(runs, GRID, 1, 3).chosen == 3e-2


def test_an_inner_choice_never_extends_the_grid():
    gp = grid_point(by_rate(grid_runs(4, INNER, best=1e-3)), GRID, 1, 3)
    assert gp.chosen == 1e-3 and gp.rates == INNER


def test_the_run_at_a_grid_end_decides_itself_from_the_records():
    """The sweep lists every rate; a rate beyond the inner grid waits for the inner rates, then runs
    only if the choice sits at its end."""
    config = {"task": {"delay": 4}, "seed": 0}
    partial = {4.0: grid_runs(4, INNER[:3], best=1e-3)}
    assert run_needed(config, 3e-2, 0, partial, REF, GRID, choose_reference(partial, REF, GRID))[0] == "waiting"
    high = {4.0: grid_runs(4, INNER, best=1e-2)}
    assert run_needed(config, 3e-2, 0, high, REF, GRID, choose_reference(high, REF, GRID)) is None
    assert run_needed(config, 1e-4, 0, high, REF, GRID, choose_reference(high, REF, GRID))[0] == "waiting"
    high[4.0] += [rec(4, 3e-2, s, False, val=0.1) for s in range(3)]   # worse: 1e-2 is bracketed
    assert run_needed(config, 1e-4, 0, high, REF, GRID, choose_reference(high, REF, GRID))[0] == "not_needed"


def test_declared_grids_have_four_log_spaced_rates_inside_and_list_every_index():
    assert check_grid(GRID, 1) is None
    assert "at least 4" in check_grid([1e-3, 3e-3, 1e-2, 3e-2, 1e-1], 1)
    assert "log-spaced" in check_grid([1e-4, 2e-4, 1e-3, 3e-3, 1e-2, 3e-2], 1)
    for sweep in ("copy", "selective_copy", "teacher", "mqar", "mqar_state", "word_problem", "word_problem_neg",
                  "smnist", "sfmnist"):
        for name in (sweep, f"{sweep}_lr"):
            cfg, _ = compose_run([f"experiment=leaderboard/{name}", "hydra.sweeper.params=null"])
            ref = parse_reference(OmegaConf.to_container(cfg.lr_reference))
            grid = sorted(cfg.lr_grid)
            assert ref.extend >= 1 and check_grid(grid, ref.extend) is None, name


def test_each_sweep_lists_every_rate_of_its_grid():
    from hydra import compose, initialize_config_dir

    from harness.cli import CONF_DIR

    for name in ("copy", "copy_lr", "selective_copy", "selective_copy_lr", "teacher", "teacher_lr", "mqar", "mqar_lr",
                 "mqar_state", "mqar_state_lr", "word_problem", "word_problem_lr", "word_problem_neg",
                 "word_problem_neg_lr", "smnist_lr", "sfmnist_lr"):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("config", overrides=[f"experiment=leaderboard/{name}"], return_hydra_config=True)
        listed = [int(x) for x in str(cfg.hydra.sweeper.params.lr_index).split(",")]
        assert listed == list(range(len(cfg.lr_grid))), name
        ref = parse_reference(OmegaConf.to_container(cfg.lr_reference))
        if name.endswith("_lr") and ref.key:
            axis = [float(x) for x in str(cfg.hydra.sweeper.params[f"++{ref.key}"]).split(",")]
            assert tuple(sorted(axis)) == ref.candidates, name  # the reference sweep runs exactly the candidates
            seeds = [int(x) for x in str(cfg.hydra.sweeper.params.seed).split(",")]
            assert len(seeds) == ref.seeds, name  # ...on the seeds its rates are compared on


# -- the rate chosen on validation ----------------------------------------------------------------

def solved_in(T: int, lr: float, steps: int, val: float = 1.0, seed: int = 0) -> dict:
    r = rec(T, lr, seed, True, val=val)
    r["solved_at"] = {"step": steps}
    return r


def test_among_rates_that_solve_the_fewest_steps_win_not_the_last_validation_value():
    """A solved run stops at the first validation meeting the criterion, so its last value is noise:
    the GRU on copy at T = 16 (third edition) solved at 1e-3, 3e-3 and 1e-2 in 5,800, 2,100 and 5,700
    steps, with 0.9906, 0.991 and 0.9914 on validation."""
    runs = by_rate([solved_in(16, 1e-3, 5800, 0.9906), solved_in(16, 3e-3, 2100, 0.991),
                    solved_in(16, 1e-2, 5700, 0.9914), rec(16, 3e-4, 0, False, val=0.45)])
    assert grid_point(runs, GRID, 1, 1).chosen == 3e-3


def test_a_tie_at_the_ceiling_goes_to_the_faster_rate_inside_the_grid():
    """Every rate solved at 1.0 (the GRU on the word problem, Z2 at L = 64): ranked by the metric alone,
    the tie went to the smallest rate, the slowest, and extended the grid down to its declared end."""
    steps = {3e-4: 600, 1e-3: 400, 3e-3: 200, 1e-2: 200}
    gp = grid_point(by_rate([solved_in(64, lr, n) for lr, n in steps.items()]), GRID, 1, 1)
    assert gp.chosen == 3e-3 and gp.rates == INNER    # equal steps: the smaller rate, bracketed


def test_a_rate_solving_on_more_seeds_wins_and_without_a_criterion_the_metric_decides():
    two = [solved_in(16, 1e-3, 900, seed=s) for s in (0, 1)] + [rec(16, 1e-3, 2, False, val=0.5)]
    one = [solved_in(16, 3e-3, 200, seed=0)] + [rec(16, 3e-3, s, False, val=0.5) for s in (1, 2)]
    assert grid_point(by_rate(two + one), [1e-3, 3e-3], 0, 3).chosen == 1e-3
    images = [rec(0, lr, 0, False, val=v) for lr, v in ((1e-3, 0.97), (3e-3, 0.98), (1e-2, 0.96))]
    assert grid_point(by_rate(images), [1e-3, 3e-3, 1e-2], 0, 1).chosen == 3e-3


# -- the reference point: one the model can solve ------------------------------------------------

def test_the_reference_is_the_largest_candidate_some_rate_solves():
    points = {4.0: grid_runs(4, INNER, best=1e-3, solving=tuple(INNER)),
              32.0: grid_runs(32, INNER, best=3e-4, solving=(3e-4,)),      # one rate solves, at an end
              256.0: grid_runs(256, INNER, best=1e-3)}                   # nothing solves
    choice = choose_reference(points, REF, GRID)
    # 3e-4 wins at T = 32 but is an end of the inner grid: undecided until the rate beyond it has run
    assert choice.value is None and "0.0001 at task.delay = 32" in choice.waiting
    points[32.0] += [rec(32, 1e-4, s, False, val=0.1) for s in range(3)]
    choice = choose_reference(points, REF, GRID)
    assert (choice.value, choice.rate, choice.rates, choice.failed_at) == (32, 3e-4, [1e-4, *INNER], 256)


def test_when_no_candidate_is_solved_the_reference_is_the_easiest_point_and_higher_ones_are_not_run():
    points = {4.0: grid_runs(4, INNER, best=1e-3)}
    choice = choose_reference(points, REF, GRID)
    assert (choice.value, choice.rate, choice.failed_at) == (4, 1e-3, 4)
    skip = run_needed({"task": {"delay": 32}}, 1e-3, 0, points, REF, GRID, choice)
    assert skip[0] == "beyond_horizon" and "task.delay = 4" in skip[1]


# the track's reference: every rate on seed 0 at each candidate
SEED0_REF = parse_reference({"at": {"seed": 0, "task.delay": [4, 16, 64]}, "extend": 1})


def one_seed(T: int, best: float, solving: tuple = ()) -> list[dict]:
    """Every inner rate at T on seed 0 only: `best` wins on validation, the rates in `solving` solve."""
    return [r for r in grid_runs(T, INNER, best, solving) if r["seed"] == 0]


def test_candidates_on_seed_0_choose_from_one_seed_per_rate():
    """The track's references (cost: issue cpu track, third edition): every rate once, on seed 0, at
    each candidate; the curve's other seeds run at the rate chosen there."""
    ref = SEED0_REF
    assert ref.fixed == (("seed", 0),) and ref.candidates == (4.0, 16.0, 64.0) and ref.seeds == 1
    points = {4.0: one_seed(4, 1e-3, tuple(INNER)), 16.0: one_seed(16, 3e-3, (3e-3,)), 64.0: one_seed(64, 1e-3)}
    choice = choose_reference(points, ref, GRID)
    assert (choice.value, choice.rate, choice.failed_at) == (16, 3e-3, 64)
    assert run_needed({"task": {"delay": 16}, "seed": 1}, 3e-3, 1, points, ref, GRID, choice) is None  # curve seed
    # the other rates' seeds wait until the chosen rate's seeds settle the point
    assert run_needed({"task": {"delay": 16}, "seed": 1}, 1e-3, 1, points, ref, GRID, choice)[0] == "waiting"
    points[16.0] += [rec(16, 3e-3, s, True) for s in (1, 2)]
    assert run_needed({"task": {"delay": 16}, "seed": 1}, 1e-3, 1, points, ref, GRID, choice)[0] == "not_needed"
    waiting = choose_reference({4.0: one_seed(4, 1e-3)[:2]}, ref, GRID).waiting
    assert "on seed 0" in waiting and "every seed" not in waiting


def test_a_harder_candidate_waits_while_every_rate_run_at_an_easier_one_failed_and_more_are_to_run():
    """The rates still to run at an easier candidate decide whether a harder one is above a failed
    candidate (then not run at all): until they have, its runs wait rather than run for nothing."""
    ref = SEED0_REF
    harder_run = {"task": {"delay": 16}, "seed": 0}
    points = {4.0: one_seed(4, 1e-2)}                      # every inner rate failed, the best at the top end
    gp = candidate_grid(points[4.0], by_rate(points[4.0]), ref, GRID)
    assert gp.missing == [3e-2]
    skip = run_needed(harder_run, 1e-3, 0, points, ref, GRID, choose_reference(points, ref, GRID))
    assert skip[0] == "waiting" and "task.delay = 4" in skip[1]
    failed = {4.0: points[4.0] + [rec(4, 3e-2, 0, False, val=0.1)]}   # the rate beyond fails too
    assert run_needed(harder_run, 1e-3, 0, failed, ref, GRID, choose_reference(failed, ref, GRID))[0] == "beyond_horizon"
    solved = {4.0: points[4.0] + [rec(4, 3e-2, 0, True)]}               # it solves: the harder candidate runs
    assert run_needed(harder_run, 1e-3, 0, solved, ref, GRID, choose_reference(solved, ref, GRID)) is None
    # a rate solved at the easier candidate: the harder one runs while the grid there is completed
    some = {4.0: one_seed(4, 1e-2, (1e-2,))}
    assert candidate_grid(some[4.0], by_rate(some[4.0]), ref, GRID).missing == [3e-2]
    assert run_needed(harder_run, 1e-3, 0, some, ref, GRID, choose_reference(some, ref, GRID)) is None


def test_a_chosen_rate_solving_only_seed_0_off_the_reference_brings_in_the_other_rates():
    """The sweep judges the chosen rate at a curve point on every seed, as the page does: solving
    seed 0 alone is a failure there, so the other rates run (else the point stays open for good)."""
    ref = SEED0_REF
    points = {4.0: one_seed(4, 1e-3, tuple(INNER)), 16.0: one_seed(16, 3e-3, (3e-3,)), 64.0: one_seed(64, 1e-3)}
    points[32.0] = [rec(32, 3e-3, 0, True), rec(32, 3e-3, 1, False), rec(32, 3e-3, 2, False)]
    choice = choose_reference(points, ref, GRID)
    assert run_needed({"task": {"delay": 32}, "seed": 0}, 1e-3, 0, points, ref, GRID, choice) is None
    assert point_verdict(by_rate(points[32.0]), choice.rate, choice.rates)[0] == OPEN
    points[32.0] += [rec(32, lr, 0, False) for lr in INNER if lr != 3e-3]
    assert point_verdict(by_rate(points[32.0]), choice.rate, choice.rates)[0] == FAILED


def test_a_rate_chosen_on_seed_0_that_fails_seeds_1_and_2_at_the_reference_passes_the_choice_on():
    """A reference compares rates on seed 0; a point is solved by a majority of seeds. When the chosen
    rate fails its seeds 1 and 2 there, the rates that solved seed 0 run theirs, and the choice goes
    to one that holds; when none holds, the reference moves to the next easier candidate."""
    ref = SEED0_REF
    points = {4.0: one_seed(4, 1e-3, tuple(INNER)), 16.0: one_seed(16, 3e-3, (3e-3, 1e-3)), 64.0: one_seed(64, 1e-3)}
    assert choose_reference(points, ref, GRID).rate == 3e-3             # best on seed 0
    points[16.0] += [rec(16, 3e-3, s, False) for s in (1, 2)]           # ... but not on seeds 1 and 2
    choice = choose_reference(points, ref, GRID)
    assert (choice.value, choice.rate) == (16, 3e-3)                    # 1e-3 has not run its seeds yet
    assert run_needed({"task": {"delay": 16}, "seed": 1}, 1e-3, 1, points, ref, GRID, choice) is None
    assert run_needed({"task": {"delay": 16}, "seed": 1}, 1e-2, 1, points, ref, GRID, choice)[0] == "not_needed"
    held = {**points, 16.0: points[16.0] + [rec(16, 1e-3, s, True) for s in (1, 2)]}
    assert (choose_reference(held, ref, GRID).value, choose_reference(held, ref, GRID).rate) == (16, 1e-3)
    lost = {**points, 16.0: points[16.0] + [rec(16, 1e-3, s, False) for s in (1, 2)]}
    choice = choose_reference(lost, ref, GRID)
    assert (choice.value, choice.rate) == (4, 1e-3)                     # no rate holds T = 16 on every seed


def test_every_rate_that_solved_seed_0_runs_its_seeds_before_the_choice_passes_on_and_is_bracketed():
    """Selective copy, Mamba (2026-12-05 audit): at the reference L = 64 every inner rate solved seed
    0; the chosen 3e-3 then failed seeds 1 and 2 on test. 1e-2 had run its seeds while it was the
    chosen rate at an easier candidate and held, so the choice passed to it at once: 1e-3, which had
    solved seed 0 there, never ran its other seeds, and 1e-2 sat at the top of the rates run, with
    3e-2 never tried (a chosen rate at a grid end)."""
    ref = SEED0_REF
    at16 = one_seed(16, 3e-3, tuple(INNER)) + [rec(16, 3e-3, s, False) for s in (1, 2)]
    at16 += [rec(16, 1e-2, s, True) for s in (1, 2)]
    points = {4.0: one_seed(4, 1e-3, tuple(INNER)), 16.0: at16, 64.0: one_seed(64, 1e-3)}
    choice = choose_reference(points, ref, GRID)
    assert (choice.value, choice.rate) == (16, 3e-3)                    # 3e-4 and 1e-3 have seeds to run
    for lr in (3e-4, 1e-3):
        assert run_needed({"task": {"delay": 16}, "seed": 1}, lr, 1, points, ref, GRID, choice) is None
    at16 += [rec(16, lr, s, False) for lr in (3e-4, 1e-3) for s in (1, 2)]
    choice = choose_reference(points, ref, GRID)                        # 1e-2 holds, at the top of the rates run
    assert choice.value is None and "0.03 at task.delay = 16 on seed 0" in choice.waiting
    assert run_needed({"task": {"delay": 16}, "seed": 0}, 3e-2, 0, points, ref, GRID, choice) is None
    failed = {**points, 16.0: at16 + [rec(16, 3e-2, 0, False)]}
    choice = choose_reference(failed, ref, GRID)
    assert (choice.value, choice.rate, choice.rates) == (16, 1e-2, INNER + [3e-2])
    # a rate beyond that solves seed 0 runs its other seeds too, and takes over where it is better
    solved = {**points, 16.0: at16 + [rec(16, 3e-2, 0, True)]}
    choice = choose_reference(solved, ref, GRID)
    assert choice.rate == 3e-3 and run_needed({"task": {"delay": 16}, "seed": 1}, 3e-2, 1, solved, ref, GRID, choice) is None
    faster = [rec(16, 3e-2, s, True) for s in (0, 1, 2)]
    for r in faster:
        r["solved_at"] = {"step": 50}
    choice = choose_reference({**points, 16.0: at16 + faster}, ref, GRID)
    assert (choice.value, choice.rate, choice.rates) == (16, 3e-2, INNER + [3e-2])   # the declared end


def test_a_candidate_that_is_not_the_reference_tries_every_rate_of_the_reference():
    """Word problem Z2, LRU (2026-12-04): the reference T = 16 extended its grid down to 1e-4 (its
    choice, 3e-4, sat at the low end); at the harder candidate 64 no rate solved seed 0 and its own
    grid extended upwards instead. There 3e-4 failed on every seed, and the point waited for 1e-4,
    which the candidate's grid called bracketed without it: the climb above waited for good."""
    ref = SEED0_REF
    at16 = one_seed(16, 3e-4, tuple(INNER)) + [rec(16, 1e-4, 0, False, val=0.1)]
    at16 += [rec(16, 3e-4, s, True) for s in (1, 2)]
    at64 = one_seed(64, 1e-2) + [rec(64, 3e-2, 0, False, val=0.1)] + [rec(64, 3e-4, s, False) for s in (1, 2)]
    points = {4.0: one_seed(4, 1e-3, tuple(INNER)), 16.0: at16, 64.0: at64}
    choice = choose_reference(points, ref, GRID)
    assert (choice.value, choice.rate, choice.rates) == (16, 3e-4, [1e-4] + INNER)
    assert point_verdict(by_rate(at64), choice.rate, choice.rates)[0] == OPEN      # 1e-4 not tried at 64
    assert run_needed({"task": {"delay": 64}, "seed": 0}, 1e-4, 0, points, ref, GRID, choice) is None
    assert run_needed({"task": {"delay": 64}, "seed": 1}, 1e-4, 1, points, ref, GRID, choice)[0] == "waiting"
    # at the reference itself, its own bracket still decides
    assert run_needed({"task": {"delay": 16}, "seed": 0}, 3e-2, 0, points, ref, GRID, choice)[0] == "not_needed"
    at64.append(rec(64, 1e-4, 0, False))
    assert point_verdict(by_rate(at64), choice.rate, choice.rates)[0] == FAILED
    assert run_needed({"task": {"delay": 64}, "seed": 1}, 1e-4, 1, points, ref, GRID, choice)[0] == "not_needed"


def test_a_rate_with_a_seed_solved_besides_a_failed_seed_0_runs_its_last_seed():
    """Word problem S3, RNN (2026-12-04): 3e-3, chosen while the reference was another point, ran
    seed 1 at L = 32 and solved it, though its seed 0 had failed there. Then 1e-3 took the reference
    at 32 on seed 0 and failed seeds 1 and 2. 3e-3 was open at 32 (1 of 2 seeds, the third decides),
    so the point and the climb above it waited, while the rule "a probe gets more seeds only after
    its seed 0 solves" never ran that third seed: every pass ran nothing and the curve stopped."""
    ref = SEED0_REF
    at16 = one_seed(16, 1e-3, (1e-3,)) + [rec(16, 1e-3, s, False) for s in (1, 2)] + [rec(16, 3e-3, 1, True)]
    points = {4.0: one_seed(4, 1e-3, tuple(INNER)), 16.0: at16, 64.0: one_seed(64, 1e-3)}
    choice = choose_reference(points, ref, GRID)
    assert (choice.value, choice.rate) == (16, 1e-3)                    # 3e-3 has a seed left to run
    assert point_verdict(by_rate(at16), choice.rate, choice.rates)[0] == OPEN
    assert run_needed({"task": {"delay": 16}, "seed": 2}, 3e-3, 2, points, ref, GRID, choice) is None
    solved = {**points, 16.0: at16 + [rec(16, 3e-3, 2, True)]}
    assert (choose_reference(solved, ref, GRID).value, choose_reference(solved, ref, GRID).rate) == (16, 3e-3)
    failed = {**points, 16.0: at16 + [rec(16, 3e-3, 2, False)]}
    assert choose_reference(failed, ref, GRID).value == 4               # no rate holds 16 on every seed
    # a probe whose only seed failed still gets no more seeds
    assert run_needed({"task": {"delay": 16}, "seed": 2}, 1e-2, 2, points, ref, GRID, choice)[0] == "not_needed"


def test_the_chosen_rates_last_seed_is_not_run_where_a_majority_of_its_seeds_already_failed():
    """MQAR, pairs = 2 (2026-12-06): every rate failed the reference on seed 0, at the step cap and
    at 1/N; the LRU's chosen rate then failed seed 1 the same way (~16 min). 2 of 3 seeds can no
    longer solve, so seed 2 is not run; where seeds 0 and 1 split, seed 2 decides and runs."""
    ref = SEED0_REF
    points = {4.0: one_seed(4, 1e-3)}                                  # no rate solves seed 0
    choice = choose_reference(points, ref, GRID)
    assert (choice.value, choice.rate) == (4, 1e-3)
    cfg = {"task": {"delay": 4}, "seed": 1}
    assert run_needed(cfg, 1e-3, 1, points, ref, GRID, choice) is None  # the confirmation seed runs
    failed = {4.0: points[4.0] + [rec(4, 1e-3, 1, False)]}
    outcome, why = run_needed({**cfg, "seed": 2}, 1e-3, 2, failed, ref, GRID, choose_reference(failed, ref, GRID))
    assert outcome == "not_needed" and "majority" in why
    split = {4.0: one_seed(4, 1e-3, (1e-3,)) + [rec(4, 1e-3, 1, False)], 16.0: one_seed(16, 1e-3), 64.0: one_seed(64, 1e-3)}
    choice = choose_reference(split, ref, GRID)
    assert (choice.value, choice.rate) == (4, 1e-3)
    assert run_needed({**cfg, "seed": 2}, 1e-3, 2, split, ref, GRID, choice) is None


def test_a_rate_outside_the_references_grid_that_solved_seed_0_at_a_candidate_runs_its_other_seeds():
    """Found by the simulated sweeps (tests/test_lr_rules_settle.py): the candidate T = 4 extended its
    own grid down to 1e-4, which solved seed 0 there; the reference T = 64 never ran 1e-4. Where the
    chosen rate then failed T = 4, the point counted 1e-4 as open (one seed solved, two to run), while
    the rule "only rates run at the reference" never ran them: T = 4 and the climb above it waited."""
    ref = SEED0_REF
    at4 = [rec(4, lr, 0, lr in (1e-4, 3e-4), val=0.9 if lr == 3e-4 else 0.5) for lr in GRID]
    at4 += [rec(4, lr, s, False) for lr in (3e-4, 1e-2) for s in (1, 2)]
    at64 = one_seed(64, 1e-2, tuple(INNER)) + [rec(64, 3e-2, 0, False), rec(64, 1e-2, 1, False), rec(64, 1e-2, 2, True)]
    points = {4.0: at4, 16.0: one_seed(16, 1e-3, (1e-3,)), 64.0: at64}
    choice = choose_reference(points, ref, GRID)
    assert (choice.value, choice.rate) == (64, 1e-2) and 1e-4 not in choice.rates
    assert point_verdict(by_rate(at4), choice.rate, choice.rates)[0] == OPEN
    assert run_needed({"task": {"delay": 4}, "seed": 1}, 1e-4, 1, points, ref, GRID, choice) is None
    settled = {**points, 4.0: at4 + [rec(4, 1e-4, s, False) for s in (1, 2)]}
    assert point_verdict(by_rate(settled[4.0]), choice.rate, choice.rates)[0] == FAILED
    # a rate neither the reference nor this point ran stays out, and one settled here without seed 0
    assert run_needed({"task": {"delay": 8}, "seed": 1}, 1e-4, 1, points, ref, GRID, choice)[0] == "not_needed"
    at8 = [rec(8, 1e-2, s, False) for s in range(3)] + [rec(8, 1e-4, s, False) for s in (1, 2)]
    points8 = {**points, 8.0: at8}
    assert run_needed({"task": {"delay": 8}, "seed": 0}, 1e-4, 0, points8, ref, GRID, choice)[0] == "not_needed"
    points8[8.0] = at8[:3] + [rec(8, 1e-4, 1, True), rec(8, 1e-4, 2, False)]
    assert run_needed({"task": {"delay": 8}, "seed": 0}, 1e-4, 0, points8, ref, GRID, choice) is None


def test_second_edition_references_read_as_one_candidate_without_extension():
    assert parse_reference({"task.delay": 64}) == Reference(key="task.delay", candidates=(64.0,))
    assert parse_reference({"seed": 0}) == Reference(fixed=(("seed", 0),)) and Reference(fixed=(("seed", 0),)).seeds == 1


# -- a point fails only when no rate of the grid solves it ---------------------------------------

def test_a_point_fails_only_after_every_rate_and_a_probe_that_solves_gets_more_seeds():
    chosen = 1e-3
    runs = [rec(64, chosen, s, False) for s in range(3)]
    state, window, tried = point_verdict(by_rate(runs), chosen, INNER)
    assert state == OPEN and window == [] and tried == [chosen]      # the other rates are not tried yet
    runs += [rec(64, lr, 0, False) for lr in INNER if lr != chosen]   # one seed each, all fail
    assert point_verdict(by_rate(runs), chosen, INNER)[0] == FAILED
    runs = [r for r in runs if r["config"]["optimizer"]["lr"] != 1e-2] + [rec(64, 1e-2, 0, True)]
    assert point_verdict(by_rate(runs), chosen, INNER)[0] == OPEN    # 1e-2 solved on seed 0: more seeds
    runs += [rec(64, 1e-2, s, True) for s in (1, 2)]
    assert point_verdict(by_rate(runs), chosen, INNER) == (SOLVED, [1e-2], INNER)


def _cfg(tmp_path: Path, T: int, lr: float, seed: int = 0) -> OmegaConf:
    return OmegaConf.create({"model": {"name": "lru"}, "task": {"_target_": "tasks.copy.CopyTask", "delay": T},
                             "optimizer": {"lr": lr}, "seed": seed, "results_dir": str(tmp_path),
                             "lr_grid": GRID, "lr_index": GRID.index(lr),
                             "lr_reference": {"at": {"task.delay": [4]}, "extend": 1}, "stop": {"climb_failures": 2}})


def test_the_sweep_tries_every_rate_before_a_point_counts_as_failed(tmp_path):
    """Reference T = 4 chose 1e-3; at T = 8 and 16 that rate fails on every seed. The climb waits
    while other rates are untried there, probes them on seed 0, and stops only once all failed."""
    for r in grid_runs(4, INNER, best=1e-3, solving=tuple(INNER), candidates=(4,)):
        write_record(r, tmp_path)
    for T in (8, 16):
        for s in range(3):
            write_record(rec(T, 1e-3, s, False, candidates=(4,)), tmp_path)
    task = CopyTask(delay=32)
    assert skip_reason(_cfg(tmp_path, 32, 1e-3), task)[0] == "waiting"
    assert skip_reason(_cfg(tmp_path, 16, 3e-3, seed=0), CopyTask(delay=16)) is None       # a probe: seed 0 runs
    assert skip_reason(_cfg(tmp_path, 16, 3e-3, seed=1), CopyTask(delay=16))[0] == "waiting"
    assert skip_reason(_cfg(tmp_path, 16, 3e-2, seed=0), CopyTask(delay=16))[0] == "not_needed"  # not run at the reference
    for T in (8, 16):
        for lr in (3e-4, 3e-3, 1e-2):
            write_record(rec(T, lr, 0, False, candidates=(4,)), tmp_path)
    assert skip_reason(_cfg(tmp_path, 16, 3e-3, seed=1), CopyTask(delay=16))[0] == "not_needed"
    outcome, why = skip_reason(_cfg(tmp_path, 32, 1e-3), task)
    assert outcome == "beyond_horizon" and "every rate failed" in why
    # a probe that solves T = 16 on its three seeds: T = 16 is solved, the climb goes on
    for s in range(3):
        write_record(rec(16, 1e-2, s, True, candidates=(4,)), tmp_path)
    assert skip_reason(_cfg(tmp_path, 32, 1e-3), task) is None


def test_the_climb_waits_behind_a_pending_point_even_where_a_harder_one_in_between_is_still_open(tmp_path):
    """MQAR, Mamba (2026-12-06): the chosen rate failed pairs = 4 on two seeds, other rates still to try
    there; pairs = 8, a reference candidate, held only its seed-0 runs (all failed), so it was open, not
    pending, and pairs = 16 ran at the chosen rate on a guess (an 8,000-step run at chance) while
    pairs = 8 waited. A value nothing solved, just above a pending one, waits as that one does."""
    def write(T, lr, seed, solved, val=None):
        r = rec(T, lr, seed, solved, val=val, candidates=(4, 16))
        r["config"]["stop"]["climb_failures"] = 1
        write_record(r, tmp_path)

    for i, lr in enumerate(INNER):                     # the reference, T = 4: 1e-3 solves on 3 seeds
        write(4, lr, 0, True, val=0.9 if lr == 1e-3 else 0.5 - 0.01 * i)
    for s in (1, 2):
        write(4, 1e-3, s, True)
    for lr in INNER:                                   # the other candidate, T = 16: every rate fails seed 0
        write(16, lr, 0, False, val=0.3 if lr == 1e-3 else 0.2)
    for s in (0, 1):                                   # T = 8: the chosen rate fails 2 of 3 seeds
        write(8, 1e-3, s, False)

    def cfg(T, lr, seed=0):
        c = _cfg(tmp_path, T, lr, seed)
        c.lr_reference = {"at": {"seed": 0, "task.delay": [4, 16]}, "extend": 1}
        c.stop.climb_failures = 1
        return c

    assert skip_reason(cfg(8, 3e-3), CopyTask(delay=8)) is None                  # the other rates probe T = 8
    assert skip_reason(cfg(16, 1e-3, 1), CopyTask(delay=16))[0] == "waiting"     # just above the pending point
    skip = skip_reason(cfg(32, 1e-3), CopyTask(delay=32))                         # and above that open one
    assert skip[0] == "waiting" and "T = 16" in skip[1], skip
    for lr in (3e-4, 3e-3, 1e-2):                      # every rate fails T = 8: the climb ends there
        write(8, lr, 0, False)
    assert skip_reason(cfg(32, 1e-3), CopyTask(delay=32))[0] == "beyond_horizon"
    assert skip_reason(cfg(16, 1e-3, 1), CopyTask(delay=16))[0] == "beyond_horizon"


def test_the_reference_points_seeds_run_even_where_the_climb_stopped_below_it(tmp_path):
    """Word problem S3, RNN (2026-12-04): seed 0 chose the reference L = 64 (3e-4 solved it there);
    L = 32 below then failed on every rate once its other seeds ran, so the climb (one failure
    stops it) called L = 64 beyond the horizon, and the seeds that confirm the rate of the whole
    curve never ran: the reference stood on one seed for good."""
    def write(T, lr, seed, solved, val=None):
        r = rec(T, lr, seed, solved, val=val, candidates=(4, 16, 64))
        r["config"]["stop"]["climb_failures"] = 1
        write_record(r, tmp_path)

    for i, lr in enumerate(INNER):
        write(4, lr, 0, True, val=0.9 if lr == 1e-3 else 0.5 - 0.01 * i)
    for s in (1, 2):
        write(4, 1e-3, s, True)
    for lr in [1e-4] + INNER:                          # T = 16: two rates solve seed 0, no rate holds
        write(16, lr, 0, lr in (3e-4, 1e-3), val=0.9 if lr == 1e-3 else 0.5)
        for s in (1, 2):
            if lr in (3e-4, 1e-3):
                write(16, lr, s, False)
    for lr in [1e-4] + INNER:                          # T = 64: 3e-4 solves seed 0, bracketed by 1e-4
        write(64, lr, 0, lr == 3e-4, val=0.9 if lr == 3e-4 else 0.5)

    def cfg(T, lr, seed):
        c = _cfg(tmp_path, T, lr, seed)
        c.lr_reference = {"at": {"seed": 0, "task.delay": [4, 16, 64]}, "extend": 1}
        c.stop.climb_failures = 1
        return c

    assert lr_from_reference(cfg(64, 3e-4, 1), CopyTask(delay=64))["at"] == {"task.delay": 64.0}
    assert skip_reason(cfg(64, 3e-4, 1), CopyTask(delay=64)) is None            # the reference's seeds run
    assert skip_reason(cfg(64, 1e-3, 1), CopyTask(delay=64))[0] == "waiting"     # others wait for them
    assert skip_reason(cfg(32, 3e-4, 1), CopyTask(delay=32))[0] == "beyond_horizon"   # off the reference: climb rules
    for s in (1, 2):                                   # they fail: the reference moves to T = 4
        write(64, 3e-4, s, False)
    assert lr_from_reference(cfg(64, 3e-4, 1), CopyTask(delay=64))["at"] == {"task.delay": 4.0}
    assert skip_reason(cfg(64, 3e-4, 1), CopyTask(delay=64))[0] == "beyond_horizon"


def test_a_run_without_lr_index_takes_the_reference_choice(tmp_path):
    for r in grid_runs(4, INNER, best=3e-3, solving=(3e-3,), candidates=(4,)):
        write_record(r, tmp_path)
    cfg = _cfg(tmp_path, 64, 1e-3)
    cfg.lr_index = None
    got = lr_from_reference(cfg, CopyTask(delay=64))
    assert cfg.optimizer.lr == 3e-3 and got == {"at": {"task.delay": 4.0}, "grid": INNER, "seeds": 3}


# -- the page: reference, window, state and params, learning curves, protocol ------------------

def page_records() -> list[dict]:
    history = [{"step": 100 * i, "lr": 1e-3, "acc": 0.1 + 0.2 * i} for i in range(1, 5)]
    out = grid_runs(4, INNER, best=1e-3, solving=(1e-3, 3e-3), history=history)
    out += grid_runs(32, INNER, best=1e-3, solving=(1e-3,), history=history)
    out += grid_runs(256, INNER, best=1e-3)                                    # every rate fails
    out += [rec(T, 1e-3, s, True) for T in (8, 16) for s in range(3)]
    out += [rec(64, 1e-3, s, False) for s in range(3)] + [rec(64, 1e-2, s, True) for s in range(3)]
    out += [rec(T, lr, s, False, model="gru", state=128, params=2000) for T in (4, 32) for lr in INNER for s in range(3)]
    return out


def test_the_page_shows_the_reference_and_the_window_of_each_point(tmp_path):
    for r in page_records():
        write_record(r, tmp_path)
    (curve,) = collect(tmp_path).curves
    lru = next(row for row in curve.rows if row.model == "lru")
    assert (lru.reference, lru.lr) == (32, 1e-3)
    assert lru.cells[4].window == [1e-3, 3e-3] and lru.cells[64].window == [1e-2] and lru.cells[256].state == FAILED
    assert lru.horizon == 64                              # solved by another rate than the chosen one
    gru = next(row for row in curve.rows if row.model == "gru")
    assert gru.reference == 4 and gru.horizon is None     # nothing solves: the easiest candidate
    build(tmp_path, tmp_path / "lb.md")
    text = (tmp_path / "lb.md").read_text()
    assert "| lru | 64 | 1,000 | 4 | 0.001 | 2/4 {0.001, 0.003} |" in text
    assert "| lru | 64 | 1,000 | 64 | 0.001 | 1/2 {0.01} (2 not tried) |" in text
    assert "| lru | 64 | 1,000 | 256 | 0.001 | 0/4 |" in text
    assert "[2/4 rates]" in text and "largest of T = 4, 32, 256 at which some rate of the grid solves" in text


def test_every_table_shows_state_and_params_beside_each_row(tmp_path):
    from tests.test_leaderboard import rec as image_rec

    for r in page_records() + [image_rec("lru", 1e-3, s, 0.9, 0.8) for s in range(3)]:
        write_record(r, tmp_path)
    build(tmp_path, tmp_path / "lb.md")
    lines = (tmp_path / "lb.md").read_text().splitlines()
    heads = [i for i, line in enumerate(lines) if line.startswith("| model |")]
    assert len(heads) == 4                                # headline, curve, per point, the task without an axis
    for i in heads:
        head = [c.strip() for c in lines[i].strip("|").split("|")]
        assert "state/layer" in head and "params" in head, lines[i]
        gru = next((line for line in lines[i + 2:] if line.startswith("| gru |")), None)
        if gru is not None:
            row = [c.strip() for c in gru.strip("|").split("|")]
            assert row[head.index("state/layer")] == "128" and row[head.index("params")] == "2,000"


def test_learning_curves_are_drawn_from_the_history_at_the_reference_point(tmp_path):
    for r in page_records():
        write_record(r, tmp_path / "r")
    build(tmp_path / "r", tmp_path / "lb.md", None, tmp_path / "fig")
    assert (tmp_path / "fig" / "cpu_curves_learning.png").exists()
    (curve,) = collect(tmp_path / "r").curves
    from leaderboard.curve_figures import reference_histories

    lru = next(row for row in curve.rows if row.model == "lru")
    assert [seed for seed, _, _ in reference_histories(lru, "acc")] == [0, 1, 2]
    assert reference_histories(next(row for row in curve.rows if row.model == "gru"), "acc") == []
    for r in page_records():
        r["history"] = None
        write_record(r, tmp_path / "old")
    build(tmp_path / "old", tmp_path / "lb2.md", None, tmp_path / "fig2")
    assert not (tmp_path / "fig2" / "cpu_curves_learning.png").exists()


@pytest.mark.parametrize("schema", [2, 3])
def test_records_of_the_second_edition_are_flagged_on_the_page_until_replaced(tmp_path, schema):
    for r in page_records():
        r["schema"] = schema
        r["git_commit"] = "abc-dirty"
        write_record(r, tmp_path)
    build(tmp_path, tmp_path / "lb.md")
    text = (tmp_path / "lb.md").read_text()
    flagged = "**Second-edition results.**" in text
    assert flagged == (schema == 2)
    if flagged:
        n = len(page_records())
        assert f"{n} of the {n} records" in text and f"{n} records were made from a tree with uncommitted" in text


@pytest.mark.parametrize("task", ["copy", "teacher"])
def test_the_second_edition_notice_counts_no_row_of_a_curve_already_rerun(tmp_path, task):
    """Old records left only in an image table: a third-edition curve, open or not, lends the notice
    neither its chosen rates nor a teacher "no model solves it" claim about the old protocol."""
    from tests.test_leaderboard import rec as image_rec

    for r in page_records():
        r["task"]["name"] = task
        write_record(r, tmp_path)
    for s in range(3):
        write_record(image_rec("lru", 1e-3, s, 0.9, 0.8), tmp_path)
    (curve,) = collect(tmp_path).curves
    gru = next(row for row in curve.rows if row.model == "gru")
    assert gru.horizon is None and gru.lr == min(INNER)   # a third-edition row the old facts would count
    build(tmp_path, tmp_path / "lb.md")
    text = (tmp_path / "lb.md").read_text()
    n = len(page_records()) + 3
    assert f"**Second-edition results.** 3 of the {n} records" in text
    assert "chosen rates sit at an end" not in text and "cannot represent" not in text


def test_a_declared_run_the_rules_do_not_call_for_ends_without_training(tmp_path):
    """The real entry's path (harness.run.train on the declared sweep's config): the rate beyond
    the grid's end at a candidate with no inner runs yet waits for a later pass, and leaves no record."""
    from harness.run import train

    cfg, _ = compose_run(["experiment=leaderboard/copy_lr", "task.delay=4", "lr_index=9", "seed=0",
                          f"results_dir={tmp_path / 'r'}", f"checkpoint_dir={tmp_path / 'ck'}",
                          "sensitivity.enabled=false"])
    record, parts = train(cfg, str(tmp_path / "o"), skip_finished=True, published=False)
    assert record is None and parts["run"].skipped == "waiting" and cfg.optimizer.lr == 0.3   # the grid's last
    assert not list((tmp_path / "r").glob("*.json"))


def test_a_diverged_run_is_finished_and_a_failed_one_is_retried(tmp_path):
    """A sweep's next pass skips a run whose record says it diverged (the guard stops it at the same
    step again) but reruns one that failed with an exception."""
    from harness.run import finished_record

    for seed, status in enumerate(("ok", "diverged", "failed")):
        r = rec(4, 1e-3, seed, False)
        r.update(status=status, run_key="k1")
        write_record(r, tmp_path)
    assert [finished_record(str(tmp_path), "k1", s) is not None for s in range(3)] == [True, True, False]
    assert finished_record(str(tmp_path), "k2", 0) is None


def test_the_records_a_sweep_job_reads_are_read_again_once_the_directory_changes(tmp_path):
    from harness.identity import results

    write_record(rec(4, 1e-3, 0, True), tmp_path)
    assert len(results(str(tmp_path))) == 1 and len(results(str(tmp_path))) == 1
    write_record(rec(4, 1e-3, 1, True), tmp_path)
    assert [r["seed"] for r in sorted(results(str(tmp_path)), key=lambda r: r["seed"])] == [0, 1]


def test_a_runs_write_probe_does_not_make_the_sweep_read_every_record_again(tmp_path, monkeypatch):
    """Every run checks results_dir is writable with a probe file before training; that moves the
    directory's mtime, but only a new record (a new name) is a reason to read the records again."""
    import harness.identity as identity
    from harness.checks import check_writable

    write_record(rec(4, 1e-3, 0, True), tmp_path)
    reads = []
    real = identity.read_records
    monkeypatch.setattr(identity, "read_records", lambda path: reads.append(path) or real(path))
    identity.results(str(tmp_path))
    check_writable(str(tmp_path), "results_dir")
    (tmp_path / "notes.txt").write_text("not a record")
    identity.results(str(tmp_path))
    assert len(reads) == 1                                   # the first call reads; the probe and the note do not
    write_record(rec(4, 1e-3, 1, True), tmp_path)
    assert len(identity.results(str(tmp_path))) == 2 and len(reads) == 2


def test_the_headline_gives_steps_to_solve_at_each_models_own_reference_point(tmp_path):
    from leaderboard.render_curves import headline

    for r in page_records():
        write_record(r, tmp_path)
    table, _ = headline(collect(tmp_path).curves, {})
    assert table[0].endswith("| copy: steps to solve at the model's reference point |")
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")] for line in table[2:]}
    assert rows["lru"][-1] == "100 (T = 32)" and rows["gru"][-1] == "– (T = 4)"


def test_a_sweep_that_lists_no_rates_climbs_as_before(tmp_path):
    """A second-edition curve sweep (no lr_index: every point at the reference's rate) cannot try
    other rates, so two failures of its one rate end the climb instead of waiting for ever."""
    for r in grid_runs(4, INNER, best=1e-3, solving=tuple(INNER), candidates=(4,)):
        write_record(r, tmp_path)
    for T in (8, 16):
        for s in range(3):
            write_record(rec(T, 1e-3, s, False, candidates=(4,)), tmp_path)
    cfg = _cfg(tmp_path, 32, 1e-3)
    assert skip_reason(cfg, CopyTask(delay=32))[0] == "waiting"
    cfg.lr_index = None
    assert skip_reason(cfg, CopyTask(delay=32))[0] == "beyond_horizon"
