"""The engine's work grows with the graph as the matching algorithms say it should (counted, not timed)."""

from __future__ import annotations

import rewritediff as rd
from rewritediff.engine.egraph import EGraph
from rewritediff.engine.ematch import Matcher
from rewritediff.rules.ast import Call, Var


def _binding_work(k: int, op: str) -> tuple[int, int]:
    """Comparisons of bound variables made while matching ``x * y op x * z`` on two products of k + 1 factors sharing one."""
    u = rd.vector("u")
    left, right = u, u
    for i in range(k):
        left = left * rd.vector(f"v{i}")
        right = right * rd.vector(f"w{i}")
    eg = EGraph()
    eg.add_term(left + right if op == "add" else left - right)
    eg.rebuild()
    m = Matcher(eg)
    calls = [0]
    bind, canon = m._bind, m._canon_binding

    def counted_bind(*a: object) -> object:
        calls[0] += 1
        return bind(*a)

    def counted_canon(v: object) -> object:
        calls[0] += 1
        return canon(v)

    m._bind, m._canon_binding = counted_bind, counted_canon  # type: ignore[method-assign]
    x, y, z = Var("x"), Var("y"), Var("z")
    found = m.search(Call(op, (Call("mul", (x, y)), Call("mul", (x, z)))), 10**6)
    return calls[0], len(found)


def test_factoring_a_binary_sum_is_a_join_not_a_product() -> None:
    # each side has 2(k + 1) matches of x * y; trying every pair compares (2k)^2 bindings, a hash
    # join on x compares each once
    for op in ("add", "sub"):
        small, n_small = _binding_work(8, op)
        large, n_large = _binding_work(16, op)
        assert n_small == n_large >= 1  # the shared factor u (and, for the sum, its mirror)
        assert large < 2.5 * small, (op, small, large)
        assert large <= 6 * 17, (op, large)


def test_a_failing_guard_is_read_before_the_right_hand_side_is_looked_up(monkeypatch: object) -> None:
    from rewritediff.engine import runner as runner_module
    from rewritediff.engine.runner import Runner

    from .helpers import rewrites

    looked_up: list = []
    lookup = runner_module.lookup_rhs

    def counted(*a: object, **k: object) -> object:
        looked_up.append(a[1])
        return lookup(*a, **k)

    monkeypatch.setattr(runner_module, "lookup_rhs", counted)  # type: ignore[attr-defined]
    a, b, c = rd.vector("a"), rd.vector("b"), rd.vector("c")
    # a's sign is unknown: the guard fails for every match (the rest b * c is a class of the graph)
    eg = EGraph()
    root = eg.add_term(rd.exp(a) * (b * c))
    report = Runner(rewrites("rule exp(x) * y => y if positive(x)")).run(eg)
    assert report.matches and not report.fired and not looked_up
    assert eg.find(root) != eg.find(eg.add_term(b * c))
    # a positive argument: the guard holds, the right-hand side is looked up and the rule fires
    eg = EGraph()
    root = eg.add_term(rd.exp(rd.exp(a)) * (b * c))
    report = Runner(rewrites("rule exp(x) * y => y if positive(x)")).run(eg)
    assert report.fired and looked_up
    assert eg.find(root) == eg.find(eg.add_term(b * c))


def test_a_guard_read_ahead_adds_nothing_to_the_graph() -> None:
    from rewritediff.engine.guards import GuardNeedsRest, eval_guard
    from rewritediff.engine.matchers import Rest
    from rewritediff.rules.ast import Call as GuardCall

    a, b, c = rd.vector("a"), rd.vector("b"), rd.vector("c")
    eg = EGraph()
    eg.add_term(a * b * c)
    eg.rebuild()
    ids = sorted(eg.term_class[t.uid] for t in (a, b, c))
    guard = GuardCall("positive", (Var("y"),))
    nodes = eg.num_nodes
    eg.probing = True
    try:
        eval_guard(eg, guard, {"y": Rest("mul", (ids[0], ids[2]))})  # a * c is no class: reading it would add it
        raise AssertionError("the read-ahead guard added a rest")
    except GuardNeedsRest:
        pass
    finally:
        eg.probing = False
    assert eg.num_nodes == nodes
    assert eval_guard(eg, guard, {"y": Rest("mul", (ids[0], ids[2]))}) is False  # read in turn: added
    assert eg.num_nodes == nodes + 1


