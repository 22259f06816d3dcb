"""Named guard predicates and attribute helpers that rules may call, as tables of plain functions.

Guards (``if positive(x) and ndim(x) == 0``) and attribute expressions (``{pattern=inverse_pattern(pattern)}``)
are evaluated here. A guard call ``p(args)`` is looked up first in the caller's ``facts`` (a dict of
callables or an object with methods: the engine passes its e-class facts this way), then in
:data:`PREDICATES`, then in :data:`ATTR_HELPERS`. The default predicates decide facts about plain
terms conservatively: ``positive(x)`` is True only when it is certain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rewritediff.ops import CONST_OP, REGISTRY
from rewritediff.ops.signs import NEG, NONNEG, NONPOS, NONZERO, POS, value_signs
from rewritediff.ops.signs import read as read_signs
from rewritediff.rules.ast import Call, NoneLit, Num, Special, Str, Tuple, Var
from rewritediff.terms import FLOAT_DTYPES, TensorType, Term

_MAX_DEPTH = 12  # sign analysis looks at most this many levels below a term


# ---- sign analysis on plain terms (bounded depth) -------------------------------------------
def _const_array(x: Any) -> np.ndarray | None:
    if isinstance(x, Term) and x.op == CONST_OP:
        return x.value
    if isinstance(x, bool | int | float | np.ndarray | np.generic):
        return np.asarray(x)
    return None


def _signs(x: Any) -> int:
    """Sign facts (ops/signs.py bits) of a term, from its ops' ``OpDef.signs`` looked at ``_MAX_DEPTH`` levels deep.

    The same table the e-graph's analysis reads, so a guard means the same on a term as on an
    e-class. The walk uses an explicit stack; the depth bound keeps it cheap on wide graphs.
    """
    memo: dict[tuple[int, int], int] = {}
    stack: list[tuple[Any, int, bool]] = [(x, 0, False)]
    while stack:
        t, depth, ready = stack.pop()
        key = (id(t), depth)
        if key in memo and not ready:
            continue
        arr = _const_array(t)
        if arr is not None:
            memo[key] = value_signs(arr)
            continue
        od = REGISTRY.get(t.op) if isinstance(t, Term) and depth < _MAX_DEPTH else None
        if od is None or od.signs is None:
            memo[key] = 0
            continue
        if isinstance(od.signs, int) or ready:
            kids = [] if isinstance(od.signs, int) else [memo.get((id(a), depth + 1), 0) for a in t.args]
            memo[key] = read_signs(od, kids, [_const_array(a) for a in t.args], getattr(t.type, "dtype", "float64"))
            continue
        stack.append((t, depth, True))
        stack.extend((a, depth + 1, False) for a in t.args)
    return memo[(id(x), 0)]


def positive(x: Any) -> bool:
    """True when every element of x is certainly > 0."""
    return bool(_signs(x) & POS)


def nonnegative(x: Any) -> bool:
    """True when every element of x is certainly >= 0."""
    return bool(_signs(x) & NONNEG)


def nonzero(x: Any) -> bool:
    """True when every element of x is certainly != 0."""
    return bool(_signs(x) & NONZERO)


def negative(x: Any) -> bool:
    """True when every element of x is certainly < 0."""
    return bool(_signs(x) & NEG)


def nonpositive(x: Any) -> bool:
    """True when every element of x is certainly <= 0."""
    return bool(_signs(x) & NONPOS)


def ndim(x: Any) -> int:
    """Number of dimensions of a term (0 for a Python scalar)."""
    if isinstance(x, Term) and isinstance(x.type, TensorType):
        return x.ndim
    return int(np.ndim(x))


def dtype(x: Any) -> str:
    """The dtype name of a term."""
    return x.dtype if isinstance(x, Term) else np.asarray(x).dtype.name


def dtype_is_float(x: Any) -> bool:
    """True when x has a floating dtype."""
    return isinstance(x, Term) and isinstance(x.type, TensorType) and x.dtype in FLOAT_DTYPES


def is_float_dtype(name: Any) -> bool:
    """True for the name of a floating dtype (an attribute such as cast's ``dtype``)."""
    return name is not None and np.dtype(name).name in FLOAT_DTYPES


def is_scalar(x: Any) -> bool:
    """True for a 0-d term."""
    return ndim(x) == 0


def is_const(x: Any) -> bool:
    """True for a constant term."""
    return isinstance(x, Term) and x.op == CONST_OP


def const_value(x: Any) -> Any:
    """The Python scalar a constant holds (all elements equal), else None."""
    arr = _const_array(x)
    if arr is None or arr.size == 0:
        return None
    first = arr.flat[0]
    if np.all(arr == first):
        return first.item()
    return None


def is_zero(x: Any) -> bool:
    """True for a constant whose elements are all 0."""
    v = const_value(x)
    return v is not None and v == 0


def is_one(x: Any) -> bool:
    """True for a constant whose elements are all 1."""
    v = const_value(x)
    return v is not None and v == 1


def static_shape(x: Any) -> tuple:
    """The static shape of a term (None for unknown dims)."""
    return tuple(x.static_shape)


def same_shape(a: Any, b: Any) -> bool:
    """True when both static shapes are fully known and equal."""
    sa, sb = static_shape(a), static_shape(b)
    return sa == sb and None not in sa


def same_dtype(a: Any, b: Any) -> bool:
    """True when a and b are terms of the same dtype."""
    return isinstance(a, Term) and isinstance(b, Term) and isinstance(a.type, TensorType) and isinstance(b.type, TensorType) and a.dtype == b.dtype


def same_type(a: Any, b: Any) -> bool:
    """True when a and b have the same dtype and static shape."""
    return isinstance(a, Term) and isinstance(b, Term) and a.type == b.type


# ---- attribute helpers ------------------------------------------------------------------------
def inverse_pattern(pattern: Any, nd: Any = None) -> tuple:
    """The dimshuffle pattern undoing ``pattern`` on an input of ``nd`` dims (dropped input dims come back as 'x')."""
    pattern = tuple(pattern)
    kept = [p for p in pattern if p != "x"]
    if nd is None:
        n = max(kept) + 1 if kept else 0
    else:
        n = ndim(nd) if isinstance(nd, Term) else int(nd)
    return tuple(pattern.index(i) if i in pattern else "x" for i in range(n))


def normalize_axis(axis: Any, nd: Any) -> tuple | None:
    """``axis`` (None, an int or a sequence) as a sorted tuple of non-negative ints, None meaning all."""
    nd = ndim(nd) if isinstance(nd, Term) else int(nd)
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted({int(a) % nd if nd else int(a) for a in axes}))


