"""Sparse matrices (``terms.SparseType``: CSR or CSC, 2-D), computed with ``scipy.sparse``.

Every op here takes sparse arguments (``OpDef.takes_sparse``); the dense ops never receive one:
``terms.apply`` hands a dense op given a sparse matrix to the counterpart installed at the end
of this module (``dot``, a transposing ``dimshuffle``, ``mul``, ``add``, ``sum``, ``zeros_like``)
or refuses it naming the op. No op densifies a sparse argument unless its result is dense by
definition (``sp_todense``, the dense gradient helpers). Derivatives are in
``rules/sparse.rules``; the helpers the rules need (values of a matrix at a sparsity pattern,
a pattern with new values, sampled products) are ops of this table.

The values of a sparse matrix are scipy ``csr_matrix`` / ``csc_matrix`` objects; ops whose
result keeps an argument's pattern share its index arrays (they never write into them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewritediff.errors import CallError, RewriteDiffTypeError, ShapeError
from rewritediff.ops.infer import dims_equal, fmt_shape, promote
from rewritediff.ops.registry import REGISTRY, OpDef, register
from rewritediff.terms import SPARSE_FORMATS, SparseType, TensorType, Term, apply, check_dtype, constant, is_sparse


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


# ---- type inference ------------------------------------------------------------------------------------
def _need_sparse(op: str, x: Term, what: str = "argument 0") -> SparseType:
    if not isinstance(x.type, SparseType):
        raise RewriteDiffTypeError(f"{op}: {what} must be a sparse matrix, got {x!r} of type {x.type}")
    return x.type


def _need_dense(op: str, x: Term, what: str) -> TensorType:
    if isinstance(x.type, SparseType):
        raise RewriteDiffTypeError(f"{op}: {what} must be a dense array, got the sparse matrix {x!r}")
    return x.type


def _same_shape(op: str, a: tuple, b: tuple) -> tuple:
    if len(a) != len(b) or not all(dims_equal(p, q) for p, q in zip(a, b)):
        raise ShapeError(f"{op}: shapes {fmt_shape(a)} and {fmt_shape(b)} differ")
    return tuple(p if p is not None else q for p, q in zip(a, b))


def _format_attr(op: str, fmt: Any) -> str:
    if fmt not in SPARSE_FORMATS:
        raise RewriteDiffTypeError(f"{op}: format must be one of {SPARSE_FORMATS}, got {fmt!r}")
    return fmt


def _const_int(t: Term) -> int | None:
    if t.op == "const" and t.ndim == 0:
        return int(t.value)
    return None


def _infer_from_parts(args: tuple, attrs: dict) -> SparseType:
    data, indices, indptr, n0, n1 = args
    for t, what, nd in ((data, "data", 1), (indices, "indices", 1), (indptr, "indptr", 1), (n0, "the number of rows", 0), (n1, "the number of columns", 0)):
        _need_dense("CSR/CSC", t, what)
        if t.ndim != nd:
            raise ShapeError(f"CSR/CSC: {what} must have ndim {nd}, got shape {fmt_shape(t.static_shape)}")
    for t, what in ((indices, "indices"), (indptr, "indptr"), (n0, "the number of rows"), (n1, "the number of columns")):
        if t.dtype not in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"):
            raise RewriteDiffTypeError(f"CSR/CSC: {what} must be integers, got {t.dtype}")
    return SparseType(data.dtype, (_const_int(n0), _const_int(n1)), _format_attr("CSR/CSC", attrs["format"]))


def _infer_todense(args: tuple, attrs: dict) -> TensorType:
    t = _need_sparse("dense_from_sparse", args[0])
    return TensorType(t.dtype, t.shape)


def _infer_from_dense(args: tuple, attrs: dict) -> SparseType:
    x = args[0]
    _need_dense("csr_from_dense", x, "its argument")
    if x.ndim != 2:
        raise ShapeError(f"{attrs['format']}_from_dense: argument must be a matrix, got shape {fmt_shape(x.static_shape)}")
    return SparseType(x.dtype, x.static_shape, _format_attr("sparse_from_dense", attrs["format"]))


def _infer_transpose(args: tuple, attrs: dict) -> SparseType:
    t = _need_sparse("sparse transpose", args[0])
    return SparseType(t.dtype, (t.shape[1], t.shape[0]), "csc" if t.format == "csr" else "csr")


def _infer_dot(args: tuple, attrs: dict) -> TensorType:
    s, y = args
    t = _need_sparse("sparse dot", s)
    _need_dense("sparse dot", y, "argument 1")
    if y.ndim not in (1, 2):
        raise ShapeError(f"sparse dot: the dense argument must be a vector or a matrix, got shape {fmt_shape(y.static_shape)}")
    if not dims_equal(t.shape[1], y.static_shape[0]):
        raise ShapeError(f"sparse dot: shapes {fmt_shape(t.shape)} and {fmt_shape(y.static_shape)} are not aligned")
    return TensorType(promote([t.dtype, y.dtype]), (t.shape[0],) + y.static_shape[1:])


def _infer_spdot(args: tuple, attrs: dict) -> SparseType:
    a, b = (_need_sparse("sparse dot", x, f"argument {i}") for i, x in enumerate(args))
    if not dims_equal(a.shape[1], b.shape[0]):
        raise ShapeError(f"sparse dot: shapes {fmt_shape(a.shape)} and {fmt_shape(b.shape)} are not aligned")
    return SparseType(promote([a.dtype, b.dtype]), (a.shape[0], b.shape[1]), a.format)


def _infer_mul(args: tuple, attrs: dict) -> SparseType:
    s, y = args
    t = _need_sparse("sparse multiply", s)
    if y.ndim == 2:
        shape = _same_shape("sparse multiply", t.shape, y.static_shape)
    elif y.ndim == 0 and not is_sparse(y):
        shape = t.shape
    elif y.ndim == 1 and dims_equal(y.static_shape[0], t.shape[1]):
        shape = (t.shape[0], t.shape[1] if t.shape[1] is not None else y.static_shape[0])
    else:
        raise ShapeError(
            f"sparse multiply: a sparse matrix of shape {fmt_shape(t.shape)} multiplies a scalar, a row of its length or a matrix of its shape, "
            f"got shape {fmt_shape(y.static_shape)}"
        )
    return SparseType(promote([t.dtype, y.dtype]), shape, t.format)


def _infer_add(args: tuple, attrs: dict) -> SparseType:
    a, b = (_need_sparse("sparse add", x, f"argument {i}") for i, x in enumerate(args))
    return SparseType(promote([a.dtype, b.dtype]), _same_shape("sparse add", a.shape, b.shape), a.format)


def _sum_prepare(args: tuple, attrs: dict) -> dict:
    axis = attrs["axis"]
    if isinstance(axis, int | np.integer):
        axis = (int(axis),)
    if axis is not None:
        axis = tuple(sorted(int(a) % 2 for a in axis))
        if axis == (0, 1):
            axis = None
        elif len(axis) != 1:
            raise RewriteDiffTypeError(f"sp_sum: axis must be None, 0 or 1, got {attrs['axis']!r}")
    if not isinstance(attrs["sparse_grad"], bool):
        raise RewriteDiffTypeError(f"sp_sum: sparse_grad must be True or False, got {attrs['sparse_grad']!r}")
    return {**attrs, "axis": axis}


def _infer_sum(args: tuple, attrs: dict) -> TensorType:
    t = _need_sparse("sp_sum", args[0])
    axis = attrs["axis"]
    shape = () if axis is None else ((t.shape[1],) if axis == (0,) else (t.shape[0],))
    return TensorType(t.dtype, shape)


def _infer_zeros_like(args: tuple, attrs: dict) -> SparseType:
    t = _need_sparse("sparse zeros_like", args[0])
    return SparseType(attrs["dtype"] or t.dtype, t.shape, t.format)


def _infer_values(args: tuple, attrs: dict) -> TensorType:
    s, g = args
    t = _need_sparse("sp_values", s)
    if g.ndim == 1 or (g.ndim > 2 and is_sparse(g)):
        raise ShapeError(f"sp_values: g must be a scalar or (a batch of) matrices, got shape {fmt_shape(g.static_shape)}")
    if g.ndim >= 2:
        _same_shape("sp_values", t.shape, g.static_shape[-2:])
    return TensorType(g.dtype, g.static_shape[:-2] + (None,))


def _infer_with_data(args: tuple, attrs: dict) -> SparseType:
    s, d = args
    t = _need_sparse("sp_with_data", s)
    _need_dense("sp_with_data", d, "argument 1")
    if d.ndim != 1:
        raise ShapeError(f"sp_with_data: the values must be a vector, got shape {fmt_shape(d.static_shape)}")
    return SparseType(d.dtype, t.shape, t.format)


def _infer_sampled_dot(args: tuple, attrs: dict) -> SparseType:
    s, a, b = args
    t = _need_sparse("sp_sampled_dot", s)
    _need_dense("sp_sampled_dot", a, "argument 1")
    _need_dense("sp_sampled_dot", b, "argument 2")
    if a.ndim != b.ndim or a.ndim not in (1, 2) or not dims_equal(a.static_shape[0], t.shape[0]) or not dims_equal(b.static_shape[0], t.shape[1]):
        raise ShapeError(f"sp_sampled_dot: shapes {fmt_shape(a.static_shape)} and {fmt_shape(b.static_shape)} do not sample {fmt_shape(t.shape)}")
    return SparseType(promote([a.dtype, b.dtype]), t.shape, t.format)


def _fill_check(op: str, s: Term, g: Term, attrs: dict, batch: bool = False) -> SparseType:
    t = _need_sparse(op, s)
    _need_dense(op, g, "argument 1")
    axis = attrs["axis"]
    want = () if axis is None else ((t.shape[1],) if axis == (0,) else (t.shape[0],))
    lead = g.ndim - len(want) if batch else 0  # sp_dense_fill takes leading batch dims
    if lead < 0:
        raise ShapeError(f"{op}: shapes {fmt_shape(want)} and {fmt_shape(g.static_shape)} differ")
    _same_shape(op, want, g.static_shape[lead:])
    return t


def _infer_fill(args: tuple, attrs: dict) -> SparseType:
    t = _fill_check("sp_fill", args[0], args[1], attrs)
    return SparseType(args[1].dtype, t.shape, t.format)


def _infer_dense_fill(args: tuple, attrs: dict) -> TensorType:
    t = _fill_check("sp_dense_fill", args[0], args[1], attrs, batch=True)
    g = args[1]
    return TensorType(g.dtype, g.static_shape[: g.ndim - (0 if attrs["axis"] is None else 1)] + t.shape)


def _axis_prepare(args: tuple, attrs: dict) -> dict:
    return {**attrs, "axis": _sum_prepare(args, {"axis": attrs["axis"], "sparse_grad": False})["axis"]}


def _fmt_prepare(args: tuple, attrs: dict) -> dict:
    return {**attrs, "format": _format_attr("sparse", attrs["format"])}


def _structured_prepare(args: tuple, attrs: dict) -> dict:
    if not isinstance(attrs["structured"], bool):
        raise RewriteDiffTypeError(f"sparse dot: structured must be True or False, got {attrs['structured']!r}")
    return attrs


def _grad_prepare(args: tuple, attrs: dict) -> dict:
    if not isinstance(attrs["sparse_grad"], bool):
        raise RewriteDiffTypeError(f"dense_from_sparse: sparse_grad must be True or False, got {attrs['sparse_grad']!r}")
    return attrs


def impl_cast(s: Any, dtype: str = "float64") -> Any:
    """A sparse matrix's values converted to ``dtype`` (same pattern)."""
    return s.astype(dtype)


