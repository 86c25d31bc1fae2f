"""tasks.groups: the generated tables are groups (closure, associativity, identity,
inverses), of the right order and shape, and the named ones are the groups they claim."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from tasks.groups import MAX_ORDER, group_order, make_group


@pytest.mark.parametrize("name,order", [("Z2", 2), ("Z3", 3), ("Z5", 5), ("Z7", 7), ("S3", 6), ("S4", 24),
                                        ("S5", 120), ("A4", 12), ("A5", 60)])
def test_group_axioms(name, order):
    g = make_group(name)
    t, e = g.table, g.identity
    assert g.order == order == group_order(name) and t.shape == (order, order) and t.dtype == np.int64
    assert t.min() >= 0 and t.max() < order                                   # closure
    assert (t[e] == np.arange(order)).all() and (t[:, e] == np.arange(order)).all()
    # a Latin square: each row and column a permutation (cancellation)
    assert (np.sort(t, axis=1) == np.arange(order)).all() and (np.sort(t, axis=0).T == np.arange(order)).all()
    # associativity over every triple: (a·b)·c = a·(b·c)
    a, b, c = np.meshgrid(np.arange(order), np.arange(order), np.arange(order), indexing="ij")
    assert (t[t[a, b], c] == t[a, t[b, c]]).all()
    inv = g.inverse()
    assert (t[np.arange(order), inv] == e).all() and (t[inv, np.arange(order)] == e).all()


def test_cyclic_is_addition_and_symmetric_is_composition():
    z5 = make_group("Z5")
    for i, j in itertools.product(range(5), repeat=2):
        assert z5.table[i, j] == (i + j) % 5
    s3 = make_group("S3")
    perms = list(itertools.permutations(range(3)))
    assert s3.identity == 0
    for i, p in enumerate(perms):
        for j, q in enumerate(perms):
            assert perms[s3.table[i, j]] == tuple(q[p[k]] for k in range(3))  # p first, then q


def test_which_groups_commute():
    # Zm abelian; S3 and A5 not (S3 is the smallest non-abelian group)
    for name, abelian in (("Z2", True), ("Z6", True), ("S3", False), ("A5", False), ("S2", True)):
        t = make_group(name).table
        assert (t == t.T).all() == abelian, name


def test_a5_is_the_even_half_of_s5():
    # the element orders of A5: one identity, 15 double transpositions, 20 3-cycles, 24 5-cycles
    # (S5 also has transpositions, 4-cycles and 6-element products: orders 2, 4, 6 in other counts)
    a5 = make_group("A5")
    orders = []
    for x in range(a5.order):
        k, y = 1, x
        while y != a5.identity:
            y, k = a5.table[y, x], k + 1
        orders.append(k)
    assert np.bincount(orders).tolist() == [0, 1, 15, 20, 0, 24]


def test_prefix_products():
    s3 = make_group("S3")
    rng = np.random.default_rng(0)
    words = rng.integers(0, 6, size=(20, 11))
    pre = s3.prefix_products(words)
    for row, p in zip(words, pre):
        acc = row[0]
        assert p[0] == acc
        for t in range(1, 11):
            acc = s3.table[acc, row[t]]
            assert p[t] == acc


@pytest.mark.parametrize("name", ["Z1", "Z0", "S1", "A2", "Q8", "z2", "S", "Z02", "", "S7"])
def test_unknown_or_impossible_groups(name):
    with pytest.raises(ValueError) as err:
        make_group(name)
    msg = str(err.value)
    assert msg.startswith(f"task.group={name}") and "\n" not in msg
    if name == "S7":
        assert str(MAX_ORDER) in msg
