"""Signal propagation at initialisation (paper §5, Fig. 5): no training, a memory
sweep over τ, per-layer activity E[y²] and per-group gradient second moments.

The network is the authors' (sensitivity/paper_net.py), built from the layer classes
directly. The paper fed BERT embeddings of Wikipedia; offline we use inputs with their
measured statistics instead (sensitivity/paper_inputs.py). Besides the main grid the
study measures, on the cRNN, what each difference from the paper's setting does to
the λ-gradient's growth (`ABLATIONS`).
"""
from __future__ import annotations

import importlib
import math
from collections.abc import Mapping

import torch

from sensitivity import paper_inputs, probes
from sensitivity.paper_net import PaperNet

# name: (layer class, layer options, norm); d_state is always the width, as in the paper.
MODELS = {
    "crnn": ("models.lru.LRU", {"param": "re_im", "gamma": "none"}, "none"),
    "crnn+ln": ("models.lru.LRU", {"param": "re_im", "gamma": "none"}, "layer"),
    "lru": ("models.lru.LRU", {}, "none"),
    "gru": ("models.gru.GRU", {}, "none"),
    "lstm": ("models.lstm.LSTM", {}, "none"),
}
# The authors' setting; every ablation changes some of these keys.
PAPER = {"init": "flax", "d_input": 768, "loss": "paper", "batch": 16, "max_phase": 2 * math.pi}
LOSSES = {
    "paper": "½·mean((pred[:, 1:] − x[:, :−1])²) on pred = net(x), as in the authors' notebook",
    "next": "½·mean((net(x[:, :−1]) − x[:, 1:])²), next-step prediction (our earlier study)",
}


def memory_overrides(layer_cls: type, tau: float) -> dict:
    """Initialise a layer's memory at timescale τ: eigenvalue moduli in
    [1 - 1/τ, 1 - 1/(2τ)] for diagonal layers, chrono gates with T in [τ, 2τ]."""
    if layer_cls.__name__ in ("LSTM", "GRU"):
        return {"chrono_tmin": float(tau), "chrono_tmax": float(2 * tau)}
    return {"r_min": max(0.0, 1 - 1 / tau), "r_max": 1 - 1 / (2 * tau)}


def layer_spec(model: str | Mapping) -> tuple[type, dict, str]:
    """A name from MODELS, or a model config node with a `layer` node (its `_target_` and
    options); the study fixes the rest of the network itself (width, depth, norm = none)."""
    if isinstance(model, str):
        target, options, norm = MODELS[model]
    else:
        node = dict(model["layer"])
        target, options, norm = node.pop("_target_"), node, "none"
    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name), dict(options), norm


def build_net(model: str | Mapping, tau: float, *, width: int, n_layers: int, d_input: int, init: str,
              max_phase: float) -> PaperNet:
    layer_cls, options, norm = layer_spec(model)
    options.update(memory_overrides(layer_cls, tau))
    if layer_cls.__name__ == "LRU":
        options.update(d_state=width, max_phase=max_phase)

    def layer(d_model: int):
        return layer_cls(d_model=d_model, **options)

    return PaperNet(layer, d_input=d_input, d_model=width, n_layers=n_layers, norm=norm, init=init)


