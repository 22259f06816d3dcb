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
from typing import Any

import numpy as np

from rewritediff.engine.analysis import fold
from rewritediff.engine.egraph import MAX_FLAT
from rewritediff.engine.rewrite import Rewrite
from rewritediff.errors import BUILD_ERRORS
from rewritediff.ops import CONST_OP, get_op
from rewritediff.ops.infer import shape_keys
from rewritediff.rules.ast import Call, Num, Var
from rewritediff.rules.helpers import eval_guard
from rewritediff.rules.instantiate import match
from rewritediff.terms import TensorType, Term, apply, constant, toposort


def _is_identity(t: Term, value: int) -> bool:
    if t.op != CONST_OP:
        return False
    v = t.value
    return v.size > 0 and bool(np.all(v == value))


def _rebuilt(t: Term, args: list[Term]) -> Term:
    """``t`` over the rewritten ``args`` (the same term when none changed, or when they no longer fit its op or type)."""
    if len(args) == len(t.args) and all(a is b for a, b in zip(args, t.args)):
        return t
    try:
        cand = args[0] if len(args) == 1 and get_op(t.op).nary else apply(t.op, *args, **dict(t.attrs))
    except BUILD_ERRORS:  # the rewritten arguments do not fit: keep the original sub-term
        return t
    return cand if cand.type == t.type else t


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
        if opdef.unit is not None:
            kept = [a for a in args if not _is_identity(a, opdef.unit)]
            if kept and len(kept) < len(args):
                cand = _rebuilt(t, kept)  # t itself when dropping the unit changes the type
                if cand is not t:
                    new[t.uid] = cand
                    continue
        new[t.uid] = _rebuilt(t, args)
    return [new[t.uid] for t in terms]


def deleting(rewrites: list[Rewrite]) -> dict[str, list[tuple[Counter, Rewrite]]]:
    """The rewrites whose right-hand side is a variable of the left-hand side (they only remove ops), by root op, in order.

    Each comes with the ops its pattern's arguments must have (a literal needs a constant): a
    cheap test before matching. Stabilizations are left to the e-graph, which marks the forms
    they replace for extraction.
    """
    out: dict[str, list[tuple[Counter, Rewrite]]] = {}
    for rw in rewrites:
        if (isinstance(rw.rhs, Var) or _unit_product(rw.rhs)) and not rw.stabilizes:
            need = Counter(a.op if isinstance(a, Call) else CONST_OP for a in rw.lhs.args if isinstance(a, Call | Num))
            out.setdefault(rw.lhs.op, []).append((need, rw))
    return out


def _unit_product(rhs: Any) -> bool:
    """True for a right-hand side that is an n-ary op (one with a unit) over pattern variables: ``c * x``."""
    return isinstance(rhs, Call) and not rhs.attrs and all(isinstance(a, Var) for a in rhs.args) and get_op(rhs.op).unit is not None


def _without_units(rhs: Call, env: dict) -> Term | None:
    """The one argument of ``rhs`` (an n-ary op over variables, see :func:`_unit_product`) left when the others are 0-d units, else None: such a rewrite then deletes ops."""
    unit = get_op(rhs.op).unit
    args = [env.get(a.name) for a in rhs.args]
    kept = [a for a in args if not (isinstance(a, Term) and a.type.shape == () and _is_identity(a, unit))]
    return kept[0] if len(kept) == 1 and isinstance(kept[0], Term) else None


def cancelling(rewrites: list[Rewrite]) -> dict[str, tuple[str, Rewrite]]:
    """For an n-ary op, the unary op that the rules both factor out of it and cancel in pairs, with the factoring rewrite.

    Read off two rule shapes: ``(-x) * y => -(x * y)`` (the unary op comes out of the n-ary one,
    guard-free) and ``-(-x) => x`` (it is its own inverse). Together they say a product with
    two negated factors is the product of the factors, which the e-graph reaches only through
    a variant of the product per factoring.
    """
    involutions = set()
    for rw in rewrites:
        lhs = rw.lhs
        if rw.guard is None and isinstance(rw.rhs, Var) and len(lhs.args) == 1 and not lhs.attrs:
            inner = lhs.args[0]
            if isinstance(inner, Call) and inner.op == lhs.op and not inner.attrs and inner.args == (rw.rhs,):
                involutions.add(lhs.op)
    out: dict[str, tuple[str, Rewrite]] = {}
    for rw in rewrites:
        lhs, rhs = rw.lhs, rw.rhs
        if rw.guard is not None or rw.stabilizes or not isinstance(rhs, Call) or len(lhs.args) != 2 or lhs.attrs or rhs.attrs:
            continue
        first, y = lhs.args
        if not (isinstance(first, Call) and len(first.args) == 1 and not first.attrs and isinstance(first.args[0], Var) and isinstance(y, Var)):
            continue
        x = first.args[0]
        if first.op in involutions and get_op(lhs.op).nary and rhs == Call(first.op, (Call(lhs.op, (x, y)),)):
            out.setdefault(lhs.op, (first.op, rw))
    return out


# the rewrites last given to clear_redexes, their length, and the two indexes of them (the rule set's
# list is the same object from run to run: its indexes are read once)
_INDEX: list = [None, -1, {}, {}]


