"""Simplification by equality saturation: the one entry point the rest of the package uses.

``simplify_terms(terms)`` (called by ``rd.function``) and the public ``simplify``,
``count_ops`` and ``explain`` put the terms in an e-graph (:mod:`rewritediff.engine`), run
the ``rewrite``/``equal`` rules of the default rule set (``rules/simplify.rules``,
``rules/stabilize.rules``, ...) under node, iteration and time limits, and extract the
cheapest equivalent terms. Rules only fire when their guards are established, and the result
is never costlier than the input under the cost model (else the input is returned).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rewritediff.engine.egraph import EGraph
from rewritediff.engine.extract import Extractor, dag_cost
from rewritediff.engine.prepass import clear_redexes, flatten_single_use, prepass
from rewritediff.engine.report import RunReport, Step, StopReason
from rewritediff.engine.rewrite import Rewrite, compile_rules
from rewritediff.engine.runner import DEFAULT_ITER_LIMIT, DEFAULT_NODE_LIMIT, DEFAULT_TIME_LIMIT, Runner
from rewritediff.ops import CONST_OP, get_op
from rewritediff.ops.scan import simplify_bodies
from rewritediff.rules import default_rules
from rewritediff.rules.helpers import ATTR_HELPERS
from rewritediff.terms import TensorType, Term, toposort

_compiled: tuple[Any, int, list[Rewrite]] | None = None

SATURATION_LIMIT = 4000  # larger graphs (distinct non-leaf nodes) get the linear pre-pass only


def default_rewrites() -> list[Rewrite]:
    """The compiled ``rewrite``/``equal`` rules of the default rule set (a rule set that fails to load raises)."""
    global _compiled
    rs = default_rules()
    rules = list(rs.rules("rewrite")) + list(rs.rules("equal"))
    rules.sort(key=lambda r: (r.source.file, r.source.line, r.source.col))
    if _compiled is not None and _compiled[0] is rs and _compiled[1] == len(rules):
        return _compiled[2]
    _compiled = (rs, len(rules), compile_rules(rules))
    return _compiled[2]


def finite_only(rws: list[Rewrite]) -> list[Rewrite]:
    """The rewrites that keep NaN and infinite values as they are: those of rules not tagged ``@finite``."""
    return [rw for rw in rws if rw.rule is None or "finite" not in rw.rule.tags]


@dataclass
class Explanation:
    """The simplified result and the rules that fired to produce it (``str()`` reads as a trace)."""

    result: Any
    report: RunReport
    steps: list = field(default_factory=list)
    cost_before: float = 0.0
    cost_after: float = 0.0

    @property
    def rules(self) -> list[str]:
        """``file:line`` of each rule application that the result uses, in order."""
        return [s.rewrite.where for s in self.steps]

    def __str__(self) -> str:
        lines = [f"simplified in {self.report.seconds * 1e3:.1f} ms ({self.report.stop_text}); cost {self.cost_before:.4g} -> {self.cost_after:.4g}"]
        for s in self.steps:
            text = s.rewrite.rule.text.strip() if s.rewrite.rule is not None and s.rewrite.rule.text else s.rewrite.name
            lines.append(f"  [{s.iteration}] {s.rewrite.where}: {text}")
        if not self.steps:
            lines.append("  (no rule changed the result)")
        return "\n".join(lines)


def _run(
    terms: list[Term],
    *,
    iter_limit: int,
    node_limit: int,
    time_limit: float,
    rewrites: list[Rewrite] | None = None,
    finite_math: bool = True,
) -> tuple[list[Term], RunReport, list, float, float]:
    t0 = time.perf_counter()
    todo = [t for t in terms if isinstance(t, Term) and isinstance(t.type, TensorType)]
    if not todo:
        return list(terms), RunReport(stop_reason=StopReason.NOTHING_TO_DO), [], 0.0, 0.0
    order = toposort(todo)
    size = sum(1 for t in order if t.args)
    if size > SATURATION_LIMIT:
        before = dag_cost(todo)
        done = prepass(todo)
        after = dag_cost(done)
        if after > before:
            done = todo
        mapping = {t.uid: b for t, b in zip(todo, done)}
        report = RunReport(
            stop_reason=StopReason.PREPASS_ONLY, stop_detail=f"({size} nodes > {SATURATION_LIMIT})", nodes=size, seconds=time.perf_counter() - t0
        )
        return [mapping.get(t.uid, t) if isinstance(t, Term) else t for t in terms], report, [], before, min(before, after)
    rws = default_rewrites() if rewrites is None else rewrites
    if not finite_math:
        rws = finite_only(rws)
    # the redexes that only delete ops are cleared on the terms first (linear): left to the e-graph,
    # each one doubles the variants of the sums and products above it
    cleared, done = clear_redexes(todo, rws, order)
    if done:
        swap = {t.uid: c for t, c in zip(todo, cleared)}
        terms = [swap.get(t.uid, t) if isinstance(t, Term) else t for t in terms]
        todo = cleared
    eg = EGraph()
    roots = [eg.add_term(t) for t in todo]
    runner = Runner(rws, iter_limit=iter_limit, node_limit=node_limit, time_limit=time_limit, attr_helpers=ATTR_HELPERS)
    report = runner.run(eg, start=t0)
    if done:
        for rw, out in done:
            report.matches[rw.where] = report.matches.get(rw.where, 0) + 1
            report.fired[rw.where] = report.fired.get(rw.where, 0) + 1
        report.steps[:0] = [Step(0, rw, eg.find(eg.term_class[out.uid]) if out.uid in eg.term_class else -1, out) for rw, out in done]
    ex = Extractor(eg)
    ex.run(roots)
    built = ex.build(roots)
    if built is None:
        before = dag_cost(todo)
        return list(terms), report, [], before, before
    before = dag_cost(todo, eg, types=ex.types)
    after = dag_cost(built, eg, ex.built_class, ex.types)
    if after > before:
        if len(todo) > 1:  # one output's worse extraction must not hold back the others
            limits = {"iter_limit": iter_limit, "node_limit": node_limit, "time_limit": time_limit, "rewrites": rewrites, "finite_math": finite_math}
            each = {t.uid: _run([t], **limits)[0][0] for t in todo}
            return [each.get(t.uid, t) if isinstance(t, Term) else t for t in terms], report, [], before, before
        return list(terms), report, [], before, before
    built = flatten_single_use(built)  # a product of a product extraction left nested, when nothing else uses the inner one
    mapping = {t.uid: b for t, b in zip(todo, built)}
    out = [mapping.get(t.uid, t) if isinstance(t, Term) else t for t in terms]
    used = {u.uid for u in toposort(built)}
    steps = [s for s in report.steps if s.term.uid in used]
    report.seconds = time.perf_counter() - t0
    return out, report, steps, before, after


def _flatten(expr_or_list: Any) -> tuple[list[Term], Any]:
    if isinstance(expr_or_list, Term):
        return [expr_or_list], lambda out: out[0]
    if isinstance(expr_or_list, dict):
        keys = list(expr_or_list)
        return [expr_or_list[k] for k in keys], lambda out: dict(zip(keys, out))
    if isinstance(expr_or_list, tuple):
        return list(expr_or_list), tuple
    return list(expr_or_list), list


def simplify(
    expr_or_list: Any,
    *,
    iter_limit: int = DEFAULT_ITER_LIMIT,
    node_limit: int = DEFAULT_NODE_LIMIT,
    time_limit: float = DEFAULT_TIME_LIMIT,
    trace: bool = False,
    finite_math: bool = True,
) -> Any:
    """Simplified equivalents of a term or a list/tuple/dict of terms (same container shape); with ``trace`` an :class:`Explanation`.

    ``finite_math=False`` leaves out the rules tagged ``@finite`` (``x - x => 0``, ``x * 0 => 0``,
    ...), so NaN and infinite inputs give what the unsimplified expression gives.
    """
    terms, rebuild = _flatten(expr_or_list)
    terms = simplify_bodies(terms, lambda ts: simplify_terms(ts, finite_math), finite_math)  # the engine sees into loops
    out, report, steps, c0, c1 = _run(terms, iter_limit=iter_limit, node_limit=node_limit, time_limit=time_limit, finite_math=finite_math)
    result = rebuild(out)
    if trace:
        return Explanation(result, report, steps, c0, c1)
    return result


def explain(expr: Any, **limits: Any) -> Explanation:
    """Simplify ``expr`` and return the rules that fired (each with its ``file:line``) and the result."""
    return simplify(expr, trace=True, **limits)


def count_ops(expr_or_list: Any) -> int:
    """Number of distinct tensor operations in the DAG of a term or a list of terms.

    Leaves are not counted, nor is what depends on lengths and constants alone (lengths read off
    the arguments, ``count``, and arithmetic or constructors on those): ``-1 / X.shape[0]`` and
    ``0.001 * eye(X.shape[1])`` are the run-time spellings of the constants a static shape gives,
    and both count the same.
    """
    terms, _ = _flatten(expr_or_list)
    shape_only: set[int] = set()
    n = 0
    for t in toposort([t for t in terms if isinstance(t, Term)]):
        opdef = get_op(t.op)
        if opdef.leaf and t.op != CONST_OP and not t.args:  # inputs and shared variables
            continue
        if opdef.dim_product is not None or all(a.uid in shape_only for a in t.args):
            shape_only.add(t.uid)
            continue
        n += 1
    return n


def simplify_terms(terms: Sequence[Term], finite_math: bool = True) -> list[Term]:
    """Simplified equivalents of ``terms``; ``finite_math=False`` as in :func:`simplify`.

    An error inside the engine propagates: returning the input would hide the bug (the fallbacks
    that are right, for one rule and one match, are taken inside and listed in the run report).
    """
    terms = simplify_bodies(list(terms), lambda ts: simplify_terms(ts, finite_math), finite_math)  # the engine sees into loops
    out, *_ = _run(list(terms), iter_limit=DEFAULT_ITER_LIMIT, node_limit=DEFAULT_NODE_LIMIT, time_limit=DEFAULT_TIME_LIMIT, finite_math=finite_math)
    return out