def _infer_cast(args: tuple, attrs: dict) -> SparseType:
    t = _need_sparse("sparse cast", args[0])
    return SparseType(check_dtype(attrs["dtype"]), t.shape, t.format)


_TABLE: tuple = (
    # name, arity, infer, impl, attrs, prepare, memory, doc
    (
        "sp_from_parts",
        5,
        _infer_from_parts,
        impl_from_parts,
        {"format": "csr"},
        _fmt_prepare,
        "fresh",
        "CSR/CSC(data, indices, indptr, (n0, n1)): a sparse matrix from its stored values",
    ),
    (
        "sp_todense",
        1,
        _infer_todense,
        impl_todense,
        {"sparse_grad": True},
        _grad_prepare,
        "fresh",
        "dense_from_sparse: the dense array of a sparse matrix (structured gradient unless sparse_grad=False)",
    ),
    (
        "sp_from_dense",
        1,
        _infer_from_dense,
        impl_from_dense,
        {"format": "csr"},
        _fmt_prepare,
        "fresh",
        "csr_from_dense / csc_from_dense: the nonzero entries of a dense matrix",
    ),
    ("sp_transpose", 1, _infer_transpose, impl_transpose, {}, None, "view", "the transpose of a sparse matrix (CSR becomes CSC on the same arrays)"),
    (
        "sp_dot",
        2,
        _infer_dot,
        impl_dot,
        {"structured": False},
        _structured_prepare,
        "fresh",
        "sparse matrix times a dense vector or matrix (structured: the gradient keeps the sparsity)",
    ),
    ("sp_spdot", 2, _infer_spdot, impl_spdot, {}, None, "fresh", "sparse matrix times sparse matrix: a sparse result"),
    ("sp_mul", 2, _infer_mul, impl_mul, {}, None, "view", "elementwise product of a sparse matrix with a scalar or a matrix, on the sparse pattern"),
    ("sp_add", 2, _infer_add, impl_add, {}, None, "fresh", "sum of two sparse matrices"),
    (
        "sp_sum",
        1,
        _infer_sum,
        impl_sum,
        {"axis": None, "sparse_grad": False},
        _sum_prepare,
        "fresh",
        "sum of a sparse matrix's entries (all, or along axis 0 or 1): dense",
    ),
    ("sp_zeros_like", 1, _infer_zeros_like, impl_zeros_like, {"dtype": None}, None, "fresh", "a sparse matrix of the argument's shape with no stored entry"),
    ("sp_values", 2, _infer_values, impl_values, {}, None, "view", "sp_values(s, g): the entries of g (dense or sparse) at the stored positions of s"),
    ("sp_with_data", 2, _infer_with_data, impl_with_data, {}, None, "view", "sp_with_data(s, d): the sparsity pattern of s holding the values d"),
    (
        "sp_sampled_dot",
        3,
        _infer_sampled_dot,
        impl_sampled_dot,
        {},
        None,
        "view",
        "sp_sampled_dot(s, a, b): a @ b.T (outer for vectors) at the stored positions of s only",
    ),
    (
        "sp_fill",
        2,
        _infer_fill,
        impl_fill,
        {"axis": None},
        _axis_prepare,
        "view",
        "sp_fill(s, g): the pattern of s holding g broadcast over the axes a sum removed",
    ),
    (
        "sp_dense_fill",
        2,
        _infer_dense_fill,
        impl_dense_fill,
        {"axis": None},
        _axis_prepare,
        "fresh",
        "sp_dense_fill(s, g): a dense array of s's shape holding g broadcast over the axes a sum removed",
    ),
    ("sp_cast", 1, _infer_cast, impl_cast, {"dtype": "float64"}, None, "fresh", "a sparse matrix's values converted to another dtype"),
)

