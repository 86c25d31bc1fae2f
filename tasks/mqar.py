"""Multi-query associative recall (Arora, Eyuboglu et al. 2023, zoology).

Vocabulary of V tokens (V even): keys 0..V/2-1, values V/2..V-1. A sequence of total
length L is

    positions 0 .. 2N-1    k_1 v_1 k_2 v_2 … k_N v_N: N distinct keys, N distinct values
    positions 2N .. L-1    the query region: each key once, at a slot drawn by the power
                           law below; every other position a uniformly random token

The target at a query is the value bound to its key (the model answers *at* the query
token); every other target is IGNORE and `mask` marks the N queries, so `acc` is the
micro accuracy over queries and `exact` the fraction of sequences with all N right.

Query positions follow zoology: the region holds S = ceil((L-2N)/2) slots at its even
offsets 0, 2, 4, …; slot s (0-based) has weight (s+1)^(a-1) (p(g) ∝ a·g^(a-1) over the
gap g = s+1 from the end of the pairs; a = `power_a` = 0.01, so short gaps are
common and a = 1 is uniform), and the N slots are drawn without replacement with
those weights (as numpy's `choice(replace=False, p=...)`: successive draws, here by
Gumbel top-k), assigned to the keys in random order.

Where this differs from zoology's `multiquery_ar`, and why:
* zoology keeps token 0 out of the keys (it marks the slots its filler overwrites);
  here nothing is a placeholder, so all V/2 tokens of the lower half are keys.
* zoology asserts V > L and L even, artefacts of its generator; here any L with
  room for N query slots (L - 2N >= 2N - 1) is allowed.
* zoology gives the i-th drawn slot to the i-th written pair, and early draws favour
  short gaps, so the first pair written tends to be queried first (55 % against 45 %
  with two pairs at L = 14, a = 0.2); here the slots are shuffled among the pairs.
* the filler is uniform over the whole vocabulary, as in zoology, so a filler may
  repeat a key or a value of the sequence; only the N queries are scored.

Cost (the cpu track): zoology's Figure 2 runs V = 8192, L = 64..512, N = 4..64 on
GPUs for tens of thousands of steps. Here the defaults are V = 128 (64 keys, 64
values), L = 128, N = 8: the output layer stays small, each key recurs often enough
to be learnt within a cpu budget, and N can climb to 32 at L = 128.

A model that recalls nothing, but knows a query is answered by a value, guesses
uniformly over the V/2 values: accuracy 2/V, cross-entropy ln(V/2) on the queries
(the only positions with a loss). One that remembers the N values of its sequence but
not which key each is bound to guesses among them: accuracy 1/N, cross-entropy ln N
(`unbound_acc`, `unbound_loss`). Models learn that much first and sit there until the
bindings form (Mamba at N = 2, lr 3e-3: validation accuracy 0.49-0.51 from step 1,000
to 2,400, where a patience counted from 2/V stopped it), so the plateau rule counts
only from above 1/N (tasks.base.left_baseline).
"""
from __future__ import annotations

import math

import numpy as np

from tasks.base import RECALL_HORIZON, RECALL_SOLVED, SyntheticTask
from tasks.spec import IGNORE, TaskSpec

MAX_KEY = 4096        # tasks.streams.eval_partition hashes keys of at most this many columns
MIN_DISTINCT = 4096   # fewer possible key-value prefixes cannot keep 1/16 of them for evaluation


def query_slot_weights(n_slots: int, power_a: float) -> np.ndarray:
    """p(slot s) ∝ (s+1)^(a-1), normalised: zoology's power law over the gap s+1."""
    w = np.arange(1, n_slots + 1, dtype=np.float64) ** (power_a - 1)
    return w / w.sum()


