"""Cost model and extraction: the cheaper equivalent wins; a shared subterm is paid once."""

from __future__ import annotations

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
