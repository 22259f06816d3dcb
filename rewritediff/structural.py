"""Frontend of the structural ops (``rd.cumsum``, ``rd.sort``, ``rd.kron``, ``rd.norm`` ...), named as in
``pytensor.tensor`` (numpy's names where PyTensor has none).

Ops acting along one axis are table rows (``ops/structural.py``); numpy's ``axis=None`` flattens
first, as numpy does. ``diff``, ``kron``, ``pad``, ``matrix_power`` and ``norm`` are written
with existing ops (slices, products, reshapes, reductions), so their derivatives, batching and
backend spellings are those ops'.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewritediff.errors import AxisError, RewriteDiffTypeError, ShapeError
from rewritediff.linalg import inv
from rewritediff.methods import _ARRAY_FUNCTIONS
from rewritediff.ops.infer import fmt_shape
from rewritediff.ops.structural import one_axis, static_int
from rewritediff.tensor import alloc, as_term, dot, eye, flatten, matmul, reshape, shape_i
from rewritediff.terms import INT_DTYPES, Term, apply

__all__ = [
    "argsort",
    "cumprod",
    "cumsum",
    "diff",
    "flip",
    "kron",
    "matrix_power",
    "norm",
    "pad",
    "roll",
    "searchsorted",
    "sort",
    "take_along_axis",
]


def _along(op: str, x: Any, axis: Any, **attrs: Any) -> Term:
    """``op`` along ``axis`` of x, or along the flattened x when axis is None (numpy's convention)."""
    x = as_term(x)
    if axis is None:
        return apply(op, flatten(x), axis=0, **attrs)
    return apply(op, x, axis=axis, **attrs)


def cumsum(x: Any, axis: int | None = None) -> Term:
    """Cumulative sum along ``axis`` (None: of the flattened array), as numpy's."""
    return _along("cumsum", x, axis)


def cumprod(x: Any, axis: int | None = None) -> Term:
    """Cumulative product along ``axis`` (None: of the flattened array); its gradient is exact where x has zeros."""
    return _along("cumprod", x, axis)


def _no_order(op: str, order: Any) -> None:
    if order is not None:
        raise RewriteDiffTypeError(f"{op}: order= (sorting by record fields) is not supported, got {order!r}")


def sort(a: Any, axis: int | None = -1, kind: str | None = None, order: Any = None, stable: bool | None = None) -> Term:
    """``a`` sorted along ``axis`` (None: flattened); the gradient follows the permutation.

    Every ``kind`` is a stable sort, so the result (and the order of ties) is the same on every backend."""
    _no_order("sort", order)
    return _along("sort", a, axis)


def argsort(a: Any, axis: int | None = -1, kind: str | None = None, order: Any = None, stable: bool | None = None) -> Term:
    """The sorting permutation along ``axis`` (None: flattened), a stable sort whatever ``kind``; int64, no gradient."""
    _no_order("argsort", order)
    return _along("argsort", a, axis)


def flip(x: Any, axis: int | Sequence[int] | None = None) -> Term:
    """``x`` reversed along ``axis`` (an int, a tuple, or None for every axis), as numpy's."""
    return apply("flip", as_term(x), axis=tuple(axis) if isinstance(axis, list) else axis)


def roll(x: Any, shift: int | Sequence[int], axis: int | Sequence[int] | None = None) -> Term:
    """numpy's roll: static int shifts along axes (None: the flattened array, reshaped back)."""
    x = as_term(x)
    if axis is None:
        if not isinstance(shift, int | np.integer) or isinstance(shift, bool):
            raise RewriteDiffTypeError(f"roll: with axis=None the shift must be a static int, got {shift!r}")
        if x.ndim == 1:
            return apply("roll", x, shift=shift, axis=0)
        return apply("reshape_like", apply("roll", flatten(x), shift=shift, axis=0), x)
    shifts = tuple(shift) if isinstance(shift, list | tuple) else None
    axes = tuple(axis) if isinstance(axis, list | tuple) else None
    if shifts is None and axes is None:
        return apply("roll", x, shift=shift, axis=axis)
    axes = axes if axes is not None else (axis,)
    shifts = shifts if shifts is not None else (shift,) * len(axes)
    if len(shifts) == 1:
        shifts = shifts * len(axes)
    if len(axes) == 1:
        axes = axes * len(shifts)
    if len(shifts) != len(axes):
        raise ShapeError(f"roll: {len(shifts)} shifts for {len(axes)} axes")
    out = x
    for s, a in zip(shifts, axes):
        out = apply("roll", out, shift=s, axis=a)
    return out


def take_along_axis(arr: Any, indices: Any, axis: int | None) -> Term:
    """numpy's take_along_axis: gather along ``axis`` at integer ``indices`` of the array's ndim (None: flattened)."""
    arr, indices = as_term(arr), as_term(indices)
    if axis is None:
        if indices.ndim != 1:
            raise ShapeError(f"take_along_axis: with axis=None the indices must be a vector, got shape {fmt_shape(indices.static_shape)}")
        return apply("take_along_axis", flatten(arr), indices, axis=0)
    return apply("take_along_axis", arr, indices, axis=axis)


def searchsorted(x: Any, v: Any, side: str = "left", sorter: Any = None) -> Term:
    """Where the values ``v`` go in the sorted vector ``x`` (``sorter``: the permutation sorting x); int64, no gradient."""
    x, v = as_term(x), as_term(v)
    if sorter is not None:
        sorter = as_term(sorter)
        if sorter.dtype not in INT_DTYPES or sorter.ndim != 1:
            raise RewriteDiffTypeError(f"searchsorted: sorter must be an integer vector, got {sorter.type}")
        x = x[sorter]
    return apply("searchsorted", x, v, side=side)


# ---- written with existing ops --------------------------------------------------------------------------
def _slice_along(axis: int, ndim: int, start: int | None, stop: int | None) -> tuple:
    return (("slice", None, None, None),) * axis + (("slice", start, stop, None),) + (("slice", None, None, None),) * (ndim - axis - 1)


def _diff_edge(x: Term, value: Any, axis: int) -> Term:
    """A prepend/append value of diff: a scalar becomes a slab of length 1 along axis, an array is used as it is."""
    v = as_term(value, x)
    if v.ndim == 0:
        shape = [1 if i == axis else _length(x, i) for i in range(x.ndim)]
        return alloc(v, *shape)
    if v.ndim != x.ndim:
        raise ShapeError(f"diff: prepend/append of shape {fmt_shape(v.static_shape)} for an array of shape {fmt_shape(x.static_shape)}")
    return v


def diff(x: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Term:
    """numpy's n-th discrete difference along ``axis`` (differences of slices, so every op under it is linear);
    ``prepend`` / ``append`` are joined along the axis first, as numpy's."""
    x = as_term(x)
    n = static_int("diff", "n", n)
    if n < 0:
        raise ShapeError(f"diff: order n must be non-negative, got {n}")
    axis = one_axis("diff", axis, x)
    if prepend is not None or append is not None:
        parts = [_diff_edge(x, prepend, axis)] if prepend is not None else []
        parts += [x] + ([_diff_edge(x, append, axis)] if append is not None else [])
        x = apply("join", *parts, axis=axis)
    for _ in range(n):
        hi = apply("subtensor", x, idx=_slice_along(axis, x.ndim, 1, None))
        lo = apply("subtensor", x, idx=_slice_along(axis, x.ndim, None, -1))
        x = hi - lo
    return x


def _length(x: Term, i: int) -> Any:
    """Dim i of x: its static length, or the run-time length as a term."""
    d = x.static_shape[i]
    return d if d is not None else shape_i(x, i)


def kron(a: Any, b: Any) -> Term:
    """The Kronecker product (numpy's kron): an outer product of every pair of dims, reshaped."""
    a, b = as_term(a), as_term(b)
    nd = builtins.max(a.ndim, b.ndim)
    if nd == 0:
        return a * b
    a = apply("dimshuffle", a, pattern=("x",) * (nd - a.ndim) + tuple(range(a.ndim))) if a.ndim < nd else a
    b = apply("dimshuffle", b, pattern=("x",) * (nd - b.ndim) + tuple(range(b.ndim))) if b.ndim < nd else b
    # a's dim i goes to 2i, b's to 2i + 1: the product's dims interleave, then each pair merges
    pa = tuple(p for i in range(nd) for p in (i, "x"))
    pb = tuple(p for i in range(nd) for p in ("x", i))
    prod = apply("dimshuffle", a, pattern=pa) * apply("dimshuffle", b, pattern=pb)
    shape = []
    for i in range(nd):
        da, db = _length(a, i), _length(b, i)
        shape.append(da * db if isinstance(da, int) and isinstance(db, int) else as_term(da) * as_term(db))
    return reshape(prod, shape)


def _pad_widths(x: Term, pad_width: Any) -> list[tuple[int, int]]:
    """numpy's pad widths ((before, after) per axis, one pair for all, or one int) as a list of static int pairs."""
    try:
        w = np.asarray(pad_width)
    except Exception:  # noqa: BLE001 - anything numpy cannot read as widths
        raise RewriteDiffTypeError(f"pad: pad widths must be static ints, got {pad_width!r}") from None
    if w.dtype.kind not in "iu" or isinstance(pad_width, Term):
        raise RewriteDiffTypeError(f"pad: pad widths must be static ints, got {pad_width!r}")
    if w.ndim == 0 or w.shape in ((1,), (1, 1)):
        w = np.full((x.ndim, 2), int(w.reshape(-1)[0]))
    elif w.shape in ((2,), (1, 2)):
        w = np.tile(w.reshape(1, 2), (x.ndim, 1))
    elif w.shape != (x.ndim, 2):
        raise ShapeError(f"pad: pad widths of shape {w.shape} for an array of shape {fmt_shape(x.static_shape)} (want ({x.ndim}, 2), (2,) or an int)")
    if (w < 0).any():
        raise ShapeError(f"pad: negative pad widths {w.tolist()}")
    return [(int(lo), int(hi)) for lo, hi in w]


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0) -> Term:
    """numpy's pad in constant mode: x written into an array of the padded shape filled with ``constant_values``."""
    x = as_term(x)
    if mode != "constant":
        raise RewriteDiffTypeError(f"pad: only mode='constant' is supported, got {mode!r}")
    widths = _pad_widths(x, pad_width)
    value = as_term(constant_values, x)
    if value.ndim != 0:
        raise ShapeError(f"pad: constant_values must be a scalar (one value for every side), got shape {fmt_shape(value.static_shape)}")
    if value.dtype != x.dtype:
        value = apply("cast", value, dtype=x.dtype)
    if x.ndim == 0 or not builtins.any(lo or hi for lo, hi in widths):
        return x
    shape = []
    for i, (lo, hi) in enumerate(widths):
        d = _length(x, i)
        shape.append(d + lo + hi if isinstance(d, int) else d + (lo + hi))
    idx = tuple(("slice", lo, -hi if hi else None, None) for lo, hi in widths)
    return apply("set_subtensor", alloc(value, *shape), x, idx=idx)


def matrix_power(M: Any, n: int) -> Term:
    """numpy's matrix_power: an integer power of a square matrix (or a stack), by squaring; negative powers invert first."""
    M = as_term(M)
    n = static_int("matrix_power", "n", n)
    if M.ndim < 2 or not (M.static_shape[-1] is None or M.static_shape[-2] is None or M.static_shape[-1] == M.static_shape[-2]):
        raise ShapeError(f"matrix_power: needs a square matrix (or a stack of them), got shape {fmt_shape(M.static_shape)}")
    if n == 0:
        one = eye(_length(M, M.ndim - 1), dtype=M.dtype)
        return one if M.ndim == 2 else apply("broadcast_like", one, M)
    if n < 0:
        if M.ndim != 2:
            raise ShapeError(f"matrix_power: negative powers of a stack of matrices are not supported (shape {fmt_shape(M.static_shape)})")
        M, n = inv(M), -n
    mul = dot if M.ndim == 2 else matmul
    result, base = None, M
    while n:
        if n & 1:
            result = base if result is None else mul(result, base)
        n >>= 1
        if n:
            base = mul(base, base)
    return result


def _vector_norm(x: Term, ord: Any, axis: Any, keepdims: bool) -> Term:
    kw = {"axis": axis, "keepdims": keepdims}
    if ord is None or ord == 2:
        return apply("sqrt", apply("sum", x * x, **kw))
    if ord == 1:
        return apply("sum", apply("abs", x), **kw)
    if ord == np.inf:
        return apply("max", apply("abs", x), **kw)
    if ord == -np.inf:
        return apply("min", apply("abs", x), **kw)
    if ord == 0:
        return apply("sum", apply("cast", apply("neq", x, as_term(0, x)), dtype=x.dtype), **kw)
    if isinstance(ord, str):
        raise RewriteDiffTypeError(f"norm: ord {ord!r} is a matrix norm; a vector norm takes a number")
    p = as_term(float(ord), x)
    return apply("sum", apply("abs", x) ** p, **kw) ** (1.0 / p)


def _matrix_norm(x: Term, ord: Any, axis: tuple[int, int], keepdims: bool) -> Term:
    r, c = axis
    if ord is None or ord == "fro":
        return apply("sqrt", apply("sum", x * x, axis=axis, keepdims=keepdims))
    if ord == "nuc" or ord in (2, -2):
        if x.ndim != 2:
            raise RewriteDiffTypeError(f"norm: ord {ord!r} (from singular values) takes a matrix, got shape {fmt_shape(x.static_shape)}")
        s = apply("svd_values", x, full_matrices=False)  # the same for x and its transpose, so axis order does not matter
        out = apply("sum" if ord == "nuc" else "max" if ord == 2 else "min", s, axis=(0,))
        return apply("dimshuffle", out, pattern=("x", "x")) if keepdims else out
    if ord in (1, -1, np.inf, -np.inf):
        inner, outer = (r, c) if ord in (1, -1) else (c, r)  # 1: largest column sum, inf: largest row sum
        sums = apply("sum", apply("abs", x), axis=inner, keepdims=True)
        out = apply("max" if ord > 0 else "min", sums, axis=outer, keepdims=True)
        if keepdims:
            return out
        return apply("dimshuffle", out, pattern=tuple(i for i in range(x.ndim) if i not in axis))
    raise RewriteDiffTypeError(f"norm: unknown matrix norm ord {ord!r} (use 'fro', 'nuc', 1, -1, 2, -2, inf or -inf)")


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Term:
    """numpy.linalg.norm: vector norms (ord 1, 2, inf, -inf, 0, p) and matrix norms ('fro', 'nuc', 1, -1, 2, -2, inf, -inf).

    With ``axis`` None, a vector gets its vector norm and a matrix its matrix norm (``ord`` None:
    the 2-norm of all entries); an int axis is a vector norm, a pair a matrix norm.
    """
    x = as_term(x)
    if axis is None:
        if ord is None:
            return _vector_norm(x, 2, None, keepdims)
        if x.ndim == 1:
            axis = (0,)
        elif x.ndim == 2:
            axis = (0, 1)
        else:
            raise ShapeError(f"norm: ord {ord!r} needs a vector or a matrix (or an axis), got shape {fmt_shape(x.static_shape)}")
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    axes = tuple(one_axis("norm", a, x) for a in axes)
    if len(set(axes)) != len(axes):
        raise AxisError(f"norm: repeated axis in {axis!r}")
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise AxisError(f"norm: axis must be an int or a pair, got {axis!r}")


# numpy's functions on terms (``np.cumsum(x)``, ``np.sort(x)``) and ndarray's methods (``x.cumsum()``)
_ARRAY_FUNCTIONS.update(
    {
        "cumsum": cumsum,
        "cumprod": cumprod,
        "sort": sort,
        "argsort": argsort,
        "flip": flip,
        "roll": roll,
        "diff": diff,
        "kron": kron,
        "pad": pad,
        "take_along_axis": take_along_axis,
        "searchsorted": searchsorted,
    }
)
for _name, _fn in (("cumsum", cumsum), ("cumprod", cumprod), ("sort", sort), ("argsort", argsort)):
    setattr(Term, _name, _fn)
Term.searchsorted = lambda self, v, side="left", sorter=None: searchsorted(self, v, side=side, sorter=sorter)
