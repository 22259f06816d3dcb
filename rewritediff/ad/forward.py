"""The forward sweep: tangents from JVP rules, transpose rules (linear ops), ``d`` rules and expansions of composite ops."""

from __future__ import annotations

from typing import Any

from rewritediff.ad.lift import cast_to, lift_jvp, linear_jvp
from rewritediff.ad.reverse import _rules, connection
from rewritediff.ops import get_op
from rewritediff.rules.ast import Special
from rewritediff.rules.instantiate import components
from rewritediff.terms import Term, toposort


# ---- pushforward / Rop ----------------------------------------------------------------------------------
def _jvp(term: Term, tangents: list[Term | None]) -> Any:
    """The tangent of ``term`` given its arguments' tangents (None = zero)."""
    rules = _rules()
    got = rules.jvp(term, tangents)
    if got is not None:
        return got
    hit = rules.find("transpose", term)
    if hit is not None:
        rule, _ = hit
        linear = [not (isinstance(c, Special) and c.kind == "disconnected") for c in components(rule, len(term.args))]
        return linear_jvp(term, tangents, linear)
    partials = rules.partials(term)
    if partials is not None:
        return lift_jvp(term, tangents, partials)
    expand = getattr(get_op(term.op), "expand", None)
    if expand is not None:
        body = expand(term.args, term.attr_dict)
        tmap = {a.uid: t for a, t in zip(term.args, tangents) if t is not None}
        return _forward(body, tmap)
    return Special("null", f"op {term.op!r} has no forward derivative (add a jvp, transpose or d rule for {term.op!r} in a .rules file)")


def _forward(root: Term, tangents: dict[int, Term], memo: dict | None = None) -> Any:
    """Forward sweep: the tangent of ``root`` (None for zero) given tangents of some of its ancestors.

    ``memo`` is shared by the sweeps of one pushforward, so the sibling results of one loop
    (``OpDef.pushforward``) get their tangents from one tangent loop.
    """
    memo = {} if memo is None else memo
    tan: dict[int, Any] = {}
    for node in toposort([root]):
        if node.uid in tangents:
            tan[node.uid] = tangents[node.uid]
            continue
        if not node.args:
            continue
        arg_t = [tan.get(a.uid) if c else None for a, c in zip(node.args, connection(node))]
        if any(isinstance(t, Special) for t in arg_t):
            bad = next(t for t in arg_t if isinstance(t, Special))
            if bad.kind == "null":
                tan[node.uid] = bad
                continue
            arg_t = [None if isinstance(t, Special) else t for t in arg_t]
        if all(t is None for t in arg_t):
            continue
        push = get_op(node.op).pushforward
        res = push(node, arg_t, memo) if push is not None else _jvp(node, arg_t)
        if isinstance(res, Special):
            if res.kind == "zero":
                continue
            tan[node.uid] = res
            continue
        if res is None:
            continue
        if node.type.is_float and res.dtype != node.dtype:
            res = cast_to(res, node.dtype)
        tan[node.uid] = res
    return tan.get(root.uid)
