"""Shape ops: dimshuffle (PyTensor's pattern with 'x'), reshape, broadcasting helpers, shape queries.

``sum_to(g, x)`` and ``broadcast_like(g, x)`` are the two tensor helpers the derivative
rules lean on: the first sums a gradient back down to an argument's (run-time) shape, the
second broadcasts it up to one. Both take the reference term as an argument so the rule
needs no symbolic shape arithmetic.
"""

from __future__ import annotations

import math

import numpy as np

from rewritediff import runtime as rt
from rewritediff.errors import ShapeError
from rewritediff.ops import OpDef, register
from rewritediff.ops.infer import broadcast_shapes, fmt_shape, promote
from rewritediff.terms import TensorType, check_dtype


# ---- dimshuffle ---------------------------------------------------------------------
def _ds_prepare(args: tuple, attrs: dict) -> dict:
    x = args[0]
    pattern = tuple("x" if p == "x" else p for p in attrs["pattern"])
    dims = [p for p in pattern if p != "x"]
    for p in dims:
        if not isinstance(p, int | np.integer) or not 0 <= p < x.ndim:
            raise ShapeError(f"dimshuffle: pattern {pattern!r} names dim {p!r}, but the argument has ndim {x.ndim}")
    if len(set(dims)) != len(dims):
        raise ShapeError(f"dimshuffle: pattern {pattern!r} repeats a dim")
    for i in set(range(x.ndim)) - set(dims):
        if x.static_shape[i] not in (1, None):
            raise ShapeError(f"dimshuffle: pattern {pattern!r} drops dim {i} of shape {fmt_shape(x.static_shape)}, which is not of length 1")
    return {"pattern": tuple(int(p) if p != "x" else "x" for p in pattern)}


def _ds_infer(args: tuple, attrs: dict) -> TensorType:
    x = args[0]
    return TensorType(x.dtype, tuple(1 if p == "x" else x.static_shape[p] for p in attrs["pattern"]))


def _ds_emit(a: list[str], k: dict) -> str:
    pattern = k["pattern"]
    dims = [p for p in pattern if p != "x"]
    if pattern == (1, 0):
        return f"{a[0]}.T"
    if "x" not in pattern and len(dims) == len(pattern):
        return f"np.transpose({a[0]}, {pattern!r})"
    return f"rt.dimshuffle({a[0]}, {pattern!r})"


register(
    OpDef(
        name="dimshuffle",
        infer=_ds_infer,
        impl=rt.dimshuffle,
        attrs={"pattern": ()},
        emit=_ds_emit,
        prepare=_ds_prepare,
        doc="permute dims, insert broadcastable dims ('x'), drop length-1 dims",
        group="shape",
    )
)


# ---- reshape ----------------------------------------------------------------------------
def _reshape_prepare(args: tuple, attrs: dict) -> dict:
    shape = attrs["shape"]
    if isinstance(shape, int | np.integer):
        shape = (shape,)
    shape = tuple(int(s) for s in shape)
    if sum(1 for s in shape if s == -1) > 1 or any(s < -1 for s in shape):
        raise ShapeError(f"reshape: bad target shape {shape!r} (at most one -1, no other negative dims)")
    return {"shape": shape}


