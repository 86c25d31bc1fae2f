"""The state-size curve (SPEC §6.2: recall against the state S per layer, as zoology draws it): a sweep
declares `curve_axis` so that a config key, not the task, is the curve's axis, and that axis gets
easier upwards, so a model's result is its smallest solved S, the reference is the smallest solved
candidate and the climb goes down. Small synthetic records, one short real run."""
from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from common.config import ConfigError
from common.lr_rules import Reference, check_grid, choose_reference, parse_reference, run_needed
from common.record_io import write_record
from common.rules import easiest_first, harder, hardest
from harness.cli import CONF_DIR
from harness.horizon import run_axis, skip_reason
from leaderboard.build import build, collect
from leaderboard.render_curves import headline
from tasks.mqar import MQARTask
from tests.helpers import train_here

GRID = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]       # 4 inside, one more at each end
INNER = GRID[1:-1]
CRIT = {"metric": "acc", "mode": "max", "threshold": 0.99}
VARIANT = "L=128,pairs=8,V=128,a=0.01"
KEY = "model.layer.state"
AXIS = {"name": "S", "key": KEY, "easier": "up"}
UP = Reference(key=KEY, candidates=(256.0, 1024.0, 4096.0), extend=1, easier="up")


def config(S: int, lr: float, seed: int, model: str = "lru", candidates: tuple = (256, 1024, 4096)) -> dict:
    return {"model": {"name": model, "layer": {"state": S}}, "optimizer": {"lr": lr}, "seed": seed,
            "task": {"_target_": "tasks.mqar.MQARTask", "n_pairs": 8}, "curve_axis": dict(AXIS),
            "lr_grid": GRID, "lr_reference": {"at": {KEY: list(candidates)}, "extend": 1},
            "stop": {"climb_failures": 2}}


def rec(S: int, lr: float, seed: int, solved: bool, val: float | None = None, model: str = "lru",
        candidates: tuple = (256, 1024, 4096)) -> dict:
    acc = 1.0 if solved else 0.2
    return {
        "schema": 3, "run_id": f"{model}-{S}-{lr:g}-{seed}", "created": "2026-12-03T00:00:00+00:00",
        "seed": seed, "status": "ok", "track": "cpu", "published": True,
        "model": {"name": model, "params": 1000, "state_size": S},
        "task": {"name": "mqar", "variant": VARIANT, "curve": VARIANT, "primary": "acc", "higher_is_better": True,
                 "axis": {**AXIS, "value": S}, "solve": CRIT, "horizon": CRIT},
        "config": config(S, lr, seed, model, candidates),
        "outcome": "solved" if solved else "plateaued",
        "solved_at": {"step": 100} if solved else None,
        "metrics": {"val": {"acc": acc if val is None else val}, "test": {"acc": acc}},
        "cost": {"wall_s": 1.0},
    }


def grid_runs(S: int, best: float, solving: tuple = (), **kw) -> list[dict]:
    """Every inner rate on 3 seeds at S: `best` wins on validation, the rates in `solving` solve."""
    return [rec(S, lr, s, lr in solving, val=0.9 if lr == best else 0.5 - 0.01 * i, **kw)
            for i, lr in enumerate(INNER) for s in range(3)]


def at_rate(S: int, lr: float, solved: bool, seeds=range(3), **kw) -> list[dict]:
    return [rec(S, lr, s, solved, **kw) for s in seeds]


def state_records() -> list[dict]:
    """lru: the grid solves S = 4096 and 1024, nothing at 256; the rate chosen at 1024 solves 2048 and
    512 (smallest S 512). gru: only 4096 is solved, every rate fails at 1024 (256 is not run).
    rnn: every rate fails at 4096, nothing smaller runs."""
    out = grid_runs(4096, 1e-3, solving=tuple(INNER)) + grid_runs(1024, 1e-3, solving=(1e-3, 3e-3))
    out += grid_runs(256, 1e-3) + at_rate(2048, 1e-3, True) + at_rate(512, 1e-3, True)
    out += grid_runs(4096, 3e-3, solving=tuple(INNER), model="gru") + grid_runs(1024, 3e-3, model="gru")
    out += grid_runs(4096, 3e-3, model="rnn")
    return out


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


# -- the direction: one place, common/rules.py ----------------------------------------------------

