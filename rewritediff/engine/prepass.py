"""Cheap, linear passes over terms: one bottom-up rewrite each, no e-graph.

:func:`prepass`, for graphs too large to saturate: each term is rebuilt over its rewritten
arguments; an op whose arguments are all constants is folded with its ``OpDef.impl`` (when the
result is small), and the identity constants of the canonical n-ary ``add`` (0) and ``mul`` (1)
are dropped when that keeps the static type. A rebuilt term whose type would change keeps its
original form.

:func:`clear_redexes`, before every saturation: the rewrites that only delete ops (their
right-hand side is one of the left-hand side's variables: ``x * 1 => x``, the gradient's seed
``expand_like(1.0, cost) => 1.0``), applied where their guard holds on the terms themselves.
A raw gradient is full of such redexes, and each one left to the e-graph multiplies the variants
of every product above it. Explicit stacks, no recursion.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from rewritediff.engine.analysis import BUILD_ERRORS, fold
from rewritediff.engine.rewrite import Rewrite
from rewritediff.ops import CONST_OP, get_op
from rewritediff.ops.infer import shape_keys
from rewritediff.rules.ast import Var
from rewritediff.rules.helpers import eval_guard
from rewritediff.rules.instantiate import match
from rewritediff.terms import TensorType, Term, apply, constant, toposort


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


def deleting(rewrites: list[Rewrite]) -> dict[str, list[Rewrite]]:
    """The rewrites whose right-hand side is a variable of the left-hand side (they only remove ops), by root op, in order.

    Stabilizations are left to the e-graph, which marks the forms they replace for extraction.
    """
    out: dict[str, list[Rewrite]] = {}
    for rw in rewrites:
        if isinstance(rw.rhs, Var) and not rw.stabilizes:
            out.setdefault(rw.lhs.op, []).append(rw)
    return out


def clear_redexes(terms: list[Term], rewrites: list[Rewrite]) -> tuple[list[Term], list[tuple[Rewrite, Term]]]:
    """``terms`` with the op-deleting rewrites among ``rewrites`` applied bottom-up, and the (rewrite, result) of each application.

    A term is rebuilt over its rewritten arguments, then the first deleting rewrite of its op
    whose pattern matches it, whose guard holds on the terms (the rule helpers' predicates:
    static shapes, constants, signs) and whose result has exactly the term's type replaces it by
    the bound sub-term. That sub-term was rewritten before (bottom-up), so one pass reaches the
    fixpoint: linear in the graph. Every result is the input with ops removed, never costlier.
    """
    by_op = deleting(rewrites)
    new: dict[int, Term] = {}
    done: list[tuple[Rewrite, Term]] = []
    for t in toposort(terms):
        if not t.args:
            new[t.uid] = t
            continue
        cur = t
        args = [new[a.uid] for a in t.args]
        if any(a is not b for a, b in zip(args, t.args)):
            try:
                cand = apply(t.op, *args, **dict(t.attrs))
                if cand.type == t.type:
                    cur = cand
            except BUILD_ERRORS:  # the rewritten arguments do not fit: keep the original sub-term
                pass
        for rw in by_op.get(cur.op, ()):
            env = match(rw.lhs, cur, {})
            if env is None:
                continue
            out = env.get(rw.rhs.name)
            if not isinstance(out, Term) or not isinstance(out.type, TensorType) or out.type != cur.type:
                continue
            try:
                held = eval_guard(rw.guard, env)
            except (*BUILD_ERRORS, KeyError):  # a guard that cannot be read on terms does not hold
                held = False
            if held:
                cur = out
                done.append((rw, out))
                break
        new[t.uid] = cur
    return [new[t.uid] for t in terms], done


def count_cleared(done: list[tuple[Rewrite, Term]]) -> Counter:
    """How many times each rewrite (by ``file:line``) applied in :func:`clear_redexes`."""
    return Counter(rw.where for rw, _ in done)


def flatten_single_use(terms: list[Term]) -> list[Term]:
    """``terms`` with each float sum or product argument of the same op that nothing else uses spliced into its user, and the 0-d constants of the result folded.

    Extraction picks one node per class: a product class whose cheapest node multiplies another
    product class gives ``a * (b * c)``, two operations where ``a * b * c`` is one. Splicing an
    argument used once in the extracted graph duplicates no work; reassociating float sums and
    products changes nothing but rounding (the e-graph does it too). Never adds an operation.
    """
    order = toposort(terms)
    uses: Counter = Counter(a.uid for t in order for a in t.args)
    for t in terms:
        uses[t.uid] += 1  # an output is used outside
    new: dict[int, Term] = {}
    for t in order:
        if not t.args:
            new[t.uid] = t
            continue
        args = [new[a.uid] for a in t.args]
        opdef = get_op(t.op)
        changed = any(a is not b for a, b in zip(args, t.args))
        if opdef.nary and isinstance(t.type, TensorType) and t.type.is_float:
            flat: list[Term] = []
            for a, b in zip(t.args, args):
                if b.op == t.op and uses[a.uid] == 1 and b.type.dtype == t.type.dtype and b.attrs == t.attrs:
                    flat.extend(b.args)
                    changed = True
                else:
                    flat.append(b)
            scalars = [a for a in flat if a.op == CONST_OP and a.type.shape == () and a.type.dtype == t.type.dtype]
            if len(scalars) >= 2 and opdef.ufunc is not None:
                with np.errstate(all="ignore"):
                    v = getattr(np, opdef.ufunc).reduce([a.value for a in scalars], dtype=t.type.dtype)
                if np.isfinite(v):
                    drop = {a.uid for a in scalars}
                    flat = [a for a in flat if a.uid not in drop] + [constant(np.asarray(v, dtype=t.type.dtype), t.type.dtype)]
                    changed = True
            if opdef.unit is not None and len(flat) > 1:
                kept = [a for a in flat if not _is_identity(a, opdef.unit) or a.type.shape != ()]
                if kept and len(kept) < len(flat):
                    flat, changed = kept, True
            args = flat
        out = t
        if changed:
            try:
                cand = args[0] if len(args) == 1 else apply(t.op, *args, **dict(t.attrs))
                if cand.type == t.type:
                    out = cand
            except BUILD_ERRORS:  # the spliced arguments do not fit: keep the original sub-term
                out = t
        new[t.uid] = out
    return [new[t.uid] for t in terms]
