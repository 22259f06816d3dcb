"""Per-class facts of the e-graph: static type, constant value, symbolic dims and sign facts.

Facts are derived generically: types come from the class's representative term (built with
``terms.apply``, so type-checked), constants from ``const`` leaves and from folding (an op's
``OpDef.impl`` evaluated on constant arguments when the result is small), dims by
``OpDef.dims`` (by default broadcasting for elementwise ops and the axes of reductions), signs
by ``OpDef.signs`` (ops/signs.py: ``exp`` is positive, a product's sign is the parity of its
negative factors, ...), the table the guards on plain terms read too.

Guard predicates (``positive(x)``, ``same_shape(x, y)``, ``ndim(x)``, ...) are evaluated on
these facts through :data:`PREDICATES`, keyed by the name a rule's guard calls. Guards have one
vocabulary: every name here is a predicate of ``rules.helpers.PREDICATES`` too, with the same
meaning and the same kind of value (``static_shape`` is a tuple in both); only the evidence
differs (e-class facts here, a term's type and structure there).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from rewritediff.errors import BUILD_ERRORS
from rewritediff.ops import REGISTRY
from rewritediff.ops.signs import NEG, NONNEG, NONPOS, NONZERO, POS, value_signs
from rewritediff.ops.signs import read as read_signs

FOLD_LIMIT = 4096  # largest constant (in elements) the folder creates


def const_signs(value: np.ndarray) -> int:
    """Sign facts that hold for every element of a constant (``ops.signs.value_signs``, as the guards on terms read them)."""
    return value_signs(value)


def node_signs(op: str, child_signs: list[int], child_consts: list | None = None, dtype: str = "float64") -> int:
    """Sign facts of an e-node's value from its children's facts, by its op's ``OpDef.signs``."""
    opdef = REGISTRY.get(op)
    if opdef is None:
        return 0
    return read_signs(opdef, child_signs, child_consts if child_consts is not None else [None] * len(child_signs), dtype)


def node_dims(op: str, attrs: tuple, child_dims: list[tuple | None], shape: tuple, child_lengths: list | None = None) -> tuple:
    """Dim tokens of an e-node's value (its op's ``OpDef.dims``, or ``OpDef.sized_by`` the lengths its 0-d arguments are), falling back to its static shape."""
    opdef = REGISTRY.get(op)
    out = None
    if opdef is not None and opdef.sized_by is not None and child_lengths is not None:
        out = opdef.sized_by(dict(attrs) if attrs else {}, child_lengths, child_dims)
    elif opdef is not None and opdef.dims is not None:
        out = opdef.dims(dict(attrs) if attrs else {}, child_dims)
    if out is None or len(out) != len(shape):
        return tuple(shape)
    return tuple(s if s is not None else d for s, d in zip(shape, out))


def node_length(op: str, attrs: tuple, child_dims: list, ttype: Any, const: Any) -> Any:
    """The dim token a 0-d integer value equals (a constant, or ``shape_i`` / ``count`` of one dim), else None."""
    if getattr(ttype, "shape", None) != () or not str(ttype.dtype).startswith(("int", "uint")):
        return None
    if const is not None:
        return int(np.asarray(const))
    opdef = REGISTRY.get(op)
    if opdef is None or opdef.dim_product is None:
        return None
    lengths = opdef.dim_product(dict(attrs) if attrs else {}, child_dims)
    return lengths[0] if lengths is not None and len(lengths) == 1 else None


def forced_equal_dims(op: str, attrs: tuple, child_dims: list[tuple]) -> list[tuple]:
    """Pairs of dims that must be equal for this node to run at all (its op's ``OpDef.equal_dims``).

    Elementwise broadcasting is not among them: a run-time length of 1 may broadcast.
    """
    opdef = REGISTRY.get(op)
    return opdef.equal_dims(dict(attrs) if attrs else {}, child_dims) if opdef is not None and opdef.equal_dims is not None else []


def fold(op: str, attrs: tuple, values: list[np.ndarray], ttype: Any) -> np.ndarray | None:
    """Evaluate ``op`` on constant arguments with its ``impl`` (None if not foldable or too big)."""
    opdef = REGISTRY.get(op)
    if opdef is None or opdef.leaf:
        return None
    shape = getattr(ttype, "shape", None)
    if shape is None or None in shape or math.prod(shape) > FOLD_LIMIT:
        return None
    if sum(int(np.asarray(v).size) for v in values) > 8 * FOLD_LIMIT:
        return None
    try:
        kwargs = {k: (v.value if hasattr(v, "_key") else v) for k, v in attrs}
        with np.errstate(all="ignore"):
            out = np.asarray(opdef.impl(*values, **kwargs))
    except BUILD_ERRORS:  # an op that cannot be evaluated on these values is simply not folded
        return None
    if tuple(out.shape) != tuple(shape):
        return None
    try:
        cast = out.astype(ttype.dtype)
    except (TypeError, ValueError):
        return None
    if cast.dtype.kind in "iub" and out.dtype.kind == "f" and not np.array_equal(cast, out):
        return None
    return cast


