"""E-matching: variables, literals, attributes, non-linear patterns, AC matching of n-ary add/mul."""

from __future__ import annotations

import rewritediff as rd
from rewritediff.engine.egraph import EGraph
from rewritediff.engine.ematch import Matcher, Rest
from rewritediff.engine.guards import eval_guard
from rewritediff.rules.ast import Call, Num, Var


def _search(term: rd.Term, pat: Call) -> tuple[EGraph, list]:
    eg = EGraph()
    eg.add_term(term)
    eg.rebuild()
    return eg, Matcher(eg).search(pat, 1000)


def test_simple_match_binds_classes() -> None:
    x = rd.vector("x")
    eg, ms = _search(rd.log(rd.exp(x)), Call("log", (Call("exp", (Var("a"),)),)))
    assert len(ms) == 1
    assert eg.rep(ms[0][2]["a"]) is x


def test_literal_matches_constant_of_any_shape_and_dtype() -> None:
    x = rd.vector("x", shape=(3,))
    pat = Call("mul", (Var("a"), Num(1)))
    _, ms = _search(x * rd.constant([1.0, 1.0, 1.0]), pat)
    assert len(ms) == 1
    _, ms = _search(x * rd.constant([1.0, 2.0, 1.0]), pat)
    assert ms == []


def test_non_linear_pattern() -> None:
    x, y = rd.vector("x"), rd.vector("y")
    pat = Call("sub", (Var("a"), Var("a")))
    assert len(_search(x - x, pat)[1]) == 1
    assert _search(x - y, pat)[1] == []


def test_attribute_binding_and_literals() -> None:
    x = rd.matrix("x")
    pat = Call("sum", (Var("a"),), (("axis", Var("ax")), ("keepdims", Num(False))))
    eg, ms = _search(x.sum(axis=1), pat)
    assert len(ms) == 1 and ms[0][2]["ax"].value == (1,)
    assert _search(x.sum(axis=1, keepdims=True), pat)[1] == []


def test_ac_matching_of_nary_mul() -> None:
    a, b, c = rd.vector("a"), rd.vector("b"), rd.vector("c")
    term = a * rd.exp(b) * c
    pat = Call("mul", (Call("exp", (Var("x"),)), Var("y")))
    eg, ms = _search(term, pat)
    ms = [m for m in ms if len(m[1][2]) == 3]  # the inner a * exp(b) matches too
    assert len(ms) == 1
    s = ms[0][2]
    assert eg.rep(s["x"]) is b
    rest = s["y"]
    assert isinstance(rest, Rest) and rest.op == "mul" and len(rest.children) == 2
    # the rest is not in the graph until a rule uses it
    assert eg.lookup(("mul", (), rest.children)) is None


def test_ac_matching_nested_binary_pattern() -> None:
    a, b, c = rd.vector("a"), rd.vector("b"), rd.vector("c")
    pat = Call("add", (Call("add", (Var("x"), Var("y"))), Var("z")))
    _, ms = _search(a + b + c, pat)
    assert len(ms) >= 3  # every split of the flat sum


def test_factoring_pattern_with_context() -> None:
    x, y, z, w = (rd.vector(n) for n in "xyzw")
    pat = Call("add", (Call("mul", (Var("x"), Var("y"))), Call("mul", (Var("x"), Var("z")))))
    eg, ms = _search(x * y + x * z + w, pat)
    assert any("#ctx" in m[2] and eg.rep(m[2]["x"]) is x for m in ms)


def test_guards_on_facts() -> None:
    x = rd.vector("x")
    eg = EGraph()
    cid = eg.add_term(rd.exp(x))
    sid = eg.add_term(rd.sin(x))
    g = Call("positive", (Var("a"),))
    assert eval_guard(eg, g, {"a": cid}) is True
    assert eval_guard(eg, g, {"a": sid}) is not True
    assert eval_guard(eg, Call("eq", (Call("ndim", (Var("a"),)), Num(1))), {"a": cid}) is True
    assert eval_guard(eg, Call("unknown_predicate", (Var("a"),)), {"a": cid}) is None
    both = Call("and", (g, Call("not", (Call("positive", (Var("b"),)),))))
    assert eval_guard(eg, both, {"a": cid, "b": sid}) is True