for _name, _arity, _infer, _impl, _attrs, _prep, _mem, _doc in _TABLE:
    register(
        OpDef(
            name=_name,
            infer=_infer,
            impl=_impl,
            arity=_arity,
            attrs=dict(_attrs),
            prepare=_prep,
            doc=_doc,
            group="sparse",
            memory=_mem,
            takes_sparse=True,
        )
    )
REGISTRY["sp_zeros_like"].differentiable = False
# a zero argument there gives a zero result (a JVP drops such terms)
for _name, _zero in (
    ("sp_from_parts", (0,)),
    ("sp_todense", (0,)),
    ("sp_from_dense", (0,)),
    ("sp_transpose", (0,)),
    ("sp_cast", (0,)),
    ("sp_dot", True),
    ("sp_spdot", True),
    ("sp_mul", True),
    ("sp_sum", (0,)),
    ("sp_values", (1,)),
    ("sp_with_data", (1,)),
    ("sp_sampled_dot", (1, 2)),
    ("sp_fill", (1,)),
    ("sp_dense_fill", (1,)),
):
    REGISTRY[_name].zero_out = _zero


class _Canonical(OpDef):
    """An op that is never a node: ``apply`` rewrites it at once into other terms (the rules' type-directed helpers)."""

    def canonicalize(self, args: tuple, attrs: dict) -> Any:
        """The term this application stands for."""
        if not self.arity_ok(len(args)):
            return super().canonicalize(args, attrs)
        return self.impl(*args)


