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
class NoBatchRule(Exception):
    """An op on the path has no batching rule (the caller falls back to one sweep per row)."""


def _lift_rank(xb: Term, rank: int) -> Term:
    """A batched term ``(n, *s)`` given ``rank`` unbatched dims by inserting length-1 dims after the batch axis."""
    missing = rank - (xb.ndim - 1)
    if missing <= 0:
        return xb
    return apply("dimshuffle", xb, pattern=(0,) + ("x",) * missing + tuple(range(1, xb.ndim)))


def _batch_elementwise(node: Term, args: list[Term], flags: list[bool], n: int) -> Term:
    lifted = [_lift_rank(a, node.ndim) if f else a for a, f in zip(args, flags)]
    return apply(node.op, *lifted, **node.attr_dict)


def _shift_axis(axis: Any, ndim: int) -> Any:
    if axis is None:
        return tuple(range(1, ndim + 1))
    if isinstance(axis, int):
        return axis + 1
    return tuple(a + 1 for a in axis)


def _batch_reduction(node: Term, args: list[Term], flags: list[bool], n: int) -> Term:
    attrs = node.attr_dict
    if node.op in ("argmax", "argmin") and attrs["axis"] is None:
        raise NoBatchRule(node.op)
    attrs["axis"] = _shift_axis(attrs["axis"], node.args[0].ndim)
    return apply(node.op, args[0], **attrs)


def _batch_dimshuffle(node: Term, args: list[Term], flags: list[bool], n: int) -> Term:
    pattern = (0,) + tuple("x" if p == "x" else p + 1 for p in node.attr("pattern"))
    return apply("dimshuffle", args[0], pattern=pattern)


def _batch_reshape(node: Term, args: list[Term], flags: list[bool], n: Any) -> Term:
    if any(flags[1:]):
        raise NoBatchRule("reshape with batched dims")
    if isinstance(n, int):
        return apply("reshape", args[0], *node.args[1:], shape=(n, *node.attr("shape")))
    return apply("reshape", args[0], n, *node.args[1:], shape=(None, *node.attr("shape")))


def _batch_like(node: Term, args: list[Term], flags: list[bool], n: int) -> Term:
    if flags[1:] and any(flags[1:]):
        raise NoBatchRule(node.op)
    return apply(node.op, args[0], *node.args[1:], **node.attr_dict) if len(args) > 1 else apply(node.op, args[0], **node.attr_dict)


def _batch_dot(node: Term, args: list[Term], flags: list[bool], n: int) -> Term:
    a0, b0 = node.args
    a, b = args
    if a0.ndim == 0 or b0.ndim == 0:
        return _dot_scalar(node, args, flags)
    fa, fb = flags
    # no matmul with a 1-D argument comes out (it has no derivative rule): a vector is a matrix
    # of one column (or row), or the product is a plain matrix-vector dot
    if fa and not fb:
        if a0.ndim == 1:
            return apply("dot", a, b)  # (n, k) . (k,) or (k, m)
        if b0.ndim == 1:
            return _drop_trailing(apply("matmul", a, apply("dimshuffle", b, pattern=(0, "x"))), 2)
        return apply("matmul", a, b)
    if fb and not fa:
        if b0.ndim == 1:
            return apply("matmul", b, apply("dimshuffle", a, pattern=(1, 0))) if a0.ndim == 2 else apply("dot", b, a)
        if a0.ndim == 1:
            return apply("dimshuffle", apply("matmul", apply("dimshuffle", a, pattern=("x", 0)), b), pattern=(0, 2))
        return apply("matmul", a, b)
    if b0.ndim == 1:
        col = apply("dimshuffle", b, pattern=(0, 1, "x"))
        lhs = a if a0.ndim == 2 else apply("dimshuffle", a, pattern=(0, "x", 1))
        return _drop_trailing(apply("matmul", lhs, col), a0.ndim)
    if a0.ndim == 1:
        row = apply("matmul", apply("dimshuffle", a, pattern=(0, "x", 1)), b)
        return apply("dimshuffle", row, pattern=(0, 2))
    return apply("matmul", a, b)


