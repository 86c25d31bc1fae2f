"""Memory curves on the leaderboard: horizon, unrun points, bounds, the reference learning
rate, schema-1 records, the headline and deterministic pages, from small synthetic records."""
from __future__ import annotations

import shutil

from common.record_io import write_record
from leaderboard.build import build, collect
from leaderboard.render_curves import headline, headline_legend

GRID = [1e-3, 3e-3, 1e-2]


def crec(model: str, T: int, seed: int, test: float, lr: float = 3e-3, val: float | None = None,
         outcome: str | None = None, step: int | None = None, ref: int = 64, status: str = "ok") -> dict:
    solved = test >= 0.9
    outcome = outcome or ("solved" if solved else "plateaued")
    return {
        "schema": 2, "run_id": f"{model}-{T}-{lr}-{seed}", "created": "2026-12-01T00:00:00", "seed": seed,
        "status": status, "track": "cpu", "published": True,
        "model": {"name": model, "params": 10, "state_size": 4},
        "task": {"name": "copy", "variant": f"T={T},loss=all", "curve": "loss=all", "primary": "acc",
                 "higher_is_better": True, "baselines": {"memoryless_loss": 0.17},
                 "axis": {"name": "T", "key": "task.delay", "value": T},
                 "solve": {"metric": "acc", "mode": "max", "threshold": 0.9},
                 "horizon": {"metric": "acc", "mode": "max", "threshold": 0.9}},
        "config": {"model": {"name": model}, "optimizer": {"lr": lr}, "task": {"delay": T, "loss_on": "all"},
                   "seed": seed, "trainer": {"max_steps": 1000},
                   "lr_reference": None if T == ref else {"task.delay": ref}},
        "metrics": {"val": {"acc": test if val is None else val}, "test": {"acc": test} if status == "ok" else {}},
        "outcome": outcome if status == "ok" else None,
        "solved_at": {"step": step or 100 * (seed + 1), "tokens": 3200, "seconds": 1.5} if outcome == "solved" else None,
        "budget": {"max_steps": 1000, "max_epochs": None, "batch_size": 32, "patience": 5, "val_every": 50},
        "lr_reference": None if T == ref else {"at": {"task.delay": ref}, "grid": GRID, "seeds": 3},
        "sensitivity": {"final": {"state_sens_rel_max": T / 10, "grad_ratio": 1e-3 * T}},
        "cost": {"wall_s": 10.0 + seed},
    }


def reference_runs(model: str, best: float = 3e-3, T: int = 64, acc: float = 0.95) -> list[dict]:
    """Every rate of the grid at the reference point; `best` wins on validation. The others score
    better on test but never met the criterion on validation: their runs did not solve the point."""
    return [crec(model, T, s, test=acc if lr == best else 0.99, lr=lr, val=0.9 if lr == best else 0.5,
                 outcome=None if lr == best else "plateaued")
            for lr in GRID for s in range(3)]


def curve_records() -> list[dict]:
    lru = reference_runs("lru")  # T=64: solved 3/3 at lr 3e-3 (1e-2 has the better *test* acc: ignored)
    lru += [crec("lru", 32, s, 0.99) for s in range(3)]
    lru += [crec("lru", 128, s, acc) for s, acc in enumerate([0.95, 0.91, 0.3])]      # 2 of 3: solved
    lru += [crec("lru", 256, s, acc) for s, acc in enumerate([0.95, 0.2, 0.3])]       # 1 of 3: not solved
    gru = reference_runs("gru", best=1e-3, acc=0.5)                                   # unsolved at 64
    gru += [crec("gru", 32, s, 0.95, lr=1e-3) for s in range(2)] + [crec("gru", 32, 2, 0.62, lr=1e-3, outcome="budget")]
    return lru + gru                                                                  # gru never ran T=128, 256


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def write_all(records: list[dict], directory) -> None:
    for r in records:
        write_record(r, directory)


def test_horizon_is_the_largest_value_solved_by_two_of_three_seeds(tmp_path):
    write_all(curve_records(), tmp_path)
    (curve,) = collect(tmp_path).curves
    rows = {row.label: row for row in curve.rows}
    assert rows["lru"].horizon == 128 and rows["gru"].horizon == 32
    assert [row.label for row in curve.rows] == ["lru", "gru"] and curve.values == [32, 64, 128, 256]
    assert (rows["lru"].cells[128].k, rows["lru"].cells[128].n) == (2, 3)


