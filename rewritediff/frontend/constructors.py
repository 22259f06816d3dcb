"""Arrays built from a shape and a fill value: ``alloc``, ``full``, ``zeros``, ``arange``, ``eye``, ``zeros_like``."""

from __future__ import annotations

from typing import Any

import numpy as np

from rewritediff.errors import RewriteDiffTypeError
from rewritediff.frontend.elementwise import cast
from rewritediff.terms import (
    Term,
    apply,
    as_term,
    constant,
    floatX,
)


# ---- constructors ---------------------------------------------------------------------------------
def alloc(value: Any, *shape: Any) -> Term:
    """``value`` broadcast to a new array of ``shape`` (ints, or int scalar terms for run-time dims)."""
    if len(shape) == 1 and (isinstance(shape[0], list | tuple) or (isinstance(shape[0], Term) and shape[0].ndim == 1)):
        shape = _shape_arg(shape[0])
    value = as_term(value)
    static: list = []
    dims: list[Term] = []
    for d in shape:
        if isinstance(d, Term):
            if d.op == "const" and d.ndim == 0 and d.dtype != "bool":
                static.append(int(d.value))
                continue
            static.append(None)
            dims.append(d)
        else:
            static.append(d)
    return apply("alloc", value, *dims, shape=tuple(static))


def _shape_arg(shape: Any) -> tuple:
    """A shape argument as a tuple of lengths: ints, 0-d int terms, or the entries of a shape term (``x.shape``)."""
    if isinstance(shape, int | np.integer) or (isinstance(shape, Term) and shape.ndim == 0):
        return (shape,)
    if isinstance(shape, Term):
        n = shape.static_shape[0] if shape.ndim == 1 else None
        if n is None:
            raise RewriteDiffTypeError(f"a shape must be a tuple of lengths or a 1-d int term of known length, got {shape.type}")
        return tuple(shape[i] for i in range(n))
    return tuple(shape)


def full(shape: Any, fill_value: Any, dtype: Any = None) -> Term:
    """An array of ``shape`` filled with ``fill_value``."""
    if isinstance(fill_value, Term):
        value = fill_value if dtype is None else cast(fill_value, dtype)
    else:
        arr = np.asarray(fill_value)
        if dtype is None and arr.dtype == np.float64:
            dtype = floatX
        value = constant(arr, dtype)
    return alloc(value, *_shape_arg(shape))


def zeros(shape: Any, dtype: Any = None) -> Term:
    """An array of zeros (dtype floatX unless given)."""
    return full(shape, 0, dtype or floatX)


def ones(shape: Any, dtype: Any = None) -> Term:
    """An array of ones (dtype floatX unless given)."""
    return full(shape, 1, dtype or floatX)


def _sym_attrs(op: str, **values: Any) -> tuple[list[Term], dict]:
    """Split size-like arguments into static attributes and 0-d terms read at run time (``x.shape[0]``, ``n - 1``)."""
    args: list[Term] = []
    attrs: dict = {}
    sym: list[str] = []
    for name, v in values.items():
        if isinstance(v, Term) and v.op == "const" and v.ndim == 0:
            v = v.value.item()
        elif isinstance(v, np.ndarray) and v.ndim == 0:
            v = v.item()
        if isinstance(v, Term):
            if v.ndim != 0:
                raise RewriteDiffTypeError(f"{op}: {name} must be a number or a 0-d term, got {v.type}")
            args.append(v)
            sym.append(name)
            attrs[name] = None
        else:
            attrs[name] = v
    attrs["sym"] = tuple(sym)
    return args, attrs


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> Term:
    """Evenly spaced values in [start, stop) (numpy's arange; bounds may be 0-d terms such as ``x.shape[0]``)."""
    if stop is None:
        start, stop = 0, start
    args, attrs = _sym_attrs("arange", start=start, stop=stop, step=step)
    return apply("arange", *args, dtype=dtype, **attrs)


def eye(n: Any, m: Any = None, k: int = 0, dtype: Any = None) -> Term:
    """An n x m matrix with ones on diagonal ``k`` (sizes may be 0-d int terms such as ``x.shape[0]``)."""
    args, attrs = _sym_attrs("eye", n=n, m=m)
    return apply("eye", *args, k=k, dtype=dtype, **attrs)


def identity(n: int, dtype: Any = None) -> Term:
    """The n x n identity matrix."""
    return eye(n, dtype=dtype)


def zeros_like(x: Any, dtype: Any = None) -> Term:
    """Zeros shaped like x (disconnected from x)."""
    return apply("zeros_like", as_term(x), dtype=dtype)


def ones_like(x: Any, dtype: Any = None) -> Term:
    """Ones shaped like x (disconnected from x)."""
    return apply("ones_like", as_term(x), dtype=dtype)


def fill(x: Any, value: Any) -> Term:
    """An array shaped like x filled with the scalar ``value``."""
    x = as_term(x)
    return apply("fill", x, as_term(value, x))
