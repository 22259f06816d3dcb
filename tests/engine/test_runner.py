"""The saturation loop: rules fire, the back-off scheduler bans explosive rules, limits stop the run."""

from __future__ import annotations

import time

import numpy as np

import rewritediff as rd
from rewritediff.engine.egraph import EGraph
from rewritediff.engine.extract import Extractor
from rewritediff.engine.report import StopReason
from rewritediff.engine.runner import Runner
from rewritediff.engine.simplify import SATURATION_LIMIT, default_rewrites

from .helpers import evaluate, rewrites


def _run(term: rd.Term, rws: list, **kw: object) -> tuple[EGraph, int, object]:
    eg = EGraph()
    root = eg.add_term(term)
    report = Runner(rws, **kw).run(eg)
    return eg, root, report


def test_rules_fire_and_saturate() -> None:
    x = rd.vector("x")
    eg, root, report = _run(rd.log(rd.exp(x * 1.0)), rewrites("rule x * 1 => x\nrule log(exp(x)) => x"))
    assert report.stop_reason == "saturated"
    assert eg.find(root) == eg.find(eg.add_term(x))
    assert report.fired == {"<test>:1": 1, "<test>:2": 1}


def test_guard_blocks_unsound_rewrite() -> None:
    x = rd.vector("x")
    rws = rewrites("rule exp(log(x)) => x if positive(x)")
    eg, root, _ = _run(rd.exp(rd.log(x)), rws)
    assert eg.find(root) != eg.find(eg.add_term(x))
    eg, root, _ = _run(rd.exp(rd.log(rd.exp(x))), rws)
    assert eg.find(root) == eg.find(eg.add_term(rd.exp(x)))


def test_type_changing_rewrite_is_refused() -> None:
    x = rd.tensor("x", shape=(1,))
    ones = rd.constant(np.ones(3))
    eg, root, report = _run(x * ones, rewrites("rule x * 1 => x"))
    assert eg.find(root) != eg.find(eg.add_term(x))  # x * ones(3) has shape (3,), x has (1,)
    assert report.fired == {}


def test_backoff_bans_explosive_rule_and_others_still_fire() -> None:
    xs = [rd.scalar(f"x{i}") for i in range(12)]
    term = rd.add(*[rd.exp(v) for v in xs]) * 1.0
    rws = rewrites("rule x + y => y + x + 0\nrule x * 1 => x")
    eg, root, report = _run(term, rws, match_limit=5, ban_length=2, time_limit=5.0, iter_limit=8)
    assert report.bans.get("<test>:1", 0) >= 1
    assert report.fired.get("<test>:2") == 1
    sums = eg.add_term(rd.add(*[rd.exp(v) for v in xs]))
    assert eg.find(root) == eg.find(sums)


def test_time_limit_on_adversarial_sum_returns_correct_term() -> None:
    xs = [rd.scalar(f"x{i}") for i in range(40)]
    term = rd.add(*[v * 1.0 + rd.sin(v) * rd.cos(v) for v in xs])
    vals = {v: np.float64(i / 7) for i, v in enumerate(xs)}
    text = "\n".join(
        [
            "rule x * y + x * z => x * (y + z)",
            "rule x * (y + z) => x * y + x * z",
            "rule x + y => x + y + 0",
            "rule x * y => x * y * 1",
            "rule x * 1 => x",
        ]
    )
    rws = rewrites(text)
    t0 = time.perf_counter()
    eg = EGraph()
    root = eg.add_term(term)
    report = Runner(rws, time_limit=0.2, node_limit=100_000, iter_limit=1000).run(eg)
    elapsed = time.perf_counter() - t0
    assert report.stop_reason in ("time limit", "node limit", "saturated")
    assert elapsed < 1.0
    ex = Extractor(eg)
    ex.run([root])
    (out,) = ex.build([root])
    np.testing.assert_allclose(evaluate(out, vals), evaluate(term, vals))


def test_node_and_iteration_limits() -> None:
    xs = [rd.scalar(f"x{i}") for i in range(8)]
    term = rd.add(*xs)
    rws = rewrites("rule x + y => x + y + 0\nrule x + 0 => x")
    _, _, report = _run(term, rws, node_limit=50, time_limit=5.0)
    assert report.stop_reason == "node limit"
    _, _, report = _run(term, rws, iter_limit=2, time_limit=5.0)
    assert report.stop_reason in ("iteration limit", "saturated") and report.iterations <= 2
    assert "stopped:" in str(report)


