"""Elementwise functions: one per elementwise op of the registry, with ``switch``, ``clip``, ``cast``.

Python scalars are *weak* (as in numpy 2 and PyTensor): ``x + 1.0`` keeps x's dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewritediff.ops import REGISTRY
from rewritediff.terms import (
    Term,
    apply,
    as_term,
    check_dtype,
)

AxisLike = int | Sequence[int] | None


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
