"""Signal propagation at initialisation (paper §5, Fig. 5): no training, a memory
sweep over τ, per-layer activity E[y²] and per-group gradient second moments of a
next-step regression loss.

The paper fed BERT embeddings of Wikipedia; offline we use inputs with a
controlled autocorrelation instead (white noise, or AR(1) with ρ close to 1).
"""
from __future__ import annotations

import math

import torch
from omegaconf import DictConfig, OmegaConf

from models.build import build_model
from sensitivity import probes


def memory_overrides(layer_target: str, tau: float) -> dict:
    """Initialise a layer's memory at timescale τ: eigenvalue moduli in
    [1 - 1/τ, 1 - 1/(2τ)] for diagonal layers, chrono gates with T in [τ, 2τ]."""
    if layer_target.endswith((".LSTM", ".GRU")):
        return {"chrono_tmin": float(tau), "chrono_tmax": float(2 * tau)}
    return {"r_min": max(0.0, 1 - 1 / tau), "r_max": 1 - 1 / (2 * tau)}


def ar1_inputs(batch: int, length: int, dim: int, rho: float, generator: torch.Generator) -> torch.Tensor:
    """Unit-variance AR(1) sequences: x_t = ρ x_{t-1} + sqrt(1-ρ²) ε_t, stationary from t = 0."""
    eps = torch.randn(batch, length, dim, generator=generator)
    x = torch.empty_like(eps)
    x[:, 0] = eps[:, 0]
    scale = math.sqrt(1 - rho**2)
    for t in range(1, length):
        x[:, t] = rho * x[:, t - 1] + scale * eps[:, t]
    return x


def propagate(
    model_cfg: DictConfig | dict,
    tau: float,
    *,
    width: int = 256,
    n_layers: int = 4,
    seq_len: int = 512,
    batch: int = 8,
    rho: float = 0.0,
    seed: int = 0,
    burn_in: float = 0.0,
) -> dict:
    base = OmegaConf.create(model_cfg)
    shape = {"d_model": width, "n_layers": n_layers, "dropout": 0.0, "mode": "stack"}
    cfg = OmegaConf.merge(base, shape, memory_overrides(base._target_, tau))
    torch.manual_seed(seed)
    model = build_model(cfg, d_input=width, d_output=width, input_kind="real", readout="step")
    model.eval()
    gen = torch.Generator().manual_seed(seed + 1)
    x = ar1_inputs(batch, seq_len + 1, width, rho, gen)
    inputs, targets = x[:, :-1], x[:, 1:]
    captured = probes.capture(model, inputs)
    act = [probes.mean_sq(probes.after_burn_in(y, burn_in)) for y in captured.outputs]

    def next_step_loss() -> torch.Tensor:
        return 0.5 * torch.nn.functional.mse_loss(model(inputs), targets)

    grads = probes.gradients(model, next_step_loss)
    return {"tau": tau, "rho": rho, "act": act, "grad": grads["model"], "grad_layers": grads["layers"]}


# -- the paper's study: python -m sensitivity.propagation --------------------------------
MODELS = {
    # name: (model config file, overrides)
    "crnn": ("lru", {"param": "re_im", "gamma": "none", "norm": "none"}),
    "crnn+ln": ("lru", {"param": "re_im", "gamma": "none", "norm": "layer"}),
    "lru": ("lru", {"norm": "none"}),
    "gru": ("gru", {"norm": "none"}),
    "lstm": ("lstm", {"norm": "none"}),
}
TAUS = [1.0, 10**0.5, 10.0, 10**1.5, 100.0]
RHOS = [0.0, 0.99]


def main(argv: list[str] | None = None) -> int:
    import argparse
    from pathlib import Path

    from leaderboard.analysis import PAPER_DIR, analysis_record, write_json_atomic

    parser = argparse.ArgumentParser(prog="python -m sensitivity.propagation",
                                     description="Signal propagation at initialisation (paper Fig. 5).")
    parser.add_argument("--out", default=str(PAPER_DIR / "propagation.json"))
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    conf = Path(__file__).resolve().parent.parent / "conf" / "model"
    rows = []
    for name, (file, overrides) in MODELS.items():
        cfg = OmegaConf.merge(OmegaConf.load(conf / f"{file}.yaml"), overrides, {"name": name})
        for rho in RHOS:
            for tau in TAUS:
                out = propagate(cfg, tau, width=args.width, n_layers=args.layers, seq_len=args.seq_len,
                                batch=args.batch, rho=rho, seed=args.seed)
                rows.append({"model": name, **out})
                print(f"{name:8s} rho={rho:<5} tau={tau:7.2f}  E[y²] last layer {out['act'][-1]:.3g}  "
                      + "  ".join(f"E[g²] {g} {v:.3g}" for g, v in out["grad"].items() if v is not None), flush=True)
    settings = {"width": args.width, "layers": args.layers, "seq_len": args.seq_len, "batch": args.batch,
                "seed": args.seed, "taus": TAUS, "rhos": RHOS, "models": {k: [f, o] for k, (f, o) in MODELS.items()},
                "inputs": "AR(1) with unit variance (rho = 0: white noise) instead of the paper's BERT embeddings",
                "loss": "1/2 MSE of next-step prediction"}
    path = write_json_atomic(analysis_record("propagation", settings, rows), args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