def reduced_axes(axis: Any, nd: Any) -> tuple:
    """The axes a reduction over ``axis`` removes (all of them for None)."""
    nd = ndim(nd) if isinstance(nd, Term) else int(nd)
    norm = normalize_axis(axis, nd)
    return tuple(range(nd)) if norm is None else norm


def expand_pattern(axis: Any, nd: Any) -> tuple:
    """The dimshuffle pattern putting back, as 'x', the axes a reduction over ``axis`` removed."""
    nd = ndim(nd) if isinstance(nd, Term) else int(nd)
    gone = reduced_axes(axis, nd)
    out: list = []
    k = 0
    for i in range(nd):
        if i in gone:
            out.append("x")
        else:
            out.append(k)
            k += 1
    return tuple(out)


def reverse_pattern(nd: Any) -> tuple:
    """The dimshuffle pattern reversing all dims (matrix transpose for ndim 2)."""
    nd = ndim(nd) if isinstance(nd, Term) else int(nd)
    return tuple(reversed(range(nd)))


def swap_last_pattern(nd: Any) -> tuple:
    """The dimshuffle pattern swapping the last two dims (batched transpose)."""
    nd = ndim(nd) if isinstance(nd, Term) else int(nd)
    if nd < 2:
        return tuple(range(nd))
    return (*range(nd - 2), nd - 1, nd - 2)


