"""Tensor helper ops that derivative rules call, so each rule stays one line.

``expand_like(g, x){axis, keepdims}`` undoes a reduction's shape (re-inserting the reduced
axes, then broadcasting to x's run-time shape); ``reshape_like(g, x)`` reshapes to x's
run-time shape; ``count(x){axis}`` is the number of elements a reduction over ``axis``
combines; ``prod_others(x){axis}`` is, per element, the product of the other elements
along ``axis`` (exact when some are zero: the gradient of ``prod``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rewritediff import runtime as rt
from rewritediff.ops import OpDef, register
from rewritediff.ops.infer import as_float, norm_axis
from rewritediff.terms import TensorType


def _axis_prepare(args: tuple, attrs: dict) -> dict:
    x = args[-1] if len(args) == 2 else args[0]
    out = dict(attrs)
    out["axis"] = norm_axis("expand_like", attrs["axis"], x.ndim)
    if "keepdims" in out:
        out["keepdims"] = bool(out["keepdims"])
    if "batch" in out:
        out["batch"] = int(out["batch"])
    return out


def _batched_infer(args: tuple, attrs: dict) -> TensorType:
    g, x = args
    return TensorType(g.dtype, g.static_shape[: attrs.get("batch", 0)] + x.static_shape)


register(
    OpDef(
        name="expand_like",
        infer=_batched_infer,
        impl=lambda g, x, axis=None, keepdims=False, batch=0: rt.expand_like(g, np.shape(x), axis, keepdims, batch),
        arity=2,
        attrs={"axis": None, "keepdims": False, "batch": 0},
        emit=lambda a, k: f"rt.expand_like({a[0]}, np.shape({a[1]}), {k['axis']!r}, {k['keepdims']!r}{', ' + str(k['batch']) if k['batch'] else ''})",
        prepare=_axis_prepare,
        doc="expand_like(g, x){axis, keepdims}: g, the result of reducing x over axis, broadcast back to x's shape",
        group="gradient-helper",
    )
)

register(
    OpDef(
        name="reshape_like",
        infer=_batched_infer,
        impl=lambda g, x, batch=0: np.reshape(g, np.shape(g)[:batch] + np.shape(x)),
        arity=2,
        attrs={"batch": 0},
        prepare=lambda args, attrs: {"batch": int(attrs["batch"])},
        emit=lambda a, k: f"np.reshape({a[0]}, np.shape({a[0]})[:{k['batch']}] + np.shape({a[1]}))" if k["batch"] else f"np.reshape({a[0]}, np.shape({a[1]}))",
        doc="reshape_like(g, x): g reshaped to x's run-time shape",
        group="gradient-helper",
    )
)


def _count_impl(x: Any, axis: Any = None) -> np.int64:
    shape = np.shape(x)
    axes = range(len(shape)) if axis is None else axis
    return np.int64(math.prod(shape[a] for a in axes))


register(
    OpDef(
        name="count",
        infer=lambda args, attrs: TensorType("int64", ()),
        impl=_count_impl,
        attrs={"axis": None},
        emit=lambda a, k: f"np.int64(np.size({a[0]}))" if k["axis"] is None else f"np.int64(rt.count({a[0]}, {k['axis']!r}))",
        prepare=_axis_prepare,
        doc="count(x){axis}: how many elements a reduction of x over axis combines",
        group="gradient-helper",
        differentiable=False,
    )
)

register(
    OpDef(
        name="prod_others",
        infer=lambda args, attrs: TensorType(as_float(args[0].dtype) if args[0].dtype == "bool" else args[0].dtype, args[0].static_shape),
        impl=lambda x, axis=None: rt.prod_others(x, axis),
        attrs={"axis": None},
        emit="rt.prod_others({0}, {axis!r})",
        prepare=_axis_prepare,
        doc="prod_others(x){axis}: per element, the product of the other elements along axis (exact with zeros)",
        group="gradient-helper",
    )
)


# ---- helpers for the derivatives of products, shape ops and linear algebra ---------------------------------
def _eye_like(x: np.ndarray, k: int = 0) -> np.ndarray:
    """The k-th diagonal pattern (ones on it, zeros elsewhere) shaped like the matrix x."""
    n, m = np.shape(x)
    return np.eye(n, m, k, dtype=np.asarray(x).dtype if np.asarray(x).dtype.kind == "f" else np.float64)


def _diag_embed_like(g: np.ndarray, x: np.ndarray, k: int = 0) -> np.ndarray:
    """Zeros shaped like the matrix x with the vector g on its k-th diagonal (the transpose of diag)."""
    n, m = np.shape(x)
    out = np.zeros((n, m), dtype=np.asarray(g).dtype)
    rows = np.arange(max(0, -k), max(0, -k) + len(g))
    out[rows, rows + k] = g
    return out


def _unrepeat(g: np.ndarray, x: np.ndarray, repeats: int = 1, axis: Any = None) -> np.ndarray:
    """The transpose of np.repeat(x, repeats, axis): sum each run of ``repeats`` copies."""
    g = np.asarray(g)
    shape = np.shape(x)
    if axis is None:
        return g.reshape(-1, repeats).sum(axis=1).reshape(shape)
    split = g.shape[:axis] + (shape[axis], repeats) + g.shape[axis + 1 :]
    return g.reshape(split).sum(axis=axis + 1)


def _untile(g: np.ndarray, x: np.ndarray, reps: tuple = ()) -> np.ndarray:
    """The transpose of np.tile(x, reps): sum the tiles."""
    g = np.asarray(g)
    shape = np.shape(x)
    nd = g.ndim
    shape = (1,) * (nd - len(shape)) + tuple(shape)
    reps = (1,) * (nd - len(reps)) + tuple(reps)
    split: list[int] = []
    for r, s in zip(reps, shape):
        split += [r, s]
    out = g.reshape(split).sum(axis=tuple(range(0, 2 * nd, 2)))
    return out.reshape(np.shape(x))


def _phi(x: np.ndarray) -> np.ndarray:
    """Lower triangle with the diagonal halved (the Cholesky derivative's projection)."""
    out = np.tril(x)
    out[np.diag_indices(min(out.shape))] *= 0.5
    return out


register(
    OpDef(
        name="eye_like",
        infer=lambda args, attrs: TensorType(as_float(args[0].dtype), args[0].static_shape),
        impl=_eye_like,
        attrs={"k": 0},
        doc="eye_like(x){k}: ones on the k-th diagonal, zeros elsewhere, shaped like the matrix x",
        group="gradient-helper",
        differentiable=False,
    )
)
register(
    OpDef(
        name="diag_embed_like",
        infer=lambda args, attrs: TensorType(args[0].dtype, args[1].static_shape),
        impl=_diag_embed_like,
        arity=2,
        attrs={"k": 0},
        doc="diag_embed_like(g, x){k}: zeros shaped like the matrix x with g on the k-th diagonal",
        group="gradient-helper",
    )
)
register(
    OpDef(
        name="unrepeat",
        infer=lambda args, attrs: TensorType(args[0].dtype, args[1].static_shape),
        impl=_unrepeat,
        arity=2,
        attrs={"repeats": 1, "axis": None},
        doc="unrepeat(g, x){repeats, axis}: the transpose of repeat (sums each run of copies)",
        group="gradient-helper",
    )
)
register(
    OpDef(
        name="untile",
        infer=lambda args, attrs: TensorType(args[0].dtype, args[1].static_shape),
        impl=_untile,
        arity=2,
        attrs={"reps": ()},
        doc="untile(g, x){reps}: the transpose of tile (sums the tiles)",
        group="gradient-helper",
    )
)
register(
    OpDef(
        name="phi",
        infer=lambda args, attrs: args[0].type,
        impl=_phi,
        doc="phi(x): the lower triangle of x with its diagonal halved",
        group="gradient-helper",
    )
)