def test_a_model_that_solves_nothing_is_below_the_first_point(tmp_path):
    write_all([crec("rnn", T, s, 0.1, lr=1e-3) for T in (32, 64) for s in range(3)], tmp_path)
    table, _ = headline(collect(tmp_path).curves, {})
    assert cells(table[2])[1:4] == ["4", "10", "< 32"]  # state and params beside the model


def test_points_a_model_did_not_run_are_shown_as_not_run_never_as_numbers(tmp_path):
    write_all(curve_records(), tmp_path)
    build(tmp_path, tmp_path / "lb.md")
    text = (tmp_path / "lb.md").read_text()
    table = text.split("| model | state/layer | params | horizon T | T = 32 | T = 64 | T = 128 | T = 256 |")[1]
    gru = cells(next(line for line in table.splitlines() if line.startswith("| gru |")))
    assert gru[1:4] == ["4", "10", "32"] and gru[-2:] == ["·", "·"]      # state, params, horizon, then T = 128, 256
    assert "`·` not run" in text


def test_budget_runs_are_marked_as_bounds(tmp_path):
    write_all(curve_records(), tmp_path)
    (curve,) = collect(tmp_path).curves
    gru = next(row for row in curve.rows if row.model == "gru")
    assert gru.cells[32].bound and gru.cells[32].outcomes == {"solved": 2, "budget": 1}
    build(tmp_path, tmp_path / "lb.md")
    text = (tmp_path / "lb.md").read_text()
    assert "| gru | 4 | 10 | 32 | ≥ 0.840 ± 0.191 (2/3) |" in text


def test_learning_rate_is_chosen_at_the_reference_point_and_kept_along_the_curve(tmp_path):
    records = curve_records()
    # a stray run at another rate off the reference point must not be selected there
    records += [crec("lru", 128, s, 0.99, lr=1e-2, val=0.99) for s in range(3)]
    write_all(records, tmp_path)
    (curve,) = collect(tmp_path).curves
    lru = next(row for row in curve.rows if row.model == "lru")
    assert lru.reference == 64 and lru.lr == 3e-3 and lru.lr_grid == GRID
    assert {v: c.row.lr for v, c in lru.cells.items()} == {32: 3e-3, 64: 3e-3, 128: 3e-3, 256: 3e-3}
    assert lru.horizon == 128
    build(tmp_path, tmp_path / "lb.md")
    text = (tmp_path / "lb.md").read_text()
    assert "chosen on validation at T = 64 from {0.001, 0.003, 0.01}: gru 0.001 (grid end), lru 0.003" in text


def test_the_reference_point_may_be_named_by_its_axis_value(tmp_path):
    records = reference_runs("lru") + [crec("lru", 128, s, 0.95) for s in range(3)]
    for r in records[-3:]:
        r["lr_reference"] = {"axis_value": 64, "grid": GRID}
    write_all(records, tmp_path)
    (curve,) = collect(tmp_path).curves
    assert [(row.reference, row.lr, sorted(row.cells)) for row in curve.rows] == [(64, 3e-3, [64, 128])]


def test_a_point_run_at_another_rate_than_the_reference_choice_is_warned_about(tmp_path):
    records = reference_runs("lru") + [crec("lru", 128, s, 0.95, lr=1e-2) for s in range(3)]
    write_all(records, tmp_path)
    data = collect(tmp_path)
    assert any("ran at 128 with lr 0.01, not the 0.003 chosen at the reference point 64" in w for w in data.warnings)


def test_steps_to_solve_is_the_median_over_seeds_counting_unsolved_as_never(tmp_path):
    write_all(curve_records(), tmp_path)
    (curve,) = collect(tmp_path).curves
    lru = next(row for row in curve.rows if row.model == "lru")
    assert lru.cells[64].steps == 200 and lru.cells[128].steps == 200 and lru.cells[256].steps == float("inf")
    table, _ = headline([curve], {})
    assert cells(table[0])[1:] == ["state/layer", "params", "copy `loss=all`: horizon T", "copy: steps to solve at T = 64"]
    assert [cells(line) for line in table[2:]] == [["gru", "4", "10", "32", "–"], ["lru", "4", "10", "128", "200"]]