def _drop_trailing(prod: Term, a_ndim: int) -> Term:
    """(n, p, 1) -> (n, p) for a 2-D a; (n, 1, 1) -> (n,) for a 1-D a."""
    return apply("dimshuffle", prod, pattern=(0, 1) if a_ndim == 2 else (0,))


def _dot_scalar(node: Term, args: list[Term], flags: list[bool]) -> Term:
    lifted = [_lift_rank(a, node.ndim) if f else a for a, f in zip(args, flags)]
    return apply("mul", *lifted)


def _batch_matmul(node: Term, args: list[Term], flags: list[bool], n: int) -> Term:
    if any(a.ndim < 2 for a in node.args):
        raise NoBatchRule("matmul with a 1-D argument")
    lifted = [_lift_rank(a, o.ndim) if f else a for a, o, f in zip(args, node.args, flags)]
    return apply("matmul", *lifted)


def _batch_ref_op(node: Term, args: list[Term], flags: list[bool], n: int) -> Term:
    """``op(g, x){batch}`` ops whose second argument only gives a shape: one more kept dim of g."""
    if flags[1]:
        raise NoBatchRule(f"{node.op} with a batched reference")
    attrs = node.attr_dict
    attrs["batch"] = attrs.get("batch", 0) + 1
    return apply(node.op, args[0], args[1], **attrs)


def _batch_specify_shape(node: Term, args: list[Term], flags: list[bool], n: Any) -> Term:
    if any(flags[1:]):
        raise NoBatchRule("specify_shape with batched lengths")
    return apply(
        "specify_shape", args[0], *args[1:], shape=(n if isinstance(n, int) else None, *node.attr("shape")), sym=tuple(a + 1 for a in node.attr("sym", ()))
    )


def _full_slice_first(idx: tuple) -> tuple:
    """``idx`` with a leading ``:`` for the batch axis (refused when numpy would move index-array dims first)."""
    adv = [i for i, e in enumerate(idx) if e[0] in ("adv", "mask")]
    if any(e[0] == "mask" for e in idx):
        raise NoBatchRule("subtensor with a boolean mask")
    if adv:
        block = [i for i, e in enumerate(idx) if e[0] in ("adv", "int")]
        if block != list(range(block[0], block[-1] + 1)):
            raise NoBatchRule("subtensor with separated index arrays")
    return (("slice", None, None, None), *idx)


def _batch_subtensor(node: Term, args: list[Term], flags: list[bool], n: Any) -> Term:
    if any(flags[1:]):
        raise NoBatchRule("subtensor with batched index arrays")
    return apply("subtensor", args[0], *args[1:], idx=_full_slice_first(node.attr("idx")))


def _batch_set_subtensor(node: Term, args: list[Term], flags: list[bool], n: Any) -> Term:
    """set/inc_subtensor(x, y): both get the batch axis; y's missing dims are inserted after it (numpy broadcasts y from the right)."""
    if any(flags[2:]):
        raise NoBatchRule(f"{node.op} with batched index arrays")
    x = args[0] if flags[0] else _broadcast_batch(args[0], n)
    y = args[1] if flags[1] else _broadcast_batch(args[1], n)
    target = apply("subtensor", node.args[0], *node.args[2:], idx=node.attr("idx")).ndim
    missing = target - node.args[1].ndim
    if missing > 0:
        y = apply("dimshuffle", y, pattern=(0,) + ("x",) * missing + tuple(range(1, y.ndim)))
    return apply(node.op, x, y, *args[2:], idx=_full_slice_first(node.attr("idx")))


def _batch_join(node: Term, args: list[Term], flags: list[bool], n: Any) -> Term:
    parts = [a if f else _broadcast_batch(a, n) for a, f in zip(args, flags)]
    axis = node.attr("axis")
    return apply(node.op, *parts, axis=axis + 1 if axis >= 0 else axis)