def fold_shape_only(op: str, attrs: tuple, types: list[Any], ttype: Any) -> np.ndarray | None:
    """Evaluate an op that reads only its arguments' shapes (``count``, ``shape_i``) when those shapes are static."""
    opdef = REGISTRY.get(op)
    if opdef is None or not opdef.shape_args or set(range(len(types))) - set(opdef.shape_args):
        return None
    shapes = [getattr(t, "shape", None) for t in types]
    if any(s is None or None in s for s in shapes):
        return None
    stand_ins = [np.broadcast_to(np.zeros((), dtype=t.dtype), s) for t, s in zip(types, shapes)]
    return fold(op, attrs, stand_ins, ttype)


# ---- guard predicates ----------------------------------------------------------------------------
# Each predicate receives the e-graph and the evaluated guard arguments (class ids for pattern
# variables, Python values for literals and attributes) and returns a value; a guard that
# evaluates to anything but True does not let its rule fire.


class ClassRef(int):
    """An e-class id passed to a guard predicate (kept apart from plain ints such as attribute values)."""


def _cls(eg: Any, x: Any) -> Any:
    return eg.data(x) if isinstance(x, ClassRef) else None


def _sign_pred(bit: int) -> Callable[..., bool]:
    def pred(eg: Any, x: Any) -> bool:
        d = _cls(eg, x)
        return d is not None and bool(d.signs & bit)

    return pred


def _dims(eg: Any, d: Any) -> tuple:
    return tuple(None if t is None else eg.dim_find(t) for t in d.dims)


def _same_shape(eg: Any, x: Any, y: Any) -> bool:
    a, b = _cls(eg, x), _cls(eg, y)
    if a is None or b is None:
        return False
    da, db = _dims(eg, a), _dims(eg, b)
    return len(da) == len(db) and all(p is not None and p == q for p, q in zip(da, db))


def _same_shape_after(eg: Any, x: Any, y: Any, batch: Any) -> bool:
    """x's dims after its first ``batch`` ones are y's dims."""
    a, b = _cls(eg, x), _cls(eg, y)
    if a is None or b is None or not isinstance(batch, int):
        return False
    da, db = _dims(eg, a)[batch:], _dims(eg, b)
    return len(da) == len(db) and all(p is not None and p == q for p, q in zip(da, db))


def _broadcasts_into(eg: Any, x: Any, y: Any) -> bool:
    """x broadcast against y leaves y's shape unchanged (x's dims are 1 or y's)."""
    a, b = _cls(eg, x), _cls(eg, y)
    if a is None or b is None or len(a.dims) > len(b.dims):
        return False
    da, db = _dims(eg, a), _dims(eg, b)
    tail = db[len(db) - len(da) :]
    return all(p == 1 or (p is not None and p == q) for p, q in zip(da, tail))


def _ndim(eg: Any, x: Any) -> Any:
    d = _cls(eg, x)
    return None if d is None else len(d.dims)


def _is_const(eg: Any, x: Any) -> bool:
    d = _cls(eg, x)
    return d is not None and d.const is not None


def _dtype_is_float(eg: Any, x: Any) -> bool:
    d = _cls(eg, x)
    return d is not None and d.type.dtype.startswith("float")


def _is_scalar(eg: Any, x: Any) -> bool:
    d = _cls(eg, x)
    return d is not None and len(d.dims) == 0


def _static_shape(eg: Any, x: Any) -> tuple | None:
    """The class's static shape (None for unknown dims), as ``helpers.static_shape`` gives it for a term."""
    d = _cls(eg, x)
    return None if d is None else tuple(d.type.shape)


def _same_dtype(eg: Any, x: Any, y: Any) -> bool:
    a, b = _cls(eg, x), _cls(eg, y)
    return a is not None and b is not None and a.type.dtype == b.type.dtype


PREDICATES: dict[str, Callable[..., Any]] = {
    "positive": _sign_pred(POS),
    "nonnegative": _sign_pred(NONNEG),
    "nonzero": _sign_pred(NONZERO),
    "negative": _sign_pred(NEG),
    "nonpositive": _sign_pred(NONPOS),
    "same_shape": _same_shape,
    "same_shape_after": _same_shape_after,
    "broadcasts_into": _broadcasts_into,
    "ndim": _ndim,
    "is_const": _is_const,
    "dtype_is_float": _dtype_is_float,
    "is_scalar": _is_scalar,
    "static_shape": _static_shape,
    "same_dtype": _same_dtype,
}
