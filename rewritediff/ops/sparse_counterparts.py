"""The dense ops' sparse counterparts (``OpDef.on_sparse``: ``dot``, a transposing ``dimshuffle``,
``mul``, ``add``, ``sub``, ``neg``, ``sum``, ``zeros_like``, ``cast``), and the batching rules of
the sparse ops; ``ops/sparse.py`` installs both tables on the registry.
"""

from __future__ import annotations

from typing import Any

from rewritediff.errors import RewriteDiffTypeError, ShapeError
from rewritediff.ops.infer import fmt_shape
from rewritediff.terms import Term, apply, constant, is_sparse


def as_dense(v: Term) -> Term:
    """``v`` as a dense term (sparse ones through ``sp_todense``)."""
    return apply("sp_todense", v, sparse_grad=False) if is_sparse(v) else v


def dense_like(v: Term, like: Term) -> Term:
    """``v``, made dense when ``like`` is dense (the gradient with respect to a dense argument is dense)."""
    return v if is_sparse(like) else as_dense(v)


# ---- the dense ops' sparse counterparts (OpDef.on_sparse) -------------------------------------------------
def _transpose(x: Term) -> Term:
    return apply("sp_transpose", x) if is_sparse(x) else apply("dimshuffle", x, pattern=(1, 0))


def sparse_dot(a: Term, b: Term, structured: bool = False) -> Term:
    """Products with a sparse operand: dense results, as PyTensor's sparse ``dot`` (``true_dot`` keeps sparse x sparse sparse)."""
    if is_sparse(a) and is_sparse(b):
        return apply("sp_todense", apply("sp_spdot", a, b), sparse_grad=False)
    if is_sparse(a):
        return apply("sp_dot", a, b, structured=structured)
    if not is_sparse(b):
        return apply("dot", a, b)
    if a.ndim == 1:
        return apply("sp_dot", apply("sp_transpose", b), a, structured=structured)
    if a.ndim != 2:
        raise ShapeError(f"sparse dot: the dense argument must be a vector or a matrix, got shape {fmt_shape(a.static_shape)}")
    return apply("dimshuffle", apply("sp_dot", apply("sp_transpose", b), apply("dimshuffle", a, pattern=(1, 0)), structured=structured), pattern=(1, 0))


def _on_dot(args: tuple, attrs: dict) -> Term:
    return sparse_dot(*args)


def _on_dimshuffle(args: tuple, attrs: dict) -> Term:
    pattern = tuple(attrs.get("pattern", ()))
    if pattern == (1, 0):
        return apply("sp_transpose", args[0])
    if pattern == (0, 1):
        return args[0]
    raise RewriteDiffTypeError(f"dimshuffle: a sparse matrix can only be transposed (pattern (1, 0)), got pattern {pattern}")


def sparse_mul(a: Term, b: Term) -> Term:
    """Elementwise product with a sparse operand: the sparse pattern holds the result."""
    if not is_sparse(a):
        a, b = b, a
    return apply("sp_mul", a, b)


def _on_mul(args: tuple, attrs: dict) -> Term:
    if len(args) != 2:
        first, *rest = args
        out = first
        for r in rest:
            out = apply("mul", out, r)
        return out
    return sparse_mul(*args)


def _on_add(args: tuple, attrs: dict) -> Term:
    sparse = [a for a in args if is_sparse(a)]
    dense = [a for a in args if not is_sparse(a)]
    if dense:
        # a dense sum (a dense gradient meeting a structured one): the sparse terms made dense
        return apply("add", *dense, *[as_dense(s) for s in sparse])
    out = sparse[0]
    for s in sparse[1:]:
        out = apply("sp_add", out, s)
    return out


def _minus_one(x: Term) -> Term:
    return constant(-1, x.dtype)


def _on_neg(args: tuple, attrs: dict) -> Term:
    return apply("sp_mul", args[0], _minus_one(args[0]))


def _on_sub(args: tuple, attrs: dict) -> Term:
    a, b = args
    if is_sparse(a) and is_sparse(b):
        return apply("sp_add", a, apply("sp_mul", b, _minus_one(b)))
    return apply("sub", as_dense(a), as_dense(b))  # a dense difference, as PyTensor's


def _on_sum(args: tuple, attrs: dict) -> Term:
    if attrs.get("keepdims"):
        raise RewriteDiffTypeError("sum: keepdims is not supported for a sparse matrix (use rd.sparse.sp_sum)")
    return apply("sp_sum", args[0], axis=attrs.get("axis"), sparse_grad=False)


def _on_cast(args: tuple, attrs: dict) -> Term:
    return apply("sp_cast", args[0], dtype=attrs["dtype"])


def _on_zeros_like(args: tuple, attrs: dict) -> Term:
    return apply("sp_zeros_like", args[0], dtype=attrs.get("dtype"))


# dense op -> its sparse counterpart (OpDef.on_sparse)
ON_SPARSE = {
    "dot": _on_dot,
    "dimshuffle": _on_dimshuffle,
    "mul": _on_mul,
    "add": _on_add,
    "sum": _on_sum,
    "zeros_like": _on_zeros_like,
    "cast": _on_cast,
    "neg": _on_neg,
    "sub": _on_sub,
}


# ---- batching rules (ad.vectorize: Jacobians and Hessians as one expression) ------------------------
# A batch of sparse matrices has no value here, so only the dense arguments may carry the batch axis.
def _batch_sp_dot(node: Term, args: list[Term], flags: list[bool], n: Any) -> Term | None:
    """sparse @ (batch of vectors): the batch as the columns of one sparse-times-dense product."""
    s, y = args
    if flags[0] or node.args[1].ndim != 1:
        return None
    cols = apply("sp_dot", s, apply("dimshuffle", y, pattern=(1, 0)), **node.attr_dict)
    return apply("dimshuffle", cols, pattern=(1, 0))


def _batch_dense_arg(node: Term, args: list[Term], flags: list[bool], n: Any) -> Term | None:
    """Ops whose dense argument 1 may carry leading batch dims (``sp_values``, ``sp_dense_fill``)."""
    if flags[0] or is_sparse(args[1]):
        return None
    return apply(node.op, args[0], args[1], **node.attr_dict)


# sparse op -> its batching rule (OpDef.batch)
BATCH = {"sp_dot": _batch_sp_dot, "sp_values": _batch_dense_arg, "sp_dense_fill": _batch_dense_arg}
