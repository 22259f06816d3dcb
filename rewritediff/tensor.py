"""The Python frontend (``rd.*``): constructors of variables, and the op functions named as in
``pytensor.tensor``, gathered here from the modules of :mod:`rewritediff.frontend` by concern.

Python scalars are *weak* (as in numpy 2 and PyTensor): ``x + 1.0`` keeps x's dtype.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewritediff.errors import RewriteDiffTypeError, ShapeError
from rewritediff.frontend.constructors import *  # noqa: F401,F403
from rewritediff.frontend.constructors import _shape_arg  # noqa: F401
from rewritediff.frontend.elementwise import *  # noqa: F401,F403
from rewritediff.frontend.elementwise import _ELEMENTWISE, AxisLike, _binary  # noqa: F401
from rewritediff.frontend.indexing import *  # noqa: F401,F403
from rewritediff.frontend.products import *  # noqa: F401,F403
from rewritediff.frontend.reductions import *  # noqa: F401,F403
from rewritediff.frontend.shape import *  # noqa: F401,F403
from rewritediff.terms import (
    TensorType,
    Term,
    as_term,
    check_dtype,
    floatX,
    shared_variable,
    variable,
)


# ---- variables --------------------------------------------------------------------------
def tensor(
    name: str | None = None,
    shape: Sequence[int | None] | None = None,
    dtype: Any = None,
    broadcastable: Sequence[bool] | None = None,
) -> Term:
    """A symbolic input of the given static shape (None for an unknown dim) and dtype.

    Only dims of static length 1 broadcast (PyTensor's contract: an unknown length is never
    stretched at run time). ``broadcastable=(True, False)`` is PyTensor's older spelling of
    ``shape=(1, None)``; given both, they must agree.
    """
    if isinstance(shape, int):
        raise RewriteDiffTypeError(f"tensor: shape must be a tuple of dims, got {shape!r}")
    if broadcastable is not None:
        if isinstance(broadcastable, bool) or not builtins.all(isinstance(b, bool | np.bool_) for b in broadcastable):
            raise RewriteDiffTypeError(f"tensor: broadcastable must be a tuple of bools, got {broadcastable!r}")
        broadcastable = tuple(bool(b) for b in broadcastable)
        if shape is None:
            shape = tuple(1 if b else None for b in broadcastable)
        else:
            shape = tuple(shape)
            if len(shape) != len(broadcastable):
                raise RewriteDiffTypeError(f"tensor: shape {shape!r} and broadcastable {broadcastable!r} have different lengths")
            for i, (d, b) in enumerate(zip(shape, broadcastable)):
                if b and d not in (None, 1):
                    raise RewriteDiffTypeError(f"tensor: dim {i} is declared broadcastable but has static length {d} (shape {shape!r})")
                if not b and d == 1:
                    raise RewriteDiffTypeError(f"tensor: dim {i} has static length 1, which broadcasts, but broadcastable[{i}] is False (shape {shape!r})")
            shape = tuple(1 if b else d for d, b in zip(shape, broadcastable))
    shape = tuple(None if d is None else int(d) for d in (shape or ()))
    if builtins.any(d is not None and d < 0 for d in shape):
        raise RewriteDiffTypeError(f"tensor: negative dim in shape {shape!r}")
    return variable(TensorType(check_dtype(dtype or floatX), shape), name)


def scalar(name: str | None = None, dtype: Any = None) -> Term:
    """A symbolic 0-d input."""
    return tensor(name, (), dtype)


def vector(name: str | None = None, dtype: Any = None, shape: tuple = (None,)) -> Term:
    """A symbolic 1-d input."""
    return tensor(name, shape, dtype)


def matrix(name: str | None = None, dtype: Any = None, shape: tuple = (None, None)) -> Term:
    """A symbolic 2-d input."""
    return tensor(name, shape, dtype)


def row(name: str | None = None, dtype: Any = None) -> Term:
    """A matrix of one row, shape (1, None): its first dim broadcasts against any number of rows."""
    return tensor(name, (1, None), dtype)


def col(name: str | None = None, dtype: Any = None) -> Term:
    """A matrix of one column, shape (None, 1): its second dim broadcasts against any number of columns."""
    return tensor(name, (None, 1), dtype)


def tensor3(name: str | None = None, dtype: Any = None, shape: tuple = (None,) * 3) -> Term:
    """A symbolic 3-d input."""
    return tensor(name, shape, dtype)


def tensor4(name: str | None = None, dtype: Any = None, shape: tuple = (None,) * 4) -> Term:
    """A symbolic 4-d input."""
    return tensor(name, shape, dtype)


def iscalar(name: str | None = None) -> Term:
    """An int32 scalar input."""
    return scalar(name, "int32")


def ivector(name: str | None = None) -> Term:
    """An int32 vector input."""
    return vector(name, "int32")


def shared(value: Any, name: str | None = None, shape: Sequence[int | None] | None = None, broadcastable: Sequence[bool] | None = None) -> Term:
    """A variable holding ``value``; compiled functions read it and ``updates`` write it.

    Its dims are the value's unless ``shape`` (None for a length that may change with
    ``set_value``) or PyTensor's ``broadcastable`` (True: length 1, False: any length) say otherwise.
    """
    value = np.array(value)
    if broadcastable is not None:
        if shape is not None:
            raise RewriteDiffTypeError("shared: give shape or broadcastable, not both")
        if len(broadcastable) != value.ndim:
            raise ShapeError(f"shared: broadcastable {tuple(broadcastable)} has {len(broadcastable)} entries, the value has ndim {value.ndim}")
        shape = tuple(1 if b else None for b in broadcastable)
    return shared_variable(value, name, None if shape is None else tuple(shape))


def get_value(var: Term, borrow: bool = False) -> np.ndarray:
    """The current value of a shared variable (a copy unless ``borrow``, as PyTensor's)."""
    if var.op != "shared":
        raise RewriteDiffTypeError(f"get_value: {var!r} is not a shared variable")
    value = var.value
    return value if borrow else value.copy()


def set_value(var: Term, value: Any, borrow: bool = False) -> None:
    """Set the value of a shared variable (its dtype, ndim and declared dims must fit)."""
    if var.op != "shared":
        raise RewriteDiffTypeError(f"set_value: {var!r} is not a shared variable")
    v = np.asarray(value)
    if v.dtype != np.dtype(var.dtype) and not np.can_cast(v.dtype, var.dtype, "same_kind"):
        raise RewriteDiffTypeError(f"set_value: {var!r} holds {var.dtype}, the value is {v.dtype}")
    v = np.array(v, dtype=var.dtype, copy=not borrow)
    if v.ndim != var.ndim or builtins.any(d is not None and d != n for d, n in zip(var.static_shape, v.shape)):
        raise ShapeError(f"set_value: {var!r} has shape {var.type.shape}, the value has shape {v.shape}")
    var.tag["value"] = v


as_tensor_variable = as_term
as_tensor = as_term