def test_an_axis_that_gets_easier_upwards_orders_and_judges_the_other_way():
    assert easiest_first([256, 4096, 1024], "up") == [4096, 1024, 256]
    assert easiest_first([256, 4096, 1024], None) == [256, 1024, 4096] == easiest_first([4096, 256, 1024], "down")
    assert hardest([256, 4096, 1024], "up") == 256 and hardest([256, 4096, 1024], None) == 4096
    assert harder(256, 1024, "up") and not harder(256, 1024, None)
    with pytest.raises(ValueError, match="up, down or null"):
        harder(1, 2, "sideways")


# -- the learning-rate reference and the climb ----------------------------------------------------

def test_the_reference_is_the_smallest_candidate_some_rate_solves():
    points = {4096.0: grid_runs(4096, 1e-3, solving=tuple(INNER)),
              1024.0: grid_runs(1024, 1e-3, solving=(1e-3,)),
              256.0: grid_runs(256, 1e-3)}
    choice = choose_reference(points, UP, GRID)
    assert (choice.value, choice.rate, choice.failed_at) == (1024, 1e-3, 256)
    # the same runs read as a memory axis start at the smallest candidate, which every rate fails
    down = Reference(key=KEY, candidates=UP.candidates, extend=1)
    assert (choose_reference(points, down, GRID).value, choose_reference(points, down, GRID).failed_at) == (256, 256)


def test_candidates_below_one_where_every_rate_failed_are_not_run():
    points = {4096.0: grid_runs(4096, 1e-3)}
    choice = choose_reference(points, UP, GRID)
    assert (choice.value, choice.failed_at) == (4096, 4096)   # nothing solves: the easiest, the largest S
    skip = run_needed(config(1024, 1e-3, 0), 1e-3, 0, points, UP, GRID, choice)
    assert skip[0] == "beyond_horizon" and f"{KEY} = 4096" in skip[1]


def test_where_the_axis_is_not_monotone_a_candidate_below_a_failed_one_runs_and_can_be_the_reference():
    any_s = Reference(key=KEY, candidates=UP.candidates, extend=1, easier="up", monotone=False)
    assert parse_reference({"at": {KEY: [4096, 256, 1024]}, "extend": 1, "monotone": False}, "up") == any_s
    points = {4096.0: grid_runs(4096, 1e-3)}
    choice = choose_reference(points, any_s, GRID)
    assert choice.waiting and "1024" in choice.waiting   # 1024 is still to run: nothing stands for it
    assert run_needed(config(1024, 1e-3, 0), 1e-3, 0, points, any_s, GRID, choice) is None
    points[1024.0] = grid_runs(1024, 3e-3, solving=(3e-3,))
    points[256.0] = grid_runs(256, 1e-3)
    choice = choose_reference(points, any_s, GRID)
    assert (choice.value, choice.rate) == (1024, 3e-3)
    with pytest.raises(ValueError, match="true or false"):
        parse_reference({"at": {KEY: [256]}, "monotone": "no"})


def test_an_axis_declared_not_monotone_must_not_stop_its_climb(tmp_path):
    cfg = _cfg(tmp_path, 1024, 1e-3)
    cfg.lr_reference.monotone = False
    with pytest.raises(ConfigError, match="set stop.climb_failures=null"):
        skip_reason(cfg, MQARTask())
    cfg.stop.climb_failures = None    # accepted: it waits, as any point does, for the reference's grid
    assert skip_reason(cfg, MQARTask())[0] == "waiting"


def test_a_declared_direction_reaches_the_sweeps_reference():
    assert parse_reference({"at": {KEY: [4096, 256, 1024]}, "extend": 1}, "up") == UP


def _cfg(tmp_path, S: int, lr: float, seed: int = 0) -> OmegaConf:
    return OmegaConf.create({**config(S, lr, seed, candidates=(4096,)), "results_dir": str(tmp_path),
                             "lr_index": GRID.index(lr)})


