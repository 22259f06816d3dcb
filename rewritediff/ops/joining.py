"""Joining and repeating (attributes normalised at construction):

* ``join{axis}(*xs)``: numpy's ``concatenate``; ``axis`` a non-negative int.
* ``stack{axis}(*xs)``: numpy's ``stack``; ``axis`` a non-negative int in ``[0, ndim]``.
* ``repeat{repeats, axis}``: numpy's ``repeat``; ``repeats`` an int or a tuple of ints (one
  per element along ``axis``), ``axis`` a non-negative int or None (flattened first).
* ``tile{reps}``: numpy's ``tile``; ``reps`` a tuple of non-negative ints.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rewritediff.errors import AxisError, ShapeError
from rewritediff.ops.infer import dims_equal, fmt_shape, promote
from rewritediff.ops.registry import OpDef, register
from rewritediff.ops.shape import _static_int
from rewritediff.terms import TensorType


# ---- join / stack --------------------------------------------------------------------------------
def _axis_in(op: str, axis: Any, ndim: int, shapes: str) -> int:
    """A single axis normalised against ``ndim`` (AxisError names the shapes)."""
    axis = _static_int(op, "axis", axis)
    if not -ndim <= axis < ndim:
        raise AxisError(f"{op}: axis {axis} is out of range for arguments of ndim {ndim - (op == 'stack')} (shapes {shapes})")
    return axis % ndim


def _shapes_text(args: tuple) -> str:
    return ", ".join(fmt_shape(a.static_shape) for a in args)


def _join_prepare(args: tuple, attrs: dict) -> dict:
    nd = args[0].ndim
    if any(a.ndim != nd for a in args):
        raise ShapeError(f"join: arguments must have the same ndim, got shapes {_shapes_text(args)}")
    if nd == 0:
        raise ShapeError(f"join: cannot join 0-d arguments (shapes {_shapes_text(args)}); use stack")
    return {"axis": _axis_in("join", attrs["axis"], nd, _shapes_text(args))}


def _common_shape(args: tuple, skip: int | None, mismatch: Any) -> list:
    """The static shape the arguments agree on (dim ``skip`` excepted); ``mismatch(i, a, b)`` gives the error."""
    shape: list = list(args[0].static_shape)
    for a in args[1:]:
        for i, d in enumerate(a.static_shape):
            if i == skip:
                continue
            if not dims_equal(shape[i], d):
                raise mismatch(i, shape[i], d)
            shape[i] = shape[i] if shape[i] is not None else d
    return shape


def _join_infer(args: tuple, attrs: dict) -> TensorType:
    axis = attrs["axis"]
    shape = _common_shape(args, axis, lambda i, a, b: ShapeError(f"join: shapes {_shapes_text(args)} differ off the join axis {axis} (dim {i}: {a} vs {b})"))
    lens = [a.static_shape[axis] for a in args]
    shape[axis] = None if None in lens else sum(lens)
    return TensorType(promote([a.dtype for a in args]), tuple(shape))


register(
    OpDef(
        name="join",
        memory="fresh",
        infer=_join_infer,
        impl=lambda *xs, axis: np.concatenate(xs, axis=axis),
        arity=(1, None),
        attrs={"axis": 0},
        emit=lambda a, k: f"np.concatenate(({', '.join(a)},), axis={k['axis']})",
        prepare=_join_prepare,
        doc="join tensors along an existing axis (numpy's concatenate)",
        group="shape",
    )
)


def _stack_prepare(args: tuple, attrs: dict) -> dict:
    nd = args[0].ndim
    if any(a.ndim != nd for a in args):
        raise ShapeError(f"stack: arguments must have the same ndim, got shapes {_shapes_text(args)}")
    return {"axis": _axis_in("stack", attrs["axis"], nd + 1, _shapes_text(args))}


def _stack_infer(args: tuple, attrs: dict) -> TensorType:
    shape = _common_shape(args, None, lambda i, a, b: ShapeError(f"stack: arguments must have the same shape, got shapes {_shapes_text(args)}"))
    shape.insert(attrs["axis"], len(args))
    return TensorType(promote([a.dtype for a in args]), tuple(shape))


register(
    OpDef(
        name="stack",
        memory="fresh",
        infer=_stack_infer,
        impl=lambda *xs, axis: np.stack(xs, axis=axis),
        arity=(1, None),
        attrs={"axis": 0},
        emit=lambda a, k: f"np.stack(({', '.join(a)},), axis={k['axis']})",
        prepare=_stack_prepare,
        doc="join tensors of one shape along a new axis (numpy's stack)",
        group="shape",
    )
)


# ---- repeat / tile ---------------------------------------------------------------------------------
def _repeat_prepare(args: tuple, attrs: dict) -> dict:
    x = args[0]
    axis = attrs["axis"]
    if axis is not None:
        if x.ndim == 0:
            raise AxisError(f"repeat: axis {axis} is out of range for an argument of shape {fmt_shape(x.static_shape)}")
        axis = _axis_in("repeat", axis, x.ndim, fmt_shape(x.static_shape))
    reps = attrs["repeats"]
    if isinstance(reps, list | tuple | np.ndarray):
        reps = tuple(_static_int("repeat", "repeats", r) for r in np.asarray(reps).reshape(-1).tolist())
        if len(reps) == 1:
            reps = reps[0]
    else:
        reps = _static_int("repeat", "repeats", reps)
    if any(r < 0 for r in (reps if isinstance(reps, tuple) else (reps,))):
        raise ShapeError(f"repeat: negative repeats {reps!r}")
    return {"repeats": reps, "axis": axis}


def _repeat_infer(args: tuple, attrs: dict) -> TensorType:
    x = args[0]
    reps, axis = attrs["repeats"], attrs["axis"]
    if axis is None:
        size = None if None in x.static_shape else math.prod(x.static_shape)
        shape: list = [size]
        axis = 0
    else:
        shape = list(x.static_shape)
    n = shape[axis]
    if isinstance(reps, tuple):
        if n is not None and len(reps) != n:
            raise ShapeError(f"repeat: {len(reps)} repeats for an axis of length {n} (shape {fmt_shape(x.static_shape)}, axis {attrs['axis']})")
        shape[axis] = sum(reps)
    else:
        shape[axis] = None if n is None else n * reps
    return TensorType(x.dtype, tuple(shape))


register(
    OpDef(
        name="repeat",
        memory="fresh",
        infer=_repeat_infer,
        impl=lambda x, repeats, axis: np.repeat(x, repeats, axis=axis),
        attrs={"repeats": 1, "axis": None},
        emit="np.repeat({0}, {repeats!r}, axis={axis!r})",
        prepare=_repeat_prepare,
        doc="repeat each element (along axis, or of the flattened tensor) as numpy's repeat",
        group="shape",
    )
)


def _tile_prepare(args: tuple, attrs: dict) -> dict:
    reps = attrs["reps"]
    reps = (reps,) if isinstance(reps, int | np.integer) else tuple(reps)
    reps = tuple(_static_int("tile", "reps", r) for r in reps)
    if any(r < 0 for r in reps):
        raise ShapeError(f"tile: negative reps {reps!r}")
    return {"reps": reps}


def _tile_infer(args: tuple, attrs: dict) -> TensorType:
    x = args[0]
    reps = attrs["reps"]
    nd = max(x.ndim, len(reps))
    shape = (1,) * (nd - x.ndim) + x.static_shape
    reps = (1,) * (nd - len(reps)) + reps
    return TensorType(x.dtype, tuple(None if d is None else d * r for d, r in zip(shape, reps)))


register(
    OpDef(
        name="tile",
        memory="fresh",
        infer=_tile_infer,
        impl=lambda x, reps: np.tile(x, reps),
        attrs={"reps": ()},
        emit="np.tile({0}, {reps!r})",
        prepare=_tile_prepare,
        doc="tile the tensor reps times along each axis (numpy's tile)",
        group="shape",
    )
)