def test_headline_warns_about_a_column_with_the_same_value_for_every_model(tmp_path):
    write_all([crec(m, T, s, 0.1) for m in ("rnn", "lstm") for T in (32, 64) for s in range(3)], tmp_path)
    report = build(tmp_path, tmp_path / "lb.md")
    assert any("horizon T' has the same value for every model (< 32)" in w for w in report.warnings)


def test_schema_1_records_without_the_curve_fields_still_build(tmp_path):
    from tests.test_leaderboard import rec

    old = [rec("lru", 1e-3, s, 0.9, 0.8) for s in range(3)]
    write_all(old + curve_records(), tmp_path)
    data = collect(tmp_path)
    assert not data.skipped and len(data.curves) == 1 and list(data.tables) == [("cpu", "copy", "T=10")]
    build(tmp_path, tmp_path / "lb.md")
    text = (tmp_path / "lb.md").read_text()
    assert "### copy · `T=10` · cpu" in text and "| lru | 0.800 ± 0 | 3 |" in text


def test_cost_section_states_each_sweeps_wall_time(tmp_path):
    write_all(curve_records(), tmp_path)
    build(tmp_path, tmp_path / "lb.md")
    text = (tmp_path / "lb.md").read_text()
    # every fixture record ends at the same instant, so the runs overlap: wall time = the longest run
    assert "| cpu | copy | 30 | 5.5 min | 12 s | 12 s |" in text
    assert "Total cpu-track job time: 5.5 min over 30 runs; wall time 12 s." in text


def test_wall_time_counts_overlapping_runs_once_and_leaves_out_gaps():
    from leaderboard.render_curves import elapsed

    # two jobs in parallel (0-10, 5-20), then a gap, then one run (100-130)
    assert elapsed([(100, 130), (0, 10), (5, 20)]) == 50
    assert elapsed([(0, 10), (2, 8)]) == 10 and elapsed([]) == 0


def test_curve_pages_and_figures_are_byte_identical_when_rebuilt(tmp_path):
    results, out, fig = tmp_path / "results", tmp_path / "lb.md", tmp_path / "fig"
    write_all(curve_records(), results)
    outs = []
    for _ in range(2):
        shutil.rmtree(fig, ignore_errors=True)
        build(results, out, None, fig)
        outs.append((out.read_bytes(), sorted((p.name, p.read_bytes()) for p in fig.iterdir())))
    assert [name for name, _ in outs[0][1]] == ["cpu_curves_metric.png", "cpu_curves_sensitivity.png",
                                                "cpu_curves_steps.png"]
    assert outs[0] == outs[1]


def test_figures_of_tasks_without_records_are_removed_and_the_papers_kept(tmp_path):
    write_all(curve_records(), tmp_path / "results")
    fig = tmp_path / "fig"
    fig.mkdir()
    for name in ("cpu_teacher_sensitivity.png", "paper_curse1d.png"):
        (fig / name).write_bytes(b"old")
    build(tmp_path / "results", tmp_path / "lb.md", None, fig)
    assert sorted(p.name for p in fig.iterdir()) == ["cpu_curves_metric.png", "cpu_curves_sensitivity.png",
                                                     "cpu_curves_steps.png", "paper_curse1d.png"]


def test_a_rate_chosen_at_an_end_of_the_grid_is_marked(tmp_path):
    write_all(curve_records(), tmp_path)
    build(tmp_path, tmp_path / "lb.md")
    text = (tmp_path / "lb.md").read_text()
    assert "gru 0.001 (grid end), lru 0.003." in text and "one beyond it was not tried" in text


def _third(records: list[dict]) -> list[dict]:
    for r in records:
        r["schema"] = 3
    return records


