"""Structural ops along one axis: cumulative sums and products, flips, rolls, sorting, gathering.

Attributes are normalised at construction (negative axes made non-negative), so
``cumsum(x){axis=-1}`` and ``cumsum(x){axis=1}`` on a matrix are the same term. numpy's
``axis=None`` (flatten first) is the frontend's business (``rewritediff/structural.py``): every
op here acts along a single existing axis (``flip`` along a tuple of them).

* ``cumsum{axis}``, ``cumprod{axis}``: numpy's, integer and bool inputs accumulate in int64.
* ``flip{axis}``: numpy's, ``axis`` a sorted tuple.
* ``roll{shift, axis}``: numpy's, one static int shift along one axis.
* ``sort{axis}``, ``argsort{axis}``: numpy's with a stable sort (ties keep their order, so the
  permutation is the same on every backend); ``argsort`` is int64 and carries no gradient.
* ``searchsorted{side}(a, v)``: numpy's (``a`` a sorted vector), int64 of ``v``'s shape, no gradient.
* ``take_along_axis{axis}(x, idx)``: numpy's; ``idx`` an integer array of x's ndim whose other
  dims broadcast against x's.

Gradient helpers (``.rules`` files call them): ``untake_along_axis{axis, batch}(g, idx, x)`` adds
g into zeros shaped like x at the positions idx names (the transpose of ``take_along_axis``);
``prod_pairs{axis}(g, x)``, per element i, sums g_j times the product of the elements other
than i and j along axis: the Hessian of ``prod`` applied to g, exact with zeros (the derivative
of ``prod_others``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rewritediff.errors import AxisError, RewriteDiffTypeError, ShapeError
from rewritediff.ops import signs
from rewritediff.ops.infer import broadcast_shapes, fmt_shape, norm_axis
from rewritediff.ops.registry import OpDef, register
from rewritediff.terms import INT_DTYPES, TensorType, Term, apply


# ---- attribute checks ------------------------------------------------------------------------------
def static_int(op: str, name: str, value: Any) -> int:
    """``value`` as a Python int, rejecting bools, floats and terms with an error naming the op."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise RewriteDiffTypeError(f"{op}: {name} must be a static int, got {value!r}")
    return int(value)


def one_axis(op: str, axis: Any, x: Term) -> int:
    """A single axis of ``x`` made non-negative (AxisError names the op and the shape)."""
    axis = static_int(op, "axis", axis)
    if x.ndim == 0 or not -x.ndim <= axis < x.ndim:
        raise AxisError(f"{op}: axis {axis} is out of range for an argument of shape {fmt_shape(x.static_shape)}")
    return axis % x.ndim


def _axis_prepare(op: str) -> Any:
    def prepare(args: tuple, attrs: dict) -> dict:
        out = dict(attrs)
        out["axis"] = one_axis(op, attrs["axis"], args[0])
        return out

    return prepare


def _shift_axis(node: Term, args: list, flags: list, n: Any) -> Term:
    """Batching of a one-argument op along an axis: the axis moves one place right."""
    attrs = node.attr_dict
    axis = attrs["axis"]
    attrs["axis"] = tuple(a + 1 for a in axis) if isinstance(axis, tuple) else axis + 1
    return apply(node.op, args[0], **attrs)


def _accumulated_dtype(dtype: str) -> str:
    return "int64" if dtype == "bool" or dtype.startswith("int") else "uint64" if dtype.startswith("uint") else dtype


# ---- cumsum, cumprod ---------------------------------------------------------------------------------
for _name in ("cumsum", "cumprod"):
    register(
        OpDef(
            name=_name,
            infer=lambda args, attrs: TensorType(_accumulated_dtype(args[0].dtype), args[0].static_shape),
            impl=getattr(np, _name),
            attrs={"axis": 0},
            emit=f"np.{_name}({{0}}, axis={{axis}})",
            prepare=_axis_prepare(_name),
            shape_from=0,
            memory="fresh",
            cost_kind="reduction",
            signs=signs.summed,  # positive (nonnegative) terms accumulate to positive (nonnegative) ones
            zero_out=(0,),
            doc=f"{_name}(x){{axis}}: numpy's {_name} along one axis",
            group="structural",
            batch=_shift_axis,
        )
    )


_REARRANGES = {"signs": signs.same_as_arg(0), "zero_out": (0,)}  # the values of x, moved


