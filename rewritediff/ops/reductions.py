"""Reductions with numpy's ``axis`` (None, int, negative, tuple) and ``keepdims``.

The axis is normalised at construction to a sorted tuple of non-negative ints (or None for
all axes), so ``x.sum(-1)`` and ``x.sum(1)`` on a matrix are the same term.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewritediff.errors import AxisError
from rewritediff.ops import signs
from rewritediff.ops.infer import as_float, norm_axis, reduce_shape
from rewritediff.ops.registry import OpDef, register
from rewritediff.terms import TensorType


def _prepare(name: str) -> Any:
    def prepare(args: tuple, attrs: dict) -> dict:
        attrs = dict(attrs)
        attrs["axis"] = norm_axis(name, attrs["axis"], args[0].ndim)
        if attrs["axis"] is not None and len(attrs["axis"]) == args[0].ndim:
            attrs["axis"] = None
        attrs["keepdims"] = bool(attrs["keepdims"])
        if "ddof" in attrs:
            attrs["ddof"] = int(attrs["ddof"])
        return attrs

    return prepare


def _prepare_arg(name: str) -> Any:
    def prepare(args: tuple, attrs: dict) -> dict:
        attrs = dict(attrs)
        ax = attrs["axis"]
        if ax is not None:
            norm = norm_axis(name, ax, args[0].ndim)
            if len(norm) != 1:
                raise AxisError(f"{name}: takes a single axis or None, got {ax!r}")
            attrs["axis"] = norm[0]
        attrs["keepdims"] = bool(attrs["keepdims"])
        return attrs

    return prepare


def _infer(rule: str) -> Any:
    def infer(args: tuple, attrs: dict) -> TensorType:
        x = args[0]
        ax = attrs["axis"]
        axes = None if ax is None else ((ax,) if isinstance(ax, int) else ax)
        shape = reduce_shape(x.static_shape, axes, attrs["keepdims"])
        if rule == "same":
            dt = x.dtype
        elif rule == "sum":
            dt = "uint64" if x.dtype in ("uint8", "uint16", "uint32") else "int64" if x.dtype in ("bool", "int8", "int16", "int32") else x.dtype
        elif rule == "float":
            dt = as_float(x.dtype)
        elif rule == "bool":
            dt = "bool"
        else:
            dt = "int64"
        return TensorType(dt, shape)

    return infer


def reduced_runtime_shape(shapes: list, attrs: dict) -> tuple:
    """A reduction's run-time output shape from its argument's run-time shape."""
    shape, axis, keep = tuple(shapes[0]), attrs.get("axis"), attrs.get("keepdims", False)
    axes = range(len(shape)) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    return tuple(1 if i in axes else d for i, d in enumerate(shape)) if keep else tuple(d for i, d in enumerate(shape) if i not in axes)


def _src(fn: str, *extra: str) -> Any:
    def emit(a: list[str], k: dict) -> str:
        parts = [a[0]]
        if k.get("axis") is not None:
            parts.append(f"axis={k['axis']!r}")
        if k.get("keepdims"):
            parts.append("keepdims=True")
        for e in extra:
            if k.get(e):
                parts.append(f"{e}={k[e]!r}")
        return f"{fn}({', '.join(parts)})"

    return emit


def _impl(fn: Any) -> Any:
    def impl(x: np.ndarray, axis: Any = None, keepdims: bool = False, **kw: Any) -> Any:
        return np.asarray(fn(x, axis=axis, keepdims=keepdims, **kw))

    return impl


# name, numpy callable, source name, dtype rule, doc, further OpDef fields (signs: ops/signs.py;
# zero_out: a zero argument sums to zero)
_KEEPS_SIGN = {"signs": signs.summed}
REDUCTIONS = [
    ("sum", np.sum, "np.sum", "sum", "sum over axes", {"signs": signs.summed, "zero_out": (0,), "latex_name": r"\sum"}),
    ("prod", np.prod, "np.prod", "sum", "product over axes", {**_KEEPS_SIGN, "latex_name": r"\prod"}),
    ("max", np.max, "np.max", "same", "maximum over axes", {**_KEEPS_SIGN, "latex_name": r"\max"}),
    ("min", np.min, "np.min", "same", "minimum over axes", {**_KEEPS_SIGN, "latex_name": r"\min"}),
    ("mean", np.mean, "np.mean", "float", "mean over axes", {"signs": signs.summed, "zero_out": (0,), "latex_name": r"\operatorname{mean}"}),
    ("all", np.all, "np.all", "bool", "logical and over axes", {}),
    ("any", np.any, "np.any", "bool", "logical or over axes", {}),
]

for _name, _fn, _srcname, _rule, _doc, _facts in REDUCTIONS:
    register(
        OpDef(
            name=_name,
            infer=_infer(_rule),
            impl=_impl(_fn),
            attrs={"axis": None, "keepdims": False},
            emit=_src(_srcname),
            prepare=_prepare(_name),
            runtime_shape=reduced_runtime_shape,
            doc=_doc,
            group="reduction",
            differentiable=_rule not in ("bool",),
            **_facts,
        )
    )

for _name, _fn, _srcname in (("var", np.var, "np.var"), ("std", np.std, "np.std")):
    register(
        OpDef(
            name=_name,
            infer=_infer("float"),
            impl=_impl(_fn),
            attrs={"axis": None, "keepdims": False, "ddof": 0},
            emit=_src(_srcname, "ddof"),
            prepare=_prepare(_name),
            runtime_shape=reduced_runtime_shape,
            doc=f"{'variance' if _name == 'var' else 'standard deviation'} over axes (ddof as numpy)",
            group="reduction",
        )
    )

for _name, _fn in (("argmax", np.argmax), ("argmin", np.argmin)):
    register(
        OpDef(
            name=_name,
            infer=_infer("int"),
            impl=_impl(_fn),
            attrs={"axis": None, "keepdims": False},
            emit=_src(f"np.{_name}"),
            prepare=_prepare_arg(_name),
            runtime_shape=reduced_runtime_shape,
            doc=f"index of the {_name[3:]}imum along an axis (flat index when axis is None)",
            group="reduction",
            differentiable=False,
        )
    )
