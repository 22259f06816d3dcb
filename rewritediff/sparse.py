"""Sparse matrices, ``rd.sparse`` (PyTensor's ``pytensor.sparse`` names and gradient conventions).

Variables and constants of a sparse type (CSR or CSC, 2-D), lowered to ``scipy.sparse``.
``rd.function`` takes scipy matrices for sparse inputs and returns them for sparse outputs.
The dense operations refuse sparse matrices, except ``rd.dot`` / ``@``, ``.T``, ``*``, ``+``,
``-`` and ``rd.sum``, which go to the operations here (a sum or difference with a dense operand is
dense, as PyTensor's).

Gradients follow PyTensor: ``dot``, ``true_dot``, ``multiply`` and ``sp_sum(sparse_grad=False)``
give the ordinary gradient with respect to a sparse operand (a dense matrix: every entry,
zeros included); ``structured_dot``, ``sp_sum(sparse_grad=True)`` and ``dense_from_sparse``
give a structured one (a sparse matrix on the operand's pattern: only the stored entries
vary). The gradient with respect to a dense operand is dense. Every op has an R-op.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewritediff.errors import RewriteDiffTypeError
from rewritediff.ops.sparse import sparse_dot, sparse_mul
from rewritediff.tensor import as_term
from rewritediff.terms import SparseType, Term, apply, check_dtype, constant, floatX, is_sparse, variable

__all__ = [
    "CSC",
    "CSR",
    "SparseType",
    "as_sparse",
    "as_sparse_variable",
    "csc_from_dense",
    "csc_matrix",
    "csm_data",
    "csr_from_dense",
    "csr_matrix",
    "dense_from_sparse",
    "dot",
    "is_sparse",
    "matrix",
    "mul",
    "multiply",
    "sp_ones_like",
    "sp_sum",
    "sp_zeros_like",
    "structured_dot",
    "todense",
    "transpose",
    "true_dot",
]


def matrix(format: str, name: str | None = None, dtype: Any = None, shape: tuple | None = None) -> Term:
    """A sparse matrix variable of ``format`` ('csr' or 'csc'); dims unknown unless ``shape`` says them."""
    shape = (None, None) if shape is None else tuple(None if d is None else int(d) for d in shape)
    return variable(SparseType(check_dtype(dtype or floatX), shape, format), name)


def csr_matrix(name: str | None = None, dtype: Any = None, shape: tuple | None = None) -> Term:
    """A CSR sparse matrix variable (pass a ``scipy.sparse.csr_matrix`` for it)."""
    return matrix("csr", name, dtype, shape)


def csc_matrix(name: str | None = None, dtype: Any = None, shape: tuple | None = None) -> Term:
    """A CSC sparse matrix variable (pass a ``scipy.sparse.csc_matrix`` for it)."""
    return matrix("csc", name, dtype, shape)


def _parts(format: str, data: Any, indices: Any, indptr: Any, shape: Any) -> Term:
    if not isinstance(shape, tuple | list) or len(shape) != 2:
        raise RewriteDiffTypeError(f"{format.upper()}: shape must be a pair (rows, columns), got {shape!r}")
    dims = [as_term(d) if isinstance(d, Term) else constant(int(d), "int64") for d in shape]
    return apply("sp_from_parts", as_term(data), as_term(indices), as_term(indptr), *dims, format=format)


def CSR(data: Any, indices: Any, indptr: Any, shape: Any) -> Term:  # noqa: N802 - PyTensor's name
    """A CSR matrix from its stored values, column indices and row pointers (terms or arrays); differentiable in ``data``."""
    return _parts("csr", data, indices, indptr, shape)


def CSC(data: Any, indices: Any, indptr: Any, shape: Any) -> Term:  # noqa: N802 - PyTensor's name
    """A CSC matrix from its stored values, row indices and column pointers (terms or arrays); differentiable in ``data``."""
    return _parts("csc", data, indices, indptr, shape)


def as_sparse(x: Any, name: str | None = None) -> Term:
    """A sparse term: a sparse term unchanged, a scipy CSR/CSC matrix as a constant (other scipy formats become CSR)."""
    if isinstance(x, Term):
        if not is_sparse(x):
            raise RewriteDiffTypeError(f"as_sparse: {x!r} is a dense term; use csr_from_dense or csc_from_dense")
        return x
    import scipy.sparse

    if not scipy.sparse.issparse(x):
        raise RewriteDiffTypeError(f"as_sparse: expected a scipy.sparse matrix, got {type(x).__name__}")
    if x.format not in ("csr", "csc"):
        x = x.tocsr()
    t = _parts(x.format, np.asarray(x.data), np.asarray(x.indices), np.asarray(x.indptr), x.shape)
    if name:
        t.name = name
    return t


as_sparse_variable = as_sparse


def _sparse(op: str, x: Any) -> Term:
    if isinstance(x, Term):
        if not is_sparse(x):
            raise RewriteDiffTypeError(f"{op}: expected a sparse matrix, got the dense term {x!r} of type {x.type}")
        return x
    return as_sparse(x)


def dense_from_sparse(x: Any, sparse_grad: bool = True) -> Term:
    """The dense array of a sparse matrix; its gradient is structured (stored entries only) unless ``sparse_grad=False``."""
    return apply("sp_todense", _sparse("dense_from_sparse", x), sparse_grad=bool(sparse_grad))


todense = dense_from_sparse


def csr_from_dense(x: Any) -> Term:
    """The CSR matrix of a dense matrix's nonzero entries (the gradient is dense)."""
    return apply("sp_from_dense", as_term(x), format="csr")