def test_the_sweep_climbs_down_and_stops_below_two_failed_state_sizes(tmp_path):
    """Reference S = 4096 chose 1e-3; that rate fails at 2048 and 1024. S = 512 waits while other rates are
    untried there, and is beyond reach once every rate has failed at both; a larger S is never held back."""
    for r in grid_runs(4096, 1e-3, solving=tuple(INNER), candidates=(4096,)):
        write_record(r, tmp_path)
    for S in (2048, 1024):
        for r in at_rate(S, 1e-3, False, candidates=(4096,)):
            write_record(r, tmp_path)
    task = MQARTask()
    assert skip_reason(_cfg(tmp_path, 512, 1e-3), task)[0] == "waiting"
    assert skip_reason(_cfg(tmp_path, 1024, 3e-3), task) is None    # a probe at a failed point: seed 0 runs
    for S in (2048, 1024):
        for lr in (3e-4, 3e-3, 1e-2):
            write_record(rec(S, lr, 0, False, candidates=(4096,)), tmp_path)
    outcome, why = skip_reason(_cfg(tmp_path, 512, 1e-3), task)
    assert outcome == "beyond_horizon" and "S = 1024, 2048" in why
    # the failures lie below 4096 and 8192: climbing down never skips a larger state
    assert skip_reason(_cfg(tmp_path, 8192, 1e-3), task) is None


def test_a_declared_axis_must_name_a_number_and_a_direction():
    base = {"model": {"name": "lru", "layer": {"state": None}}, "task": {}, "curve_axis": dict(AXIS)}
    with pytest.raises(ConfigError, match="sets no number"):
        run_axis(OmegaConf.create(base), MQARTask())
    base["model"]["layer"]["state"], base["curve_axis"]["easier"] = 256, "sideways"
    with pytest.raises(ConfigError, match="up, down or null"):
        run_axis(OmegaConf.create(base), MQARTask())


# -- the page ------------------------------------------------------------------------------------

def test_records_on_the_state_axis_form_one_curve_whose_result_is_the_smallest_solved_S(tmp_path):
    for r in state_records():
        write_record(r, tmp_path)
    (curve,) = collect(tmp_path).curves
    assert (curve.task, curve.curve, curve.axis_name, curve.axis_key, curve.easier) == ("mqar", VARIANT, "S", KEY, "up")
    assert curve.values == [256, 512, 1024, 2048, 4096]
    rows = {row.label: row for row in curve.rows}
    assert [row.label for row in curve.rows] == ["lru", "gru", "rnn"]          # the smallest S ranks first
    assert (rows["lru"].reference, rows["lru"].lr, rows["lru"].horizon) == (1024, 1e-3, 512)
    assert (rows["gru"].reference, rows["gru"].horizon) == (4096, 4096) and rows["rnn"].horizon is None
    table, _ = headline([curve], {})
    assert cells(table[0])[3] == f"mqar `{VARIANT}`: smallest S"
    body = {cells(line)[0]: cells(line) for line in table[2:]}
    assert body["lru"][3] == "512" and body["gru"][3] == "4096" and body["rnn"][3] == "> 4096"
    build(tmp_path, tmp_path / "lb.md")
    text = (tmp_path / "lb.md").read_text()
    assert f"smallest S solved over S (`{KEY}`)" in text and "| model | state/layer | params | smallest S |" in text
    assert "The reference point is the smallest of S = 256, 1024, 4096 at which some rate" in text
    assert "Smallest S (a state-size curve" in text


def test_a_model_that_solves_the_smallest_S_is_marked_as_not_yet_at_its_limit(tmp_path):
    for r in grid_runs(4096, 1e-3, solving=tuple(INNER)) + at_rate(256, 1e-3, True, candidates=(4096,)):
        write_record(r, tmp_path)
    (curve,) = collect(tmp_path).curves
    assert curve.rows[0].horizon == 256
    table, _ = headline([curve], {})
    assert cells(table[2])[3] == "≤ 256"


def test_models_run_over_different_ranges_of_S_are_bounded_by_their_own_range(tmp_path):
    """The cpu track runs dense recurrences over S = 256 ... 64 and diagonal ones over 1024 ... 128:
    a dense model that solves nothing is `> 256` (not `> 1024`, a value it never ran), and a diagonal
    one that solves its smallest S is `≤ 128` (not a plain 128, as if it had failed at 64)."""
    dense, diagonal = (64, 128, 256), (128, 256, 512, 1024)
    records = grid_runs(256, 1e-3, model="gru", candidates=dense)
    records += [r for S in (64, 128) for r in at_rate(S, 1e-3, False, model="gru", candidates=dense)]
    records += grid_runs(1024, 1e-3, solving=tuple(INNER), candidates=diagonal)
    records += [r for S in (128, 256, 512) for r in at_rate(S, 1e-3, True, candidates=diagonal)]
    for r in records:
        r["config"]["dense_state_max"] = 256   # as the sweep records it (not part of the setting)
        write_record(r, tmp_path)
    (curve,) = collect(tmp_path).curves
    assert curve.values == [64, 128, 256, 512, 1024]
    table, _ = headline([curve], {})
    body = {cells(line)[0]: cells(line) for line in table[2:]}
    assert body["gru"][3] == "> 256" and body["lru"][3] == "≤ 128"
    # the page says why the dense row stops at 256: not its horizon, the sweep's cap
    from leaderboard.render_curves import curve_section

    legend = "\n".join(curve_section(curve))
    assert "or above the largest state the sweep runs a dense recurrence at, S = 256: `dense_state_max`" in legend


