"""Guards of rewrite rules read on an e-graph: compiled once per guard expression.

A guard reads e-class facts (:data:`rewritediff.engine.analysis.PREDICATES`) and the rule
loader's term predicates on class representatives (:mod:`rewritediff.rules.helpers`). A guard
that cannot be decided for a match gives None, which does not hold.
"""

from __future__ import annotations

from typing import Any

from rewritediff.engine.analysis import PREDICATES, ClassRef
from rewritediff.engine.egraph import EGraph
from rewritediff.engine.matchers import AttrVal, Rest, literal
from rewritediff.errors import BUILD_ERRORS
from rewritediff.rules import helpers as _helpers
from rewritediff.rules.ast import Call, NoneLit, Num, Str, Tuple, Var
from rewritediff.rules.helpers import ARITH as _ARITH
from rewritediff.rules.helpers import COMPARE as _COMPARE
from rewritediff.terms import Constant, apply


def rule_tables() -> tuple[dict, dict]:
    """The rule loader's term predicates and attribute helpers (read late: a rule file may add to them)."""
    return getattr(_helpers, "PREDICATES", {}), getattr(_helpers, "ATTR_HELPERS", {})


class GuardNeedsRest(Exception):
    """Raised while ``eg.probing``: the guard reads a rest of a product the graph does not hold (reading it would add it)."""


def _rest_class(eg: EGraph, v: Rest, name: str) -> ClassRef:
    """While probing: the class adding the rest would give, if the graph holds it (else GuardNeedsRest: adding it is an effect)."""
    try:
        term = apply(v.op, *[eg.rep(c) for c in v.children])
    except BUILD_ERRORS:
        raise GuardNeedsRest(name) from None
    hit = eg.term_class.get(term.uid)
    if hit is None:
        hit = eg.hashcons.get(eg.node_of(term))
        if hit is None:
            raise GuardNeedsRest(name)
    return ClassRef(eg.find(hit))


def _as_term(eg: EGraph, v: Any) -> Any:
    return eg.rep(v) if isinstance(v, ClassRef) else v


def eval_guard(eg: EGraph, expr: Any, s: dict) -> Any:
    """Evaluate a guard on e-class facts (and the loader's term predicates on class representatives); undecidable gives None."""
    return _compiled_guard(expr)(eg, s)


_GUARDS: dict[int, tuple[Any, Any]] = {}


def _compiled_guard(expr: Any) -> Any:
    """The guard ``expr`` compiled into a function ``(eg, s) -> value`` (cached while the expression lives)."""
    hit = _GUARDS.get(id(expr))
    if hit is None or hit[0] is not expr:
        if len(_GUARDS) > 8192:
            _GUARDS.clear()
        hit = _GUARDS[id(expr)] = (expr, _compile_guard(expr))
    return hit[1]


def _compile_guard(expr: Any) -> Any:
    """One guard expression as a closure; the same values as a direct reading (see :func:`eval_guard`)."""
    if isinstance(expr, Var):
        name = expr.name

        def var(eg: EGraph, s: dict) -> Any:
            v = s.get(name)
            if type(v) is int:  # a class id (the common case, first)
                return ClassRef(v if eg.uf[v] == v else eg.find(v))
            if isinstance(v, AttrVal):
                return v.value.value if isinstance(v.value, Constant) else v.value
            if isinstance(v, int) and not isinstance(v, bool):
                return ClassRef(eg.find(v))
            if isinstance(v, Rest):
                if eg.probing:
                    return _rest_class(eg, v, name)
                # the rest of an n-ary node: add it (it is a sound term) so guards see its facts
                try:
                    return ClassRef(eg.find(eg.add_term(apply(v.op, *[eg.rep(c) for c in v.children]))))
                except BUILD_ERRORS as exc:  # an unbuildable rest leaves the guard undecided
                    eg.fallbacks[f"guard undecided ({name}: {type(exc).__name__})"] += 1
                    return None
            return None

        return var
    if isinstance(expr, Num | Str | NoneLit):
        value = literal(expr)
        return lambda eg, s: value
    if isinstance(expr, Tuple):
        items = [_compiled_guard(e) for e in expr.items]
        return lambda eg, s: tuple(f(eg, s) for f in items)
    if not isinstance(expr, Call):
        return lambda eg, s: None
    op = expr.op
    fns = [_compiled_guard(a) for a in expr.args]
    if op == "and":

        def conj(eg: EGraph, s: dict) -> bool:
            for f in fns:
                if f(eg, s) is not True:
                    return False
            return True

        return conj
    if op == "or":

        def disj(eg: EGraph, s: dict) -> bool:
            for f in fns:
                if f(eg, s) is True:
                    return True
            return False

        return disj
    if op == "not":
        f0 = fns[0]

        def negate(eg: EGraph, s: dict) -> Any:
            v = f0(eg, s)
            return None if v is None else not v

        return negate
    if op in _COMPARE:
        cmp = _COMPARE[op]

        def compare(eg: EGraph, s: dict) -> Any:
            args = [f(eg, s) for f in fns]
            if any(a is None for a in args):
                return None
            try:
                return bool(cmp(*[int(a) if isinstance(a, ClassRef) else a for a in args]))
            except TypeError:
                return None

        return compare

    n_args = len(fns)
    f0 = fns[0] if fns else None

    def call(eg: EGraph, s: dict) -> Any:
        args = (f0(eg, s),) if n_args == 1 else [f(eg, s) for f in fns]
        result: Any = None
        try:
            fn = PREDICATES.get(op)
            if fn is not None:
                result = fn(eg, *args)
                if result is True:
                    return result
            preds, helpers = rule_tables()
            if result is not True and (op in preds or op in helpers):
                other = (preds.get(op) or helpers[op])(*[_as_term(eg, a) for a in args])
                result = other if result is None or isinstance(other, bool) and other else result
            elif fn is None and op in _ARITH:
                result = _ARITH[op](*args)
        except BUILD_ERRORS as exc:  # a guard that cannot be decided does not hold
            eg.fallbacks[f"guard undecided ({op}: {type(exc).__name__})"] += 1
            return None
        return result

    return call
