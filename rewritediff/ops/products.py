"""Products: dot and matmul (every 1-D/2-D/batched case numpy supports)."""

from __future__ import annotations

import numpy as np

from rewritediff.errors import ShapeError
from rewritediff.ops import OpDef, register
from rewritediff.ops.infer import broadcast_shapes, dims_equal, fmt_shape, promote
from rewritediff.terms import TensorType


def _matmul_infer(args: tuple, attrs: dict, name: str = "matmul") -> TensorType:
    a, b = args
    sa, sb = a.static_shape, b.static_shape
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"{name}: arguments must have ndim >= 1, got shapes {fmt_shape(sa)} and {fmt_shape(sb)}")
    ka = sa[-1]
    kb = sb[0] if b.ndim == 1 else sb[-2]
    if not dims_equal(ka, kb):
        raise ShapeError(f"{name}: shapes {fmt_shape(sa)} and {fmt_shape(sb)} are not aligned ({ka} != {kb})")
    dt = promote([a.dtype, b.dtype])
    if a.ndim == 1 and b.ndim == 1:
        return TensorType(dt, ())
    if a.ndim == 1:
        return TensorType(dt, sb[:-2] + sb[-1:])
    if b.ndim == 1:
        return TensorType(dt, sa[:-1])
    batch = broadcast_shapes(name, [sa[:-2], sb[:-2]])
    return TensorType(dt, batch + (sa[-2], sb[-1]))


def _dot_infer(args: tuple, attrs: dict) -> TensorType:
    a, b = args
    if a.ndim == 0 or b.ndim == 0:
        return TensorType(promote([a.dtype, b.dtype]), broadcast_shapes("dot", [a.static_shape, b.static_shape]))
    if a.ndim > 2 or b.ndim > 2:
        raise ShapeError(
            f"dot: arguments must have ndim <= 2 (use matmul or tensordot), got shapes {fmt_shape(a.static_shape)} and {fmt_shape(b.static_shape)}"
        )
    return _matmul_infer(args, attrs, "dot")


register(
    OpDef(
        name="matmul",
        infer=_matmul_infer,
        impl=np.matmul,
        arity=2,
        emit="({0} @ {1})",
        doc="matrix product with numpy's matmul rules (batched, 1-D promoted)",
        group="product",
    )
)
register(
    OpDef(
        name="dot",
        infer=_dot_infer,
        impl=np.dot,
        arity=2,
        emit="np.dot({0}, {1})",
        doc="np.dot for ndim <= 2 (a scalar argument multiplies)",
        group="product",
    )
)