def test_a_curve_that_is_not_monotone_keeps_a_row_open_past_a_failure_and_says_so(tmp_path):
    """mamba: every rate fails S = 4096, the rate chosen there solves 1024; lru also ran 256."""
    spec = {"at": {KEY: [4096]}, "extend": 1, "monotone": False}
    runs = grid_runs(4096, 1e-3, model="mamba", candidates=(4096,)) + at_rate(1024, 1e-3, True, model="mamba")
    runs += grid_runs(4096, 1e-3, candidates=(4096,)) + at_rate(1024, 1e-3, False) + at_rate(256, 1e-3, False)
    for r in runs:
        r["config"]["lr_reference"], r["config"]["stop"]["climb_failures"] = spec, None
        write_record(r, tmp_path)
    for r in grid_runs(4096, 1e-3, model="s4d", candidates=(4096,)):   # run before the sweep said so
        write_record(r, tmp_path)
    (curve,) = collect(tmp_path).curves
    rows = {row.label: row for row in curve.rows}
    assert not curve.monotone and rows["mamba"].horizon == 1024
    assert rows["mamba"].open_at == 256            # lru ran it: a failure above stands for nothing here
    assert rows["lru"].open_at == 1024             # the chosen rate failed; the other rates are still to run
    assert rows["s4d"].open_at == 1024             # the curve's declaration holds for a row not run since
    build(tmp_path, tmp_path / "lb.md")
    text = (tmp_path / "lb.md").read_text()
    assert "every S runs: a failure at one S is not taken to hold at a smaller one" in text
    assert "else the largest; every candidate runs." in text
    assert "mamba solves S = 1024 yet every rate failed S = 4096, an easier point by the axis's direction" in text


# -- the sweeps and a real run -------------------------------------------------------------------

def test_the_state_sweeps_declare_the_axis_the_grid_and_every_rate():
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            sweeps = {name: compose("config", overrides=[f"experiment=leaderboard/{name}"], return_hydra_config=True)
                      for name in ("mqar_state", "mqar_state_lr")}
    finally:
        GlobalHydra.instance().clear()
    for name, cfg in sweeps.items():
        params = cfg.hydra.sweeper.params
        assert OmegaConf.to_container(cfg.curve_axis) == AXIS, name
        assert (cfg.model.d_model, cfg.model.n_layers, cfg.task._target_) == (64, 2, "tasks.mqar.MQARTask"), name
        assert [int(x) for x in str(params.lr_index).split(",")] == list(range(len(cfg.lr_grid))), name
        ref = parse_reference(OmegaConf.to_container(cfg.lr_reference), cfg.curve_axis.easier)
        assert ref.key == KEY and check_grid(sorted(cfg.lr_grid), ref.extend) is None and ref.extend == 2, name
        assert "crnn" in params.model and "ladder" in params.model, name
        # the axis is not monotone (Mamba fails S = 1024 and solves 256): every S and candidate runs
        assert cfg.stop.climb_failures is None and not ref.monotone, name
    states = {name: [float(x) for x in str(cfg.hydra.sweeper.params[f"++{KEY}"]).split(",")]
              for name, cfg in sweeps.items()}
    assert sorted(states["mqar_state"]) == [128, 256, 512, 1024]
    assert states["mqar_state"] == easiest_first(states["mqar_state"], "up")     # the largest S first
    assert tuple(sorted(states["mqar_state_lr"])) == ref.candidates           # the reference runs its candidates
    # the dense recurrences (step ~ S²) run nowhere here: the MQAR curve settles them (leaderboard/implied.py)
    assert {cfg.dense_state_max for cfg in sweeps.values()} == {0}


def _state_point(model: str, S: int, *extra: str):
    from harness.run import run_config

    return run_config(["experiment=leaderboard/mqar_state_lr", f"model={model}", f"++{KEY}={S}",
                       "results_dir=/tmp/state_cap_unused", *extra])


