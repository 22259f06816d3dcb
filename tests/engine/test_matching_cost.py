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
