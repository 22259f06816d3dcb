"""Softmax family: ``softmax{axis}``, ``log_softmax{axis}``, ``logsumexp{axis, keepdims}``.

``axis`` is normalised as for reductions: a sorted tuple of non-negative ints, or None for
all axes (PyTensor's default for all three). The numpy lowerings subtract the maximum
first, so they neither overflow nor underflow to nan (helpers in ``rewritediff.runtime``).
"""

from __future__ import annotations

from typing import Any

from rewritediff import runtime as rt
from rewritediff.ops import signs
from rewritediff.ops.dims import reduction_dims
from rewritediff.ops.infer import as_float, norm_axis, reduce_shape
from rewritediff.ops.registry import OpDef, register
from rewritediff.terms import TensorType


def _prepare(name: str) -> Any:
    def prepare(args: tuple, attrs: dict) -> dict:
        out = dict(attrs)
        axis = norm_axis(name, attrs["axis"], args[0].ndim)
        out["axis"] = None if axis is not None and len(axis) == args[0].ndim else axis
        if "keepdims" in out:
            out["keepdims"] = bool(out["keepdims"])
        return out

    return prepare


def _emit(fn: str) -> Any:
    def emit(a: list[str], k: dict) -> str:
        extra = ", keepdims=True" if k.get("keepdims") else ""
        return f"rt.{fn}({a[0]}, axis={k['axis']!r}{extra})"

    return emit


def _same_infer(args: tuple, attrs: dict) -> TensorType:
    x = args[0]
    return TensorType(as_float(x.dtype), x.static_shape)


def _lse_infer(args: tuple, attrs: dict) -> TensorType:
    x = args[0]
    return TensorType(as_float(x.dtype), reduce_shape(x.static_shape, attrs["axis"], attrs["keepdims"]))


def _impl(fn: str) -> Any:
    def impl(x: Any, **attrs: Any) -> Any:
        return getattr(rt, fn)(x, **attrs)

    return impl


for _name, _doc, _signs in (
    ("softmax", "exp(x) / sum(exp(x)) over axis (None: all axes)", signs.NONNEG),
    ("log_softmax", "x - logsumexp(x) over axis (None: all axes)", None),
):
    register(
        OpDef(
            name=_name,
            shape_from=0,
            infer=_same_infer,
            impl=_impl(_name),
            attrs={"axis": None},
            emit=_emit(_name),
            prepare=_prepare(_name),
            doc=_doc,
            group="special",
            signs=_signs,
        )
    )

register(
    OpDef(
        name="logsumexp",
        infer=_lse_infer,
        impl=_impl("logsumexp"),
        attrs={"axis": None, "keepdims": False},
        emit=_emit("logsumexp"),
        prepare=_prepare("logsumexp"),
        dims=reduction_dims,  # lengths as a sum over the same axes (the engine proves shapes equal through them)
        doc="log(sum(exp(x))) over axis (None: all axes), without overflow",
        group="special",
    )
)
