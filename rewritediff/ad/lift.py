"""Scalar knowledge lifted to tensor terms.

An elementwise op's ``d`` rules give one scalar partial per argument. Reverse mode lifts
them to ``sum_to(g * partial, arg)`` (summed back over the axes the argument was broadcast
along); forward mode to ``sum_i tangent_i * partial_i``, broadcast to the output's shape.
A linear op's JVP is the op itself applied to the tangents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewritediff.ops import CONST_OP, PRODUCT_OP, SUM_OP
from rewritediff.ops.names import BROADCAST_LIKE_OP, CAST_OP, SPECIFY_SHAPE_LIKE_OP, SUM_TO_OP, ZEROS_LIKE_OP
from rewritediff.rules.ast import Special
from rewritediff.terms import Term, apply, floatX


def float_dtype(term: Term) -> str:
    """The dtype a gradient of ``term`` carries (its own if float, floatX otherwise)."""

    return term.dtype if term.type.is_float else floatX


def cast_to(x: Term, dtype: str) -> Term:
    """``x`` cast to ``dtype`` unless it already has it."""
    return x if x.dtype == dtype else apply(CAST_OP, x, dtype=dtype)


def zeros_for(x: Term) -> Term:
    """A float zero gradient shaped like ``x``."""
    return apply(ZEROS_LIKE_OP, x, dtype=float_dtype(x))


def _same_static_shape(a: Term, b: Term) -> bool:
    return a.static_shape == b.static_shape and None not in a.static_shape


def sum_to_like(value: Term, like: Term) -> Term:
    """``value`` summed back over the axes ``like`` was broadcast along (no-op when provably equal)."""
    return value if _same_static_shape(value, like) else apply(SUM_TO_OP, value, like)


def broadcast_to_like(value: Term, like: Term) -> Term:
    """``value`` broadcast up to the shape of ``like`` (no-op when provably equal)."""
    return value if _same_static_shape(value, like) else apply(BROADCAST_LIKE_OP, value, like)


def aligned(arg: Term, term: Term) -> bool:
    """An elementwise op's argument has the op's shape, by the broadcasting contract.

    Only a dim declared 1 broadcasts (the compiled function checks the rest equal on entry), so an
    argument of the op's rank that is 1 only where the op's result is 1 has the result's shape,
    whatever is known statically: its adjoint needs no ``sum_to``, its tangent no ``broadcast_like``.
    """
    return arg.ndim == term.ndim and all(a != 1 or o == 1 for a, o in zip(arg.static_shape, term.static_shape))


def lift_vjp(term: Term, g: Term, partials: Sequence[Any]) -> list[Any]:
    """Adjoints of an elementwise op's arguments from its scalar partials."""
    out: list[Any] = []
    for arg, p in zip(term.args, partials):
        if isinstance(p, Special):
            out.append(p)
            continue
        value = apply(PRODUCT_OP, g, p) if not _is_one(p) else g
        if aligned(arg, term) and value.dtype == arg.dtype:
            # the contract says the shapes are equal; where that is not static, say so in the graph
            # (the compiled function checks it on entry, the engine drops the assertion)
            out.append(value if _same_static_shape(value, arg) else apply(SPECIFY_SHAPE_LIKE_OP, value, arg))
        else:
            out.append(sum_to_like(value, arg))
    return out


def lift_jvp(term: Term, tangents: Sequence[Term | None], partials: Sequence[Any]) -> Term | None:
    """The JVP of an elementwise op from its scalar partials (None when every tangent is zero)."""
    parts = []
    full = False  # some part has the op's shape already
    for arg, t, p in zip(term.args, tangents, partials):
        if t is None or isinstance(p, Special):
            continue
        parts.append(t if _is_one(p) else apply(PRODUCT_OP, t, p))
        full = full or (aligned(arg, term) and parts[-1].ndim == term.ndim)
    if not parts:
        return None
    total = parts[0] if len(parts) == 1 else apply(SUM_OP, *parts)
    return total if full and total.dtype == term.dtype else broadcast_to_like(total, term)


def _is_one(p: Term) -> bool:
    return p.op == CONST_OP and p.ndim == 0 and p.value == 1


def linear_jvp(term: Term, tangents: Sequence[Term | None], linear_args: Sequence[bool]) -> Term | None:
    """JVP of an op linear in ``linear_args``: the op applied to the tangents (zeros where a tangent is zero)."""
    if all(t is None for t, lin in zip(tangents, linear_args) if lin):
        return None
    args = []
    for arg, t, lin in zip(term.args, tangents, linear_args):
        if not lin:
            args.append(arg)
        elif t is None:
            args.append(zeros_for(arg))
        else:
            args.append(cast_to(t, arg.dtype) if arg.type.is_float else t)
    return apply(term.op, *args, **term.attr_dict)


# ---- batching: a sweep along a new leading axis -----------------------------------------------------------
