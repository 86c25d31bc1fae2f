"""Offline stand-ins for the inputs of the paper's signal-propagation study (Fig. 5).

The authors fed `bert-base-uncased` input embeddings of the first 128 Wikipedia articles,
cut or padded to 512 tokens. Neither can be had offline, so each variant here matches one
measured property of those inputs:

- `white`, `ar1`: unit-variance AR(1) with lag-1 autocorrelation ρ (ρ = 0: white noise).
- `bert_fit`: the autocorrelation the authors fitted to the embeddings,
  R(Δ) = 0.332·δ(Δ) + 0.0431·0.997^Δ, per channel: a white part plus a stationary AR(1)
  with ρ = 0.997.
- `bert_pad`: `bert_fit` whose sequences end in a constant tail from the first pad token
  on, as the padded batches did (every pad position carries the same embedding up to
  the slowly varying position embedding, which we drop). The pad vector has the tokens'
  per-channel variance and is shared by all sequences.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

BERT_WHITE = 0.332
BERT_SLOW = 0.0431
BERT_RHO = 0.997


def ar1(batch: int, length: int, dim: int, rho: float, generator: torch.Generator) -> torch.Tensor:
    """Unit-variance AR(1) sequences: x_t = ρ x_{t-1} + sqrt(1-ρ²) ε_t, stationary from t = 0."""
    eps = torch.randn(batch, length, dim, generator=generator)
    x = torch.empty_like(eps)
    x[:, 0] = eps[:, 0]
    scale = math.sqrt(1 - rho**2)
    for t in range(1, length):
        x[:, t] = rho * x[:, t - 1] + scale * eps[:, t]
    return x


def bert_fit(batch: int, length: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    white = torch.randn(batch, length, dim, generator=generator)
    slow = ar1(batch, length, dim, BERT_RHO, generator)
    return math.sqrt(BERT_WHITE) * white + math.sqrt(BERT_SLOW) * slow


@dataclass(frozen=True)
class PadTails:
    """Which sequences end in padding and where the padding starts.

    A fraction `fraction` of the sequences is padded; their content length is uniform
    in [min_content, max_content]. The default reads the first 128 Wikipedia articles
    as mostly longer than 512 tokens (well-developed early articles) with one in four
    short enough to be padded, anywhere from a stub of 64 tokens to 448.
    """

    fraction: float = 0.25
    min_content: int = 64
    max_content: int = 448

    def describe(self) -> str:
        return (f"{self.fraction:.0%} of sequences padded, content length uniform in "
                f"[{self.min_content}, {self.max_content}] tokens, the rest unpadded")


DEFAULT_TAILS = PadTails()


def bert_pad(batch: int, length: int, dim: int, generator: torch.Generator, tails: PadTails = DEFAULT_TAILS) -> torch.Tensor:
    x = bert_fit(batch, length, dim, generator)
    pad = math.sqrt(BERT_WHITE + BERT_SLOW) * torch.randn(dim, generator=generator)
    padded = torch.rand(batch, generator=generator) < tails.fraction
    # Short smoke-test sequences keep at least one content token and one pad token.
    hi = max(1, min(tails.max_content, length - 1))
    lo = max(1, min(tails.min_content, hi))
    starts = torch.randint(lo, hi + 1, (batch,), generator=generator)
    for b in torch.nonzero(padded).flatten().tolist():
        x[b, int(starts[b]):] = pad
    return x


def autocorrelation(x: torch.Tensor, lags: list[int]) -> list[float]:
    """E[x_t x_{t+Δ}] averaged over batch, time and channels (the inputs are zero-mean)."""
    return [float((x[:, : x.shape[1] - d] * x[:, d:]).mean()) for d in lags]


INPUTS = ("white", "ar1", "bert_fit", "bert_pad")


def make_inputs(kind: str, batch: int, length: int, dim: int, *, rho: float = 0.99, seed: int = 0,
                tails: PadTails = DEFAULT_TAILS) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if kind == "white":
        return ar1(batch, length, dim, 0.0, gen)
    if kind == "ar1":
        return ar1(batch, length, dim, rho, gen)
    if kind == "bert_fit":
        return bert_fit(batch, length, dim, gen)
    if kind == "bert_pad":
        return bert_pad(batch, length, dim, gen, tails)
    raise ValueError(f"inputs={kind!r}: expected one of {', '.join(INPUTS)}")
