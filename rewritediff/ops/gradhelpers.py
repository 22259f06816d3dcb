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
    return out


register(
    OpDef(
        name="expand_like",
        infer=lambda args, attrs: TensorType(args[0].dtype, args[1].static_shape),
        impl=lambda g, x, axis=None, keepdims=False: rt.expand_like(g, np.shape(x), axis, keepdims),
        arity=2,
        attrs={"axis": None, "keepdims": False},
        emit=lambda a, k: f"rt.expand_like({a[0]}, np.shape({a[1]}), {k['axis']!r}, {k['keepdims']!r})",
        prepare=_axis_prepare,
        doc="expand_like(g, x){axis, keepdims}: g, the result of reducing x over axis, broadcast back to x's shape",
        group="gradient-helper",
    )
)

register(
    OpDef(
        name="reshape_like",
        infer=lambda args, attrs: TensorType(args[0].dtype, args[1].static_shape),
        impl=lambda g, x: np.reshape(g, np.shape(x)),
        arity=2,
        emit="np.reshape({0}, np.shape({1}))",
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