def mqar_sequences(rng: np.random.Generator, n: int, seq_len: int, n_pairs: int, vocab_size: int,
                   power_a: float) -> dict[str, np.ndarray]:
    """`n` sequences: x, y (n, L) int64 (y IGNORE off the queries), mask (n, L) bool on
    the queries, queries (n, N) the query position of each key in pair order."""
    L, N, V = seq_len, n_pairs, vocab_size
    half = V // 2
    # N distinct keys and N distinct values per row: the first N of a random permutation
    keys = np.argsort(rng.random((n, half)), axis=1)[:, :N]
    values = half + np.argsort(rng.random((n, half)), axis=1)[:, :N]
    x = rng.integers(0, V, size=(n, L), dtype=np.int64)
    x[:, 0:2 * N:2] = keys
    x[:, 1:2 * N:2] = values
    # Gumbel top-k = successive weighted draws without replacement; shuffled, so that
    # which pair is queried first does not depend on where the pair was written
    n_slots = (L - 2 * N + 1) // 2
    log_w = np.log(query_slot_weights(n_slots, power_a))
    scores = log_w - np.log(-np.log(rng.random((n, n_slots))))
    slots = rng.permuted(np.argsort(-scores, axis=1)[:, :N], axis=1)
    queries = 2 * N + 2 * slots
    np.put_along_axis(x, queries, keys, axis=1)
    y = np.full((n, L), IGNORE, dtype=np.int64)
    np.put_along_axis(y, queries, values, axis=1)
    mask = np.zeros((n, L), dtype=bool)
    np.put_along_axis(mask, queries, True, axis=1)
    return {"x": x, "y": y, "mask": mask, "queries": queries}


def log_n_prefixes(n_pairs: int, vocab_size: int) -> float:
    """log of the number of key-value prefixes: (V/2)!/(V/2-N)! for keys, the same for values."""
    half = vocab_size // 2
    return 2 * (math.lgamma(half + 1) - math.lgamma(half - n_pairs + 1))


class MQARTask(SyntheticTask):
    name = "mqar"

    def __init__(self, n_pairs: int = 8, seq_len: int = 128, vocab_size: int = 128, power_a: float = 0.01,
                 **kwargs):
        if vocab_size < 2 or vocab_size % 2:
            raise ValueError(f"task.vocab_size={vocab_size}: need an even V >= 2 (keys 0..V/2-1, values V/2..V-1)")
        if n_pairs < 1:
            raise ValueError(f"task.n_pairs={n_pairs}: need at least one key-value pair")
        if n_pairs > vocab_size // 2:
            raise ValueError(f"task.n_pairs={n_pairs}: more pairs than the {vocab_size // 2} keys of "
                             f"task.vocab_size={vocab_size} (keys are distinct); raise V or lower N")
        if seq_len < 4 * n_pairs - 1:
            raise ValueError(f"task.seq_len={seq_len}: need L >= 4N-1 = {4 * n_pairs - 1} for N={n_pairs} "
                             f"(2N for the pairs, then N query slots at every other position)")
        if not power_a > 0:
            raise ValueError(f"task.power_a={power_a}: the power-law exponent must be > 0 (1 = uniform)")
        if 2 * n_pairs > MAX_KEY:
            raise ValueError(f"task.n_pairs={n_pairs}: at most {MAX_KEY // 2} pairs are supported")
        if log_n_prefixes(n_pairs, vocab_size) < math.log(MIN_DISTINCT):
            raise ValueError(f"task.vocab_size={vocab_size}, task.n_pairs={n_pairs}: fewer than {MIN_DISTINCT} "
                             f"distinct key-value prefixes, too few to hold evaluation sequences out of training; "
                             f"raise V or N")
        super().__init__(**kwargs)
        self.n_pairs, self.seq_len, self.vocab_size, self.power_a = n_pairs, seq_len, vocab_size, power_a

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec("tokens", self.vocab_size, "classes", self.vocab_size, "step", self.seq_len)

    @property
    def variant(self) -> str:
        return f"L={self.seq_len},pairs={self.n_pairs},V={self.vocab_size},a={self.power_a:g}"

    def baselines(self) -> dict[str, float]:
        base = {"memoryless_loss": math.log(self.vocab_size // 2), "chance_acc": 2.0 / self.vocab_size}
        if self.n_pairs > 1:  # with one pair, knowing the value is the recall: no plateau sits at 1/N
            base.update(unbound_loss=math.log(self.n_pairs), unbound_acc=1.0 / self.n_pairs)
        return base

    axis, solve, horizon = ("pairs", "task.n_pairs"), RECALL_SOLVED, RECALL_HORIZON

    def draw(self, rng: np.random.Generator, n: int, split: str) -> dict[str, np.ndarray]:
        out = mqar_sequences(rng, n, self.seq_len, self.n_pairs, self.vocab_size, self.power_a)
        del out["queries"]
        return out

    def content_key(self, sample: dict[str, np.ndarray]) -> np.ndarray:
        """The key-value prefix: no evaluation sequence's pairs (in their order) ever open a training sequence."""
        return sample["x"][:, : 2 * self.n_pairs]
