"""What the cpu track's sweeps will cost (issue: cpu track, third edition, item 6: ≤ 20 h of job
time by the records' own cost.wall_s). Measured, not guessed, where the records allow:

- a model's seconds per token and parameter: the median over its third-edition records of
  1 / (cost.tokens_per_s x parameters), i.e. as the track runs it (one thread per job, two jobs);
  a recurrent layer touches each weight once per token, so at another state size the cost scales
  with the parameter count (a floor for S4D and Mamba, whose state is not in their weights);
- a model's runs per curve, in capped-run equivalents (the sum over its runs of steps / cap): the
  mean over the curves its records have reached (a curve still running gives a floor);
- a sweep's tokens per step and cap: its own config at each reference candidate (mean);
  a curve without an axis (the images) runs its rate grid plus the other seeds, each to the cap.

    python -m benchmarks.track_cost                      # every sweep of the track
    python -m benchmarks.track_cost teacher smnist       # some of them
"""
from __future__ import annotations

import argparse
import math
import statistics
from collections import defaultdict

from omegaconf import OmegaConf

from benchmarks.track_step import built, track_models
from common.lr_rules import grid_of, parse_reference
from common.record import old
from harness.run import instantiate_checked, run_config
from harness.state_cap import state_cap_skip
from leaderboard.build import PUBLISHED, collect
from leaderboard.sweeps import SWEEP_DIR

TRACK = ["copy", "word_problem", "word_problem_neg", "selective_copy", "mqar", "teacher", "smnist", "mqar_state",
         "sfmnist"]  # make cpu-track's order
JOB_HOURS = 20.0


def curve_key(record: dict) -> tuple[str, str, bool]:
    """A record's curve: its task, its axis key, and whether Mamba runs with negative eigenvalues
    (word_problem_neg: a curve of its own on the word problem's axis)."""
    config = record.get("config") or {}
    axis = (config.get("curve_axis") or {}).get("key") or ""
    layer = (config.get("model") or {}).get("layer") or {}
    return record["task"]["name"], axis, bool(layer.get("neg_eigen"))


def measured(records: list[dict]) -> tuple[dict, dict, dict]:
    """Per model: seconds per token and parameter, capped-run equivalents per curve; and the job
    hours spent per curve."""
    per_token, equivalents = defaultdict(list), defaultdict(lambda: defaultdict(float))
    spent = defaultdict(float)
    for r in records:
        cost, model = r.get("cost") or {}, r["model"]["name"]
        spent[curve_key(r)] += float(cost.get("wall_s") or 0.0) / 3600
        cap = (r.get("budget") or {}).get("max_steps") or 0
        if cap > 0:
            equivalents[model][curve_key(r)] += min(1.0, (r.get("steps") or 0) / cap)
        if r.get("status") == "ok" and cost.get("tokens_per_s") and r["model"].get("params"):
            per_token[model].append(1.0 / (cost["tokens_per_s"] * r["model"]["params"]))
    seconds = {m: statistics.median(v) for m, v in per_token.items()}
    runs = {m: statistics.mean(c.values()) for m, c in equivalents.items()}
    return seconds, runs, spent


def point_configs(sweep: str, model: str) -> list:
    """The sweep's config for `model` at each of its reference candidates (one config without an axis)."""
    base = run_config([f"experiment=leaderboard/{sweep}", f"model={model}", "results_dir=/tmp/track_cost"])
    ref = parse_reference(OmegaConf.to_container(base.lr_reference, resolve=True))
    points = [[]]
    if ref is not None and ref.key:
        points = [[f"++{ref.key}={v:g}"] for v in ref.candidates]
    configs = []
    for point in points:
        configs.append(run_config([f"experiment=leaderboard/{sweep}", f"model={model}", "results_dir=/tmp/track_cost",
                                   *point]))
    return configs


def curves_per_sweep(sweep: str, axis_key: str | None) -> int:
    """How many curves a sweep draws: the product of its swept values other than the model, the
    rate, the seed and the axis (e.g. the word problem's groups)."""
    params = OmegaConf.load(SWEEP_DIR / f"{sweep}.yaml").hydra.sweeper.params
    n = 1
    for key, values in params.items():
        if key.lstrip("+") not in ("model", "lr_index", "seed", axis_key):
            n *= len(str(values).split(","))
    return n


def cap_steps(cfg, task) -> int:
    if (cfg.trainer.max_steps or -1) > 0:
        return int(cfg.trainer.max_steps)
    task.setup("fit")
    return int(cfg.trainer.max_epochs) * math.ceil(len(task.split("train")) / task.batch_size)


def capped_run_seconds(cfg, seconds: float) -> tuple[float, int]:
    """One run of this config to its cap, for a model measured at `seconds` per token and parameter."""
    task, net = built(cfg)
    params = sum(p.numel() for p in net.parameters())
    tokens = task.batch_size * task.spec.seq_len
    return cap_steps(cfg, task) * tokens * seconds * params, params


def project(sweep: str, seconds: dict, runs: dict) -> dict[str, float]:
    """Projected job hours of `sweep` per model."""
    hours = {}
    for model in track_models(sweep):
        if model not in seconds:
            continue
        configs = [c for c in point_configs(sweep, model) if state_cap_skip(c) is None]
        if not configs:  # a dense recurrence the sweep does not run (dense_state_max: 0)
            continue
        capped = statistics.mean(capped_run_seconds(c, seconds[model])[0] for c in configs)
        ref = parse_reference(OmegaConf.to_container(configs[0].lr_reference, resolve=True))
        if ref is not None and ref.key:
            n = runs.get(model, 0.0) * curves_per_sweep(sweep, ref.key)
        else:  # no axis: the inner rates on seed 0, then the other seeds at the chosen rate
            grid = grid_of(OmegaConf.to_container(configs[0].lr_grid, resolve=True), model) or []
            n = max(len(grid) - 2 * (ref.extend if ref else 0), 0) + 2
        hours[model] = n * capped / 3600
    return hours


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweeps", nargs="*", default=TRACK, help="sweeps under conf/experiment/leaderboard/")
    ap.add_argument("--results", default=PUBLISHED)
    args = ap.parse_args(argv)
    records = [r for r in collect(args.results, published=False).records if not old(r)]
    seconds, runs, spent = measured(records)
    print(f"{len(records)} third-edition records; job hours spent {sum(spent.values()):.2f} of {JOB_HOURS:g}")
    print("| model | ns per token and parameter (as the track runs) | capped runs per curve |")
    print("|---|---|---|")
    for m in sorted(seconds):
        print(f"| {m} | {1e9 * seconds[m]:.3f} | {runs.get(m, 0):.1f} |")
    print("\n| sweep | spent h | projected h (whole curve) | " + " | ".join(sorted(seconds)) + " |")
    print("|---|---|---|" + "---|" * len(seconds))
    total = 0.0
    for sweep in args.sweeps:
        hours = project(sweep, seconds, runs)
        cfg = point_configs(sweep, track_models(sweep)[0])[0]
        task = instantiate_checked(cfg.task, "task", {"seed": 0}).name
        done = spent.get(curve_key({"task": {"name": task}, "config": OmegaConf.to_container(cfg, resolve=True)}), 0.0)
        whole = max(sum(hours.values()), done)
        total += whole
        print(f"| {sweep} | {done:.1f} | {whole:.1f} | " + " | ".join(f"{hours.get(m, 0):.1f}" for m in sorted(seconds)) + " |")
    print(f"\nprojected total {total:.1f} h of job time (budget {JOB_HOURS:g} h)")


if __name__ == "__main__":
    main()
