"""Cost model and extraction: the cheaper equivalent wins; a shared subterm is paid once."""

from __future__ import annotations

import numpy as np

import rewritediff as rd
from rewritediff.engine.egraph import EGraph
from rewritediff.engine.extract import Extractor, dag_cost, term_cost


def test_transcendental_costs_more_than_arithmetic() -> None:
    x = rd.vector("x", shape=(100,))
    assert term_cost(rd.exp(x)) > term_cost(x + x) > 0
    assert term_cost(x) == 0
    A = rd.matrix("A", shape=(50, 50))
    assert term_cost(A @ A) > term_cost(A + A)


def test_extraction_picks_cheaper_equivalent() -> None:
    x = rd.vector("x", shape=(100,))
    expensive = rd.exp(rd.log(rd.exp(x)))
    cheap = rd.exp(x)
    eg = EGraph()
    a, b = eg.add_term(expensive), eg.add_term(cheap)
    eg.union(a, b)
    eg.rebuild()
    ex = Extractor(eg)
    ex.run([a])
    assert ex.build([a]) == [cheap]


def test_shared_subterm_counted_once() -> None:
    x = rd.vector("x", shape=(1000,))
    e = rd.exp(x)
    shared = e + rd.sin(e)  # tree cost counts exp(x) twice, the DAG once
    chain = rd.tanh(rd.cos(rd.sin(x)))
    assert dag_cost([shared]) < dag_cost([chain])
    eg = EGraph()
    a, b = eg.add_term(shared), eg.add_term(chain)
    eg.union(a, b)
    eg.rebuild()
    ex = Extractor(eg)
    ex.run([a])
    assert ex.build([a]) == [shared]


def test_deep_extraction_without_recursion() -> None:
    x = rd.scalar("x")
    t = x
    for _ in range(3000):
        t = rd.sin(t) * 1.0
    eg = EGraph()
    r = eg.add_term(t)
    eg.rebuild()
    ex = Extractor(eg)
    ex.run([r])
    assert ex.build([r]) == [t]


def test_a_term_typed_with_fewer_static_dims_is_not_costed_as_bigger() -> None:
    # eye(5) @ X.T (static (5, ?)) simplifies to X.T (typed (?, ?)); the graph knows X.shape[1] == 5
    b, X, w = rd.vector("b"), rd.matrix("X"), rd.vector("w", shape=(5,))
    h = rd.hessian(rd.mean(rd.softplus(-b * (X @ w))), w)
    s = rd.simplify(h)
    assert "eye" not in str(s) and rd.count_ops(s) < rd.count_ops(h)
    x = rd.vector("x")
    g = rd.grad(rd.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2), x)
    both = rd.simplify([g, h])  # simplified together, neither holds the other back
    assert rd.count_ops(both) <= rd.count_ops(rd.simplify(g)) + rd.count_ops(s)
    rng = np.random.default_rng(0)
    vals = [rng.standard_normal(7), rng.standard_normal((30, 5)), rng.standard_normal(30), rng.standard_normal(5)]
    got = rd.function([x, X, b, w], both, on_unused_input="ignore")(*vals)
    ref = rd.function([x, X, b, w], [g, h], simplify=False, on_unused_input="ignore")(*vals)
    for a, e in zip(got, ref):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)