def inverse_permutation(perm: Any) -> tuple:
    """The inverse of a permutation of axes."""
    perm = tuple(int(p) for p in perm)
    return tuple(perm.index(i) for i in range(len(perm)))


def length(x: Any) -> int:
    """len() of a tuple attribute."""
    return len(x)


def py_range(*args: Any) -> tuple:
    """range(...) as a tuple."""
    return tuple(range(*[int(a) for a in args]))


def py_tuple(*items: Any) -> tuple:
    """The arguments as a tuple."""
    return tuple(items)


def concat(*tuples: Any) -> tuple:
    """Tuples concatenated."""
    out: tuple = ()
    for t in tuples:
        out = out + tuple(t)
    return out


def broadcasts_into(x: Any, y: Any) -> bool:
    """True when broadcasting x against y provably leaves y's static shape unchanged."""
    if not (isinstance(x, Term) and isinstance(y, Term) and isinstance(x.type, TensorType) and isinstance(y.type, TensorType)):
        return False
    a, b = x.static_shape, y.static_shape
    if len(a) > len(b):
        return False
    return all(p == 1 or (p is not None and p == q) for p, q in zip(a, b[len(b) - len(a) :]))


def is_identity(x: Any) -> bool:
    """True for an identity matrix: an op whose ``OpDef.identity`` says so (``eye`` with k=0, square), or such a constant."""
    if not isinstance(x, Term) or not isinstance(x.type, TensorType) or x.ndim != 2:
        return False
    od = REGISTRY.get(x.op)
    if od is not None and od.identity is not None:
        return bool(od.identity(x))
    v = _const_array(x)
    return v is not None and v.shape[0] == v.shape[1] and bool(np.array_equal(v, np.eye(v.shape[0])))


def same_shape_after(x: Any, y: Any, batch: Any) -> bool:
    """True when x's static dims after its first ``batch`` ones are y's, all known."""
    if not (isinstance(x, Term) and isinstance(y, Term) and isinstance(x.type, TensorType) and isinstance(y.type, TensorType)):
        return False
    rest = x.static_shape[int(batch) :]
    return rest == y.static_shape and None not in rest


PREDICATES: dict[str, Callable[..., Any]] = {
    "broadcasts_into": broadcasts_into,
    "is_identity": is_identity,
    "same_shape_after": same_shape_after,
    "ndim": ndim,
    "dtype": dtype,
    "dtype_is_float": dtype_is_float,
    "is_float_dtype": is_float_dtype,
    "is_scalar": is_scalar,
    "positive": positive,
    "nonnegative": nonnegative,
    "nonzero": nonzero,
    "negative": negative,
    "nonpositive": nonpositive,
    "is_const": is_const,
    "const_value": const_value,
    "is_zero": is_zero,
    "is_one": is_one,
    "static_shape": static_shape,
    "same_shape": same_shape,
    "same_type": same_type,
    "same_dtype": same_dtype,
}
"""Guard predicates and facts: each takes terms (or attribute values) and returns a Python value.

This table is the guard vocabulary: the engine answers some of these names from its e-class facts
(``engine.analysis.PREDICATES``), always with the same meaning and kind of value.
"""


def index_at(axis: Any, i: Any) -> tuple:
    """The subtensor index spec of position ``i`` along ``axis`` (all of every earlier axis)."""
    return (("slice", None, None, None),) * int(axis) + (("int", int(i)),)


def tensordot_subscripts(axes: Any, nd_a: Any, nd_b: Any, which: Any) -> str:
    """einsum subscripts for the adjoint of tensordot's argument ``which`` (0: a, 1: b): "out,b->a" or "a,out->b"."""
    xa, xb = axes
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    a = letters[:nd_a]
    pool = iter(letters[nd_a:])
    b = "".join(a[xa[list(xb).index(j)]] if j in xb else next(pool) for j in range(nd_b))
    out = "".join(c for k, c in enumerate(a) if k not in xa) + "".join(c for k, c in enumerate(b) if k not in xb)
    return f"{out},{b}->{a}" if which == 0 else f"{a},{out}->{b}"


