"""The run-time side of the sparse ops: their numpy/scipy implementations on ``csr_matrix`` /
``csc_matrix`` values, and the check of a sparse call argument.

Ops whose result keeps an argument's pattern share its index arrays (they never write into them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewritediff.errors import CallError, ShapeError
from rewritediff.terms import Term


def _sp() -> Any:
    import scipy.sparse

    return scipy.sparse


# ---- runtime helpers --------------------------------------------------------------------------------
def _make(fmt: str, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple) -> Any:
    """A scipy matrix of ``fmt`` on the given arrays (no copy, no format check beyond scipy's own)."""
    cls = _sp().csr_matrix if fmt == "csr" else _sp().csc_matrix
    return cls((data, indices, indptr), shape=tuple(int(d) for d in shape), copy=False)


def _fmt(s: Any) -> str:
    return s.format


def _rows_cols(s: Any) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every stored entry of a CSR/CSC matrix, in storage order."""
    major = np.repeat(np.arange(len(s.indptr) - 1, dtype=s.indices.dtype), np.diff(s.indptr))
    return (major, s.indices) if _fmt(s) == "csr" else (s.indices, major)


def _with_data(s: Any, data: np.ndarray) -> Any:
    """``s``'s pattern holding ``data``."""
    return _make(_fmt(s), np.asarray(data), s.indices, s.indptr, s.shape)


def _values_at(s: Any, g: Any) -> np.ndarray:
    """The entries of ``g`` (dense or sparse) at the stored positions of ``s``, in ``s``'s order."""
    if _sp().issparse(g):
        if g.shape != s.shape:
            raise ShapeError(f"sparse: shapes {s.shape} and {g.shape} differ")
        if g.format == s.format and g.indptr is s.indptr and g.indices is s.indices:
            return g.data  # g is on s's very pattern (a structured gradient): its values, in s's order
        rows, cols = _rows_cols(s)
        return np.asarray(g.tocsr()[rows, cols]).ravel()
    rows, cols = _rows_cols(s)
    g = np.asarray(g)
    if g.ndim == 0:
        return np.full(len(rows), g)
    if g.shape[-2:] != s.shape:
        raise ShapeError(f"sparse: shapes {s.shape} and {g.shape} differ")
    return g[..., rows, cols]  # leading dims of a dense g: a batch (a Jacobian's rows)


def impl_from_parts(data: Any, indices: Any, indptr: Any, n0: Any, n1: Any, format: str = "csr") -> Any:
    """CSR/CSC from stored values, indices and index pointers (scipy checks them)."""
    cls = _sp().csr_matrix if format == "csr" else _sp().csc_matrix
    return cls((np.asarray(data), np.asarray(indices), np.asarray(indptr)), shape=(int(n0), int(n1)))


def impl_todense(s: Any, sparse_grad: bool = True) -> np.ndarray:
    """The dense array of a sparse matrix."""
    return s.toarray()


def impl_from_dense(x: Any, format: str = "csr") -> Any:
    """The sparse matrix of a dense one (its nonzero entries stored)."""
    return (_sp().csr_matrix if format == "csr" else _sp().csc_matrix)(np.asarray(x))


def impl_transpose(s: Any) -> Any:
    """The transpose: CSR becomes CSC on the same arrays and back."""
    return s.T


def impl_dot(s: Any, y: Any, structured: bool = False) -> np.ndarray:
    """Sparse times dense (a vector or a matrix): a dense result."""
    out = s @ np.asarray(y)
    return np.asarray(out)


def impl_spdot(a: Any, b: Any) -> Any:
    """Sparse times sparse: a sparse result in ``a``'s format."""
    out = a @ b
    return out.tocsr() if _fmt(a) == "csr" else out.tocsc()


def impl_mul(s: Any, y: Any) -> Any:
    """Elementwise product of a sparse matrix with a scalar, a row vector, a dense matrix or a sparse matrix, on ``s``'s pattern."""
    if _sp().issparse(y) or np.ndim(y) == 2:
        return _with_data(s, s.data * _values_at(s, y))
    y = np.asarray(y)
    if y.ndim == 1:  # a row broadcast down the columns (PyTensor's mul_s_v)
        return _with_data(s, s.data * y[_rows_cols(s)[1]])
    return _with_data(s, s.data * y)


def impl_add(a: Any, b: Any) -> Any:
    """Sum of two sparse matrices, in ``a``'s format."""
    out = a + b
    return out.tocsr() if _fmt(a) == "csr" else out.tocsc()


def impl_sum(s: Any, axis: Any = None, sparse_grad: bool = False) -> np.ndarray:
    """Sum of all entries (axis None) or along an axis: a dense result."""
    if axis is None:
        return np.asarray(s.sum(), dtype=s.dtype)
    return np.asarray(s.sum(axis=axis[0]), dtype=s.dtype).ravel()


def impl_zeros_like(s: Any, dtype: Any = None) -> Any:
    """A sparse matrix of ``s``'s shape and format with no stored entry."""
    dt = np.dtype(dtype) if dtype is not None else s.dtype
    return (_sp().csr_matrix if _fmt(s) == "csr" else _sp().csc_matrix)(s.shape, dtype=dt)


def impl_values(s: Any, g: Any) -> np.ndarray:
    """The entries of ``g`` at ``s``'s stored positions (a vector of ``s.nnz``)."""
    return _values_at(s, g)


def impl_with_data(s: Any, d: Any) -> Any:
    """``s``'s sparsity pattern with the values ``d``."""
    return _with_data(s, d)


def impl_sampled_dot(s: Any, a: Any, b: Any) -> Any:
    """``a @ b.T`` (``outer(a, b)`` for vectors) computed only at ``s``'s stored positions: a sparse result on ``s``'s pattern."""
    rows, cols = _rows_cols(s)
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 1:
        return _with_data(s, a[rows] * b[cols])
    return _with_data(s, np.einsum("ij,ij->i", a[rows], b[cols]))


def impl_fill(s: Any, g: Any, axis: Any = None) -> Any:
    """``s``'s pattern holding ``g`` broadcast back over the axes a ``sp_sum`` removed (the structured gradient of the sum)."""
    g = np.asarray(g)
    if axis is None:
        return _with_data(s, np.full(s.nnz, g))
    rows, cols = _rows_cols(s)
    return _with_data(s, g[cols] if axis == (0,) else g[rows])


def impl_dense_fill(s: Any, g: Any, axis: Any = None) -> np.ndarray:
    """A dense array of ``s``'s shape holding ``g`` broadcast back over the axes a ``sp_sum`` removed."""
    g = np.asarray(g)
    batch = g.shape[: g.ndim - (0 if axis is None else 1)]  # leading dims: a batch (a Jacobian's rows)
    if axis is None:
        g = g[..., None, None]
    else:
        g = g[..., None, :] if axis == (0,) else g[..., :, None]
    return np.array(np.broadcast_to(g, batch + tuple(s.shape)))


def check_sparse_arg(value: Any, var: Term, pos: int, allow_downcast: bool | None = None) -> Any:
    """Validate a call argument for a sparse input: a scipy matrix of the input's format, dtype and static shape."""
    ttype = var.type
    if not _sp().issparse(value):
        raise CallError(f"argument {pos} ({var!r}): expected a scipy.sparse {ttype.format} matrix (type {ttype}), got {type(value).__name__}")
    if value.format != ttype.format:
        raise CallError(f"argument {pos} ({var!r}): expected a {ttype.format} matrix (type {ttype}), got {value.format}; convert it with .to{ttype.format}()")
    if value.dtype.name != ttype.dtype:
        if not allow_downcast and not np.can_cast(value.dtype, ttype.dtype, casting="safe"):
            raise CallError(
                f"argument {pos} ({var!r}): expected {ttype.dtype}, got {value.dtype.name} data, which {ttype.dtype} cannot hold without "
                f"risking a loss of precision; cast it (.astype({ttype.dtype!r})) or compile with rd.function(..., allow_input_downcast=True)"
            )
        value = value.astype(ttype.dtype)
    for d_static, d in zip(ttype.shape, value.shape):
        if d_static is not None and d_static != d:
            raise CallError(f"argument {pos} ({var!r}): expected shape {ttype}, got {value.shape}")
    return value


def impl_cast(s: Any, dtype: str = "float64") -> Any:
    """A sparse matrix's values converted to ``dtype`` (same pattern)."""
    return s.astype(dtype)
