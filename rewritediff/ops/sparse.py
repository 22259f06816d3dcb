"""Sparse matrices (``terms.SparseType``: CSR or CSC, 2-D), computed with ``scipy.sparse``.

Every op here takes sparse arguments (``OpDef.takes_sparse``); the dense ops never receive one:
``terms.apply`` hands a dense op given a sparse matrix to the counterpart installed at the end
of this module (``dot``, a transposing ``dimshuffle``, ``mul``, ``add``, ``sum``, ``zeros_like``)
or refuses it naming the op. No op densifies a sparse argument unless its result is dense by
definition (``sp_todense``, the dense gradient helpers). Derivatives are in
``rules/sparse.rules``; the helpers the rules need (values of a matrix at a sparsity pattern,
a pattern with new values, sampled products) are ops of this table.

This module holds the types and the table; the implementations on scipy ``csr_matrix`` /
``csc_matrix`` values are in ``sparse_values.py``, the dense ops' counterparts and the batching
rules in ``sparse_counterparts.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewritediff.errors import RewriteDiffTypeError, ShapeError
from rewritediff.ops.infer import dims_equal, fmt_shape, promote
from rewritediff.ops.registry import REGISTRY, OpDef, register
from rewritediff.ops.sparse_counterparts import BATCH, ON_SPARSE, as_dense, dense_like, sparse_dot, sparse_mul
from rewritediff.ops.sparse_values import (
    check_sparse_arg,
    impl_add,
    impl_cast,
    impl_dense_fill,
    impl_dot,
    impl_fill,
    impl_from_dense,
    impl_from_parts,
    impl_mul,
    impl_sampled_dot,
    impl_spdot,
    impl_sum,
    impl_todense,
    impl_transpose,
    impl_values,
    impl_with_data,
    impl_zeros_like,
)
from rewritediff.terms import SPARSE_FORMATS, SparseType, TensorType, Term, check_dtype, is_sparse


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


for _name, _fn in ON_SPARSE.items():
    REGISTRY[_name].on_sparse = _fn
for _name, _fn in BATCH.items():
    REGISTRY[_name].batch = _fn


__all__ = ["as_dense", "check_sparse_arg", "dense_like", "sparse_dot", "sparse_mul"]
