"""The compiled matchers agree, match for match and in order, with a direct reading of the matching rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import rewritediff as rd
from rewritediff.engine.egraph import EGraph
from rewritediff.engine.ematch import Matcher
from rewritediff.engine.matchers import AttrVal, Rest, _attr_equal, literal
from rewritediff.rules.ast import Call, Num, Var


def _reference(m: Matcher, pat: Any, target: Any, s: dict) -> Iterator[dict]:
    """All extensions of ``s`` matching ``pat`` against a class or a Rest, straight from the definitions."""
    eg = m.eg
    if isinstance(pat, Var):
        s2 = m._bind(s, pat.name, target)
        if s2 is not None:
            yield s2
        return
    if isinstance(target, Rest):
        if isinstance(pat, Call) and pat.op == target.op:
            yield from _reference_node(m, pat, (), target.children, s)
        return
    if isinstance(pat, Num):
        if m._const_is(target, pat.value):
            yield s
        return
    if isinstance(pat, Call):
        for node in eg.classes[eg.find(target)].nodes:
            if node[0] == pat.op:
                yield from _reference_node(m, pat, node[1], node[2], s)


def _reference_seq(m: Matcher, pairs: list, s: dict) -> Iterator[dict]:
    if not pairs:
        yield s
        return
    (pat, target), rest = pairs[0], pairs[1:]
    for s2 in _reference(m, pat, target, s):
        yield from _reference_seq(m, rest, s2)


def _reference_node(m: Matcher, pat: Call, attrs: tuple, children: tuple, s: dict) -> Iterator[dict]:
    have = dict(attrs)
    for name, e in pat.attrs:
        if name not in have:
            return
        if isinstance(e, Var):
            s = m._bind(s, e.name, AttrVal(have[name]))
            if s is None:
                return
        elif not _attr_equal(literal(e), have[name]):
            return
    args, n = pat.args, len(children)
    if pat.op in m.eg.nary and len(args) == 2 and n == 2:
        yield from _reference_seq(m, [(args[0], children[0]), (args[1], children[1])], s)
        if children[0] != children[1]:
            yield from _reference_seq(m, [(args[0], children[1]), (args[1], children[0])], s)
    elif pat.op in m.eg.nary and len(args) == 2 and n > 2:
        for i in range(n):
            if i and children[i] == children[i - 1]:
                continue
            rest = Rest(pat.op, children[:i] + children[i + 1 :])
            yield from _reference_seq(m, [(args[0], children[i]), (args[1], rest)], s)
            yield from _reference_seq(m, [(args[1], children[i]), (args[0], rest)], s)
    elif len(args) == n:
        yield from _reference_seq(m, list(zip(args, children)), s)


def _keys(m: Matcher, found: list) -> list:
    out: list = []
    for s in found:
        k = m._subst_key(s)
        if k not in out:
            out.append(k)
    return out


def _check(term: rd.Term, pat: Call) -> int:
    eg = EGraph()
    eg.add_term(term)
    eg.rebuild()
    m = Matcher(eg)
    total = 0
    for cid in sorted(eg.classes):
        for node in eg.classes[cid].nodes:
            if node[0] != pat.op:
                continue
            got = _keys(m, list(m.match_node(pat, node[1], node[2], {})))
            want = _keys(m, list(_reference_node(m, pat, node[1], node[2], {})))
            assert got == want, (pat, node)
            total += len(got)
    return total


def test_compiled_matches_equal_reference() -> None:
    a, b, c, d = (rd.vector(n) for n in "abcd")
    x, y, z = Var("x"), Var("y"), Var("z")
    terms = [
        a * a,
        a * a * b,
        a * rd.exp(b) * c * rd.exp(a),
        (a + b) * (a + b) * c,
        a / b * b * c,
        a * b + a * c + d,
        -a * b * c - a * b,
        rd.exp(a) * rd.exp(a) * 1.0,
        a * b * c + a * b * d,  # binary sums and differences of products: the matches are joined
        a * b * c - a * d * c,
        (a + b) * c * (a + b) - (a + b) * c,
    ]
    pats = [
        Call("mul", (x, x)),
        Call("mul", (Call("exp", (x,)), y)),
        Call("mul", (x, Call("exp", (y,)))),
        Call("mul", (Call("true_div", (x, y)), y)),
        Call("mul", (Call("add", (x, y)), Call("add", (x, y)))),
        Call("mul", (Call("mul", (x, y)), z)),
        Call("add", (Call("mul", (x, y)), Call("mul", (x, z)))),
        Call("sub", (Call("mul", (x, y)), Call("mul", (x, z)))),
        Call("mul", (Call("neg", (x,)), y)),
        Call("mul", (x, Num(1))),
        Call("exp", (x,)),
    ]
    matched = 0
    for t in terms:
        for p in pats:
            matched += _check(t, p)
    assert matched > 20


def test_root_filter_keeps_matches_through_the_rest() -> None:
    a, b, c = rd.vector("a"), rd.vector("b"), rd.vector("c")
    eg = EGraph()
    eg.add_term(rd.exp(a) * b * c)
    eg.rebuild()
    ms = Matcher(eg).search(Call("mul", (Call("exp", (Var("x"),)), Var("y"))), 100)
    assert any(isinstance(s["y"], Rest) and len(s["y"].children) == 2 for _, _, s in ms)
    # no argument holds a sin node: the filter leaves no root to try
    assert Matcher(eg).search(Call("mul", (Call("sin", (Var("x"),)), Var("y"))), 100) == []


def test_equal_argument_patterns_match_once_per_substitution() -> None:
    a, b = rd.vector("a"), rd.vector("b")
    eg = EGraph()
    eg.add_term(rd.exp(a) * rd.exp(a) * b)
    eg.add_term(a * a)
    eg.rebuild()
    m = Matcher(eg)
    sq = m.search(Call("mul", (Var("x"), Var("x"))), 100)
    reps = [eg.rep(s["x"]) for _, _, s in sq]
    assert len(reps) == 2 and set(reps) == {a, rd.exp(a)}  # exp(a) * exp(a) is a sub-term of the product
    ms = m.search(Call("mul", (Call("exp", (Var("x"),)), Call("exp", (Var("x"),)))), 100)
    assert len({m._subst_key(s) for _, _, s in ms}) == len(ms) and ms


def test_op_of_twin_variables_tries_only_arguments_that_hold_the_op() -> None:
    # mul(E, a, b) where E also holds a * b: x * x matches with x = E (the rest a * b is E); a and
    # b hold no product, so no rest is made for them (Matcher._bind would refuse it anyway)
    z, a, b = rd.vector("z"), rd.vector("a"), rd.vector("b")
    eg = EGraph()
    root = eg.add_term(rd.exp(z) * a * b)
    e, q = eg.add_term(rd.exp(z)), eg.add_term(a * b)
    eg.union(e, q)
    eg.rebuild()
    m = Matcher(eg)
    calls = []
    real = m._bind
    m._bind = lambda s, name, value: calls.append(value) or real(s, name, value)  # type: ignore[method-assign]
    pat = Call("mul", (Var("x"), Var("x")))
    node = next(n for n in eg.classes[eg.find(root)].nodes if len(n[2]) == 3)
    found = list(m.match_node(pat, node[1], node[2], {}))
    assert [s["x"] for s in found] == [eg.find(e)]
    assert len(calls) == 1 and isinstance(calls[0], Rest)  # the rest for E's argument alone
    ref = list(_reference_node(m, pat, node[1], node[2], {}))  # (the swapped assignment finds it again)
    assert found == [s for i, s in enumerate(ref) if s not in ref[:i]]
