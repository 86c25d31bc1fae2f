"""The curse of memory in one dimension (paper Figs. 1-2): Monte-Carlo vs closed forms of
E[h²] and E[(d_λ h)²] over λ = 1 - 10^-k, and of the normalised, exp-reparametrised
magnitude parameter (flat near 1/2 for white noise).

    python -m sensitivity.curse1d            # writes leaderboard/paper/curse1d.json
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from leaderboard.analysis import PAPER_DIR, analysis_record, write_json_atomic
from sensitivity import theory
from sensitivity.montecarlo import simulate


def study(ks: np.ndarray, rhos: list[float], n_seq: int, seed: int) -> list[dict]:
    rows = []
    for k in ks:
        lam = 1 - 10 ** (-k)
        steps = int(max(2000, 30 / (1 - lam)))  # about 15 independent windows of the slowest correlation
        gamma = np.sqrt(1 - lam**2)
        for rho in rhos:
            h2, dh2 = simulate(lam, rho, T=steps, n_seq=n_seq, seed=seed)
            h2_th, dh2_th = theory.moments(lam, rho)
            scale = gamma**2 * (lam * np.log(lam)) ** 2  # d_ω h = λ log λ · d_λ h, input scaled by γ
            rows.append({"k": float(k), "lam": float(lam), "rho": rho,
                         "h2_mc": float(h2), "h2_theory": float(h2_th),
                         "dh2_mc": float(dh2), "dh2_theory": float(dh2_th),
                         "omega_mc": float(scale * dh2), "omega_theory": float(theory.normalised_exp_sensitivity(lam, rho))})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sensitivity.curse1d", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(PAPER_DIR / "curse1d.json"))
    parser.add_argument("--n-seq", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    ks = np.round(np.linspace(0.5, 3.0, 11), 3)
    rhos = [0.0, 0.9, 0.99]
    rows = study(ks, rhos, args.n_seq, args.seed)
    settings = {"k": ks.tolist(), "rho": rhos, "n_seq": args.n_seq, "seed": args.seed,
                "steps": "max(2000, 30/(1-λ)) after a burn-in of 12/(1-λ)"}
    path = write_json_atomic(analysis_record("curse1d", settings, rows), args.out)
    worst = max(max(abs(r["h2_mc"] / r["h2_theory"] - 1), abs(r["dh2_mc"] / r["dh2_theory"] - 1)) for r in rows)
    print(f"wrote {path}: {len(rows)} (λ, ρ) pairs, worst Monte-Carlo/theory mismatch {100 * worst:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