def _batch_tile(node: Term, args: list[Term], flags: list[bool], n: Any) -> Term:
    reps = tuple(node.attr("reps"))
    if len(reps) > node.args[0].ndim:
        raise NoBatchRule("tile with more reps than dims")
    return apply("tile", args[0], reps=(1,) * (node.args[0].ndim + 1 - len(reps)) + reps)


def _batch_repeat(node: Term, args: list[Term], flags: list[bool], n: Any) -> Term:
    axis = node.attr("axis")
    if axis is None:
        raise NoBatchRule("repeat of a flattened array")
    return apply("repeat", args[0], repeats=node.attr("repeats"), axis=axis + 1 if axis >= 0 else axis)


def _batch_einsum(node: Term, args: list[Term], flags: list[bool], n: Any) -> Term:
    """A new subscript letter for the batch axis, on the batched operands and the output."""
    lhs, out = node.attr("subscripts").split("->")
    letter = next(c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in lhs)
    ops = [letter + s if f else s for s, f in zip(lhs.split(","), flags)]
    return apply("einsum", *args, subscripts=f"{','.join(ops)}->{letter}{out}")


def _batch_matrix_op(node: Term, args: list[Term], flags: list[bool], n: Any) -> Term:
    """Ops acting on the last two axes (``phi``): the batch axis passes through."""
    return apply(node.op, args[0], **node.attr_dict)


def _batch_check(node: Term, args: list[Term], flags: list[bool], n: Any) -> Term:
    """A shape assertion already made on the unbatched value: the batched value passes unchanged."""
    if any(flags[1:]):
        raise NoBatchRule(f"{node.op} with a batched reference")
    return args[0]


_BATCH_BY_OP = {
    "subtensor": _batch_subtensor,
    "set_subtensor": _batch_set_subtensor,
    "inc_subtensor": _batch_set_subtensor,
    "join": _batch_join,
    "stack": _batch_join,
    "tile": _batch_tile,
    "repeat": _batch_repeat,
    "einsum": _batch_einsum,
    "phi": _batch_matrix_op,
    "tril": _batch_matrix_op,
    "triu": _batch_matrix_op,
    "specify_shape_like": _batch_check,
    "specify_shape": _batch_specify_shape,
    "sum_to": _batch_ref_op,
    "broadcast_like": _batch_ref_op,
    "expand_like": _batch_ref_op,
    "reshape_like": _batch_ref_op,
    "dimshuffle": _batch_dimshuffle,
    "reshape": _batch_reshape,
    "zeros_like": _batch_like,
    "ones_like": _batch_like,
    "dot": _batch_dot,
    "matmul": _batch_matmul,
}
# the softmax family reduces over its axis as a reduction does: the batch shifts the axes
_BATCH_BY_OP.update(dict.fromkeys(("softmax", "log_softmax", "logsumexp"), _batch_reduction))


def _batch_scan(node: Term, args: list[Term], flags: list[bool], n: Any) -> Term:
    """A loop on a batch: one loop over the vectorized body (``rewritediff/scan.py``)."""
    from rewritediff.scan import batch_scan

    return batch_scan(node, args, flags, n)


_BATCH_BY_OP["scan"] = _batch_scan


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
        rule = _BATCH_BY_OP.get(node.op)
        if rule is None and opdef.elementwise:
            rule = _batch_elementwise
        if rule is None:
            rule = _batch_reduction if opdef.reduction else opdef.batch
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


def _broadcast_batch(t: Term, n: Any) -> Term:
    """``t`` repeated along a new leading axis of length n (static or a run-time length)."""
    shape = t.static_shape
    if isinstance(n, int) and None not in shape:
        return apply("broadcast_to", t, shape=(n, *shape))
    lengths = [] if isinstance(n, int) else [n]
    for k, d in enumerate(shape):
        if d is None:
            lengths.append(apply("shape_i", t, i=k))
    return apply("alloc", t, *lengths, shape=(n if isinstance(n, int) else None, *shape))


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