def clear_redexes(terms: list[Term], rewrites: list[Rewrite], order: list[Term] | None = None) -> tuple[list[Term], list[tuple[Rewrite, Term]]]:
    """``terms`` with the op-deleting rewrites among ``rewrites`` applied bottom-up, and the (rewrite, result) of each application.

    A term is rebuilt over its rewritten arguments, then the first deleting rewrite of its op
    whose pattern matches it, whose guard holds on the terms (the rule helpers' predicates:
    static shapes, constants, signs) and whose result has exactly the term's type replaces it by
    the bound sub-term. That sub-term was rewritten before (bottom-up), so one pass reaches the
    fixpoint: linear in the graph. A float product (or other n-ary op, see :func:`cancelling`)
    whose factors, through the nested products nothing else uses, include pairs of negations is
    rebuilt as one product without them. Every result is the input with ops removed, never costlier.
    ``order`` is ``toposort(terms)`` when the caller has it.
    """
    if _INDEX[0] is not rewrites or _INDEX[1] != len(rewrites):
        _INDEX[:] = [rewrites, len(rewrites), deleting(rewrites), cancelling(rewrites)]
    by_op, cancel = _INDEX[2], _INDEX[3]
    if order is None:
        order = toposort(terms)
    uses: Counter = Counter(a.uid for t in order for a in t.args)
    for t in terms:
        uses[t.uid] += 1
    new: dict[int, Term] = {}
    done: list[tuple[Rewrite, Term]] = []
    for t in order:
        if not t.args:
            new[t.uid] = t
            continue
        cur = _rebuilt(t, [new[a.uid] for a in t.args])
        if cur.op in cancel:
            cur = _cancel_pairs(cur, t, cancel[cur.op], uses, done)
        have: Counter | None = None
        for need, rw in by_op.get(cur.op, ()):
            if need:
                if have is None:
                    have = Counter(a.op for a in cur.args)
                if any(have[op] < n for op, n in need.items()):
                    continue
            env = match(rw.lhs, cur, {})
            if env is None:
                continue
            out = env.get(rw.rhs.name) if isinstance(rw.rhs, Var) else _without_units(rw.rhs, env)
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


def _cancel_pairs(cur: Term, orig: Term, how: tuple[str, Rewrite], uses: Counter, done: list) -> Term:
    """``cur`` (the rewrite of ``orig``) as one n-ary term with its negated factors cancelled in pairs, or ``cur`` when there are fewer than two."""
    unary, rw = how
    if not (isinstance(cur.type, TensorType) and cur.type.is_float):
        return cur
    # the factors: through the arguments of the same op that only this term uses (in the input graph)
    factors: list[Term] = []
    stack = list(reversed(list(zip(orig.args, cur.args)))) if len(orig.args) == len(cur.args) else [(None, a) for a in reversed(cur.args)]
    while stack:
        o, a = stack.pop()
        fits = len(factors) + len(stack) + len(a.args) <= MAX_FLAT
        if a.op == cur.op and o is not None and uses[o.uid] == 1 and a.attrs == cur.attrs and a.type.dtype == cur.type.dtype and fits:
            pairs = list(zip(o.args, a.args)) if o.op == a.op and len(o.args) == len(a.args) else [(None, b) for b in a.args]
            stack.extend(reversed(pairs))
        else:
            factors.append(a)
    negated = [k for k, f in enumerate(factors) if f.op == unary and not f.attrs and len(f.args) == 1]
    strip = set(negated[: len(negated) // 2 * 2])
    kept = [f.args[0] if k in strip else f for k, f in enumerate(factors)]
    folded = _fold_scalars(kept, cur.type.dtype, get_op(cur.op))
    if not strip and folded is None:
        return cur
    cand = _rebuilt(cur, folded or kept)
    if cand is cur:  # the factors do not combine without their signs: keep the term
        return cur
    done.extend((rw, cand) for _ in range(len(strip) // 2))
    return cand


def _fold_scalars(flat: list[Term], dtype: str, opdef: Any) -> list[Term] | None:
    """The arguments ``flat`` of an n-ary op with their 0-d constants of ``dtype`` folded into one and a 0-d identity dropped (as the e-graph's n-ary form has them), or None when nothing changes."""
    out = flat
    scalars = [a for a in flat if a.op == CONST_OP and a.type.shape == () and a.type.dtype == dtype]
    if len(scalars) >= 2 and opdef.ufunc is not None:
        with np.errstate(all="ignore"):
            v = getattr(np, opdef.ufunc).reduce([a.value for a in scalars], dtype=dtype)
        if np.isfinite(v):
            drop = {a.uid for a in scalars}
            out = [a for a in flat if a.uid not in drop] + [constant(np.asarray(v, dtype=dtype), dtype)]
    if opdef.unit is not None and len(out) > 1:
        kept = [a for a in out if not _is_identity(a, opdef.unit) or a.type.shape != ()]
        if kept and len(kept) < len(out):
            out = kept
    return None if out is flat else out


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
        if opdef.nary and isinstance(t.type, TensorType) and t.type.is_float:
            flat: list[Term] = []
            for k, (a, b) in enumerate(zip(t.args, args)):
                fits = len(flat) + len(b.args) + len(args) - k - 1 <= MAX_FLAT  # as the e-graph flattens (numpy's limit on a ufunc's arguments)
                if b.op == t.op and uses[a.uid] == 1 and b.type.dtype == t.type.dtype and b.attrs == t.attrs and fits:
                    flat.extend(b.args)
                else:
                    flat.append(b)
            args = _fold_scalars(flat, t.type.dtype, opdef) or flat
        new[t.uid] = _rebuilt(t, args)
    return [new[t.uid] for t in terms]