def propagate(
    model: str | Mapping,
    tau: float,
    *,
    width: int = 256,
    n_layers: int = 4,
    seq_len: int = 512,
    batch: int = PAPER["batch"],
    inputs: str = "white",
    rho: float = 0.99,
    tails: paper_inputs.PadTails = paper_inputs.DEFAULT_TAILS,
    d_input: int = PAPER["d_input"],
    init: str = PAPER["init"],
    loss: str = PAPER["loss"],
    max_phase: float = PAPER["max_phase"],
    seed: int = 0,
) -> dict:
    """One network at memory τ on one batch: per-layer E[y²] and per-group E[g²]."""
    torch.manual_seed(seed)
    net = build_net(model, tau, width=width, n_layers=n_layers, d_input=d_input, init=init, max_phase=max_phase)
    net.eval()
    length = seq_len + (loss == "next")
    x = paper_inputs.make_inputs(inputs, batch, length, d_input, rho=rho, seed=seed + 1, tails=tails)
    if loss == "paper":
        source = x

        def loss_fn() -> torch.Tensor:
            return 0.5 * ((net(x)[:, 1:] - x[:, :-1]) ** 2).mean()
    elif loss == "next":
        source = x[:, :-1]

        def loss_fn() -> torch.Tensor:
            return 0.5 * ((net(source) - x[:, 1:]) ** 2).mean()
    else:
        raise ValueError(f"loss={loss!r}: expected one of {', '.join(LOSSES)}")
    captured = probes.capture(net, source)
    grads = probes.gradients(net, loss_fn)
    return {"tau": tau, "act": [probes.mean_sq(y) for y in captured.outputs], "grad": grads["model"],
            "grad_layers": grads["layers"], "loss": grads["loss"]}


# -- the paper's study: python -m sensitivity.propagation --------------------------------
TAUS = [1.0, 10**0.5, 10.0, 10**1.5, 100.0]
# The variant whose inputs are closest to the paper's; ablations run on it.
BEST_INPUTS = "bert_pad"
INPUT_NOTES = {
    "white": "unit-variance white noise",
    "ar1": "unit-variance AR(1), ρ = {rho}",
    "bert_fit": "the authors' fit of the BERT embeddings' autocorrelation, R(Δ) = 0.332·δ(Δ) + 0.0431·0.997^Δ "
                "(white part plus a stationary AR(1) with ρ = 0.997)",
    "bert_pad": "bert_fit with constant padding tails: {tails}; one pad vector for all, of the tokens' variance",
}
# name: (what differs from the paper's setting, the keys it changes)
ABLATIONS = {
    "torch_init": ("dense maps with PyTorch's nn.Linear default init (variance 1/(3 fan_in), uniform bias) "
                   "instead of Flax's LeCun normal (variance 1/fan_in, zero bias)", {"init": "torch"}),
    "no_embedding_width": ("inputs of the network's width (256 → 256 encoder) instead of 768-wide embeddings",
                           {"d_input": None}),
    "next_step_loss": ("next-step prediction loss instead of the notebook's", {"loss": "next"}),
    "our_earlier_study": ("the three above and batch 8: the network and loss of our first study",
                          {"init": "torch", "d_input": None, "loss": "next", "batch": 8}),
    "phase_pi": ("eigenvalue phases in [0, π] instead of [0, 2π] (the notes give only the moduli)",
                 {"max_phase": math.pi}),
    "phase_pi_10": ("eigenvalue phases in [0, π/10]", {"max_phase": math.pi / 10}),
}


