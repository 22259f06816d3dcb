"""E-graph basics: hash-consing, union-find, congruence closure after rebuild, facts."""

from __future__ import annotations

import numpy as np

import rewritediff as rd
from rewritediff.engine.analysis import NONNEG, POS
from rewritediff.engine.egraph import EGraph


def test_hash_consing_shares_nodes() -> None:
    x = rd.vector("x")
    eg = EGraph()
    a = eg.add_term(rd.exp(x) + rd.exp(x))
    b = eg.add_term(rd.exp(x))
    assert eg.find(a) != eg.find(b)
    assert eg.num_nodes == 3  # x, exp(x), add(exp(x), exp(x))
    assert eg.add_term(rd.exp(x)) == b


def test_union_find_and_congruence() -> None:
    a, b = rd.vector("a"), rd.vector("b")
    eg = EGraph()
    fa, fb = eg.add_term(rd.exp(a)), eg.add_term(rd.exp(b))
    ga, gb = eg.add_term(rd.sin(rd.exp(a))), eg.add_term(rd.sin(rd.exp(b)))
    assert eg.find(fa) != eg.find(fb)
    eg.union(eg.add_term(a), eg.add_term(b))
    eg.rebuild()
    assert eg.find(fa) == eg.find(fb)
    assert eg.find(ga) == eg.find(gb)  # congruence propagates upwards


def test_congruence_of_nary_nodes_is_order_free() -> None:
    a, b, c = rd.vector("a"), rd.vector("b"), rd.vector("c")
    eg = EGraph()
    m1 = eg.add_term(a * c)
    m2 = eg.add_term(c * b)
    eg.union(eg.add_term(a), eg.add_term(b))
    eg.rebuild()
    assert eg.find(m1) == eg.find(m2)


def test_deep_chain_does_not_recurse() -> None:
    x = rd.scalar("x")
    t = x
    for _ in range(5000):
        t = rd.sin(t)
    eg = EGraph()
    eg.add_term(t)
    eg.rebuild()
    assert eg.num_nodes == 5001


def test_constant_folding_and_signs() -> None:
    x = rd.vector("x")
    eg = EGraph()
    c = eg.add_term(rd.exp(rd.constant(0.0)) * rd.constant(2.0))
    eg.rebuild()
    assert float(eg.data(c).const) == 2.0
    assert any(n[0] == "const" for n in eg.classes[eg.find(c)].nodes)
    e = eg.add_term(rd.exp(x) * rd.exp(x) + rd.sqr(x))
    assert eg.data(e).signs & POS
    assert eg.data(eg.add_term(rd.sqr(x))).signs & NONNEG
    assert not eg.data(eg.add_term(rd.sin(x))).signs


def test_symbolic_dims() -> None:
    x, y = rd.vector("x"), rd.vector("y")
    eg = EGraph()
    a = eg.data(eg.add_term(rd.exp(x) * 2.0))
    b = eg.data(eg.add_term(x.sum(keepdims=True) * x))
    c = eg.data(eg.add_term(x + y))
    assert a.dims == b.dims == (("d", x.uid, 0),)
    # x + y has a length no leaf names: a token for "x's and y's lengths broadcast", shared by
    # every broadcast of the same two lengths and equal to neither
    assert c.dims[0][0] == "bcast" and c.dims != a.dims
    assert eg.data(eg.add_term(rd.exp(y * x))).dims == c.dims
    np.testing.assert_equal(eg.data(eg.add_term(x)).const, None)


def test_a_merge_that_only_renames_dims_leaves_the_users_facts() -> None:
    # x + y proves len(x) == len(y): merging x's class with y's changes the dim token the class
    # names, not the dim, so the users' facts (exp(x), exp(y)) are not recomputed
    x, y = rd.vector("x"), rd.vector("y")
    eg = EGraph()
    for t in (x + y, rd.exp(x), rd.exp(y)):
        eg.add_term(t)
    eg.rebuild()
    cx, cy = eg.add_term(x), eg.add_term(y)
    assert eg.data(cx).dims != eg.data(cy).dims and eg.dim_find(eg.data(cx).dims[0]) == eg.dim_find(eg.data(cy).dims[0])
    made = []
    real = eg._make
    eg._make = lambda node, term: made.append(node[0]) or real(node, term)  # type: ignore[method-assign]
    eg.union(cx, cy)
    assert not eg._analysis_pending
    eg.rebuild()
    assert eg.find(eg.add_term(rd.exp(x))) == eg.find(eg.add_term(rd.exp(y)))  # congruence still closed
    assert made == []


def test_a_merge_that_changes_signs_recomputes_the_users_facts() -> None:
    x, y = rd.vector("x"), rd.vector("y")
    eg = EGraph()
    ex, sx = eg.add_term(rd.exp(y)), eg.add_term(rd.sqrt(x))
    eg.rebuild()
    assert not eg.data(sx).signs & POS
    eg.union(eg.add_term(x), ex)  # x is positive now
    assert eg._analysis_pending
    eg.rebuild()
    assert eg.data(sx).signs & POS


def test_op_lists_are_compacted_when_read() -> None:
    a, b = rd.vector("a"), rd.vector("b")
    eg = EGraph()
    ea, eb = eg.add_term(rd.exp(a)), eg.add_term(rd.exp(b))
    assert eg.classes_with("exp") == sorted([ea, eb])
    eg.union(eg.add_term(a), eg.add_term(b))  # exp(a) and exp(b) become one class in rebuild
    eg.rebuild()
    assert eg.find(ea) == eg.find(eb)
    assert eg.classes_with("exp") == [eg.find(ea)]  # canonical, without repeats
    assert eg.by_op["exp"] == [eg.find(ea)]  # and the list itself compacted on that read
    c = eg.add_term(rd.exp(rd.vector("c")))  # a new class keeps a clean list clean
    assert "exp" not in eg._by_op_dirty and eg.classes_with("exp") == sorted([eg.find(ea), c])