def csc_from_dense(x: Any) -> Term:
    """The CSC matrix of a dense matrix's nonzero entries (the gradient is dense)."""
    return apply("sp_from_dense", as_term(x), format="csc")


def transpose(x: Any) -> Term:
    """The transpose of a sparse matrix (CSR becomes CSC); also ``x.T``."""
    return apply("sp_transpose", _sparse("transpose", x))


def _operand(x: Any) -> Term:
    if isinstance(x, Term):
        return x
    import scipy.sparse

    return as_sparse(x) if scipy.sparse.issparse(x) else as_term(x)


def dot(x: Any, y: Any) -> Term:
    """Product with a sparse operand, dense as PyTensor's (sparse x sparse too: ``true_dot`` keeps that one sparse)."""
    x, y = _operand(x), _operand(y)
    if not (is_sparse(x) or is_sparse(y)):
        raise RewriteDiffTypeError(f"sparse.dot: neither {x!r} nor {y!r} is sparse; use rd.dot")
    return sparse_dot(x, y)


def structured_dot(x: Any, y: Any) -> Term:
    """Sparse x dense whose gradient with respect to ``x`` is structured: a sparse matrix on ``x``'s pattern."""
    x, y = _operand(x), _operand(y)
    if not is_sparse(x) or is_sparse(y):
        raise RewriteDiffTypeError(f"structured_dot: expected a sparse matrix times a dense one, got {x.type} and {y.type}")
    return sparse_dot(x, y, structured=True)


def true_dot(x: Any, y: Any, grad_preserves_dense: bool = True) -> Term:
    """Sparse x (sparse or dense matrix) with a sparse result in ``x``'s format (ordinary gradients; dense for a dense ``y``).

    ``grad_preserves_dense`` is PyTensor's flag; only its default (a dense gradient for a dense
    ``y``) is built here.
    """
    if not grad_preserves_dense:
        raise RewriteDiffTypeError("true_dot: grad_preserves_dense=False (a sparse gradient for a dense y) is not supported; the gradient of y is dense")
    x, y = _sparse("true_dot", x), _operand(y)
    if is_sparse(y):
        return apply("sp_spdot", x, y)
    if y.ndim != 2:
        raise RewriteDiffTypeError(f"true_dot: y must be a matrix, got {y.type}")
    return apply("sp_from_dense", apply("sp_dot", x, y), format=x.type.format)


def multiply(x: Any, y: Any) -> Term:
    """Elementwise product of a sparse matrix with a scalar, a dense matrix of its shape or a sparse matrix: sparse, on ``x``'s pattern."""
    x = x if isinstance(x, bool | int | float) else _operand(x)
    y = y if isinstance(y, bool | int | float) else _operand(y)
    if isinstance(x, Term) and is_sparse(x):
        y = as_term(y, x)
    elif isinstance(y, Term) and is_sparse(y):
        x = as_term(x, y)
    else:
        raise RewriteDiffTypeError(f"multiply: neither {x!r} nor {y!r} is sparse; use rd.mul")
    return sparse_mul(x, y)


mul = multiply


def sp_sum(x: Any, axis: int | None = None, sparse_grad: bool = False) -> Term:
    """Sum of a sparse matrix's entries (all, or along axis 0 or 1), dense; ``sparse_grad=True`` gives the structured gradient."""
    if axis not in (None, 0, 1, -1, -2):
        raise RewriteDiffTypeError(f"sp_sum: axis must be None, 0 or 1, got {axis!r}")
    return apply("sp_sum", _sparse("sp_sum", x), axis=axis, sparse_grad=bool(sparse_grad))


def csm_data(x: Any) -> Term:
    """The stored values of a sparse matrix, in storage order (differentiable: the gradient is on the matrix's pattern)."""
    x = _sparse("csm_data", x)
    return apply("sp_values", x, x)


def sp_ones_like(x: Any) -> Term:
    """A sparse matrix of ``x``'s pattern holding ones."""
    x = _sparse("sp_ones_like", x)
    return apply("sp_with_data", x, apply("ones_like", csm_data(x)))


def sp_zeros_like(x: Any) -> Term:
    """A sparse matrix of ``x``'s shape and format with no stored entry."""
    return apply("sp_zeros_like", _sparse("sp_zeros_like", x))
