"""Batching rules: how a term is rebuilt on a batch along a new leading axis (``ad.vectorize``,
which builds whole Jacobians and Hessians as one expression).

Each rule takes (term, its arguments rebuilt, which of them are batched, the batch size: an int
or a run-time length) and returns the batched term, or None (or raises NoBatchRule) when the op
cannot be batched so. The table below sets ``OpDef.batch`` of the ops it names, unless their own
table gave one; elementwise ops and reductions share the two general rules (``batch_elementwise``,
``batch_reduction``) the vectorizer applies to them.
"""

from __future__ import annotations

from typing import Any

from rewritediff.ops.registry import REGISTRY
from rewritediff.terms import Term, apply


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


BATCH_RULES = {
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
BATCH_RULES.update(dict.fromkeys(("softmax", "log_softmax", "logsumexp"), _batch_reduction))


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


def install() -> None:
    """Set ``OpDef.batch`` of the ops named in BATCH_RULES whose table gave none (called once every table is loaded)."""
    for name, rule in BATCH_RULES.items():
        if REGISTRY[name].batch is None:
            REGISTRY[name].batch = rule
