"""The Python frontend: constructors, op functions named as in ``pytensor.tensor``, and Term methods.

Python scalars are *weak* (as in numpy 2 and PyTensor): ``x + 1.0`` keeps x's dtype.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewritediff.errors import RewriteDiffTypeError
from rewritediff.ops import REGISTRY
from rewritediff.terms import (
    FLOAT_DTYPES,
    TensorType,
    Term,
    apply,
    check_dtype,
    constant,
    floatX,
    shared_variable,
    variable,
)

AxisLike = int | Sequence[int] | None


# ---- constructors -----------------------------------------------------------------------
def tensor(name: str | None = None, shape: Sequence[int | None] = (), dtype: Any = None) -> Term:
    """A symbolic input of the given static shape (None for an unknown dim) and dtype."""
    if isinstance(shape, int):
        raise RewriteDiffTypeError(f"tensor: shape must be a tuple of dims, got {shape!r}")
    shape = tuple(None if d is None else int(d) for d in shape)
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


def shared(value: Any, name: str | None = None) -> Term:
    """A variable holding ``value``; compiled functions read it and ``updates`` write it."""
    t = shared_variable(np.array(value), name)
    return t


def get_value(var: Term) -> np.ndarray:
    """The current value of a shared variable."""
    return var.tag["value"]


def set_value(var: Term, value: Any) -> None:
    """Set the value of a shared variable (dtype and ndim must fit)."""
    v = np.asarray(value, dtype=var.dtype)
    if v.ndim != var.ndim:
        raise RewriteDiffTypeError(f"set_value: {var!r} has ndim {var.ndim}, value has ndim {v.ndim}")
    var.tag["value"] = v


def as_term(x: Any, like: Term | None = None) -> Term:
    """``x`` as a term; Python scalars take the dtype of ``like`` where numpy 2 would."""
    if isinstance(x, Term):
        return x
    if isinstance(x, bool | int | float) and not isinstance(x, np.generic):
        if like is not None and isinstance(like.type, TensorType):
            if like.dtype in FLOAT_DTYPES:
                return constant(x, like.dtype)
            if isinstance(x, int) and like.dtype != "bool" and not isinstance(x, bool):
                info = np.iinfo(like.dtype)
                if info.min <= x <= info.max:
                    return constant(x, like.dtype)
        if isinstance(x, bool):
            return constant(x, "bool")
        return constant(x, floatX if isinstance(x, float) else "int64")
    if isinstance(x, list | tuple) and builtins.any(isinstance(v, Term) for v in x):
        return stack([as_term(v) for v in x])
    return constant(np.asarray(x))


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


# ---- products ----------------------------------------------------------------------------------
def dot(a: Any, b: Any) -> Term:
    """np.dot for ndim <= 2; higher ndim goes to matmul."""
    a, b = as_term(a), as_term(b)
    if a.ndim > 2 or b.ndim > 2:
        return apply("matmul", a, b)
    return apply("dot", a, b)


def matmul(a: Any, b: Any) -> Term:
    """numpy's matmul (batched)."""
    return apply("matmul", as_term(a), as_term(b))


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


def transpose(x: Any, axes: Sequence[int] | None = None) -> Term:
    """Permute dims (reverse them when ``axes`` is None)."""
    x = as_term(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    from rewritediff.ops.infer import norm_axis

    axes = tuple(int(a) % x.ndim if x.ndim else a for a in axes)
    norm_axis("transpose", axes, x.ndim)
    return dimshuffle(x, *axes)


def expand_dims(x: Any, axis: int | Sequence[int]) -> Term:
    """Insert length-1 dims at ``axis`` (numpy semantics)."""
    from rewritediff.ops.infer import norm_axis

    x = as_term(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    nd = x.ndim + len(axes)
    axes = norm_axis("expand_dims", axes, nd)
    it = iter(range(x.ndim))
    return dimshuffle(x, *["x" if i in axes else next(it) for i in range(nd)])


def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> Term:
    """Drop length-1 dims (all statically known ones when ``axis`` is None)."""
    from rewritediff.ops.infer import norm_axis

    x = as_term(x)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.static_shape) if d == 1)
    else:
        axes = norm_axis("squeeze", axis, x.ndim)
    return dimshuffle(x, *[i for i in range(x.ndim) if i not in axes])