DENSE = {"gru": True, "linear_rnn": True, "lru": False, "mamba": False}   # RecurrentLayer.diagonal, negated


@pytest.mark.parametrize("model", sorted(DENSE))
def test_a_dense_recurrence_runs_only_up_to_the_sweeps_cap_and_chooses_its_rate_there(model):
    """Each layer says whether its recurrence is dense (`RecurrentLayer.diagonal`), so the sweep caps
    the dense ones' state without naming them: above the cap a run is not needed, and the rate's
    reference candidates are those the model runs (the record carries them, so the page agrees)."""
    from harness.state_cap import state_cap_skip

    dense = DENSE[model]
    high, low = _state_point(model, 1024, "dense_state_max=256"), _state_point(model, 256, "dense_state_max=256")
    assert state_cap_skip(low) is None
    skip = state_cap_skip(high)
    assert (skip is not None) == dense
    if dense:
        assert skip[0] == "beyond_state_cap" and "S <= 256" in skip[1] and model in skip[1]
    candidates = list(high.lr_reference.at[KEY])
    assert candidates == ([256] if dense else [256, 1024])
    # skip_reason, the sweep's one question, says the same before reading any record
    assert (skip_reason(high, MQARTask()) == skip) if dense else True


def test_no_cap_and_a_cap_below_every_candidate():
    from harness.state_cap import state_cap_skip

    assert state_cap_skip(_state_point("gru", 1024, "dense_state_max=null")) is None
    with pytest.raises(ConfigError, match="no candidate at or below dense_state_max=128"):
        _state_point("gru", 128, "dense_state_max=128")
    with pytest.raises(ConfigError, match=">= 0"):
        _state_point("gru", 128, "dense_state_max=-1")


@pytest.mark.parametrize("model", sorted(DENSE))
def test_a_cap_of_0_runs_no_dense_recurrence_and_leaves_the_diagonal_ones_alone(model):
    """The cpu track's state-size curve: a dense layer's result there is the MQAR curve's (leaderboard/implied.py)."""
    from harness.state_cap import state_cap_skip

    for S in (128, 256, 1024):
        cfg = _state_point(model, S)                      # the sweep's own dense_state_max: 0
        skip = state_cap_skip(cfg)
        assert (skip is not None) == DENSE[model]
        if skip:
            assert skip == ("beyond_state_cap", f"{model} has a dense recurrence: this sweep runs none (dense_state_max: 0)")
            assert skip_reason(cfg, MQARTask()) == skip
        assert list(cfg.lr_reference.at[KEY]) == [256, 1024]   # nothing to choose among: left as declared


def test_the_axis_is_part_of_a_runs_identity_only_once_declared():
    """Runs from before `curve_axis` existed keep their run key and their records their setting."""
    from common.selection import setting_of
    from harness.compose import compose_run
    from harness.identity import identity_config

    plain, _ = compose_run(["model=lru", "task=mqar", "model.state=256"])
    state, _ = compose_run(["model=lru", "task=mqar", "model.state=256", "curve_axis.name=S",
                            f"curve_axis.key={KEY}", "curve_axis.easier=up"])
    assert "curve_axis" not in identity_config(plain) and identity_config(state)["curve_axis"] == AXIS
    old = {"config": {"model": {"name": "lru"}}}
    assert setting_of(old) == setting_of({"config": {**old["config"], "curve_axis": OmegaConf.to_container(plain.curve_axis)}})


def test_a_run_with_a_declared_state_axis_records_it(tmp_path):
    record = train_here(tmp_path, "model=lru", "task=mqar", "debug=fast", "model.state=256",
                        "curve_axis={name:S,key:'model.layer.state',easier:up}", "task.batch_size=8",
                        "task.n_val=16", "task.n_test=16", "trainer.max_steps=4", "trainer.val_check_interval=2",
                        "sensitivity.enabled=false")
    task = record["task"]
    assert task["axis"] == {"name": "S", "key": KEY, "value": 256, "easier": "up"}
    assert task["curve"] == task["variant"] == VARIANT    # the task's own axis value (pairs) is fixed on the curve
    assert record["config"]["curve_axis"] == AXIS and record["config"]["model"]["layer"]["state"] == 256


# -- a result another curve settles --------------------------------------------------------------

MEMORY_AXIS = {"name": "pairs", "key": "task.n_pairs", "easier": None}