# ---- flip, roll ------------------------------------------------------------------------------------------
def _flip_prepare(args: tuple, attrs: dict) -> dict:
    x = args[0]
    axis = attrs["axis"]
    if axis is None:
        return {"axis": tuple(range(x.ndim))}
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer | tuple | list):
        raise RewriteDiffTypeError(f"flip: axis must be an int, a tuple of ints or None, got {axis!r}")
    try:
        return {"axis": norm_axis("flip", axis, x.ndim)}
    except AxisError:
        raise AxisError(f"flip: axis {axis!r} is out of range for an argument of shape {fmt_shape(x.static_shape)}") from None


register(
    OpDef(
        name="flip",
        infer=lambda args, attrs: args[0].type,
        impl=lambda x, axis: np.flip(x, axis=axis),
        attrs={"axis": None},
        emit="np.flip({0}, axis={axis!r})",
        prepare=_flip_prepare,
        shape_from=0,
        cost_kind="layout",
        **_REARRANGES,
        doc="flip(x){axis}: x reversed along the axes (a tuple)",
        group="structural",
        batch=_shift_axis,
    )
)


def _roll_prepare(args: tuple, attrs: dict) -> dict:
    return {"shift": static_int("roll", "shift", attrs["shift"]), "axis": one_axis("roll", attrs["axis"], args[0])}


register(
    OpDef(
        name="roll",
        infer=lambda args, attrs: args[0].type,
        impl=lambda x, shift, axis: np.roll(x, shift, axis=axis),
        attrs={"shift": 0, "axis": 0},
        emit="np.roll({0}, {shift}, axis={axis})",
        prepare=_roll_prepare,
        shape_from=0,
        memory="fresh",
        cost_kind="layout",
        **_REARRANGES,
        doc="roll(x){shift, axis}: numpy's roll by a static shift along one axis",
        group="structural",
        batch=_shift_axis,
    )
)


# ---- sort, argsort, searchsorted -------------------------------------------------------------------------
register(
    OpDef(
        name="sort",
        infer=lambda args, attrs: args[0].type,
        impl=lambda x, axis: np.sort(x, axis=axis, kind="stable"),
        attrs={"axis": 0},
        emit="np.sort({0}, axis={axis}, kind='stable')",
        prepare=_axis_prepare("sort"),
        shape_from=0,
        memory="fresh",
        cost_kind="reduction",
        **_REARRANGES,
        doc="sort(x){axis}: x sorted along one axis (a stable sort)",
        group="structural",
        batch=_shift_axis,
    )
)
register(
    OpDef(
        name="argsort",
        infer=lambda args, attrs: TensorType("int64", args[0].static_shape),
        impl=lambda x, axis: np.argsort(x, axis=axis, kind="stable"),
        attrs={"axis": 0},
        emit="np.argsort({0}, axis={axis}, kind='stable')",
        prepare=_axis_prepare("argsort"),
        shape_from=0,
        memory="fresh",
        cost_kind="reduction",
        doc="argsort(x){axis}: the stable sorting permutation along one axis (int64, no gradient)",
        group="structural",
        differentiable=False,
        batch=_shift_axis,
    )
)


def _searchsorted_prepare(args: tuple, attrs: dict) -> dict:
    a, v = args
    if a.ndim != 1:
        raise ShapeError(f"searchsorted: the sorted array must be a vector, got shape {fmt_shape(a.static_shape)}")
    if attrs["side"] not in ("left", "right"):
        raise RewriteDiffTypeError(f"searchsorted: side must be 'left' or 'right', got {attrs['side']!r}")
    return {"side": attrs["side"]}


def _searchsorted_batch(node: Term, args: list, flags: list, n: Any) -> Term | None:
    if flags[0]:
        return None  # a batch of sorted vectors: numpy's searchsorted takes one
    return apply("searchsorted", args[0], args[1], side=node.attr("side"))


register(
    OpDef(
        name="searchsorted",
        infer=lambda args, attrs: TensorType("int64", args[1].static_shape),
        impl=lambda a, v, side: np.searchsorted(a, v, side=side),
        arity=2,
        attrs={"side": "left"},
        emit="np.searchsorted({0}, {1}, side={side!r})",
        prepare=_searchsorted_prepare,
        shape_from=1,
        memory="fresh",
        cost_kind="reduction",
        doc="searchsorted(a, v){side}: where the values v go in the sorted vector a (int64, no gradient)",
        group="structural",
        differentiable=False,
        batch=_searchsorted_batch,
    )
)