def test_facts_of_nodes_over_the_same_argument_facts_are_computed_once(monkeypatch: object) -> None:
    from rewritediff.engine import analysis

    calls: list = []
    node_dims = analysis.node_dims

    def counted(op: str, *a: object) -> object:
        calls.append(op)
        return node_dims(op, *a)

    monkeypatch.setattr(analysis, "node_dims", counted)  # type: ignore[attr-defined]
    x, y = rd.vector("x"), rd.vector("y")
    eg = EGraph()
    eg.add_term(y)  # (first: every product's arguments come in the same order, y's class first)
    for f in (rd.exp, rd.sin, rd.cos):
        eg.add_term(f(x) * y)  # three products whose arguments have y's and x's dims
    assert calls.count("mul") == 1
    # and the facts are the ones computed directly
    for f in (rd.exp, rd.sin):
        data = eg.data(eg.add_term(f(x) * y))
        assert data.dims == node_dims("mul", (), [eg.data(eg.add_term(y)).dims, eg.data(eg.add_term(f(x))).dims], (None,), [None, None])


def test_dim_find_answers_follow_new_unions() -> None:
    # the answers are memoised: a union of dims must be seen by the next read, broadcast tokens included
    eg = EGraph()
    a, b, c = ("d", 1, 0), ("d", 2, 0), ("d", 3, 0)
    both = ("bcast", a, b)
    assert eg.dim_find(both) == both
    assert eg.dim_find(a) == a
    eg.dim_union(a, b)
    assert eg.dim_find(a) == eg.dim_find(b) == eg.dim_find(both)
    eg.dim_union(b, 7)
    assert eg.dim_find(a) == eg.dim_find(both) == 7
    assert eg.dim_find(c) == c


def _root_nodes_tried(terms: list, pattern: Call) -> tuple[int, int]:
    """(root nodes the compiled pattern was tried on, matches) when searching ``pattern`` in a graph of ``terms``."""
    from rewritediff.engine.matchers import compile_pattern

    eg = EGraph()
    for t in terms:
        eg.add_term(t)
    eg.rebuild()
    m = Matcher(eg)
    compiled = compile_pattern(pattern, eg.nary)
    node = compiled.node
    tried = [0]

    def counted(*a: object) -> object:
        tried[0] += 1
        return node(*a)

    compiled.node = counted
    try:
        found = m.search(pattern, 10**6)
    finally:
        compiled.node = node
    return tried[0], len(found)


def test_roots_are_filtered_by_the_shape_and_literals_of_argument_patterns() -> None:
    # products that use a difference (of no quotients) and no constant 1: a pattern asking for a
    # difference of quotients, or for a factor 1, has no root to try; with one there, it is found
    from rewritediff.rules.ast import Num
    from rewritediff.terms import apply, constant

    x, y, z, w = (rd.vector(n) for n in "xyzw")
    products = [x * (y - z) * rd.vector(f"v{i}") for i in range(20)]
    a, b, c, d = (Var(n) for n in "abcd")
    diff_of_quotients = Call("mul", (a, Call("sub", (Call("true_div", (b, a)), Call("true_div", (c, d))))))
    times_one = Call("mul", (a, Num(1)))
    assert _root_nodes_tried(products, diff_of_quotients) == (0, 0)
    assert _root_nodes_tried(products, times_one) == (0, 0)
    tried, found = _root_nodes_tried([*products, x * (y / x - z / w)], diff_of_quotients)
    assert tried == 1 and found == 1
    tried, found = _root_nodes_tried([*products, apply("mul", x * y, constant(1.0))], times_one)
    assert tried == 1 and found >= 1
