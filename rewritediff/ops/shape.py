"""Shape ops: dimshuffle (PyTensor's pattern with 'x'), reshape, broadcasting helpers, shape queries.

``sum_to(g, x)`` and ``broadcast_like(g, x)`` are the two tensor helpers the derivative
rules lean on: the first sums a gradient back down to an argument's (run-time) shape, the
second broadcasts it up to one. Both take the reference term as an argument so the rule
needs no symbolic shape arithmetic.

Joining and repeating are in ``ops/joining.py``, constructors in ``ops/constructors.py``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rewritediff import runtime as rt
from rewritediff.errors import RewriteDiffTypeError, ShapeError
from rewritediff.ops import dims
from rewritediff.ops.infer import broadcast_shapes, fmt_shape, promote
from rewritediff.ops.registry import OpDef, register
from rewritediff.terms import INT_DTYPES, TensorType, check_dtype


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
    return {"pattern": tuple(int(p) if p != "x" else "x" for p in pattern), "ndim_in": x.ndim}


def _ds_infer(args: tuple, attrs: dict) -> TensorType:
    x = args[0]
    return TensorType(x.dtype, tuple(1 if p == "x" else x.static_shape[p] for p in attrs["pattern"]))


def _ds_emit(a: list[str], k: dict) -> str:
    pattern, nd = k["pattern"], k.get("ndim_in")
    kept = [p for p in pattern if p != "x"]
    if nd is not None and len(kept) == nd:  # nothing dropped: a view by plain numpy
        if kept == list(range(nd)):
            return f"{a[0]}[{', '.join('None' if p == 'x' else ':' for p in pattern)}]"
        if "x" not in pattern:
            return f"{a[0]}.T" if pattern == (1, 0) else f"np.transpose({a[0]}, {pattern!r})"
    return f"rt.dimshuffle({a[0]}, {pattern!r})"


register(
    OpDef(
        name="dimshuffle",
        dims=dims.pattern_dims,
        runtime_shape=lambda shapes, attrs: tuple(1 if p == "x" else shapes[0][p] for p in attrs["pattern"]),
        infer=_ds_infer,
        impl=lambda x, pattern, ndim_in=None: rt.dimshuffle(x, pattern),
        attrs={"pattern": (), "ndim_in": None},
        emit=_ds_emit,
        prepare=_ds_prepare,
        doc="permute dims, insert broadcastable dims ('x'), drop length-1 dims",
        group="shape",
        print_kind="axes",
        cheap=True,
    )
)


# ---- reshape ----------------------------------------------------------------------------
def _reshape_prepare(args: tuple, attrs: dict) -> dict:
    shape = attrs["shape"]
    if isinstance(shape, int | np.integer):
        shape = (shape,)
    shape = tuple(None if s is None else int(s) for s in shape)
    if sum(1 for s in shape if s == -1) > 1 or any(s is not None and s < -1 for s in shape):
        raise ShapeError(f"reshape: bad target shape {shape!r} (at most one -1, no other negative dims)")
    n_sym = sum(1 for s in shape if s is None)
    if n_sym != len(args) - 1:
        raise ShapeError(f"reshape: shape {shape!r} has {n_sym} symbolic dim(s) but {len(args) - 1} dim argument(s) were given")
    for d in args[1:]:
        if d.ndim != 0 or d.dtype not in INT_DTYPES:
            raise RewriteDiffTypeError(f"reshape: symbolic dims must be int scalars, got {d.type}")
    return {"shape": shape}


def _reshape_infer(args: tuple, attrs: dict) -> TensorType:
    x = args[0]
    shape = attrs["shape"]
    if None in shape:
        return TensorType(x.dtype, tuple(None if s == -1 else s for s in shape))
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


def _shape_source(shape: tuple, names: list[str]) -> str:
    """A shape attribute as Python source, its None entries read from the named 0-d arguments in order."""
    dims = iter(names)
    parts = [str(d) if d is not None else f"int({next(dims)})" for d in shape]
    return f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"


def _shape_value(shape: tuple, dims: tuple) -> tuple:
    """A shape attribute with its None entries filled, in order, from run-time lengths."""
    it = iter(dims)
    return tuple(d if d is not None else int(next(it)) for d in shape)


def _reshape_emit(a: list[str], k: dict) -> str:
    return f"np.reshape({a[0]}, {_shape_source(k['shape'], a[1:])})"


def _reshape_impl(x: Any, *dims: Any, shape: tuple) -> np.ndarray:
    return np.reshape(x, _shape_value(shape, dims))


register(
    OpDef(
        name="reshape",
        sized_by=dims.shape_sized,
        infer=_reshape_infer,
        impl=_reshape_impl,
        arity=(1, None),
        attrs={"shape": ()},
        emit=_reshape_emit,
        prepare=_reshape_prepare,
        doc="reshape(x, *dims){shape}: reshape to shape (one -1 allowed); each None entry is taken, in order, from the int scalar arguments after x",
        group="shape",
    )
)


# ---- broadcasting helpers -----------------------------------------------------------------
def _batch_prepare(args: tuple, attrs: dict) -> dict:
    b = int(attrs["batch"])
    if not 0 <= b <= args[0].ndim:
        raise ShapeError(f"batch={b} is out of range for an argument of ndim {args[0].ndim}")
    return {"batch": b}


def _like_infer(args: tuple, attrs: dict) -> TensorType:
    g, x = args
    b = attrs["batch"]
    lead, core = g.static_shape[:b], g.static_shape[b:]
    if len(core) > x.ndim:
        raise ShapeError(f"broadcast_like: cannot broadcast {fmt_shape(g.static_shape)} to the shape of {fmt_shape(x.static_shape)}")
    broadcast_shapes("broadcast_like", [core, x.static_shape])
    core = (1,) * (x.ndim - len(core)) + core
    shape = tuple(xd if xd is not None else (gd if gd != 1 else None) for xd, gd in zip(x.static_shape, core))
    return TensorType(g.dtype, lead + shape)


register(
    OpDef(
        name="broadcast_like",
        same_shape_noop=True,
        shape_from=1,
        shape_args=(1,),
        infer=_like_infer,
        impl=lambda g, x, batch=0: rt.broadcast_batched(g, np.shape(x), batch),
        arity=2,
        attrs={"batch": 0},
        emit=lambda a, k: f"rt.broadcast_batched({a[0]}, np.shape({a[1]}), {k['batch']})" if k["batch"] else f"np.broadcast_to({a[0]}, np.shape({a[1]}))",
        prepare=_batch_prepare,
        doc="broadcast_like(g, x){batch}: g broadcast to the shape of x (x only gives its shape); the first `batch` dims of g are kept",
        group="shape",
    )
)


def _sum_to_infer(args: tuple, attrs: dict) -> TensorType:
    g, x = args
    b = attrs["batch"]
    core = g.static_shape[b:]
    if x.ndim > len(core):
        raise ShapeError(f"sum_to: cannot sum {fmt_shape(g.static_shape)} down to {fmt_shape(x.static_shape)}")
    broadcast_shapes("sum_to", [core, x.static_shape])
    return TensorType(g.dtype, g.static_shape[:b] + x.static_shape)


register(
    OpDef(
        name="sum_to",
        same_shape_noop=True,
        shape_from=1,
        shape_args=(1,),
        infer=_sum_to_infer,
        impl=lambda g, x, batch=0: rt.sum_to(g, np.shape(x), batch),
        arity=2,
        attrs={"batch": 0},
        emit=lambda a, k: f"rt.sum_to({a[0]}, np.shape({a[1]}), {k['batch']})" if k["batch"] else f"rt.sum_to({a[0]}, np.shape({a[1]}))",
        prepare=_batch_prepare,
        doc="sum_to(g, x){batch}: g summed over the axes x was broadcast along (x only gives its shape); the first `batch` dims of g are kept",
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
            shape_from=0,
            shape_args=(0,),
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
            cheap=True,
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
        shape_from=0,
        shape_args=(0,),
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
        memory="fresh",
        shape_args=(0,),
        infer=lambda args, attrs: TensorType("int64", (args[0].ndim,)),
        impl=lambda x: np.array(np.shape(x), dtype=np.int64),
        emit="np.array(np.shape({0}), dtype=np.int64)",
        doc="the run-time shape as an int64 vector",
        group="shape",
        differentiable=False,
        cheap=True,
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
        memory="fresh",
        shape_args=(0,),
        infer=lambda args, attrs: TensorType("int64", ()),
        impl=lambda x, i: np.int64(np.shape(x)[i]),
        attrs={"i": 0},
        emit="np.int64(np.shape({0})[{i}])",
        prepare=_shape_i_prepare,
        dim_product=lambda attrs, child: [child[0][attrs["i"]]] if child and child[0] is not None else None,
        doc="one dim of the run-time shape, an int64 scalar",
        group="shape",
        differentiable=False,
        print_kind="length",
        cheap=True,
    )
)


def _spec_prepare(args: tuple, attrs: dict) -> dict:
    shape = tuple(None if s is None or s == -1 else int(s) for s in attrs["shape"])
    sym = tuple(int(a) for a in attrs.get("sym") or ())
    x = args[0]
    if len(shape) != x.ndim:
        raise ShapeError(f"specify_shape: {shape!r} has {len(shape)} dims, the argument has ndim {x.ndim}")
    if len(sym) != len(args) - 1 or any(not 0 <= a < x.ndim or shape[a] is not None for a in sym):
        raise ShapeError(f"specify_shape: axes {sym!r} read at run time need one 0-d int argument each and no static length ({len(args) - 1} given)")
    for d in args[1:]:
        if d.ndim != 0 or d.dtype not in INT_DTYPES:
            raise RewriteDiffTypeError(f"specify_shape: a length must be an int or a 0-d int term, got {d.type}")
    for s, d in zip(shape, x.static_shape):
        if s is not None and d is not None and s != d:
            raise ShapeError(f"specify_shape: {shape!r} contradicts the static shape {fmt_shape(x.static_shape)}")
    return {"shape": shape, "sym": sym}


def _spec_shape(shape: tuple, sym: tuple, lengths: tuple) -> tuple:
    out = list(shape)
    for axis, n in zip(sym, lengths):
        out[axis] = int(n)
    return tuple(out)


def _spec_emit(a: list[str], k: dict) -> str:
    if not k["sym"]:
        return f"rt.specify_shape({a[0]}, {k['shape']!r})"
    given = dict(zip(k["sym"], a[1:]))
    parts = [f"int({given[i]})" if i in given else repr(d) for i, d in enumerate(k["shape"])]
    return f"rt.specify_shape({a[0]}, ({', '.join(parts)}{',' if len(parts) == 1 else ''}))"


def _spec_sized(attrs: dict, lengths: list, child: list) -> tuple | None:
    """x's dims, with the lengths read at run time on their axes."""
    if not child or child[0] is None:
        return None
    out = list(child[0])
    for axis, n in zip(attrs.get("sym", ()), lengths[1:]):
        if n is not None:
            out[axis] = n
    return tuple(out)