def reshape(x: Any, shape: Any, ndim: int | None = None) -> Term:
    """Reshape to a static shape (one -1 allowed)."""
    x = as_term(x)
    shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    if shape == x.static_shape:
        return x
    return apply("reshape", x, shape=shape)


def flatten(x: Any, ndim: int = 1) -> Term:
    """Collapse the trailing dims so the result has ``ndim`` dims."""
    x = as_term(x)
    if ndim < 1 or ndim > builtins.max(x.ndim, 1):
        from rewritediff.errors import ShapeError

        raise ShapeError(f"flatten: ndim={ndim} is out of range for an argument of ndim {x.ndim}")
    if x.ndim == ndim:
        return x
    lead = []
    for d in x.static_shape[: ndim - 1]:
        if d is None:
            from rewritediff.errors import ShapeError

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


def specify_shape(x: Any, shape: Sequence[int | None]) -> Term:
    """Assert a static shape (checked at run time)."""
    return apply("specify_shape", as_term(x), shape=tuple(shape))


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


# ---- evaluation -------------------------------------------------------------------------------
def eval_term(term: Term, inputs: dict | None = None) -> np.ndarray:
    """Evaluate ``term`` with the given {variable: value} mapping (compiles and caches)."""
    from rewritediff.lower_numpy import function

    inputs = inputs or {}
    keys = sorted(inputs, key=lambda t: t.uid)
    f = function(keys, term, on_unused_input="ignore")
    return f(*[inputs[k] for k in keys])


# ---- Term methods --------------------------------------------------------------------------------
def _install_methods() -> None:
    def r(op: str) -> Any:
        return lambda self, other: _binary(op)(other, self)

    methods = {
        "__add__": lambda s, o: add(s, o),
        "__radd__": lambda s, o: add(o, s),
        "__sub__": _binary("sub"),
        "__rsub__": r("sub"),
        "__mul__": lambda s, o: mul(s, o),
        "__rmul__": lambda s, o: mul(o, s),
        "__truediv__": _binary("true_div"),
        "__rtruediv__": r("true_div"),
        "__pow__": _binary("pow"),
        "__rpow__": r("pow"),
        "__matmul__": lambda s, o: matmul(s, o),
        "__rmatmul__": lambda s, o: matmul(o, s),
        "__neg__": lambda s: apply("neg", s),
        "__abs__": lambda s: apply("abs", s),
        "__lt__": _binary("lt"),
        "__gt__": _binary("gt"),
        "__le__": _binary("le"),
        "__ge__": _binary("ge"),
        "__invert__": lambda s: apply("not_", s),
        "__and__": _binary("and_"),
        "__or__": _binary("or_"),
        "sum": sum,
        "prod": prod,
        "max": max,
        "min": min,
        "mean": mean,
        "var": var,
        "std": std,
        "argmax": argmax,
        "argmin": argmin,
        "all": all,
        "any": any,
        "dot": dot,
        "reshape": lambda s, *shape, ndim=None: reshape(s, shape[0] if len(shape) == 1 else shape),
        "dimshuffle": dimshuffle,
        "transpose": lambda s, *axes: transpose(s, (axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes) or None),
        "flatten": flatten,
        "squeeze": squeeze,
        "astype": cast,
        "eval": eval_term,
        "T": property(lambda s: transpose(s)),
        "shape": property(shape),
        "size": property(lambda s: prod(shape(s))),
        "clip": clip,
        "exp": lambda s: apply("exp", s),
        "log": lambda s: apply("log", s),
    }
    for k, v in methods.items():
        setattr(Term, k, v)


_install_methods()