# ---- take_along_axis and its transpose -----------------------------------------------------------------
def _take_prepare(args: tuple, attrs: dict) -> dict:
    x, idx = args
    if idx.dtype not in INT_DTYPES:
        raise RewriteDiffTypeError(f"take_along_axis: indices must be integers, got dtype {idx.dtype}")
    if idx.ndim != x.ndim:
        raise ShapeError(f"take_along_axis: indices must have the array's ndim, got shapes {fmt_shape(x.static_shape)} and {fmt_shape(idx.static_shape)}")
    return {"axis": one_axis("take_along_axis", attrs["axis"], x)}


def _take_infer(args: tuple, attrs: dict) -> TensorType:
    x, idx = args
    axis = attrs["axis"]
    others = [tuple(s[:axis] + s[axis + 1 :]) for s in (x.static_shape, idx.static_shape)]
    shape = list(broadcast_shapes("take_along_axis", others))
    shape.insert(axis, idx.static_shape[axis])
    return TensorType(x.dtype, tuple(shape))


def _lead(t: Term, k: int = 1) -> Term:
    """``t`` with ``k`` new leading dims of length 1 (they broadcast against a batch)."""
    return apply("dimshuffle", t, pattern=("x",) * k + tuple(range(t.ndim)))


def _take_batch(node: Term, args: list, flags: list, n: Any) -> Term:
    x, idx = (a if f else _lead(a) for a, f in zip(args, flags))
    return apply("take_along_axis", x, idx, axis=node.attr("axis") + 1)


register(
    OpDef(
        name="take_along_axis",
        infer=_take_infer,
        impl=lambda x, idx, axis: np.take_along_axis(x, idx, axis=axis),
        arity=2,
        attrs={"axis": 0},
        emit="np.take_along_axis({0}, {1}, axis={axis})",
        prepare=_take_prepare,
        memory="fresh",
        cost_kind="layout",
        **_REARRANGES,
        doc="take_along_axis(x, idx){axis}: numpy's gather along one axis",
        group="structural",
        batch=_take_batch,
    )
)


def _untake(g: np.ndarray, idx: np.ndarray, x: np.ndarray, axis: int = 0, batch: int = 0) -> np.ndarray:
    """Zeros shaped like x (after g's first ``batch`` dims) with g added at the positions idx names along axis."""
    g = np.asarray(g)
    shape = g.shape[:batch] + np.shape(x)
    out = np.zeros(shape, dtype=g.dtype)
    idx = np.asarray(idx).reshape((1,) * (g.ndim - np.ndim(idx)) + np.shape(idx))
    ax = axis + batch
    grids = []
    for d in range(g.ndim):
        if d == ax:
            grids.append(np.broadcast_to(idx, g.shape))
            continue
        pattern = [1] * g.ndim
        pattern[d] = g.shape[d]
        # a dim of x of length 1 that take_along_axis broadcast: every copy goes back to its one place
        along = np.arange(g.shape[d]) if shape[d] == g.shape[d] else np.zeros(g.shape[d], dtype=np.int64)
        grids.append(along.reshape(pattern))
    np.add.at(out, tuple(grids), g)
    return out


def _untake_prepare(args: tuple, attrs: dict) -> dict:
    g, idx, x = args
    batch = static_int("untake_along_axis", "batch", attrs["batch"])
    if idx.dtype not in INT_DTYPES:
        raise RewriteDiffTypeError(f"untake_along_axis: indices must be integers, got dtype {idx.dtype}")
    if g.ndim != x.ndim + batch or idx.ndim > g.ndim:
        raise ShapeError(
            f"untake_along_axis: shapes {fmt_shape(g.static_shape)}, {fmt_shape(idx.static_shape)}, {fmt_shape(x.static_shape)} do not fit batch={batch}"
        )
    return {"axis": one_axis("untake_along_axis", attrs["axis"], x), "batch": batch}


def _untake_batch(node: Term, args: list, flags: list, n: Any) -> Term | None:
    if flags[2]:
        return None
    g, idx = args[0] if flags[0] else _lead(args[0]), args[1]
    if not flags[1]:
        idx = _lead(idx)
    return apply("untake_along_axis", g, idx, args[2], axis=node.attr("axis"), batch=node.attr("batch") + 1)


