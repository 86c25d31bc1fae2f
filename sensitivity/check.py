"""Monte-Carlo vs closed-form check of the stationary sensitivity moments.

    python -m sensitivity.check [--seed S] [--n-seq N] [--steps T] [--tol 0.05]

Prints a markdown table (λ, ρ, predicted / measured / ratio for E|h|² and
E|d_λh|²) and exits with status 1 when any ratio is off by more than `tol`.
"""

from __future__ import annotations

import argparse
import cmath
import sys
import time

import numpy as np

from .montecarlo import simulate
from .theory import moments

REAL_LAMS = (0.5, 0.9, 0.99)
REAL_RHOS = (0.0, 0.5, 0.9)
COMPLEX_LAMS = (0.9 * cmath.exp(0.5j), 0.9 * cmath.exp(-0.5j), 0.99 * cmath.exp(1.0j),
                0.7 * cmath.exp(2.5j))
COMPLEX_RHOS = (0.0, 0.5)

DEFAULT_N_SEQ = 2048
DEFAULT_STEPS = 8000


def grid():
    """The (λ, ρ) grid as two batches: (real λ, ρ) and (complex λ, ρ)."""
    real = np.array([(l, r) for l in REAL_LAMS for r in REAL_RHOS])
    cplx_l = np.array([l for l in COMPLEX_LAMS for _ in COMPLEX_RHOS])
    cplx_r = np.array([r for _ in COMPLEX_LAMS for r in COMPLEX_RHOS])
    return (real[:, 0], real[:, 1]), (cplx_l, cplx_r)


def compare(seed: int = 0, n_seq: int = DEFAULT_N_SEQ, steps: int = DEFAULT_STEPS,
            min_steps: int = 2000):
    """Rows of dicts: lam, rho, h2_pred, h2_mc, h2_se, dh2_pred, dh2_mc, dh2_se.

    `steps` averaged steps are used for the slowest timescale (|λ| = 0.99);
    rows with faster timescales τ = 1/(1-|λ|) are simulated in separate batches
    with steps·τ/τ_max (at least `min_steps`), which keeps the relative
    standard error roughly uniform (it scales like sqrt(τ / (n_seq·steps))).
    """
    rows = []
    tau_max = max(1 / (1 - abs(complex(l))) for l in REAL_LAMS + COMPLEX_LAMS)
    for lam, rho in grid():
        nu = np.round(np.abs(lam), 12)
        for nu_g in np.unique(nu):
            idx = np.flatnonzero(nu == nu_g)
            T = max(min_steps, int(round(steps * (1 / (1 - nu_g)) / tau_max)))
            h2_mc, dh2_mc, h2_se, dh2_se = simulate(lam[idx], rho[idx], T=T, n_seq=n_seq,
                                                    seed=seed, return_stderr=True)
            h2_pred, dh2_pred = moments(lam[idx], rho[idx])
            for j, i in enumerate(idx):
                rows.append(dict(lam=lam[i], rho=float(rho[i]), steps=T,
                                 h2_pred=float(h2_pred[j]), h2_mc=float(h2_mc[j]),
                                 h2_se=float(h2_se[j]), dh2_pred=float(dh2_pred[j]),
                                 dh2_mc=float(dh2_mc[j]), dh2_se=float(dh2_se[j])))
    return rows


def _fmt_lam(lam) -> str:
    lam = complex(lam)
    if lam.imag == 0:
        return f"{lam.real:g}"
    return f"{abs(lam):g}·e^{{{cmath.phase(lam):+.2g}i}}"


def format_table(rows) -> str:
    lines = ["| λ | ρ | E\\|h\\|² pred | E\\|h\\|² MC | ratio | E\\|dλh\\|² pred | E\\|dλh\\|² MC | ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {_fmt_lam(r['lam'])} | {r['rho']:g} "
                     f"| {r['h2_pred']:.5g} | {r['h2_mc']:.5g} | {r['h2_mc'] / r['h2_pred']:.4f} "
                     f"| {r['dh2_pred']:.5g} | {r['dh2_mc']:.5g} | {r['dh2_mc'] / r['dh2_pred']:.4f} |")
    return "\n".join(lines)


def worst_deviation(rows) -> float:
    return max(max(abs(r["h2_mc"] / r["h2_pred"] - 1), abs(r["dh2_mc"] / r["dh2_pred"] - 1))
               for r in rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m sensitivity.check", description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-seq", type=int, default=DEFAULT_N_SEQ, help="independent sequences")
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                   help="averaged steps after burn-in for the slowest channel (|λ| = 0.99)")
    p.add_argument("--tol", type=float, default=0.05, help="max allowed |ratio - 1|")
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    rows = compare(args.seed, args.n_seq, args.steps)
    print(format_table(rows))
    worst = worst_deviation(rows)
    ok = worst <= args.tol
    print(f"\nworst |ratio - 1| = {worst:.4f} (tol {args.tol}); seed {args.seed}, "
          f"{args.n_seq} sequences x <= {args.steps} steps; {time.perf_counter() - t0:.1f}s "
          f"-> {'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
