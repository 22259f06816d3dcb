"""Shape functions: dimshuffle and its PyTensor spellings, reshape, shape queries, joining, splitting, repeating."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewritediff.errors import AxisError, RewriteDiffTypeError, ShapeError
from rewritediff.frontend.constructors import _shape_arg
from rewritediff.ops.infer import fmt_shape, norm_axis
from rewritediff.terms import (
    Term,
    apply,
    as_term,
)


# ---- shape ----------------------------------------------------------------------------------
def dimshuffle(x: Any, *pattern: Any) -> Term:
    """PyTensor's dimshuffle: ``x.dimshuffle('x', 0)``, ``x.dimshuffle(1, 0)``."""
    if len(pattern) == 1 and isinstance(pattern[0], list | tuple):
        pattern = tuple(pattern[0])
    x = as_term(x)
    pattern = tuple(pattern)
    if pattern == tuple(range(x.ndim)):
        return x
    return apply("dimshuffle", x, pattern=pattern)


def shape_padleft(t: Any, n_ones: int = 1) -> Term:
    """``t`` with ``n_ones`` broadcastable (length-1) dims added on the left (PyTensor's name)."""
    t = as_term(t)
    return dimshuffle(t, *(["x"] * _pad_count("shape_padleft", n_ones)), *range(t.ndim))


def shape_padright(t: Any, n_ones: int = 1) -> Term:
    """``t`` with ``n_ones`` broadcastable (length-1) dims added on the right (PyTensor's name)."""
    t = as_term(t)
    return dimshuffle(t, *range(t.ndim), *(["x"] * _pad_count("shape_padright", n_ones)))


def shape_padaxis(t: Any, axis: int) -> Term:
    """``t`` with one broadcastable (length-1) dim inserted at ``axis`` (negative counts from the end of the result)."""
    t = as_term(t)
    nd = t.ndim + 1
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer) or not -nd <= axis < nd:
        raise AxisError(f"shape_padaxis: axis {axis!r} is out of range for a result of ndim {nd}")
    return expand_dims(t, int(axis) % nd)


def _pad_count(fn: str, n_ones: Any) -> int:
    if isinstance(n_ones, bool) or not isinstance(n_ones, int | np.integer) or n_ones < 0:
        raise RewriteDiffTypeError(f"{fn}: n_ones must be a non-negative int, got {n_ones!r}")
    return int(n_ones)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Term:
    """Permute dims (reverse them when ``axes`` is None)."""
    x = as_term(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))

    axes = tuple(int(a) % x.ndim if x.ndim else a for a in axes)
    norm_axis("transpose", axes, x.ndim)
    return dimshuffle(x, *axes)


def expand_dims(x: Any, axis: int | Sequence[int]) -> Term:
    """Insert length-1 dims at ``axis`` (numpy semantics)."""

    x = as_term(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    nd = x.ndim + len(axes)
    axes = norm_axis("expand_dims", axes, nd)
    it = iter(range(x.ndim))
    return dimshuffle(x, *["x" if i in axes else next(it) for i in range(nd)])


def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> Term:
    """Drop length-1 dims (all statically known ones when ``axis`` is None)."""

    x = as_term(x)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.static_shape) if d == 1)
    else:
        axes = norm_axis("squeeze", axis, x.ndim)
    return dimshuffle(x, *[i for i in range(x.ndim) if i not in axes])


def reshape(x: Any, shape: Any, ndim: int | None = None) -> Term:
    """Reshape (one -1 allowed; entries may be 0-d int terms such as ``x.shape[0]``, or a shape term ``y.shape``)."""
    x = as_term(x)
    entries = _shape_arg(shape)
    static: list = []
    dims: list[Term] = []
    for d in entries:
        if isinstance(d, Term) and d.op == "const" and d.ndim == 0:
            d = d.value.item()
        if isinstance(d, Term):
            if d.ndim != 0 or d.dtype not in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"):
                raise RewriteDiffTypeError(f"reshape: a shape entry must be an int or a 0-d int term, got {d.type}")
            static.append(None)
            dims.append(d)
        else:
            static.append(int(d))
    if not dims and tuple(static) == x.static_shape:
        return x
    return apply("reshape", x, *dims, shape=tuple(static))


