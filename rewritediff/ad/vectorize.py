"""Vectorization: a graph rebuilt on a batch along a new leading axis (each op by its
``OpDef.batch``), and with it whole Jacobians and Hessians as one expression, the rows of an
identity as the batch of cotangents.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rewritediff.ad.lift import float_dtype
from rewritediff.ops import LENGTH_OP, get_op
from rewritediff.ops.batching import NoBatchRule, _batch_elementwise, _batch_reduction, _broadcast_batch
from rewritediff.ops.names import COUNT_OP, EYE_OP, RESHAPE_OP, STACK_OP
from rewritediff.terms import Term, apply, constant, replace, toposort, variable


def vectorize(outputs: Sequence[Term], batched: dict[Term, Term], n: Any) -> list[Term]:
    """Rebuild ``outputs`` with each key of ``batched`` replaced by its value, which has a new leading axis of size n.

    ``n`` is an int, or an int64 scalar term when the batch size is known only at run time.

    Every term that depends on a batched term gets the leading axis too, through the op's
    batching rule (elementwise ops broadcast, reductions shift their axes, products become
    batched matmuls). Raises NoBatchRule when an op on the path has none.
    """

    new: dict[int, Term] = {k.uid: v for k, v in batched.items()}
    is_b: set[int] = set(new)
    for node in toposort(outputs):
        if node.uid in new:
            continue
        if not node.args or not any(a.uid in is_b for a in node.args):
            new[node.uid] = node
            continue
        args = [new[a.uid] for a in node.args]
        flags = [a.uid in is_b for a in node.args]
        opdef = get_op(node.op)
        rule = opdef.batch  # ops/batching.py, or the op's own table
        if rule is None and opdef.elementwise:
            rule = _batch_elementwise
        if rule is None and opdef.reduction:
            rule = _batch_reduction
        if rule is None and opdef.expand is not None:
            rule = _batch_expansion  # a composite op batches as its expansion does
        if rule is None:
            raise NoBatchRule(node.op)
        got = rule(node, args, flags, n)
        if got is None:
            raise NoBatchRule(node.op)
        new[node.uid] = got
        is_b.add(node.uid)
    out = []
    for o in outputs:
        t = new[o.uid]
        if o.uid not in is_b:
            t = _broadcast_batch(t, n)
        out.append(t)
    return out


def _batch_expansion(node: Term, args: list[Term], flags: list[bool], n: Any) -> Term:
    """A composite (``def``) op batched through its expansion (nesting of definitions, not graph depth, bounds the recursion)."""
    body = get_op(node.op).expand(node.args, node.attr_dict)
    return vectorize([body], {a: b for a, b, f in zip(node.args, args, flags) if f}, n)[0]


def batched_jacobian(expression: Term, wrt: list[Term], pullback: Callable[[Term], list[Term]]) -> list[Term]:
    """The Jacobian of ``expression`` with respect to each of ``wrt`` as one tensor expression each.

    One symbolic pullback with a placeholder cotangent, then vectorized along a new leading
    axis with the batch of one-hot cotangents (the rows of ``eye(expression.size)``) as its value: one
    tensor expression of shape ``expression.shape + w.shape`` whatever is known statically, no
    Python loop over rows. Ops without a batching rule fall back to one pullback per row,
    stacked, when the expression's size is static (else the error names the op).
    ``pullback(u)``: the gradients of ``expression`` with respect to ``wrt`` for the cotangent u
    (the gradient API's, with its options).
    """
    out_shape = expression.static_shape
    dtype = float_dtype(expression)
    u = variable(type(expression.type)(dtype, out_shape), "cotangent")
    rows = pullback(u)
    static = None not in out_shape
    n: Any = int(np.prod(out_shape)) if static else apply(COUNT_OP, expression)
    # the engine folds the identity through (eye @ a is a, eye * v a diagonal, ...); its size is
    # read at run time when not static, and the e-graph turns count(expression) into leaf lengths
    eye = apply(EYE_OP, n=n, dtype=dtype) if static else apply(EYE_OP, n, n=None, dtype=dtype, sym=("n",))
    eye = eye if expression.ndim == 1 else _unflatten_rows(eye, expression)
    try:
        batched = vectorize(rows, {u: eye}, n)
    except NoBatchRule as exc:
        if not static:
            raise NoBatchRule(
                f"jacobian: {exc} has no batching rule, and the expression's size is known only at run time (declare its shape, or use one pullback per row)"
            ) from None

        per_row = []
        for i in range(n):
            onehot = constant(np.eye(n, dtype=dtype)[i].reshape(out_shape))
            per_row.append(replace(rows, {u: onehot}))
        batched = [apply(STACK_OP, *[r[j] for r in per_row], axis=0) for j in range(len(wrt))]
    return [_unflatten_batch(b, expression, w) for b, w in zip(batched, wrt)]


def _unflatten_rows(eye: Term, expression: Term) -> Term:
    """Rows of the identity ``(size, size)`` reshaped to ``(size, *expression.shape)``: one-hot cotangents."""
    shape = (eye.static_shape[0], *expression.static_shape)
    if None not in shape:
        return apply(RESHAPE_OP, eye, shape=shape)
    lengths = [apply(COUNT_OP, expression)] if shape[0] is None else []
    lengths += [apply(LENGTH_OP, expression, i=k) for k, d in enumerate(expression.static_shape) if d is None]
    return apply(RESHAPE_OP, eye, *lengths, shape=shape)


def _unflatten_batch(b: Term, expression: Term, w: Term) -> Term:
    """A batch of gradients ``(expression.size, *w.shape)`` reshaped to ``expression.shape + w.shape``."""
    if expression.ndim == 1:
        return b
    target = (*expression.static_shape, *w.static_shape)
    if None not in target:
        return b if b.static_shape == target else apply(RESHAPE_OP, b, shape=target)
    lengths = [apply(LENGTH_OP, expression, i=k) for k, d in enumerate(expression.static_shape) if d is None]
    lengths += [apply(LENGTH_OP, w, i=k) for k, d in enumerate(w.static_shape) if d is None]
    return apply(RESHAPE_OP, b, *lengths, shape=target)
