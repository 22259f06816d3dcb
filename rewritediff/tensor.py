"""The Python frontend: constructors, op functions named as in ``pytensor.tensor``, and Term methods.

Python scalars are *weak* (as in numpy 2 and PyTensor): ``x + 1.0`` keeps x's dtype.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewritediff.errors import AxisError, IndexOutOfBounds, RewriteDiffTypeError, ShapeError
from rewritediff.ops import REGISTRY
from rewritediff.ops.infer import fmt_shape, norm_axis
from rewritediff.terms import (
    TensorType,
    Term,
    apply,
    as_term,
    check_dtype,
    constant,
    floatX,
    shared_variable,
    variable,
)

AxisLike = int | Sequence[int] | None


# ---- constructors -----------------------------------------------------------------------
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


def _binary(op: str) -> Any:
    def fn(x: Any, y: Any) -> Term:
        if isinstance(x, Term):
            return apply(op, x, as_term(y, x))
        y = as_term(y)
        return apply(op, as_term(x, y), y)

    return fn


def _elementwise_function(name: str) -> Any:
    opdef = REGISTRY[name]
    arity = opdef.arity

    if arity == 1:

        def fn(x: Any, **attrs: Any) -> Term:
            return apply(name, as_term(x), **attrs)

    elif arity == 2:
        fn = _binary(name)
    else:

        def fn(*xs: Any) -> Term:
            terms = [x for x in xs if isinstance(x, Term)]
            like = terms[0] if terms else None
            return apply(name, *[as_term(x, like) for x in xs])

    fn.__name__ = name
    fn.__qualname__ = name
    fn.__doc__ = f"Elementwise: {opdef.doc}."
    return fn


_ELEMENTWISE = {name: _elementwise_function(name) for name, op in REGISTRY.items() if op.elementwise}
globals().update(_ELEMENTWISE)


def switch(cond: Any, a: Any, b: Any) -> Term:
    """Elementwise: a where cond else b."""
    a_t = as_term(a, b if isinstance(b, Term) else None)
    b_t = as_term(b, a_t)
    return apply("switch", as_term(cond), a_t, b_t)


where = switch


def clip(x: Any, lo: Any, hi: Any) -> Term:
    """Elementwise: x clipped to [lo, hi]."""
    x = as_term(x)
    return apply("clip", x, as_term(lo, x), as_term(hi, x))


def cast(x: Any, dtype: Any) -> Term:
    """x converted to ``dtype`` (identity if it already has it)."""
    x = as_term(x)
    dtype = check_dtype(dtype)
    return x if x.dtype == dtype else apply("cast", x, dtype=dtype)


def true_div(x: Any, y: Any) -> Term:
    """Elementwise x / y (always float)."""
    return _binary("true_div")(x, y)


def add(*xs: Any) -> Term:
    """Elementwise sum of the arguments (n-ary)."""
    terms = [x for x in xs if isinstance(x, Term)]
    like = terms[0] if terms else None
    return apply("add", *[as_term(x, like) for x in xs])


def mul(*xs: Any) -> Term:
    """Elementwise product of the arguments (n-ary)."""
    terms = [x for x in xs if isinstance(x, Term)]
    like = terms[0] if terms else None
    return apply("mul", *[as_term(x, like) for x in xs])


sqr = _ELEMENTWISE["sqr"]
square = sqr
exp = _ELEMENTWISE["exp"]
log = _ELEMENTWISE["log"]
tanh = _ELEMENTWISE["tanh"]
sigmoid = _ELEMENTWISE["sigmoid"]
maximum = _ELEMENTWISE["maximum"]
minimum = _ELEMENTWISE["minimum"]
neg = _ELEMENTWISE["neg"]
sub = _ELEMENTWISE["sub"]
pow = _ELEMENTWISE["pow"]  # noqa: A001 - PyTensor's name
abs = _ELEMENTWISE["abs"]  # noqa: A001 - PyTensor's name
round = _ELEMENTWISE["round"]  # noqa: A001 - PyTensor's name
lt, gt, le, ge, eq, neq = (_ELEMENTWISE[n] for n in ("lt", "gt", "le", "ge", "eq", "neq"))
and_, or_, not_ = _ELEMENTWISE["and_"], _ELEMENTWISE["or_"], _ELEMENTWISE["not_"]
logical_and, logical_or, logical_not = and_, or_, not_


# ---- reductions -----------------------------------------------------------------------------
def _reduction(name: str) -> Any:
    def fn(x: Any, axis: AxisLike = None, keepdims: bool = False, **kw: Any) -> Term:
        return apply(name, as_term(x), axis=axis, keepdims=keepdims, **kw)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Reduction: {REGISTRY[name].doc}."
    return fn


sum = _reduction("sum")  # noqa: A001 - PyTensor's name
prod = _reduction("prod")
max = _reduction("max")  # noqa: A001 - PyTensor's name
min = _reduction("min")  # noqa: A001 - PyTensor's name
mean = _reduction("mean")
var = _reduction("var")
std = _reduction("std")
argmax = _reduction("argmax")
argmin = _reduction("argmin")
all = _reduction("all")  # noqa: A001 - PyTensor's name
any = _reduction("any")  # noqa: A001 - PyTensor's name


def max_and_argmax(x: Any, axis: AxisLike = None, keepdims: bool = False) -> tuple[Term, Term]:
    """The maximum and its position along ``axis`` (PyTensor's pair; argmax is integer, so it carries no gradient)."""
    x = as_term(x)
    return max(x, axis=axis, keepdims=keepdims), argmax(x, axis=axis, keepdims=keepdims)


# ---- products ----------------------------------------------------------------------------------
def dot(a: Any, b: Any) -> Term:
    """np.dot for ndim <= 2; higher ndim goes to matmul."""
    a, b = as_term(a), as_term(b)
    if a.ndim > 2 or b.ndim > 2:
        return apply("matmul", a, b)
    return apply("dot", a, b)


def matmul(a: Any, b: Any) -> Term:
    """numpy's matmul (batched); for 1-D and 2-D arguments it is the same product as ``dot``."""
    a, b = as_term(a), as_term(b)
    if 1 <= a.ndim <= 2 and 1 <= b.ndim <= 2:
        return apply("dot", a, b)
    return apply("matmul", a, b)


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


def stack(tensors: Sequence[Any], axis: int = 0) -> Term:
    """Join tensors along a new axis."""
    return apply("stack", *[as_term(t) for t in tensors], axis=axis)


def sum_to(g: Any, x: Any) -> Term:
    """``g`` summed over the axes along which x was broadcast to g's shape."""
    g, x = as_term(g), as_term(x)
    return apply("sum_to", g, x)


# ---- more products -------------------------------------------------------------------------------
def tensordot(a: Any, b: Any, axes: Any = 2) -> Term:
    """Sum of products over paired axes: an int n (last n of a, first n of b) or a pair of sequences."""
    return apply("tensordot", as_term(a), as_term(b), axes=axes)


def outer(x: Any, y: Any) -> Term:
    """Outer product of two vectors (other arguments are flattened first, as PyTensor)."""
    x, y = as_term(x), as_term(y)
    return apply("outer", flatten(x) if x.ndim != 1 else x, flatten(y) if y.ndim != 1 else y)


def einsum(subscripts: str, *operands: Any) -> Term:
    """Einstein summation with numpy's subscripts (``"ij,jk->ik"``, implicit form and ``...`` allowed)."""
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    return apply("einsum", *[as_term(o) for o in operands], subscripts=subscripts)


def trace(x: Any, offset: int = 0) -> Term:
    """Sum of the diagonal ``offset`` of a matrix."""
    return apply("trace", as_term(x), offset=offset)


def diag(v: Any, k: int = 0) -> Term:
    """numpy's diag: a vector to a diagonal matrix, a matrix to its diagonal ``k``."""
    return apply("diag", as_term(v), k=k)


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Term:
    """The diagonal ``offset`` of a matrix (only the matrix case, axes 0 and 1, is supported)."""
    x = as_term(x)
    if x.ndim != 2 or (axis1 % 2, axis2 % 2) != (0, 1):
        raise ShapeError(f"diagonal: only the diagonal of a matrix over axes (0, 1) is supported, got ndim {x.ndim} and axes ({axis1}, {axis2})")
    return apply("diag", x, k=offset)


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


# ---- indexing -------------------------------------------------------------------------------------
def _index_entry(item: Any, arrays: list[Term]) -> tuple:
    """One index item as an ``idx`` entry (index arrays are appended to ``arrays``)."""
    if item is None:
        return ("none",)
    if isinstance(item, bool | np.bool_):
        arr: Any = constant(np.asarray(item, dtype=bool))
    elif isinstance(item, int | np.integer):
        return ("int", int(item))
    elif isinstance(item, slice):
        bounds = []
        for b in (item.start, item.stop, item.step):
            if (
                isinstance(b, Term)
                and b.op == "const"
                and b.ndim == 0
                and b.dtype in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
            ):
                b = int(b.value)
            if isinstance(b, Term) and b.ndim == 0 and b.dtype.startswith(("int", "uint")):
                arrays.append(b)  # a bound read at run time (x[: x.shape[0] - 1])
                bounds.append(("arg", len(arrays) - 1))
                continue
            if b is not None and (isinstance(b, bool) or not isinstance(b, int | np.integer)):
                raise RewriteDiffTypeError(f"subtensor: slice bounds must be ints, 0-d int terms or None, got {b!r}")
            bounds.append(None if b is None else int(b))
        return ("slice", *bounds)
    elif isinstance(item, Term):
        arr = item
    else:
        value = np.asarray(item)
        if value.dtype.kind in "iu" or (value.size == 0 and value.dtype.kind == "f"):
            value = value.astype(np.int64)
        elif value.dtype.kind != "b":
            raise RewriteDiffTypeError(f"subtensor: index {item!r} is not an int, slice, None, Ellipsis, integer array or boolean mask")
        arr = constant(value)
    if arr.dtype == "bool":
        arrays.append(arr)
        return ("mask", len(arrays) - 1)
    if arr.dtype.startswith(("int", "uint")):
        arrays.append(arr)
        return ("adv", len(arrays) - 1)
    raise RewriteDiffTypeError(f"subtensor: index arrays must be integers or booleans, got {arr.type}")


def index_spec(x: Term, key: Any) -> tuple[tuple, list[Term]]:
    """A Python index (``x[key]``) as an ``idx`` attribute and its index array arguments."""
    items = key if isinstance(key, tuple) else (key,)
    n_ell = builtins.sum(1 for it in items if it is Ellipsis)
    if n_ell > 1:
        raise IndexOutOfBounds(f"subtensor: an index can only have a single ellipsis, got {key!r}")
    arrays: list[Term] = []
    entries: list = []
    for it in items:
        entries.append(Ellipsis if it is Ellipsis else _index_entry(it, arrays))
    if n_ell:
        used = 0
        for e in entries:
            if e is Ellipsis or e[0] == "none":
                continue
            used += arrays[e[1]].ndim if e[0] == "mask" else 1
        pos = entries.index(Ellipsis)
        fill = [("slice", None, None, None)] * builtins.max(x.ndim - used, 0)
        entries = entries[:pos] + fill + entries[pos + 1 :]
    return tuple(entries), arrays


def getitem(x: Any, key: Any) -> Term:
    """``x[key]`` with numpy semantics (``x.shape[i]`` becomes ``shape_i``)."""
    x = as_term(x)
    if x.op == "shape" and isinstance(key, int | np.integer) and not isinstance(key, bool):
        nd = x.args[0].ndim
        if not -nd <= key < nd:
            raise IndexOutOfBounds(f"subtensor: index {key} is out of bounds for axis 0 with size {nd} (shape ({nd},))")
        return shape_i(x.args[0], int(key))
    idx, arrays = index_spec(x, key)
    return apply("subtensor", x, *arrays, idx=idx)


def _indexed_parts(op: str, x: Any) -> Term:
    if not isinstance(x, Term) or x.op != "subtensor":
        raise RewriteDiffTypeError(f"{op}: x must be an indexing term such as x[idx], got {x!r}")
    return x


def set_subtensor(x: Any, y: Any) -> Term:
    """``x[idx] = y`` as a new term: pass the indexing term ``x[idx]`` (PyTensor's form)."""
    t = _indexed_parts("set_subtensor", x)
    base = t.args[0]
    return apply("set_subtensor", base, as_term(y, base), *t.args[1:], idx=t.attr("idx"))


def inc_subtensor(x: Any, y: Any, set_instead_of_inc: bool = False) -> Term:
    """``x[idx] += y`` as a new term (repeated indices accumulate): pass the indexing term ``x[idx]``."""
    if set_instead_of_inc:
        return set_subtensor(x, y)
    t = _indexed_parts("inc_subtensor", x)
    base = t.args[0]
    return apply("inc_subtensor", base, as_term(y, base), *t.args[1:], idx=t.attr("idx"))


# ---- softmax family ------------------------------------------------------------------------------
def softmax(c: Any, axis: AxisLike = None) -> Term:
    """exp(c) / sum(exp(c)) over ``axis`` (None: all axes), numerically stable."""
    return apply("softmax", as_term(c), axis=axis)


def log_softmax(c: Any, axis: AxisLike = None) -> Term:
    """c - logsumexp(c) over ``axis`` (None: all axes), numerically stable."""
    return apply("log_softmax", as_term(c), axis=axis)


def logsumexp(x: Any, axis: AxisLike = None, keepdims: bool = False) -> Term:
    """log(sum(exp(x))) over ``axis`` (None: all axes) without overflow."""
    return apply("logsumexp", as_term(x), axis=axis, keepdims=keepdims)


# ---- evaluation -------------------------------------------------------------------------------
def eval_term(term: Term, inputs: dict | None = None) -> np.ndarray:
    """Evaluate ``term`` with the given {variable: value} mapping (compiles and caches)."""
    from rewritediff.compiled import function

    inputs = inputs or {}
    keys = sorted(inputs, key=lambda t: t.uid)
    f = function(keys, term, on_unused_input="ignore")
    return f(*[inputs[k] for k in keys])