def flatten(x: Any, ndim: int = 1) -> Term:
    """Collapse the trailing dims so the result has ``ndim`` dims."""
    x = as_term(x)
    if ndim < 1 or ndim > builtins.max(x.ndim, 1):
        raise ShapeError(f"flatten: ndim={ndim} is out of range for an argument of ndim {x.ndim}")
    if x.ndim == ndim:
        return x
    lead = []
    for d in x.static_shape[: ndim - 1]:
        if d is None:
            raise ShapeError(f"flatten: leading dims must be static to flatten to ndim {ndim}, shape {x.static_shape}")
        lead.append(d)
    return reshape(x, (*lead, -1))


def broadcast_to(x: Any, shape: Sequence[int]) -> Term:
    """Broadcast to a static shape."""
    x = as_term(x)
    shape = tuple(int(s) for s in shape)
    return x if x.static_shape == shape else apply("broadcast_to", x, shape=shape)


def shape(x: Any) -> Term:
    """The run-time shape as an int64 vector."""
    return apply("shape", as_term(x))


def shape_i(x: Any, i: int) -> Term:
    """Dim ``i`` of the run-time shape."""
    return apply("shape_i", as_term(x), i=i)


def specify_shape(x: Any, shape: Sequence[Any]) -> Term:
    """Assert a shape, checked at run time (entries: ints, None for any length, or 0-d int terms such as ``y.shape[0]``)."""
    static: list = []
    lengths: list[Term] = []
    sym: list[int] = []
    for axis, d in enumerate(shape):
        if isinstance(d, Term) and d.op == "const" and d.ndim == 0:
            d = d.value.item()
        if isinstance(d, Term):
            static.append(None)
            lengths.append(d)
            sym.append(axis)
        else:
            static.append(d)
    return apply("specify_shape", as_term(x), *lengths, shape=tuple(static), sym=tuple(sym))


def stack(tensors: Sequence[Any], axis: int = 0) -> Term:
    """Join tensors along a new axis."""
    return apply("stack", *[as_term(t) for t in tensors], axis=axis)


def sum_to(g: Any, x: Any) -> Term:
    """``g`` summed over the axes along which x was broadcast to g's shape."""
    g, x = as_term(g), as_term(x)
    return apply("sum_to", g, x)


# ---- joining, splitting, repeating ---------------------------------------------------------------
def join(axis: int, *tensors: Any) -> Term:
    """Join tensors along an existing axis (PyTensor's argument order: axis first)."""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    terms = [as_term(t) for t in tensors]
    return apply("join", *terms, axis=axis)


def concatenate(tensor_list: Sequence[Any], axis: int = 0) -> Term:
    """Join tensors along an existing axis (numpy's concatenate)."""
    return join(axis, *tensor_list)


def split(x: Any, splits_size: Sequence[int], n_splits: int | None = None, axis: int = 0) -> list[Term]:
    """Split x along ``axis`` into pieces of the given static sizes (one ``subtensor`` each)."""

    x = as_term(x)
    sizes = [int(s) for s in (splits_size.tolist() if isinstance(splits_size, np.ndarray) else splits_size)]
    if n_splits is not None and n_splits != len(sizes):
        raise ShapeError(f"split: n_splits={n_splits} but {len(sizes)} sizes given ({sizes!r})")
    if builtins.any(s < 0 for s in sizes):
        raise ShapeError(f"split: negative size in {sizes!r}")
    if not -x.ndim <= axis < x.ndim:
        raise AxisError(f"split: axis {axis} is out of range for an argument of shape {fmt_shape(x.static_shape)}")
    axis %= x.ndim
    d = x.static_shape[axis]
    if d is not None and builtins.sum(sizes) != d:
        raise ShapeError(f"split: sizes {sizes!r} sum to {builtins.sum(sizes)}, but axis {axis} of shape {fmt_shape(x.static_shape)} has length {d}")
    pieces = []
    start = 0
    for s in sizes:
        idx = (("slice", None, None, None),) * axis + (("slice", start, start + s, None),)
        pieces.append(apply("subtensor", x, idx=idx))
        start += s
    return pieces


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Term:
    """Repeat elements (numpy's repeat; static repeats, flattened when ``axis`` is None)."""
    return apply("repeat", as_term(x), repeats=repeats, axis=axis)


def tile(x: Any, reps: Any) -> Term:
    """Tile x ``reps`` times along each axis (numpy's tile, static reps)."""
    return apply("tile", as_term(x), reps=reps)
