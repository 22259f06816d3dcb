"""Sign facts of op results: one table (``OpDef.signs``) read by the e-graph's analysis and by the guards on terms.

A fact set is a bit mask (:data:`POS`, :data:`NONNEG`, :data:`NONZERO`, :data:`NEG`,
:data:`NONPOS`) that holds for every element of a value. An op's ``signs`` is either a constant
mask (``exp`` is positive whatever its argument) or a function ``(argument masks, argument
constants, result dtype) -> mask`` (``abs`` is positive where its argument is nonzero).
Both readings give the same function the facts they have established for the arguments: the
e-graph its class facts, the guards those of a bounded look below a term. So a rule's guard
means the same thing in the gradient sweep and in the simplifier.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

POS = 1
NONNEG = 2
NONZERO = 4
NEG = 8
NONPOS = 16

SignRule = Callable[[list[int], list[Any], str], int]


def closure(bits: int) -> int:
    """Add the facts implied by the given ones."""
    if bits & POS:
        bits |= NONNEG | NONZERO
    if bits & NEG:
        bits |= NONPOS | NONZERO
    return bits


def value_signs(value: Any) -> int:
    """Sign facts that hold for every element of a constant (none for an empty, non-numeric or NaN-holding one)."""
    v = np.asarray(value)
    if v.size == 0 or v.dtype.kind not in "biuf":
        return 0
    if v.dtype.kind == "f" and np.isnan(v).any():
        return 0
    bits = 0
    for bit, holds in ((POS, v > 0), (NONNEG, v >= 0), (NONZERO, v != 0), (NEG, v < 0), (NONPOS, v <= 0)):
        if holds.all():
            bits |= bit
    return closure(bits)


def _first(args: list[int]) -> int:
    return args[0] if args else 0


# ---- sign rules (argument masks, argument constants, result dtype) -> mask ------------------------
def same_as_arg(i: int) -> SignRule:
    """The result has the signs of argument ``i`` (its values rearranged, broadcast or repeated)."""
    return lambda args, consts, dtype: args[i] if i < len(args) else 0


def magnitude(args: list[int], consts: list, dtype: str) -> int:
    """``abs`` and ``sqr``: nonnegative, positive where the argument is nonzero."""
    return POS if _first(args) & NONZERO else NONNEG


def root(args: list[int], consts: list, dtype: str) -> int:
    """``sqrt``: nonnegative (or NaN), positive where the argument is positive."""
    return POS if _first(args) & POS else NONNEG


def keeps_nonnegative(args: list[int], consts: list, dtype: str) -> int:
    """Monotone ops fixing 0 (``log1p``): positive or nonnegative arguments stay so."""
    return _first(args) & (POS | NONNEG)


def negate(args: list[int], consts: list, dtype: str) -> int:
    """``neg``: the signs mirrored."""
    a = _first(args)
    out = a & NONZERO
    for p, n in ((POS, NEG), (NONNEG, NONPOS)):
        if a & p:
            out |= n
        if a & n:
            out |= p
    return out


def reciprocal(args: list[int], consts: list, dtype: str) -> int:
    """``1 / x``: the argument's sign (0 gives an infinity of the same sign)."""
    return _first(args)


def total(args: list[int], consts: list, dtype: str) -> int:
    """A sum: nonnegative terms give a nonnegative sum, positive when one of them is; the same below 0."""
    bits = 0
    if args and all(s & NONNEG for s in args):
        bits |= NONNEG
        if any(s & POS for s in args):
            bits |= POS
    if args and all(s & NONPOS for s in args):
        bits |= NONPOS
        if any(s & NEG for s in args):
            bits |= NEG
    return bits


def product(args: list[int], consts: list, dtype: str) -> int:
    """A product: nonzero factors give a nonzero product, and its sign is the parity of the negative factors."""
    if not args:
        return 0
    bits = 0
    if all(s & NONZERO for s in args):
        bits |= NONZERO
    if all(s & (POS | NEG) for s in args):
        bits |= NEG if sum(1 for s in args if s & NEG) % 2 else POS
    elif all(s & (NONNEG | NONPOS) for s in args):
        bits |= NONPOS if sum(1 for s in args if not s & NONNEG) % 2 else NONNEG
    return bits


def quotient(args: list[int], consts: list, dtype: str) -> int:
    """``x / y``: a product's signs when the divisor is nonzero, else none (0 / 0 is NaN)."""
    return product(args, consts, dtype) if len(args) == 2 and args[1] & NONZERO else 0


def power(args: list[int], consts: list, dtype: str) -> int:
    """``x ** y``: positive for a positive base; for a constant even exponent, nonnegative (positive if the base is nonzero)."""
    base = args[0]
    if base & POS:
        return POS
    ex = consts[1] if len(consts) > 1 else None
    if ex is not None:
        ex = np.asarray(ex)
        if ex.size and ex.dtype.kind in "iuf" and np.all(np.mod(ex, 2) == 0):
            return POS if base & NONZERO else NONNEG
    return 0


def larger(args: list[int], consts: list, dtype: str) -> int:
    """``maximum``: nonnegative when every argument is, positive when one of them is."""
    bits = 0
    if all(s & NONNEG for s in args):
        bits |= NONNEG
        if any(s & POS for s in args):
            bits |= POS
    return bits


def smaller(args: list[int], consts: list, dtype: str) -> int:
    """``minimum``: positive (nonnegative) when every argument is."""
    if all(s & POS for s in args):
        return POS
    if all(s & NONNEG for s in args):
        return NONNEG
    return 0


def cast(args: list[int], consts: list, dtype: str) -> int:
    """A cast keeps the signs into a float dtype; into an integer one a positive value may become 0."""
    a = _first(args)
    if np.dtype(dtype).kind == "f":
        return a
    return NONNEG if a & POS else 0


def summed(args: list[int], consts: list, dtype: str) -> int:
    """Reductions (``sum``, ``mean``, ``prod``, ``max``, ``min``) and ``sum_to``: positive or nonnegative arguments stay so."""
    return _first(args) & (POS | NONNEG)


def read(opdef: Any, args: list[int], consts: list, dtype: str) -> int:
    """The sign facts ``opdef.signs`` gives for these argument facts (none when the op declares none)."""
    rule = getattr(opdef, "signs", None)
    if rule is None:
        return 0
    bits = rule if isinstance(rule, int) else rule(args, consts, dtype)
    return closure(bits)