register(
    OpDef(
        name="specify_shape",
        shape_from=0,
        infer=lambda args, attrs: TensorType(args[0].dtype, tuple(s if s is not None else d for s, d in zip(attrs["shape"], args[0].static_shape))),
        impl=lambda x, *n, shape, sym: rt.specify_shape(x, _spec_shape(shape, sym, n)),
        arity=(1, None),
        attrs={"shape": (), "sym": ()},
        emit=_spec_emit,
        prepare=_spec_prepare,
        sized_by=_spec_sized,
        doc="assert a shape (checked at run time); the axes in sym take their lengths from 0-d int arguments (x.shape[0] of another input)",
        group="shape",
        cheap=True,
    )
)


def _spec_like_infer(args: tuple, attrs: dict) -> TensorType:
    x, like = args
    if x.ndim != like.ndim:
        raise ShapeError(f"specify_shape_like: the argument has ndim {x.ndim}, the shape to match {fmt_shape(like.static_shape)} has ndim {like.ndim}")
    for a, b in zip(x.static_shape, like.static_shape):
        if a is not None and b is not None and a != b:
            raise ShapeError(f"specify_shape_like: static shape {fmt_shape(x.static_shape)} contradicts {fmt_shape(like.static_shape)}")
    return TensorType(x.dtype, tuple(b if b is not None else a for a, b in zip(x.static_shape, like.static_shape)))


register(
    OpDef(
        name="specify_shape_like",
        same_shape_noop=True,
        equal_dims=dims.all_equal,
        shape_from=1,
        shape_args=(1,),
        infer=_spec_like_infer,
        impl=rt.specify_shape_like,
        arity=2,
        emit="rt.specify_shape_like({0}, {1})",
        doc="specify_shape_like(x, like): x, asserted to have like's shape (checked at run time; like gives only its shape)",
        group="shape",
    )
)


def _static_int(op: str, name: str, value: Any, allow_none: bool = False) -> Any:
    """``value`` as a Python int (None passes when allowed), rejecting other types."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise RewriteDiffTypeError(f"{op}: {name} must be a static int, got {value!r}")
    return int(value)