def as_dense(v: Term) -> Term:
    """``v`` as a dense term (sparse ones through ``sp_todense``)."""
    return apply("sp_todense", v, sparse_grad=False) if is_sparse(v) else v


def dense_like(v: Term, like: Term) -> Term:
    """``v``, made dense when ``like`` is dense (the gradient with respect to a dense argument is dense)."""
    return v if is_sparse(like) else as_dense(v)


def _never(args: tuple, attrs: dict) -> Any:  # pragma: no cover - canonicalize always answers
    raise RewriteDiffTypeError("this op is rewritten when applied")


register(
    _Canonical(
        name="sp_as_dense", infer=_never, impl=as_dense, arity=1, doc="a term as a dense one (identity on dense terms)", group="sparse", takes_sparse=True
    )
)
register(
    _Canonical(
        name="sp_dense_like",
        infer=_never,
        impl=dense_like,
        arity=2,
        doc="sp_dense_like(v, like): v, made dense when like is dense",
        group="sparse",
        takes_sparse=True,
        zero_out=(0,),
    )
)


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


for _name, _fn in (
    ("dot", _on_dot),
    ("dimshuffle", _on_dimshuffle),
    ("mul", _on_mul),
    ("add", _on_add),
    ("sum", _on_sum),
    ("zeros_like", _on_zeros_like),
    ("cast", _on_cast),
    ("neg", _on_neg),
    ("sub", _on_sub),
):
    REGISTRY[_name].on_sparse = _fn


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


REGISTRY["sp_dot"].batch = _batch_sp_dot
REGISTRY["sp_values"].batch = REGISTRY["sp_dense_fill"].batch = _batch_dense_arg


__all__ = ["as_dense", "check_sparse_arg", "dense_like", "sparse_dot", "sparse_mul"]
