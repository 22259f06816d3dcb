"""Products: dot, matmul, tensordot, outer, einsum, trace and the diagonal."""

from __future__ import annotations

from typing import Any

from rewritediff.errors import ShapeError
from rewritediff.frontend.shape import flatten
from rewritediff.terms import (
    Term,
    apply,
    as_term,
)


# ---- products ----------------------------------------------------------------------------------
def dot(a: Any, b: Any) -> Term:
    """np.dot for ndim <= 2; higher ndim goes to matmul."""
    a, b = as_term(a), as_term(b)
    if a.ndim > 2 or b.ndim > 2:
        return apply("matmul", a, b)
    return apply("dot", a, b)


def matmul(a: Any, b: Any) -> Term:
    """numpy's matmul (batched); for 1-D and 2-D arguments it is the same product as ``dot``."""
    a, b = as_term(a), as_term(b)
    if 1 <= a.ndim <= 2 and 1 <= b.ndim <= 2:
        return apply("dot", a, b)
    return apply("matmul", a, b)


# ---- more products -------------------------------------------------------------------------------
def tensordot(a: Any, b: Any, axes: Any = 2) -> Term:
    """Sum of products over paired axes: an int n (last n of a, first n of b) or a pair of sequences."""
    return apply("tensordot", as_term(a), as_term(b), axes=axes)


def outer(x: Any, y: Any) -> Term:
    """Outer product of two vectors (other arguments are flattened first, as PyTensor)."""
    x, y = as_term(x), as_term(y)
    return apply("outer", flatten(x) if x.ndim != 1 else x, flatten(y) if y.ndim != 1 else y)


def einsum(subscripts: str, *operands: Any) -> Term:
    """Einstein summation with numpy's subscripts (``"ij,jk->ik"``, implicit form and ``...`` allowed)."""
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    return apply("einsum", *[as_term(o) for o in operands], subscripts=subscripts)


def trace(x: Any, offset: int = 0) -> Term:
    """Sum of the diagonal ``offset`` of a matrix."""
    return apply("trace", as_term(x), offset=offset)


def diag(v: Any, k: int = 0) -> Term:
    """numpy's diag: a vector to a diagonal matrix, a matrix to its diagonal ``k``."""
    return apply("diag", as_term(v), k=k)


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Term:
    """The diagonal ``offset`` of a matrix (only the matrix case, axes 0 and 1, is supported)."""
    x = as_term(x)
    if x.ndim != 2 or (axis1 % 2, axis2 % 2) != (0, 1):
        raise ShapeError(f"diagonal: only the diagonal of a matrix over axes (0, 1) is supported, got ndim {x.ndim} and axes ({axis1}, {axis2})")
    return apply("diag", x, k=offset)