def memory_rec(pairs: int, lr: float, seed: int, solved: bool, model: str = "gru", max_steps: int = 8000,
               diagonal: bool | None = False) -> dict:
    """A run of the task's memory curve (MQAR over the pairs) at the state-size curve's S = 256."""
    r = rec(256, lr, seed, solved, model=model)
    r["model"]["diagonal"] = diagonal
    r["run_id"] = f"{model}-pairs{pairs}-{lr:g}-{seed}"
    r["task"].update(variant=f"L=128,pairs={pairs},V=128,a=0.01", curve="L=128,V=128,a=0.01",
                     axis={**MEMORY_AXIS, "value": pairs})
    r["config"].pop("curve_axis")
    r["config"]["task"]["n_pairs"] = pairs
    r["config"]["lr_reference"] = {"at": {"task.n_pairs": [2, 8]}, "extend": 1}
    r["config"]["trainer"] = {"max_steps": max_steps}
    return r


def implied_records(solved_at_2: bool = False, max_steps: int = 8000, diagonal: bool | None = False) -> list[dict]:
    """lru on the state-size curve (N = 8) solves S = 1024; gru (a dense layer, unless `diagonal` says
    otherwise) is not run there, and on the memory curve at S = 256 (the same budget unless `max_steps`
    differs) every rate of the grid fails N = 2."""
    out = grid_runs(1024, 1e-3, solving=tuple(INNER)) + grid_runs(256, 1e-3)
    for r in out:
        r["config"]["trainer"] = {"max_steps": 8000}
    out += [memory_rec(2, lr, s, solved_at_2 and lr == 1e-3, max_steps=max_steps, diagonal=diagonal)
            for lr in GRID for s in range(3)]
    return out + [memory_rec(2, 1e-3, s, True, model="lru", diagonal=True) for s in range(3)]


def test_a_model_another_curve_settles_shows_there_marked_and_counts_as_on_the_curve(tmp_path):
    from leaderboard.audit import run_checks
    from leaderboard.render_curves import curve_section
    from leaderboard.story import curve_story

    for r in implied_records():
        write_record(r, tmp_path)
    data = collect(tmp_path)
    state, memory = sorted(data.curves, key=lambda c: not c.easier_up)
    assert [row.model for row in state.rows] == ["lru"] and [row.model for row in memory.rows] == ["lru", "gru"]
    (imp,) = state.implied
    assert (imp.model, imp.state, imp.value, imp.setting) == ("gru", 256, 2, 8)
    table, _ = headline(data.curves, {})
    head, body = cells(table[0]), {cells(line)[0]: cells(line) for line in table[2:]}
    column = head.index(f"mqar `{VARIANT}`: smallest S")
    assert body["gru"][column] == "> 256‡" and body["lru"][column] == "1024"
    section = "\n".join(curve_section(state))
    assert "| gru | 256 | 1,000 | > 256‡ | · | · |" in section
    assert "every rate failed mqar `L=128,V=128,a=0.01` at pairs = 2 (this curve: 8) at the same S = 256" in section
    assert "gru does not run here: at the same S = 256 per layer every rate failed" in curve_story(state)
    checks = {c.name: c for c in run_checks(data.records, data.curves, data.tables)}
    assert checks["every model on every curve"].passed, checks["every model on every curve"].line()
    assert "1 (model, curve) results settled by another curve" in checks["every model on every curve"].detail


CASES = {"solved": {"solved_at_2": True}, "other budget": {"max_steps": 4000},
         "a diagonal layer": {"diagonal": True}, "no word on the layer": {"diagonal": None}}


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_result_is_implied_from_a_solved_point_another_setting_or_a_layer_not_known_dense(tmp_path, case):
    """A diagonal model runs on the state-size curve at larger S: until it does, it is missing, not implied."""
    from leaderboard.audit import run_checks

    records = implied_records(**CASES[case])
    for r in records:
        write_record(r, tmp_path)
    data = collect(tmp_path)
    state = next(c for c in data.curves if c.easier_up)
    assert state.implied == []
    body = {cells(line)[0]: cells(line) for line in headline(data.curves, {})[0][2:]}
    assert "‡" not in " ".join(body["gru"])
    checks = {c.name: c for c in run_checks(data.records, data.curves, data.tables)}
    assert not checks["every model on every curve"].passed and "(gru)" in checks["every model on every curve"].detail
