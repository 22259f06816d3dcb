"""Turning scalar knowledge into tensor terms.

An elementwise op's ``d`` rules give one scalar partial per argument. Reverse mode lifts
them to ``sum_to(g * partial, arg)`` (summed back over the axes the argument was broadcast
along); forward mode to ``sum_i tangent_i * partial_i``, broadcast to the output's shape.
A linear op's JVP is the op itself applied to the tangents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewritediff.ops import get_op
from rewritediff.ops.batching import NoBatchRule, _batch_elementwise, _batch_reduction, _broadcast_batch
from rewritediff.rules.ast import Special
from rewritediff.terms import Term, apply, constant, floatX, replace, toposort, variable


def float_dtype(term: Term) -> str:
    """The dtype a gradient of ``term`` carries (its own if float, floatX otherwise)."""

    return term.dtype if term.type.is_float else floatX


def cast_to(x: Term, dtype: str) -> Term:
    """``x`` cast to ``dtype`` unless it already has it."""
    return x if x.dtype == dtype else apply("cast", x, dtype=dtype)


def zeros_for(x: Term) -> Term:
    """A float zero gradient shaped like ``x``."""
    return apply("zeros_like", x, dtype=float_dtype(x))


def _same_static_shape(a: Term, b: Term) -> bool:
    return a.static_shape == b.static_shape and None not in a.static_shape


def sum_to_like(value: Term, like: Term) -> Term:
    """``value`` summed back over the axes ``like`` was broadcast along (no-op when provably equal)."""
    return value if _same_static_shape(value, like) else apply("sum_to", value, like)


def broadcast_to_like(value: Term, like: Term) -> Term:
    """``value`` broadcast up to the shape of ``like`` (no-op when provably equal)."""
    return value if _same_static_shape(value, like) else apply("broadcast_like", value, like)


def aligned(arg: Term, term: Term) -> bool:
    """An elementwise op's argument has the op's shape, by the broadcasting contract.

    Only a dim declared 1 broadcasts (the compiled function checks the rest equal on entry), so an
    argument of the op's rank that is 1 only where the op's result is 1 has the result's shape,
    whatever is known statically: its adjoint needs no ``sum_to``, its tangent no ``broadcast_like``.
    """
    return arg.ndim == term.ndim and all(a != 1 or o == 1 for a, o in zip(arg.static_shape, term.static_shape))


def lift_vjp(term: Term, g: Term, partials: Sequence[Any]) -> list[Any]:
    """Adjoints of an elementwise op's arguments from its scalar partials."""
    out: list[Any] = []
    for arg, p in zip(term.args, partials):
        if isinstance(p, Special):
            out.append(p)
            continue
        value = apply("mul", g, p) if not _is_one(p) else g
        if aligned(arg, term) and value.dtype == arg.dtype:
            # the contract says the shapes are equal; where that is not static, say so in the graph
            # (the compiled function checks it on entry, the engine drops the assertion)
            out.append(value if _same_static_shape(value, arg) else apply("specify_shape_like", value, arg))
        else:
            out.append(sum_to_like(value, arg))
    return out


def lift_jvp(term: Term, tangents: Sequence[Term | None], partials: Sequence[Any]) -> Term | None:
    """The JVP of an elementwise op from its scalar partials (None when every tangent is zero)."""
    parts = []
    full = False  # some part has the op's shape already
    for arg, t, p in zip(term.args, tangents, partials):
        if t is None or isinstance(p, Special):
            continue
        parts.append(t if _is_one(p) else apply("mul", t, p))
        full = full or (aligned(arg, term) and parts[-1].ndim == term.ndim)
    if not parts:
        return None
    total = parts[0] if len(parts) == 1 else apply("add", *parts)
    return total if full and total.dtype == term.dtype else broadcast_to_like(total, term)


def _is_one(p: Term) -> bool:
    return p.op == "const" and p.ndim == 0 and p.value == 1


def linear_jvp(term: Term, tangents: Sequence[Term | None], linear_args: Sequence[bool]) -> Term | None:
    """JVP of an op linear in ``linear_args``: the op applied to the tangents (zeros where a tangent is zero)."""
    if all(t is None for t, lin in zip(tangents, linear_args) if lin):
        return None
    args = []
    for arg, t, lin in zip(term.args, tangents, linear_args):
        if not lin:
            args.append(arg)
        elif t is None:
            args.append(zeros_for(arg))
        else:
            args.append(cast_to(t, arg.dtype) if arg.type.is_float else t)
    return apply(term.op, *args, **term.attr_dict)


# ---- batching: a sweep along a new leading axis -----------------------------------------------------------
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


def batched_jacobian(expression: Term, wrt: list[Term], consider_constant: Any, disconnected_inputs: str) -> list[Term]:
    """The Jacobian of ``expression`` with respect to each of ``wrt`` as one tensor expression each.

    One symbolic pullback with a placeholder cotangent, then vectorized along a new leading
    axis with the batch of one-hot cotangents (the rows of ``eye(expression.size)``) as its value: one
    tensor expression of shape ``expression.shape + w.shape`` whatever is known statically, no
    Python loop over rows. Ops without a batching rule fall back to one pullback per row,
    stacked, when the expression's size is static (else the error names the op).
    """
    import numpy as np

    from rewritediff.gradient import pullback

    out_shape = expression.static_shape
    dtype = float_dtype(expression)
    u = variable(type(expression.type)(dtype, out_shape), "cotangent")
    rows = pullback(expression, wrt, u, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
    static = None not in out_shape
    n: Any = int(np.prod(out_shape)) if static else apply("count", expression)
    # the engine folds the identity through (eye @ a is a, eye * v a diagonal, ...); its size is
    # read at run time when not static, and the e-graph turns count(expression) into leaf lengths
    eye = apply("eye", n=n, dtype=dtype) if static else apply("eye", n, n=None, dtype=dtype, sym=("n",))
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
        batched = [apply("stack", *[r[j] for r in per_row], axis=0) for j in range(len(wrt))]
    return [_unflatten_batch(b, expression, w) for b, w in zip(batched, wrt)]


def _unflatten_rows(eye: Term, expression: Term) -> Term:
    """Rows of the identity ``(size, size)`` reshaped to ``(size, *expression.shape)``: one-hot cotangents."""
    shape = (eye.static_shape[0], *expression.static_shape)
    if None not in shape:
        return apply("reshape", eye, shape=shape)
    lengths = [apply("count", expression)] if shape[0] is None else []
    lengths += [apply("shape_i", expression, i=k) for k, d in enumerate(expression.static_shape) if d is None]
    return apply("reshape", eye, *lengths, shape=shape)


def _unflatten_batch(b: Term, expression: Term, w: Term) -> Term:
    """A batch of gradients ``(expression.size, *w.shape)`` reshaped to ``expression.shape + w.shape``."""
    if expression.ndim == 1:
        return b
    target = (*expression.static_shape, *w.static_shape)
    if None not in target:
        return b if b.static_shape == target else apply("reshape", b, shape=target)
    lengths = [apply("shape_i", expression, i=k) for k, d in enumerate(expression.static_shape) if d is None]
    lengths += [apply("shape_i", w, i=k) for k, d in enumerate(w.static_shape) if d is None]
    return apply("reshape", b, *lengths, shape=target)