ATTR_HELPERS: dict[str, Callable[..., Any]] = {
    "index_at": index_at,
    "tensordot_subscripts": tensordot_subscripts,
    "inverse_pattern": inverse_pattern,
    "normalize_axis": normalize_axis,
    "reduced_axes": reduced_axes,
    "expand_pattern": expand_pattern,
    "reverse_pattern": reverse_pattern,
    "swap_last_pattern": swap_last_pattern,
    "swap_last": swap_last_pattern,
    "inverse_permutation": inverse_permutation,
    "ndim": ndim,
    "dtype": dtype,
    "static_shape": static_shape,
    "len": length,
    "range": py_range,
    "tuple": py_tuple,
    "concat": concat,
}
"""Functions computing attribute values in right-hand sides (``{pattern=inverse_pattern(pattern)}``)."""

_LOGIC = ("and", "or", "not")
COMPARE = {
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "gt": lambda a, b: a > b,
    "le": lambda a, b: a <= b,
    "ge": lambda a, b: a >= b,
}
ARITH = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "true_div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "neg": lambda a: -a,
}
"""Comparisons and arithmetic on plain values in guards and attribute expressions."""


def lookup(name: str, facts: Any = None) -> Callable[..., Any] | None:
    """The callable for a guard or helper name: ``facts`` first (dict or object), then the default tables."""
    if facts is not None:
        fn = facts.get(name) if isinstance(facts, dict) else getattr(facts, name, None)
        if fn is not None:
            return fn
    return PREDICATES.get(name) or ATTR_HELPERS.get(name)


def literal_value(expr: Any) -> Any:
    """The Python value of a literal expression (number, string, None, tuple of literals)."""
    if isinstance(expr, Num | Str):
        return expr.value
    if isinstance(expr, NoneLit):
        return None
    if isinstance(expr, Tuple):
        return tuple(literal_value(e) for e in expr.items)
    if isinstance(expr, Var):
        return None
    raise TypeError(f"not a literal: {expr!r}")


def eval_value(expr: Any, env: dict, facts: Any = None) -> Any:
    """Evaluate a guard or attribute expression to a Python value (bound names give their terms/values)."""
    if isinstance(expr, Num | Str):
        return expr.value
    if isinstance(expr, NoneLit):
        return None
    if isinstance(expr, Tuple):
        return tuple(eval_value(e, env, facts) for e in expr.items)
    if isinstance(expr, Var):
        if expr.name not in env:
            raise KeyError(f"unbound name {expr.name!r}")
        return env[expr.name]
    if isinstance(expr, Special):
        raise ValueError(f"{expr.kind} is not a value")
    if isinstance(expr, Call):
        op = expr.op
        if op == "and":
            return bool(eval_value(expr.args[0], env, facts)) and bool(eval_value(expr.args[1], env, facts))
        if op == "or":
            return bool(eval_value(expr.args[0], env, facts)) or bool(eval_value(expr.args[1], env, facts))
        if op == "not":
            return not eval_value(expr.args[0], env, facts)
        fn = lookup(op, facts)
        if fn is None:
            if op in COMPARE:
                fn = COMPARE[op]
            elif op in ARITH:
                fn = ARITH[op]
            else:
                raise KeyError(f"unknown guard predicate or helper {op!r}")
        args = [eval_value(a, env, facts) for a in expr.args]
        kwargs = {k: eval_value(v, env, facts) for k, v in expr.attrs}
        return fn(*args, **kwargs)
    raise TypeError(f"cannot evaluate {expr!r}")


def eval_guard(guard: Any, env: dict, facts: Any = None) -> bool:
    """Whether a rule's guard holds for the bindings ``env`` (no guard always holds)."""
    if guard is None:
        return True
    return bool(eval_value(guard, env, facts))


def eval_attr(expr: Any, env: dict, facts: Any = None) -> Any:
    """The Python value of an attribute expression in a right-hand side."""
    return eval_value(expr, env, facts)
