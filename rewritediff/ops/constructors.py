"""Constructors (no term arguments except ``alloc``'s):

* ``alloc{shape}(value, *dims)``: ``value`` broadcast to ``shape``, a tuple whose entries are
  ints (static dims) or None; each None is taken, in order, from the int scalar term
  arguments after ``value``.
* ``arange{start, stop, step, dtype}``, ``eye{n, m, k, dtype}``: numpy's; a length may be a
  0-d integer term (``arange(z.shape[0])``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rewritediff import runtime as rt
from rewritediff.errors import RewriteDiffTypeError, ShapeError
from rewritediff.ops import dims
from rewritediff.ops.infer import broadcast_shapes, fmt_shape
from rewritediff.ops.registry import OpDef, register
from rewritediff.ops.shape import _shape_source, _shape_value, _static_int
from rewritediff.terms import INT_DTYPES, TensorType, check_dtype, floatX


# ---- constructors -------------------------------------------------------------------------------------
def _alloc_prepare(args: tuple, attrs: dict) -> dict:
    shape = attrs["shape"]
    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    shape = tuple(_static_int("alloc", "shape entry", d, allow_none=True) for d in shape)
    if any(d is not None and d < 0 for d in shape):
        raise ShapeError(f"alloc: negative dim in shape {shape!r}")
    n_sym = sum(1 for d in shape if d is None)
    if n_sym != len(args) - 1:
        raise ShapeError(f"alloc: shape {shape!r} has {n_sym} symbolic dim(s) but {len(args) - 1} dim argument(s) were given")
    for d in args[1:]:
        if d.ndim != 0 or d.dtype not in INT_DTYPES:
            raise RewriteDiffTypeError(f"alloc: symbolic dims must be int scalars, got {d.type}")
    return {"shape": shape}


def _alloc_infer(args: tuple, attrs: dict) -> TensorType:
    v = args[0]
    shape = attrs["shape"]
    msg = f"alloc: cannot broadcast a value of shape {fmt_shape(v.static_shape)} to {fmt_shape(shape)}"
    if v.ndim > len(shape):
        raise ShapeError(msg)
    try:
        out = broadcast_shapes("alloc", [v.static_shape, shape])
    except ShapeError:
        raise ShapeError(msg) from None
    if any(d is not None and d != o for d, o in zip(shape, out)):
        raise ShapeError(msg)
    return TensorType(v.dtype, shape)


def _alloc_emit(a: list[str], k: dict) -> str:
    return f"rt.alloc({a[0]}, {_shape_source(k['shape'], a[1:])})"


def _alloc_impl(v: Any, *dims: Any, shape: tuple) -> np.ndarray:
    return rt.alloc(v, _shape_value(shape, dims))


register(
    OpDef(
        name="alloc",
        sized_by=dims.shape_sized,
        infer=_alloc_infer,
        impl=_alloc_impl,
        arity=(1, None),
        attrs={"shape": ()},
        emit=_alloc_emit,
        prepare=_alloc_prepare,
        doc="alloc(value, *dims): value broadcast to a new array of the given shape",
        group="constructor",
    )
)


def _symbolic(op: str, names: tuple, attrs: dict, args: tuple) -> tuple:
    """The attributes named in ``attrs["sym"]``, given as 0-d numeric terms (lengths read at run time), checked."""
    sym = tuple(attrs.get("sym") or ())
    if any(n not in names for n in sym) or len(set(sym)) != len(sym):
        raise ShapeError(f"{op}: sym must name some of {names}, got {sym!r}")
    if len(sym) != len(args):
        raise ShapeError(f"{op}: {len(sym)} symbolic value(s) named ({', '.join(sym)}) but {len(args)} argument(s) given")
    for name, a in zip(sym, args):
        if a.ndim != 0 or a.dtype == "bool" or not (a.dtype in INT_DTYPES or a.dtype.startswith("float")):
            raise RewriteDiffTypeError(f"{op}: {name} must be a number or a 0-d numeric term, got {a.type}")
    return sym


def _arange_prepare(args: tuple, attrs: dict) -> dict:
    sym = _symbolic("arange", ("start", "stop", "step"), attrs, args)
    for name in ("start", "stop", "step"):
        v = attrs[name]
        if name not in sym and (isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating)):
            raise RewriteDiffTypeError(f"arange: {name} must be a number or a 0-d numeric term (x.shape[0], say), got {v!r}")
    if "step" not in sym and attrs["step"] == 0:
        raise ShapeError("arange: step must not be 0")
    if attrs["dtype"] is None:
        ints = all(isinstance(attrs[n], int | np.integer) for n in ("start", "stop", "step") if n not in sym)
        dtype = "int64" if ints and all(a.dtype in INT_DTYPES for a in args) else floatX
    else:
        dtype = check_dtype(attrs["dtype"])
    out: dict = {"sym": sym, "dtype": dtype}
    for n in ("start", "stop", "step"):
        v = attrs[n]
        out[n] = None if n in sym else int(v) if isinstance(v, int | np.integer) else float(v)
    return out


def _arange_infer(args: tuple, attrs: dict) -> TensorType:
    if attrs["sym"]:
        return TensorType(attrs["dtype"], (None,))
    n = max(0, math.ceil((attrs["stop"] - attrs["start"]) / attrs["step"]))
    return TensorType(attrs["dtype"], (n,))


def _arange_emit(a: list[str], k: dict) -> str:
    cast = "int" if k["dtype"] in INT_DTYPES else "float"
    it = iter(a)
    bounds = [f"{cast}({next(it)})" if n in k["sym"] else repr(k[n]) for n in ("start", "stop", "step")]
    return f"np.arange({', '.join(bounds)}, dtype=np.{k['dtype']})"


def _arange_impl(*vals: Any, start: Any, stop: Any, step: Any, dtype: str, sym: tuple) -> np.ndarray:
    got = {n: np.asarray(v).item() for n, v in zip(sym, vals)}
    return np.arange(got.get("start", start), got.get("stop", stop), got.get("step", step), dtype=dtype)


register(
    OpDef(
        name="arange",
        sized_by=dims.arange_sized,
        infer=_arange_infer,
        impl=_arange_impl,
        arity=(0, 3),
        attrs={"start": 0, "stop": 0, "step": 1, "dtype": None, "sym": ()},
        emit=_arange_emit,
        prepare=_arange_prepare,
        doc="evenly spaced values in [start, stop) (numpy's arange; the bounds named in sym are 0-d terms read at run time)",
        group="constructor",
        differentiable=False,
    )
)


def _eye_prepare(args: tuple, attrs: dict) -> dict:
    sym = _symbolic("eye", ("n", "m"), attrs, args)
    if any(a.dtype not in INT_DTYPES for a in args):
        raise RewriteDiffTypeError(f"eye: sizes must be ints, got {', '.join(str(a.type) for a in args)}")
    n = None if "n" in sym else _static_int("eye", "n", attrs["n"])
    m = None if "m" in sym else _static_int("eye", "m", attrs["m"], allow_none=True)
    if m is None and "n" not in sym and "m" not in sym:
        m = n
    if (n is not None and n < 0) or (m is not None and m < 0):
        raise ShapeError(f"eye: negative dims ({n}, {m})")
    return {"n": n, "m": m, "k": _static_int("eye", "k", attrs["k"]), "dtype": check_dtype(attrs["dtype"] or floatX), "sym": sym}


def _eye_infer(args: tuple, attrs: dict) -> TensorType:
    n, m = attrs["n"], attrs["m"]
    return TensorType(attrs["dtype"], (n, m if m is not None or "m" in attrs["sym"] else n))


def _eye_emit(a: list[str], k: dict) -> str:
    it = iter(a)
    n = f"int({next(it)})" if "n" in k["sym"] else str(k["n"])
    m = f"int({next(it)})" if "m" in k["sym"] else str(k["m"]) if k["m"] is not None else n
    return f"np.eye({n}, {m}, {k['k']}, dtype=np.{k['dtype']})"


def _eye_impl(*vals: Any, n: Any, m: Any, k: int, dtype: str, sym: tuple) -> np.ndarray:
    got = {name: int(np.asarray(v)) for name, v in zip(sym, vals)}
    n = got.get("n", n)
    return np.eye(n, got.get("m", m if m is not None else n), k, dtype=dtype)


register(
    OpDef(
        name="eye",
        sized_by=dims.eye_sized,
        infer=_eye_infer,
        impl=_eye_impl,
        arity=(0, 2),
        attrs={"n": 0, "m": None, "k": 0, "dtype": None, "sym": ()},
        emit=_eye_emit,
        prepare=_eye_prepare,
        doc="an n x m matrix with ones on diagonal k (numpy's eye; the sizes named in sym are 0-d int terms read at run time; m defaults to n)",
        group="constructor",
        differentiable=False,
    )
)
