"""Reductions over axes (``sum``, ``max``, ``argmax``, ...) and the softmax family."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewritediff.ops import REGISTRY
from rewritediff.terms import (
    Term,
    apply,
    as_term,
)

AxisLike = int | Sequence[int] | None


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