register(
    OpDef(
        name="untake_along_axis",
        infer=lambda args, attrs: TensorType(args[0].dtype, args[0].static_shape[: attrs["batch"]] + args[2].static_shape),
        impl=_untake,
        arity=3,
        attrs={"axis": 0, "batch": 0},
        prepare=_untake_prepare,
        shape_args=(2,),
        memory="fresh",
        cost_kind="layout",
        zero_out=(0,),
        doc="untake_along_axis(g, idx, x){axis, batch}: g added into zeros shaped like x at the positions idx names (the transpose of take_along_axis)",
        group="gradient-helper",
        batch=_untake_batch,
    )
)


# ---- the second derivative of prod --------------------------------------------------------------------------
def _prod_pairs(g: np.ndarray, x: np.ndarray, axis: Any = None) -> np.ndarray:
    """Per element i: the sum over j != i of g_j times the product of the elements other than i and j along axis.

    Exact with zeros (no division): with P_i the product before i and S_i the one after,
    out_i = S_i * A_i + P_i * B_i, where A_i = sum_{j<i} g_j P_j prod_{j<k<i} x_k and B_i the
    mirror image; A and B are one multiply-add per step along the axis.
    """
    shape = np.broadcast_shapes(np.shape(g), np.shape(x))
    dt = np.result_type(np.asarray(g).dtype, np.asarray(x).dtype)
    if not math.prod(shape):
        return np.zeros(shape, dtype=dt)
    axes = tuple(range(len(shape))) if axis is None else tuple(axis)
    first = tuple(range(len(axes)))
    # the reduced axes first, flattened: each step below reads and writes one contiguous row
    xm, gm = (np.moveaxis(np.broadcast_to(a, shape), axes, first) for a in (x, g))
    xf = np.ascontiguousarray(xm, dtype=dt).reshape(math.prod(xm.shape[: len(axes)]), -1)
    gf = np.ascontiguousarray(gm, dtype=dt).reshape(xf.shape)
    n = xf.shape[0]
    before = np.empty_like(xf)  # the product of the elements before i
    after = np.empty_like(xf)  # and after it
    a = np.zeros_like(xf)
    b = np.zeros_like(xf)
    if n:
        before[0] = 1
        np.cumprod(xf[:-1], axis=0, out=before[1:])
        after[-1] = 1
        np.cumprod(xf[:0:-1], axis=0, out=after[-2::-1])
    for i in range(1, n):
        np.add(a[i - 1] * xf[i - 1], gf[i - 1] * before[i - 1], out=a[i])
        j = n - 1 - i
        np.add(b[j + 1] * xf[j + 1], gf[j + 1] * after[j + 1], out=b[j])
    out = (after * a + before * b).reshape(xm.shape)
    return np.moveaxis(out, first, axes)


def _prod_pairs_batch(node: Term, args: list, flags: list, n: Any) -> Term | None:
    if flags[1]:
        return None
    axis = node.attr("axis")
    x = node.args[1]
    axis = tuple(range(x.ndim)) if axis is None else axis
    g = args[0]
    # the batch of g becomes a leading dim of x too (broadcast), outside the reduced axes
    xb = _lead(x)
    return apply("prod_pairs", g, xb, axis=tuple(a + 1 for a in axis))


def _prod_pairs_prepare(args: tuple, attrs: dict) -> dict:
    g, x = args
    if g.ndim > x.ndim:
        broadcast_shapes("prod_pairs", [g.static_shape, x.static_shape])
    return {"axis": norm_axis("prod_pairs", attrs["axis"], max(g.ndim, x.ndim))}


register(
    OpDef(
        name="prod_pairs",
        infer=lambda args, attrs: TensorType(args[0].dtype, broadcast_shapes("prod_pairs", [args[0].static_shape, args[1].static_shape])),
        impl=_prod_pairs,
        arity=2,
        attrs={"axis": None},
        prepare=_prod_pairs_prepare,
        memory="fresh",
        cost_kind="reduction",
        zero_out=(0,),
        doc="prod_pairs(g, x){axis}: per element i, the sum over j != i of g_j times the product of the elements other than i and j (the Hessian of prod applied to g)",
        group="gradient-helper",
        batch=_prod_pairs_batch,
    )
)
