"""Right-hand sides of rewrite rules: built as terms for a match, or looked up in the e-graph.

:func:`instantiate` builds a rule's right-hand side under a substitution from
:mod:`rewritediff.engine.ematch` (raising :class:`Unbuildable` when it cannot be built for that
match); :func:`lookup_rhs` finds the class that already holds it without building anything.
"""

from __future__ import annotations

from typing import Any

from rewritediff.engine.egraph import MAX_FLAT, EGraph
from rewritediff.engine.guards import rule_tables
from rewritediff.engine.matchers import AttrVal, Rest, literal
from rewritediff.errors import BUILD_ERRORS
from rewritediff.ops import REGISTRY
from rewritediff.rules.ast import Call, NoneLit, Num, Special, Str, Tuple, Var
from rewritediff.rules.helpers import ARITH as _ARITH
from rewritediff.terms import Constant, Term, apply, as_term
from rewritediff.terms import _freeze as freeze

_MISSING = object()


class Unbuildable(Exception):
    """The right-hand side cannot be built for this match (bad types, unknown helper, ...)."""


def instantiate(eg: EGraph, expr: Any, s: dict, like: Term | None = None, attr_helpers: dict | None = None) -> Term:
    """Build the right-hand side ``expr`` under substitution ``s`` as a term (raises Unbuildable)."""
    if isinstance(expr, Var):
        v = s.get(expr.name, _MISSING)
        if type(v) is int:  # a class (the common case, first)
            return eg.rep(v)
        if isinstance(v, Rest):
            return apply(v.op, *[eg.rep(c) for c in v.children])
        if isinstance(v, int) and not isinstance(v, bool):
            return eg.rep(v)
        raise Unbuildable(f"{expr.name} is not bound to a term")
    if isinstance(expr, Num):
        if isinstance(expr.value, bool) or expr.value is None:
            raise Unbuildable("boolean/None literal as a term")
        return as_term(expr.value, like)
    if isinstance(expr, Special):
        raise Unbuildable("special value")
    if not isinstance(expr, Call):
        raise Unbuildable(f"cannot build {expr!r}")
    built: list[Term | None] = [None if isinstance(a, Num) else instantiate(eg, a, s, None, attr_helpers) for a in expr.args]
    ref = next((b for b in built if b is not None), like)
    args = [b if b is not None else instantiate(eg, a, s, ref, attr_helpers) for a, b in zip(expr.args, built)]
    attrs = {name: _attr_value(eg, e, s, attr_helpers) for name, e in expr.attrs}
    try:
        return apply(expr.op, *args, **attrs)
    except BUILD_ERRORS as exc:  # a right-hand side that does not type-check is not used
        raise Unbuildable(str(exc)) from exc


def lookup_rhs(eg: EGraph, expr: Any, s: dict, like: Term | None = None, attr_helpers: dict | None = None) -> int | None:
    """The class that already holds the right-hand side ``expr`` under ``s``, or None (then build it with :func:`instantiate`).

    Mirrors :func:`instantiate` without creating terms: each sub-expression is looked up in the
    hash-cons by its arguments' classes (attributes normalised as ``apply`` does, n-ary arguments
    flattened as :meth:`EGraph.node_of` does). Most matches of a saturating rule rewrite to what
    the class already holds; this finds that cheaply.
    """
    term = _lookup_term(eg, expr, s, like, attr_helpers)
    if term is None:
        return None
    cid = eg.term_class.get(term.uid) if isinstance(term, Term) else term
    return None if cid is None else eg.find(cid)


