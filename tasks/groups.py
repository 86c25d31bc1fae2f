"""Finite groups as multiplication tables, generated rather than typed in.

A group of order n is an (n, n) int64 table over element indices 0..n-1 with
`table[i, j]` the index of the product i·j, and `identity` the index of the unit.

* `Zm`: the cyclic group of order m, addition mod m (Z2 is parity).
* `Sk`: the symmetric group on k points; elements are the permutations of
  0..k-1 in lexicographic order (index 0 is the identity), and p·q applies p
  first, then q: (p·q)(i) = q(p(i)), so a word g_1 g_2 … g_t acts left to right.
* `Ak`: the alternating group, the even permutations of `Sk` (A5, of order 60,
  is the smallest non-solvable group: Merrill et al. 2024's hard case with S5).
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

# S7 has 5040 elements: a 5040-token vocabulary and a 25M-entry table, far past what
# a sequence model here is meant to learn; the bound keeps a typo from allocating it.
MAX_ORDER = 720


@dataclass(frozen=True)
class Group:
    name: str
    table: np.ndarray   # (n, n) int64: table[i, j] = i·j
    identity: int

    @property
    def order(self) -> int:
        return len(self.table)

    def inverse(self) -> np.ndarray:
        """inv[i] = the j with i·j = identity."""
        return np.argmax(self.table == self.identity, axis=1)

    def prefix_products(self, words: np.ndarray) -> np.ndarray:
        """(n, L) element indices -> (n, L) running products g_1·…·g_t."""
        out = np.empty_like(words)
        acc = words[:, 0]
        out[:, 0] = acc
        for t in range(1, words.shape[1]):
            acc = self.table[acc, words[:, t]]
            out[:, t] = acc
        return out


def cyclic(m: int) -> Group:
    i = np.arange(m)
    return Group(f"Z{m}", (i[:, None] + i[None, :]) % m, 0)


def _permutation_group(name: str, perms: list[tuple[int, ...]]) -> Group:
    """`perms` in lexicographic order, so that their base-k codes are sorted."""
    perms_arr = np.array(perms, dtype=np.int64)                    # (n, k)
    n, k = perms_arr.shape
    # composed[p, q] = q[p], i.e. (p·q)(i) = q(p(i))
    composed = perms_arr[np.arange(n)[None, :, None], perms_arr[:, None, :]]
    weights = k ** np.arange(k - 1, -1, -1, dtype=np.int64)
    codes = perms_arr @ weights
    table = np.searchsorted(codes, composed @ weights)
    if not np.array_equal(codes[table], composed @ weights):
        raise ValueError(f"{name}: the permutations are not closed under composition")
    return Group(name, table.astype(np.int64), int(np.searchsorted(codes, np.arange(k) @ weights)))


def _parity(p: tuple[int, ...]) -> int:
    return sum(p[i] > p[j] for i in range(len(p)) for j in range(i + 1, len(p))) % 2


def symmetric(k: int) -> Group:
    return _permutation_group(f"S{k}", list(itertools.permutations(range(k))))


def alternating(k: int) -> Group:
    return _permutation_group(f"A{k}", [p for p in itertools.permutations(range(k)) if _parity(p) == 0])


def group_order(name: str) -> int:
    """The order the name asks for (without building the table); ValueError if it is no group."""
    m = re.fullmatch(r"([ZSA])([1-9][0-9]*)", name)
    if m is None:
        raise ValueError(f"task.group={name}: unknown group; use Zm (cyclic, m >= 2), Sk (symmetric, k >= 2) "
                         f"or Ak (alternating, k >= 3), e.g. Z2, Z5, S3, S5, A5")
    kind, n = m.group(1), int(m.group(2))
    if (kind == "Z" and n < 2) or (kind == "S" and n < 2) or (kind == "A" and n < 3):
        raise ValueError(f"task.group={name}: the trivial group has nothing to track; need Z2+, S2+ or A3+")
    if kind == "Z":
        return n
    order = 1
    for i in range(2, n + 1):
        order *= i
        if order > 2 * MAX_ORDER:  # factorials grow fast: stop before big integers
            break
    return order if kind == "S" else order // 2


def make_group(name: str) -> Group:
    order = group_order(name)
    if order > MAX_ORDER:
        raise ValueError(f"task.group={name}: order {order} > {MAX_ORDER}, beyond what this harness tracks")
    kind, n = name[0], int(name[1:])
    return cyclic(n) if kind == "Z" else symmetric(n) if kind == "S" else alternating(n)