def test_a_point_not_settled_yet_reads_open_never_failed(tmp_path):
    # third edition: lru has run the rates on seed 0 only (its best solves), rnn every seed at every rate (all fail)
    lru = _third([crec("lru", 64, 0, test=0.95 if lr == 3e-3 else 0.5, lr=lr, val=0.95 if lr == 3e-3 else 0.5)
                  for lr in GRID])
    rnn = _third([crec("rnn", 64, s, test=0.1, lr=lr) for lr in GRID for s in range(3)])
    write_all(lru + rnn, tmp_path)
    (curve,) = collect(tmp_path).curves
    rows = {row.label: row for row in curve.rows}
    assert rows["lru"].horizon is None and rows["lru"].open_at == 64
    assert rows["rnn"].open_at is None
    table, warnings = headline([curve], {})
    by_model = {cells(line)[0]: cells(line)[3] for line in table[2:]}
    assert by_model == {"lru": "open at 64", "rnn": "< 64"}
    text = (tmp_path / "lb.md")
    build(tmp_path, text)
    page = text.read_text()
    assert "lru has no point settled yet: T = 64 is still open." in page and "rnn solves none of the points it ran" in page
    assert "`open at x`: the sweep has not settled the point x yet" in page


def test_a_second_edition_row_is_never_open(tmp_path):
    write_all([crec("lru", 64, 0, test=0.95)], tmp_path)   # schema 2, one seed: the old sweep ended there
    (curve,) = collect(tmp_path).curves
    assert curve.rows[0].open_at is None


def test_rates_compared_on_seed_0_show_how_many_solve_there_beside_the_window(tmp_path):
    # every rate on seed 0 alone (a reference candidate): two of three solve, none has the seeds a majority needs
    write_all(_third([crec("lru", 64, 0, test=0.95 if lr != 1e-2 else 0.5, lr=lr, val=0.95 if lr == 3e-3 else 0.92)
                      for lr in GRID]), tmp_path)
    (curve,) = collect(tmp_path).curves
    cell = curve.rows[0].cells[64]
    assert cell.window == [] and cell.seed0_window == [1e-3, 3e-3]
    build(tmp_path, tmp_path / "lb.md")
    page = (tmp_path / "lb.md").read_text()
    assert "[0/3 rates; seed 0: 2/3]" in page and "0/3; seed 0: 2/3 {0.001, 0.003}" in page


def test_a_reference_not_settled_yet_is_marked_provisional(tmp_path):
    # lru ran two of the grid's three rates at its reference point T = 64, and one run off it
    records = [crec("lru", 64, s, test=0.95, lr=lr) for lr in GRID[:2] for s in range(3)]
    records.append(crec("lru", 32, 0, test=0.95))
    write_all(_third(records), tmp_path)
    (curve,) = collect(tmp_path).curves
    assert curve.rows[0].reference_waiting == "no run at lr 0.01 at task.delay = 64 on every seed yet"
    build(tmp_path, tmp_path / "lb.md")
    assert "(provisional: no run at lr 0.01 at task.delay = 64 on every seed yet)" in (tmp_path / "lb.md").read_text()


def test_a_model_with_two_settings_on_a_curve_gets_a_headline_row_per_setting(tmp_path):
    """Mamba with negative eigenvalues solves more of a curve than Mamba as it runs everywhere else:
    the headline's `mamba` row keeps the usual setting, the variant gets its own row."""
    def mamba(T, seed, test, neg, curve="loss=all"):
        r = crec("mamba", T, seed, test, ref=32)
        r["run_id"] += f"-{neg}-{curve}"
        r["config"]["model"]["layer"] = {"neg_eigen": neg}
        r["task"].update(curve=curve, variant=f"T={T},{curve}")
        return r
    records = [mamba(T, s, 0.99, neg=True) for T in (32, 64) for s in range(3)]       # horizon 64
    records += [mamba(32, s, 0.99, neg=False) for s in range(3)]
    records += [mamba(64, s, 0.3, neg=False) for s in range(3)]                      # horizon 32
    records += [mamba(T, s, 0.99 if T == 32 else 0.3, neg=False, curve="loss=last") for T in (32, 64) for s in range(3)]
    write_all(records, tmp_path)
    curves = collect(tmp_path).curves
    table, _ = headline(curves, {})
    assert [c.curve for c in curves] == ["loss=all", "loss=last"]
    rows = {cells(line)[0]: cells(line)[3:] for line in table[2:]}
    assert rows["mamba"][0] == "32" and rows["mamba"][2] == "32"
    assert rows["mamba (model.layer.neg_eigen=True)"][0] == "≥ 64" and rows["mamba (model.layer.neg_eigen=True)"][2] == "·"
    assert "has a row for each" in headline_legend(curves)