def _lookup_term(eg: EGraph, expr: Any, s: dict, like: Term | None, helpers: dict | None) -> Term | int | None:
    """A term (for literals and bound classes' representatives) or a class id for ``expr``; None if absent."""
    if isinstance(expr, Var):
        v = s.get(expr.name, _MISSING)
        if type(v) is int:  # a class (the common case, first)
            return eg.rep(v)
        if isinstance(v, Rest):
            return _lookup_node(eg, v.op, {}, [eg.rep(c) for c in v.children])
        if isinstance(v, int) and not isinstance(v, bool):
            return eg.rep(v)
        return None
    if isinstance(expr, Num):
        if isinstance(expr.value, bool) or expr.value is None:
            return None
        try:
            return as_term(expr.value, like)
        except BUILD_ERRORS:  # not a constant we can make: no lookup (instantiate says why)
            return None
    if not isinstance(expr, Call):
        return None
    # every non-literal argument first (all of them, in order), then the literals typed like the first
    terms: list[Any] = []
    missing = nums = False
    for a in expr.args:
        if isinstance(a, Num):
            terms.append(None)
            nums = True
            continue
        b = _lookup_term(eg, a, s, None, helpers)
        if b is None:
            missing = True
        elif type(b) is int:
            b = eg.rep(b)
        terms.append(b)
    if missing:
        return None
    if nums:
        ref = next((t for t in terms if t is not None), like)
        args = [t if t is not None else _lookup_term(eg, a, s, ref, helpers) for a, t in zip(expr.args, terms)]
        if any(a is None for a in args):
            return None
    else:
        args = terms
    try:
        attrs = {name: _attr_value(eg, e, s, helpers) for name, e in expr.attrs}
    except Unbuildable:
        return None
    return _lookup_node(eg, expr.op, attrs, args)


def _uid(t: Term) -> int:
    return t.uid


def _lookup_node(eg: EGraph, op: str, attrs: dict, args: list) -> Term | int | None:
    """The class of ``op(args){attrs}`` if the graph holds that node (None otherwise)."""
    opdef = REGISTRY.get(op)
    if opdef is None:
        return None
    tc = eg.term_class
    for a in args:
        if not isinstance(a, Term) or a.uid not in tc:
            return None
    if not attrs and not opdef.attrs and opdef.prepare is None:
        # what canonicalize would give: no attributes; the arguments as they are (sorted by uid for an n-ary op)
        if not opdef.nary:
            if not opdef.arity_ok(len(args)):
                return None
            hit = eg.hashcons.get(eg.canon((op, (), tuple([tc[a.uid] for a in args]))))
            return None if hit is None else eg.find(hit)
        if len(args) == 1:
            return args[0]
        cargs = sorted(args, key=_uid)
        if not opdef.arity_ok(len(cargs)):
            return None
        frozen: tuple = ()
    else:
        try:
            canon = opdef.canonicalize(tuple(args), attrs)
        except BUILD_ERRORS:  # the builder would reject it too (instantiate says why)
            return None
        if isinstance(canon, Term):
            return canon
        cargs, full = canon
        frozen = tuple(sorted((k, freeze(v)) for k, v in full.items()))
    if op in eg.nary:
        ch: list[int] = []
        stack = list(reversed(cargs))
        while stack:
            a = stack.pop()
            if a.op == op and len(ch) + len(stack) + len(a.args) <= MAX_FLAT:
                stack.extend(reversed(a.args))
            else:
                c = tc.get(a.uid)
                if c is None:
                    return None
                ch.append(c)
        node = (op, frozen, tuple(ch))
    else:
        node = (op, frozen, tuple(tc[a.uid] for a in cargs))
    hit = eg.hashcons.get(eg.canon(node))
    return None if hit is None else eg.find(hit)


def _attr_value(eg: EGraph, expr: Any, s: dict, helpers: dict | None) -> Any:
    if isinstance(expr, Var):
        v = s.get(expr.name, _MISSING)
        if isinstance(v, int) and not isinstance(v, bool):
            return eg.rep(v)
        if not isinstance(v, AttrVal):
            raise Unbuildable(f"attribute {expr.name} is not bound")
        return v.value.value if isinstance(v.value, Constant) else v.value
    if isinstance(expr, Num | Str | NoneLit):
        return literal(expr)
    if isinstance(expr, Tuple):
        return tuple(_attr_value(eg, e, s, helpers) for e in expr.items)
    if isinstance(expr, Call):
        fn = (helpers or {}).get(expr.op) or rule_tables()[0].get(expr.op) or _ARITH.get(expr.op)
        if fn is None:
            raise Unbuildable(f"unknown attribute helper {expr.op!r}")
        try:
            return fn(*[_attr_value(eg, a, s, helpers) for a in expr.args])
        except Unbuildable:
            raise
        except BUILD_ERRORS as exc:  # an attribute helper that does not apply to these values
            raise Unbuildable(str(exc)) from exc
    raise Unbuildable(f"cannot evaluate attribute {expr!r}")
