"""Gradient-only ops: identity in the forward pass, their whole meaning is in their derivative rules
(``rules/gradops.rules``). The lowering treats them as aliases of their argument.
"""

from __future__ import annotations

from typing import Any

from rewritediff.errors import RewriteDiffTypeError
from rewritediff.ops.infer import same_type
from rewritediff.ops.registry import OpDef, register


def _clip_prepare(args: tuple, attrs: dict) -> dict:
    lo, hi = attrs["lo"], attrs["hi"]
    if lo is None or hi is None:
        raise RewriteDiffTypeError("grad_clip: needs both lo and hi")
    if not hi >= lo:
        raise ValueError(f"grad_clip: upper bound {hi!r} must be >= lower bound {lo!r}")
    return {"lo": float(lo), "hi": float(hi)}


def _scale_prepare(args: tuple, attrs: dict) -> dict:
    return {"multiplier": float(attrs["multiplier"])}


def _identity(x: Any, **attrs: Any) -> Any:
    return x


# name, attrs, prepare, doc
GRADOPS = [
    ("zero_grad", {}, None, "identity forward; a connected zero gradient backward"),
    ("disconnected_grad", {}, None, "identity forward; disconnected backward"),
    ("undefined_grad", {}, None, "identity forward; an undefined (NullType) gradient backward"),
    ("grad_clip", {"lo": None, "hi": None}, _clip_prepare, "identity forward; the gradient clipped to [lo, hi] backward"),
    ("grad_scale", {"multiplier": 1.0}, _scale_prepare, "identity forward; the gradient scaled by multiplier backward"),
]

for _name, _attrs, _prepare, _doc in GRADOPS:
    register(
        OpDef(
            name=_name,
            shape_from=0,
            infer=same_type,
            impl=_identity,
            attrs=_attrs,
            emit="{0}",
            prepare=_prepare,
            doc=_doc,
            group="gradient",
        )
    )