def input_statistics(kinds: list[str], rho: float, tails: paper_inputs.PadTails, d_input: int, seq_len: int,
                     lags: list[int]) -> dict:
    """Each variant's measured autocorrelation, to check the inputs against their definition."""
    out = {}
    for kind in kinds:
        x = paper_inputs.make_inputs(kind, 16, seq_len, min(d_input, 64), rho=rho, seed=1, tails=tails)
        out[kind] = dict(zip(map(str, lags), paper_inputs.autocorrelation(x, [lag for lag in lags if lag < seq_len])))
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    from leaderboard.analysis import PAPER_DIR, analysis_record, write_json_atomic

    parser = argparse.ArgumentParser(prog="python -m sensitivity.propagation",
                                     description="Signal propagation at initialisation (paper Fig. 5).")
    parser.add_argument("--out", default=str(PAPER_DIR / "propagation.json"))
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--batch", type=int, default=PAPER["batch"])
    parser.add_argument("--d-input", type=int, default=PAPER["d_input"], help="embedding width of the inputs")
    parser.add_argument("--inputs", nargs="+", choices=paper_inputs.INPUTS, default=list(paper_inputs.INPUTS),
                        help=f"input variants for the cRNN (the other models run on {BEST_INPUTS})")
    parser.add_argument("--rho", type=float, default=0.99, help="lag-1 autocorrelation of the ar1 inputs")
    parser.add_argument("--pad-fraction", type=float, default=paper_inputs.PadTails.fraction)
    parser.add_argument("--pad-min", type=int, default=paper_inputs.PadTails.min_content,
                        help="shortest content before the padding (tokens)")
    parser.add_argument("--pad-max", type=int, default=paper_inputs.PadTails.max_content)
    parser.add_argument("--seeds", type=int, default=3, help="seeds for the cRNN and its ablations")
    parser.add_argument("--no-ablations", action="store_true")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    args = parser.parse_args(argv)
    tails = paper_inputs.PadTails(args.pad_fraction, args.pad_min, args.pad_max)
    shape = {"width": args.width, "n_layers": args.layers, "seq_len": args.seq_len, "rho": args.rho, "tails": tails}
    base = {"batch": args.batch, "d_input": args.d_input, "init": PAPER["init"], "loss": PAPER["loss"],
            "max_phase": PAPER["max_phase"]}
    seeds = list(range(args.seed, args.seed + args.seeds))
    # (model, inputs, variant, seeds, taus): the cRNN on every input variant and seed, the
    # other models once on the best-matching inputs, and each ablation on two seeds at the
    # sweep's ends, which is all a growth needs (this keeps the study near 10 CPU minutes).
    jobs = [("crnn", kind, "paper", seeds, TAUS) for kind in args.inputs]
    jobs += [(m, BEST_INPUTS, "paper", seeds[:1], TAUS) for m in MODELS if m != "crnn"]
    if not args.no_ablations:
        jobs += [("crnn", BEST_INPUTS, name, seeds[:2], [TAUS[0], TAUS[-1]]) for name in ABLATIONS]
    rows = []
    for model, kind, variant, job_seeds, taus in jobs:
        setting = dict(base)
        if variant != "paper":
            setting.update({k: (args.width if k == "d_input" and v is None else v)
                            for k, v in ABLATIONS[variant][1].items()})
        for seed in job_seeds:
            for tau in taus:
                out = propagate(model, tau, inputs=kind, seed=seed, **shape, **setting)
                rows.append({"model": model, "inputs": kind, "variant": variant, "seed": seed, **out})
                print(f"{model:8s} {kind:8s} {variant:18s} seed {seed} tau={tau:7.2f}  E[y²] last layer "
                      f"{out['act'][-1]:.3g}  " + "  ".join(f"E[g²] {g} {v:.3g}" for g, v in out["grad"].items()
                                                           if v is not None), flush=True)
    lags = [0, 1, 10, 100, 300]
    settings = {
        "width": args.width, "layers": args.layers, "seq_len": args.seq_len, "batch": args.batch,
        "d_input": args.d_input, "seeds": seeds, "taus": TAUS, "init": PAPER["init"], "loss": LOSSES[PAPER["loss"]],
        "network": f"dense {args.d_input} → {args.width}, {args.layers} × ([norm] → recurrence ({args.width} states) "
                   f"→ GELU → [norm] → GLU → + skip), dense {args.width} → {args.d_input}; norm = none except crnn+ln "
                   "(layer norm in both slots); dense maps initialised as Flax's nn.Dense",
        "models": {k: [t, o, n] for k, (t, o, n) in MODELS.items()},
        "inputs": {k: INPUT_NOTES[k].format(rho=args.rho, tails=tails.describe()) for k in paper_inputs.INPUTS},
        "best_inputs": BEST_INPUTS,
        "input_autocorrelation": input_statistics(list(paper_inputs.INPUTS), args.rho, tails, args.d_input,
                                                  args.seq_len, lags),
        "bert_fit_autocorrelation": {str(d): paper_inputs.BERT_WHITE * (d == 0)
                                     + paper_inputs.BERT_SLOW * paper_inputs.BERT_RHO**d for d in lags},
        "ablations": {k: v[0] for k, v in ABLATIONS.items()} if not args.no_ablations else {},
    }
    path = write_json_atomic(analysis_record("propagation", settings, rows), args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