def _reshape_infer(args: tuple, attrs: dict) -> TensorType:
    x = args[0]
    shape = attrs["shape"]
    known = None not in x.static_shape
    if known:
        size = math.prod(x.static_shape)
        if -1 in shape:
            rest = math.prod(s for s in shape if s != -1)
            if rest == 0 or size % rest:
                raise ShapeError(f"reshape: cannot reshape {fmt_shape(x.static_shape)} (size {size}) to {shape!r}")
            shape = tuple(size // rest if s == -1 else s for s in shape)
        elif math.prod(shape) != size:
            raise ShapeError(f"reshape: cannot reshape {fmt_shape(x.static_shape)} (size {size}) to {shape!r}")
        return TensorType(x.dtype, shape)
    return TensorType(x.dtype, tuple(None if s == -1 else s for s in shape))


register(
    OpDef(
        name="reshape",
        infer=_reshape_infer,
        impl=lambda x, shape: np.reshape(x, shape),
        attrs={"shape": ()},
        emit="np.reshape({0}, {shape!r})",
        prepare=_reshape_prepare,
        doc="reshape to a static shape (one -1 allowed)",
        group="shape",
    )
)


# ---- broadcasting helpers -----------------------------------------------------------------
def _like_infer(args: tuple, attrs: dict) -> TensorType:
    g, x = args
    broadcast_shapes("broadcast_like", [g.static_shape, x.static_shape])
    if g.ndim > x.ndim:
        raise ShapeError(f"broadcast_like: cannot broadcast {fmt_shape(g.static_shape)} to the shape of {fmt_shape(x.static_shape)}")
    shape = tuple(xd if xd is not None else (gd if gd != 1 else None) for xd, gd in zip(x.static_shape, (1,) * (x.ndim - g.ndim) + g.static_shape))
    return TensorType(g.dtype, shape)


register(
    OpDef(
        name="broadcast_like",
        infer=_like_infer,
        impl=lambda g, x: np.broadcast_to(g, np.shape(x)),
        arity=2,
        emit="np.broadcast_to({0}, np.shape({1}))",
        doc="broadcast_like(g, x): g broadcast to the shape of x (x only gives its shape)",
        group="shape",
    )
)


def _sum_to_infer(args: tuple, attrs: dict) -> TensorType:
    g, x = args
    if x.ndim > g.ndim:
        raise ShapeError(f"sum_to: cannot sum {fmt_shape(g.static_shape)} down to {fmt_shape(x.static_shape)}")
    broadcast_shapes("sum_to", [g.static_shape, x.static_shape])
    return TensorType(g.dtype, x.static_shape)


register(
    OpDef(
        name="sum_to",
        infer=_sum_to_infer,
        impl=lambda g, x: rt.sum_to(g, np.shape(x)),
        arity=2,
        emit="rt.sum_to({0}, np.shape({1}))",
        doc="sum_to(g, x): g summed over the axes x was broadcast along (x only gives its shape)",
        group="shape",
    )
)


def _broadcast_to_prepare(args: tuple, attrs: dict) -> dict:
    shape = attrs["shape"]
    shape = (int(shape),) if isinstance(shape, int | np.integer) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ShapeError(f"broadcast_to: negative dim in {shape!r}")
    return {"shape": shape}


def _broadcast_to_infer(args: tuple, attrs: dict) -> TensorType:
    x = args[0]
    shape = attrs["shape"]
    if x.ndim > len(shape):
        raise ShapeError(f"broadcast_to: cannot broadcast {fmt_shape(x.static_shape)} to {shape!r}")
    out = broadcast_shapes("broadcast_to", [x.static_shape, shape])
    if tuple(out) != shape:
        raise ShapeError(f"broadcast_to: cannot broadcast {fmt_shape(x.static_shape)} to {shape!r}")
    return TensorType(x.dtype, shape)


register(
    OpDef(
        name="broadcast_to",
        infer=_broadcast_to_infer,
        impl=lambda x, shape: np.broadcast_to(x, shape),
        attrs={"shape": ()},
        emit="np.broadcast_to({0}, {shape!r})",
        prepare=_broadcast_to_prepare,
        doc="broadcast to a static shape",
        group="shape",
    )
)


# ---- like-constructors (disconnected from their reference) ----------------------------------
def _fill_infer(args: tuple, attrs: dict) -> TensorType:
    x = args[0]
    dtype = check_dtype(attrs["dtype"]) if attrs["dtype"] is not None else x.dtype
    return TensorType(dtype, x.static_shape)


for _name, _val in (("zeros_like", 0), ("ones_like", 1)):
    register(
        OpDef(
            name=_name,
            infer=_fill_infer,
            impl=(lambda v: lambda x, dtype=None: np.full(np.shape(x), v, dtype=dtype or np.asarray(x).dtype))(_val),
            attrs={"dtype": None},
            emit=(
                lambda v: (
                    lambda a, k: (
                        f"np.full(np.shape({a[0]}), {v}, dtype=np.{k['dtype']})" if k["dtype"] else f"np.full(np.shape({a[0]}), {v}, dtype={a[0]}.dtype)"
                    )
                )
            )(_val),
            prepare=lambda args, attrs: {"dtype": None if attrs["dtype"] is None else check_dtype(attrs["dtype"])},
            doc=f"{'zeros' if _val == 0 else 'ones'} of the shape (and dtype, unless given) of x",
            group="constructor",
            differentiable=False,
        )
    )


def _fill_like_infer(args: tuple, attrs: dict) -> TensorType:
    x, v = args
    if v.ndim != 0:
        raise ShapeError(f"fill: the value must be a scalar, got shape {fmt_shape(v.static_shape)}")
    return TensorType(promote([x.dtype, v.dtype]) if x.dtype != "bool" else v.dtype, x.static_shape)


register(
    OpDef(
        name="fill",
        infer=_fill_like_infer,
        impl=lambda x, v: np.full(np.shape(x), v),
        arity=2,
        emit="np.full(np.shape({0}), {1})",
        doc="fill(x, v): an array shaped like x filled with the scalar v",
        group="constructor",
    )
)


# ---- shape queries -----------------------------------------------------------------------
register(
    OpDef(
        name="shape",
        infer=lambda args, attrs: TensorType("int64", (args[0].ndim,)),
        impl=lambda x: np.array(np.shape(x), dtype=np.int64),
        emit="np.array(np.shape({0}), dtype=np.int64)",
        doc="the run-time shape as an int64 vector",
        group="shape",
        differentiable=False,
    )
)


def _shape_i_prepare(args: tuple, attrs: dict) -> dict:
    i = attrs["i"]
    nd = args[0].ndim
    if not isinstance(i, int | np.integer) or not -nd <= i < nd:
        raise ShapeError(f"shape_i: dim {i!r} out of range for ndim {nd}")
    return {"i": int(i) % nd}


register(
    OpDef(
        name="shape_i",
        infer=lambda args, attrs: TensorType("int64", ()),
        impl=lambda x, i: np.int64(np.shape(x)[i]),
        attrs={"i": 0},
        emit="np.int64(np.shape({0})[{i}])",
        prepare=_shape_i_prepare,
        doc="one dim of the run-time shape, an int64 scalar",
        group="shape",
        differentiable=False,
    )
)


def _spec_prepare(args: tuple, attrs: dict) -> dict:
    shape = tuple(None if s is None or s == -1 else int(s) for s in attrs["shape"])
    x = args[0]
    if len(shape) != x.ndim:
        raise ShapeError(f"specify_shape: {shape!r} has {len(shape)} dims, the argument has ndim {x.ndim}")
    for s, d in zip(shape, x.static_shape):
        if s is not None and d is not None and s != d:
            raise ShapeError(f"specify_shape: {shape!r} contradicts the static shape {fmt_shape(x.static_shape)}")
    return {"shape": shape}


register(
    OpDef(
        name="specify_shape",
        infer=lambda args, attrs: TensorType(args[0].dtype, tuple(s if s is not None else d for s, d in zip(attrs["shape"], args[0].static_shape))),
        impl=rt.specify_shape,
        attrs={"shape": ()},
        emit="rt.specify_shape({0}, {shape!r})",
        prepare=_spec_prepare,
        doc="assert a static shape (checked at run time)",
        group="shape",
    )
)
