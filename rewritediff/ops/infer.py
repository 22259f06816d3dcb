"""Shared type-inference helpers: broadcasting, dtype promotion, axis normalisation."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewritediff.errors import AxisError, RewriteDiffTypeError, ShapeError
from rewritediff.ops.registry import get_op
from rewritediff.terms import FLOAT_DTYPES, TensorType, Term, floatX


def fmt_shape(shape: Sequence) -> str:
    """Shape as text, '?' for an unknown dim."""
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def broadcast_shapes(op: str, shapes: Sequence[tuple]) -> tuple:
    """numpy broadcasting of static shapes; None dims stay unknown unless the other side fixes them."""
    nd = max((len(s) for s in shapes), default=0)
    out: list = []
    for i in range(nd):
        dim: Any = 1
        for s in shapes:
            j = i - (nd - len(s))
            if j < 0:
                continue
            d = s[j]
            if d == 1:
                continue
            if dim == 1:
                dim = d
            elif d is None:
                continue
            elif dim is None:
                dim = d
            elif dim != d:
                raise ShapeError(f"{op}: shapes {', '.join(fmt_shape(s) for s in shapes)} do not broadcast (dim {i}: {dim} vs {d})")
        out.append(dim)
    return tuple(out)


def promote(dtypes: Sequence[str]) -> str:
    """numpy's result dtype of the given dtypes."""
    return _promote(tuple(dtypes))


@functools.lru_cache(maxsize=1024)
def _promote(dtypes: tuple) -> str:
    return np.result_type(*[np.dtype(d) for d in dtypes]).name


def as_float(dtype: str) -> str:
    """The float dtype a transcendental op returns for ``dtype`` (ints and bools go to floatX)."""
    return dtype if dtype in FLOAT_DTYPES else floatX


def norm_axis(op: str, axis: Any, ndim: int) -> tuple[int, ...] | None:
    """Normalise an axis spec (None, int, negative, tuple) to a sorted tuple, or None for all."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, int | np.integer):
            raise RewriteDiffTypeError(f"{op}: axis must be an int or a tuple of ints, got {a!r}")
        if not -ndim <= a < ndim:
            raise AxisError(f"{op}: axis {a} is out of range for an argument of ndim {ndim}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise AxisError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def reduce_shape(shape: tuple, axes: tuple | None, keepdims: bool) -> tuple:
    """Static shape after reducing ``axes`` (None: all)."""
    if axes is None:
        axes = tuple(range(len(shape)))
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def same_type(args: tuple, attrs: dict) -> TensorType:
    """Type of the first argument (identity-like ops)."""
    return args[0].type


def dims_equal(a: Any, b: Any) -> bool:
    """Whether two static dims may be equal (unknown matches anything)."""
    return a is None or b is None or a == b


def shape_keys(order: list[Term]) -> dict[int, Any]:
    """A key per term such that equal keys mean equal run-time shapes (a cheap, sound shape equality)."""

    keys: dict[int, Any] = {}
    for t in order:
        if not isinstance(t.type, TensorType):
            keys[t.uid] = ("uid", t.uid)
            continue
        shape = t.static_shape
        if None not in shape:
            keys[t.uid] = ("static", shape)
            continue
        key: Any = ("uid", t.uid)
        if t.args:
            opdef = get_op(t.op)
            if opdef.shape_from is not None and not t.attr("batch", 0):
                key = keys[t.args[opdef.shape_from].uid]
            elif opdef.elementwise:
                # the broadcasting contract: only a dim declared 1 stretches (the compiled function
                # checks the rest on entry), so an argument of the result's rank that is 1 only where
                # the result is 1 has the result's shape; the first such argument names it
                nd = len(shape)
                for a in t.args:
                    if len(a.static_shape) == nd and all(d != 1 or o == 1 for d, o in zip(a.static_shape, shape)):
                        key = keys[a.uid]
                        break
        keys[t.uid] = key
    return keys
