"""A cheap, linear pre-pass for graphs too large to saturate: one bottom-up term rewrite.

Each term is rebuilt over its rewritten arguments; an op whose arguments are all constants is
folded with its ``OpDef.impl`` (when the result is small), and the identity constants of the
canonical n-ary ``add`` (0) and ``mul`` (1) are dropped when that keeps the static type. A
rebuilt term whose type would change keeps its original form. Explicit stack, no recursion.
"""

from __future__ import annotations

import numpy as np

from rewritediff.engine.analysis import BUILD_ERRORS, fold
from rewritediff.ops import CONST_OP, get_op
from rewritediff.ops.infer import shape_keys
from rewritediff.terms import Term, apply, constant, toposort


def _is_identity(t: Term, value: int) -> bool:
    if t.op != CONST_OP:
        return False
    v = t.value
    return v.size > 0 and bool(np.all(v == value))


def prepass(terms: list[Term]) -> list[Term]:
    """``terms`` with constants folded, n-ary identities dropped (``OpDef.unit``) and provable
    no-ops removed (``OpDef.same_shape_noop``: ``sum_to``, ``broadcast_like`` ... of an argument
    that the lowering's sound shape keys show already has the shape), in one bottom-up pass."""
    order = toposort(terms)
    keys = shape_keys(order)
    new: dict[int, Term] = {}
    for t in order:
        if not t.args:
            new[t.uid] = t
            continue
        args = [new[a.uid] for a in t.args]
        out = t
        opdef = get_op(t.op)
        if opdef.same_shape_noop and not t.attr("batch", 0) and keys.get(t.args[0].uid) == keys.get(t.args[opdef.shape_from].uid) and args[0].dtype == t.dtype:
            new[t.uid] = args[0]  # g already has x's shape: summing or broadcasting to it is the identity
            continue
        if all(a.op == CONST_OP for a in args):
            v = fold(t.op, t.attrs, [a.value for a in args], t.type)
            if v is not None:
                c = constant(v, t.type.dtype)
                if c.type == t.type:
                    new[t.uid] = c
                    continue
        ident = opdef.unit
        if ident is not None:
            kept = [a for a in args if not _is_identity(a, ident)]
            if kept and len(kept) < len(args):
                try:
                    cand = kept[0] if len(kept) == 1 else apply(t.op, *kept)
                except BUILD_ERRORS:  # dropping the unit changes the type: keep the full form
                    cand = None
                if cand is not None and cand.type == t.type:
                    new[t.uid] = cand
                    continue
        if any(a is not b for a, b in zip(args, t.args)):
            try:
                cand = apply(t.op, *args, **dict(t.attrs))
                if cand.type == t.type:
                    out = cand
            except BUILD_ERRORS:  # the rebuilt arguments do not fit: keep the original sub-term
                out = t
        new[t.uid] = out
    return [new[t.uid] for t in terms]
