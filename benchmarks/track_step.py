"""One training step of each model as a leaderboard sweep configures it (issue: cpu track, speed
first): the sweep's own config (equal state, width, layers, batch), one point of its axis, one
thread, forward + loss + backward + AdamW step on the task's own training batches (its
train_dataloader: fresh synthetic data, or the images), as Lightning runs it minus Lightning. Prints steps/s, tokens/s and the ratio to the LSTM at the same state.

    python -m benchmarks.track_step                       # copy at T = 64
    python -m benchmarks.track_step --sweep mqar ++task.n_pairs=8
    python -m benchmarks.track_step --sweep smnist --steps 5
    python -m benchmarks.track_step --device cuda         # the same steps on a GPU (threads: torch's default)
"""
from __future__ import annotations

import argparse
import statistics
import time
from fnmatch import fnmatch

import torch
from omegaconf import OmegaConf

from common.registry import model_names
from harness.compose import compose_run
from harness.run import complete_defaults, instantiate_checked
from leaderboard.sweeps import SWEEP_DIR
from models.build import build_model
from tasks.metrics import loss_fn


def swept(sweep: str, model: str) -> bool:
    """Whether `sweep` races `model`, read from the sweep file's own model list: its names, or a
    glob over conf/model/ with exclusions (as Hydra's sweeper expands it)."""
    listed = str(OmegaConf.load(SWEEP_DIR / f"{sweep}.yaml").hydra.sweeper.params.model)
    if listed.startswith("glob("):
        excluded = listed.split("exclude=[", 1)[1].rstrip("])").split(",") if "exclude=[" in listed else []
        return not any(fnmatch(model, pattern) for pattern in excluded)
    return model in listed.split(",")


def track_models(sweep: str) -> list[str]:
    """The models `sweep` races: the configs in conf/model/ its model list selects."""
    return [m for m in model_names() if swept(sweep, m)]


def built(cfg):
    """The task and the model a run of `cfg` trains (seed 0)."""
    task = instantiate_checked(cfg.task, "task", {"seed": 0})
    spec = task.spec
    torch.manual_seed(0)
    net = build_model(cfg.model, d_input=spec.d_input, d_output=spec.d_output,
                      input_kind=spec.input_kind, readout=spec.readout)
    return task, net


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def step_times(sweep: str, model: str, point: list[str], steps: int, warmup: int, device: str = "cpu") -> dict:
    cfg, _ = compose_run([f"experiment=leaderboard/{sweep}", f"model={model}", "results_dir=/tmp/track_step",
                          *point])
    complete_defaults(cfg)
    task, net = built(cfg)
    net.to(device)
    spec = task.spec
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    task.prepare_data()
    task.setup("fit")
    batches = iter(task.train_dataloader())  # the run's own training batches: synthetic or image data alike
    times = []
    for i in range(warmup + steps):
        batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in next(batches).items()}
        sync(device)
        t0 = time.perf_counter()
        loss, _ = loss_fn(spec, net(batch["x"]), batch["y"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync(device)  # a CUDA step is timed when its kernels have run, not when they were queued
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    per_step = statistics.median(times)
    tokens = task.batch_size * spec.seq_len
    layer_states = [layer.state_size() for layer in net.recurrent_layers()]
    return {"model": model, "ms": 1e3 * per_step, "steps_s": 1 / per_step, "tokens_s": tokens / per_step,
            "state": layer_states, "params": sum(p.numel() for p in net.parameters())}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", default="copy", help="a sweep under conf/experiment/leaderboard/")
    ap.add_argument("--models", default=None, help="comma-separated (default: the sweeps' models)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cpu (one thread, as the track runs) or cuda")
    ap.add_argument("point", nargs="*", default=None, help="overrides naming the point (default ++task.delay=64)")
    args = ap.parse_args(argv)
    if args.device == "cpu":
        torch.set_num_threads(1)
    point = args.point or (["++task.delay=64"] if args.sweep == "copy" else [])
    rows = [step_times(args.sweep, m, point, args.steps, args.warmup, args.device) for m in (args.models.split(",") if args.models else track_models(args.sweep))]
    lstm = next((r for r in rows if r["model"] == "lstm"), None)
    where = "1 thread" if args.device == "cpu" else torch.cuda.get_device_name()
    print(f"sweep {args.sweep} {' '.join(point)}, {where}, median of {args.steps} steps after {args.warmup}")
    print("| model | state per layer | params | ms/step | steps/s | tokens/s | time vs lstm |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r['ms'] / lstm['ms']:.2f}x" if lstm else ""
        print(f"| {r['model']} | {','.join(map(str, r['state']))} | {r['params']} | {r['ms']:.1f} | "
              f"{r['steps_s']:.1f} | {r['tokens_s']:.3g} | {ratio} |")


if __name__ == "__main__":
    main()