def test_default_rules_compile() -> None:
    rws = default_rewrites()
    assert len(rws) > 40
    assert any(rw.stabilizes for rw in rws)


class _CountingRunner(Runner):
    """A runner that records each match it applies as (rule, class, bindings' classes)."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.applied: list[tuple] = []

    def _apply(self, eg: EGraph, rw: object, cid: int, node: tuple, s: dict, it: int, report: object) -> int:  # type: ignore[override]
        self.applied.append((rw.name, eg.find(cid), tuple(sorted((k, eg.find(v)) for k, v in s.items() if type(v) is int))))  # type: ignore[attr-defined]
        return super()._apply(eg, rw, cid, node, s, it, report)  # type: ignore[arg-type]


def test_a_match_applied_once_is_not_applied_again() -> None:
    # exp(x) gains a node in every iteration, so the class of exp(x) * 1 is searched again each time and
    # finds the same match of x * 1; once applied (or found already present) it is not applied again
    x = rd.vector("x")
    rws = rewrites("rule x * 1 => x\nrule exp(x) => exp(x * 1)")
    eg = EGraph()
    root = eg.add_term(rd.exp(x) * 1.0)
    runner = _CountingRunner(rws, iter_limit=4, pre_iters=0, time_limit=5.0)
    report = runner.run(eg)
    assert report.iterations >= 2
    assert len(runner.applied) == len(set(runner.applied))
    assert eg.find(root) == eg.find(eg.add_term(rd.exp(x)))


def test_stop_reasons_are_enum_members_that_read_as_before() -> None:
    x = rd.vector("x")
    _, _, report = _run(rd.log(rd.exp(x)), rewrites("rule log(exp(x)) => x"))
    assert report.stop_reason is StopReason.SATURATED
    assert str(report).startswith("stopped: saturated after ")
    assert rd.explain([]).report.stop_reason is StopReason.NOTHING_TO_DO


def test_pre_pass_report_names_the_graph_size() -> None:
    x = rd.vector("x")
    term = x
    for i in range(SATURATION_LIMIT + 10):
        term = term + float(i)
    exp = rd.explain(term)
    assert exp.report.stop_reason is StopReason.PREPASS_ONLY
    assert f"(pre-pass only ({SATURATION_LIMIT + 10} nodes > {SATURATION_LIMIT}))" in str(exp)


def test_a_rule_whose_root_op_is_in_no_changed_class_is_not_searched_again() -> None:
    from rewritediff.engine import ematch

    x, y = rd.vector("x"), rd.vector("y")
    # log(exp(.)) changes the graph each iteration (a chain of them); sqrt is in no changed class after the first
    term = rd.log(rd.exp(rd.log(rd.exp(rd.log(rd.exp(x)))))) + rd.sqrt(y)
    rws = rewrites("rule log(exp(x)) => x\nrule sqrt(sqrt(x)) => x")
    searched: list[str] = []
    real = ematch.Matcher.search

    def spy(self, lhs, *args, **kw):  # type: ignore[no-untyped-def]
        searched.append(lhs.op)
        return real(self, lhs, *args, **kw)

    ematch.Matcher.search = spy  # type: ignore[method-assign]
    try:
        eg, root, report = _run(term, rws, pre_iters=0)
    finally:
        ematch.Matcher.search = real  # type: ignore[method-assign]
    assert report.fired == {"<test>:1": 3}
    assert searched.count("sqrt") == 1  # its first, full search only
    assert searched.count("log") >= 2


def test_a_pair_inside_a_longer_sum_is_factored_whatever_the_nesting() -> None:
    # a * b + a * c + d is built as (a * b + a * c) + d; the e-graph flattens it to one sum of three,
    # whose class the inner sum's factoring must still reach through the context match
    a, b, c, d = (rd.vector(n) for n in "abcd")
    for term in (a * b + a * c + d, d + a * b + a * c):
        s = rd.simplify(term)
        products = [t for t in rd.terms.toposort([s]) if t.op == "mul"]
        assert len(products) == 1, rd.pprint(s)  # d + a * (b + c): one product where there were two
        vals = {v: np.linspace(-1.0, 1.0, 4) * (k + 1) for k, v in enumerate((a, b, c, d))}
        f = rd.function([a, b, c, d], s)
        av, bv, cv, dv = vals.values()
        np.testing.assert_allclose(f(av, bv, cv, dv), av * bv + av * cv + dv, rtol=1e-12)
