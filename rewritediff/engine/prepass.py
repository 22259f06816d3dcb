"""A cheap, linear pre-pass for graphs too large to saturate: one bottom-up term rewrite.

Each term is rebuilt over its rewritten arguments; an op whose arguments are all constants is
folded with its ``OpDef.impl`` (when the result is small), and the identity constants of the
canonical n-ary ``add`` (0) and ``mul`` (1) are dropped when that keeps the static type. A
rebuilt term whose type would change keeps its original form. Explicit stack, no recursion.
"""

from __future__ import annotations

import numpy as np

from rewritediff.engine.analysis import fold
from rewritediff.terms import Term, apply, constant, toposort

_IDENTITY = {"add": 0, "mul": 1}


def _is_identity(t: Term, value: int) -> bool:
    if t.op != "const":
        return False
    v = t.value
    return v.size > 0 and bool(np.all(v == value))


def prepass(terms: list[Term]) -> list[Term]:
    """``terms`` with constants folded and n-ary identities dropped, in one bottom-up pass."""
    new: dict[int, Term] = {}
    for t in toposort(terms):
        if not t.args:
            new[t.uid] = t
            continue
        args = [new[a.uid] for a in t.args]
        out = t
        if all(a.op == "const" for a in args):
            v = fold(t.op, t.attrs, [a.value for a in args], t.type)
            if v is not None:
                c = constant(v, t.type.dtype)
                if c.type == t.type:
                    new[t.uid] = c
                    continue
        ident = _IDENTITY.get(t.op)
        if ident is not None:
            kept = [a for a in args if not _is_identity(a, ident)]
            if kept and len(kept) < len(args):
                try:
                    cand = kept[0] if len(kept) == 1 else apply(t.op, *kept)
                except Exception:  # noqa: BLE001 - keep the full form
                    cand = None
                if cand is not None and cand.type == t.type:
                    new[t.uid] = cand
                    continue
        if any(a is not b for a, b in zip(args, t.args)):
            try:
                cand = apply(t.op, *args, **dict(t.attrs))
                if cand.type == t.type:
                    out = cand
            except Exception:  # noqa: BLE001 - keep the original sub-term
                out = t
        new[t.uid] = out
    return [new[t.uid] for t in terms]
