"""What a memory curve costs as a function of where each model's horizon falls (issue: cpu track,
third edition, item 6). benchmarks/track_cost.py projects a curve from the runs made so far, which
sit on the cheap start of each axis; but the runs that decide a curve's cost are its last ones: on
copy a run's tokens grow with T, and at the first value a model fails, the chosen rate fails on
2 seeds and every other rate of its reference runs once, most of them to the step cap (a run that
never leaves the memoryless baseline has no plateau to stop it). This table prices that climb:

- a model's seconds per token and parameter, and its fractions of the cap (solved runs; runs that did
  not solve): measured on its third-edition records, as in track_cost (all models' runs where it has none);
- the reference phase: the inner rates on seed 0 at each candidate up to the horizon, and at the first
  candidate above it (a candidate above a failed one is not run);
- the curve: the chosen rate on 3 seeds at each value up to the horizon (seed 0 of a candidate is
  already run), then the failing value: 2 seeds of the chosen rate plus every other inner rate once.

Each cell is the job hours of one model's curve if its horizon is that value ("fails its first": it
fails the first value it runs; the last column: it solves the whole grid). A rate that solves a point off its reference
where the chosen rate fails, or an extension beyond an end, adds to this: the table is a floor.

    python -m benchmarks.climb_cost copy              # one table per sweep named
    python -m benchmarks.climb_cost copy --results /work/track/leaderboard/results
"""
from __future__ import annotations

import argparse
import statistics
from collections import defaultdict

from omegaconf import OmegaConf

from benchmarks.track_cost import capped_run_seconds, measured
from benchmarks.track_step import track_models
from common.lr_rules import MIN_INNER, parse_reference
from common.record import old
from common.rules import SEEDS, easiest_first, solved_on_validation
from harness.compose import compose_run
from harness.run import complete_defaults
from harness.state_cap import state_cap_skip
from leaderboard.build import PUBLISHED, collect
from leaderboard.sweeps import SWEEP_DIR, declared_points

FAILED_SEEDS = SEEDS // 2 + 1  # the chosen rate's majority is out of reach once this many seeds fail


def cap_fractions(records: list[dict]) -> dict[str, tuple[float, float]]:
    """Per model (and '*' for all models): the mean fraction of the step cap a run used when it
    solved, and when it did not (ok runs only)."""
    used: dict[str, dict[bool, list[float]]] = defaultdict(lambda: {True: [], False: []})
    for r in records:
        cap = (r.get("budget") or {}).get("max_steps") or 0
        if r.get("status") != "ok" or cap <= 0:
            continue
        share = min(1.0, (r.get("steps") or 0) / cap)
        for who in (r["model"]["name"], "*"):
            used[who][solved_on_validation(r)].append(share)
    every = used["*"]
    fallback = (statistics.mean(every[True]) if every[True] else 1.0,
                statistics.mean(every[False]) if every[False] else 1.0)
    return {m: (statistics.mean(u[True]) if u[True] else fallback[0],
                statistics.mean(u[False]) if u[False] else fallback[1]) for m, u in used.items()}


def axis_of(sweep: str) -> tuple[str, list[float], object]:
    """The sweep's axis key, its declared values from the easiest, and its reference (lr_reference)."""
    base = OmegaConf.load(SWEEP_DIR / f"{sweep}.yaml")
    ref = parse_reference(OmegaConf.to_container(base.lr_reference, resolve=True),
                          (base.get("curve_axis") or {}).get("easier"))
    if ref is None or not ref.key:
        raise SystemExit(f"{sweep}: no memory axis (lr_reference.at names no axis key); "
                         f"benchmarks/track_cost.py prices it")
    return ref.key, easiest_first(declared_points(sweep, ref.key), ref.easier), ref


def config_at(sweep: str, model: str, key: str, value: float):
    cfg, _ = compose_run([f"experiment=leaderboard/{sweep}", f"model={model}", "results_dir=/tmp/climb_cost",
                          f"++{key}={value:g}"])
    complete_defaults(cfg)
    return cfg


def climb_hours(capped: list[float], candidates: list[bool], solve: float, fail: float,
                inner: int = MIN_INNER) -> list[float]:
    """Job hours of one model's curve for each horizon, from `capped` (seconds of one run to the cap at
    each axis value, easiest first) and `candidates` (whether each value is a reference candidate).
    Element 0: it fails the first value; element i: it solves the first i values and fails the next
    (the last: it solves them all)."""
    out = []
    for horizon in range(len(capped) + 1):
        seconds = 0.0
        for i, run in enumerate(capped[:horizon + 1]):
            solved = i < horizon
            if candidates[i]:  # the inner rates on seed 0; the chosen one among them
                seconds += run * (solve + (inner - 1) * fail if solved else inner * fail)
            if solved:
                seconds += run * (SEEDS - candidates[i]) * solve
            else:  # the failing value: the chosen rate's other failing seed(s), every other rate once
                seconds += run * ((FAILED_SEEDS - candidates[i]) * fail + (0 if candidates[i] else (inner - 1) * fail))
        above = [i for i in range(horizon + 1, len(capped)) if candidates[i]]
        if horizon < len(capped) and not candidates[horizon] and above:
            seconds += capped[above[0]] * inner * fail  # the reference phase ran the next candidate, which fails too
        out.append(seconds / 3600)
    return out


def table(sweep: str, records: list[dict]) -> list[str]:
    seconds, _, _ = measured(records)
    fractions = cap_fractions(records)
    key, values, ref = axis_of(sweep)
    lines = [f"### {sweep}: job hours of one model's curve by its horizon ({key})", "",
             "| model | solve / fail (fraction of cap) | fails its first | "
             + " | ".join(f"{v:g}" for v in values) + " |",
             "|---|---|" + "---|" * (len(values) + 1)]
    for model in track_models(sweep):
        if model not in seconds:
            lines.append(f"| {model} | not measured yet (no third-edition record) |" + " |" * (len(values) + 1))
            continue
        cfgs = {v: config_at(sweep, model, key, v) for v in values}
        kept = [v for v in values if state_cap_skip(cfgs[v]) is None]  # a dense layer stops at dense_state_max
        if not kept:
            lines.append(f"| {model} | not run (dense_state_max: 0) |" + " |" * (len(values) + 1))
            continue
        capped = [capped_run_seconds(cfgs[v], seconds[model])[0] for v in kept]
        solve, fail = fractions.get(model, fractions.get("*", (1.0, 1.0)))
        hours = climb_hours(capped, [v in ref.candidates for v in kept], solve, fail)
        by_value = dict(zip(kept, hours[1:]))
        row = [f"{hours[0]:.1f}"] + [f"{by_value[v]:.1f}" if v in by_value else "·" for v in values]
        lines.append(f"| {model} | {solve:.2f} / {fail:.2f} | " + " | ".join(row) + " |")
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweeps", nargs="+", help="memory-curve sweeps under conf/experiment/leaderboard/ (copy, ...)")
    ap.add_argument("--results", default=PUBLISHED)
    args = ap.parse_args(argv)
    records = [r for r in collect(args.results, published=False).records if not old(r)]
    for sweep in args.sweeps:
        print("\n".join(table(sweep, records)) + "\n")


if __name__ == "__main__":
    main()
