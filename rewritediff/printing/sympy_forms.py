"""Terms to SymPy expressions and back (``to_sympy``, ``from_sympy``), walking with explicit stacks."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rewritediff.errors import RewriteDiffTypeError
from rewritediff.ops import REGISTRY
from rewritediff.printing.layout import _const_text, _is_const, _is_variable, _kind, _leaf_names, _ordered, _special_type_text
from rewritediff.rules.sympy_check import sympy_function
from rewritediff.terms import TensorType, Term, apply, constant


# ---- SymPy ---------------------------------------------------------------------------------
def _sympy_number(arr: np.ndarray) -> Any:
    import sympy as sp

    v = arr[()]
    if arr.dtype == np.bool_:
        return sp.true if v else sp.false
    if arr.dtype.kind in "iu":
        return sp.Integer(int(v))
    f = float(v)
    if np.isfinite(f) and f == int(f):
        return sp.Integer(int(f))
    if np.isnan(f):
        return sp.nan
    if np.isinf(f):
        return sp.oo if f > 0 else -sp.oo
    return sp.Float(f)


def to_sympy(expr: Term, symbols: dict[Term, Any] | None = None) -> Any:
    """The SymPy expression of an elementwise term (variables become Symbols named after the terms)."""
    import sympy as sp

    if not isinstance(expr, Term):
        raise RewriteDiffTypeError(f"to_sympy: expected a term, got {type(expr).__name__}")

    order = _ordered([expr])
    names = _leaf_names(order)
    given = {t.uid: s for t, s in (symbols or {}).items()}
    done: dict[int, Any] = {}
    for node in order:
        if node.uid in given:
            done[node.uid] = given[node.uid]
            continue
        if _is_variable(node):
            if not isinstance(node.type, TensorType):
                raise RewriteDiffTypeError(f"to_sympy: {_special_type_text(node)} has no value to express")
            name = names.get(node.uid) or f"{node.op}{node.uid}"
            done[node.uid] = sp.Symbol(name.replace("#", "_"))
            continue
        if _is_const(node):
            if node.ndim != 0:
                raise RewriteDiffTypeError(f"to_sympy: constant {_const_text(node)} is not a scalar")
            done[node.uid] = _sympy_number(node.value)
            continue
        args = [done[a.uid] for a in node.args]
        if _kind(node) == "conversion":  # SymPy's numbers have no dtype: a conversion to a float, or to the same dtype, changes nothing
            if node.dtype.startswith("float") or node.dtype == node.args[0].dtype:
                done[node.uid] = args[0]
                continue
            raise RewriteDiffTypeError(f"to_sympy: op {node.op!r} to {node.dtype} has no SymPy equivalent")
        fn = sympy_function(node.op)
        if fn is None:
            raise RewriteDiffTypeError(f"to_sympy: op {node.op!r} has no SymPy equivalent (only elementwise ops convert)")
        attrs = dict(node.attrs)
        done[node.uid] = fn(*args, **attrs) if attrs else fn(*args)
    return done[expr.uid]


def _from_sympy_number(e: Any) -> int | float | bool:
    import sympy as sp

    if isinstance(e, sp.logic.boolalg.BooleanAtom):
        return bool(e)
    if e.is_Integer:
        return int(e)
    try:
        z = complex(sp.N(e))
    except (TypeError, ValueError) as exc:
        raise RewriteDiffTypeError(f"from_sympy: cannot evaluate {e} to a number") from exc
    if z.imag != 0:
        raise RewriteDiffTypeError(f"from_sympy: {e} is not real")
    return z.real


_SYMPY_OPS: dict[tuple, dict[str, str]] = {}


def _sympy_ops() -> dict[str, str]:
    """SymPy function name -> elementwise op, read off the op table's SymPy column (``OpDef.sympy``).

    An op counts when its SymPy form applied to symbols is one SymPy function of exactly those
    symbols (``exp`` -> ``exp``, ``asin`` -> ``arcsin``, ``Max`` -> ``maximum``); forms that are
    formulas (``sigmoid``: ``1/(1 + exp(-x))``) are not names of theirs. Rebuilt when the table changes.
    """
    import sympy as sp

    key = tuple((name, id(od.sympy)) for name, od in REGISTRY.items() if od.elementwise and od.sympy is not None)
    table = _SYMPY_OPS.get(key)
    if table is not None:
        return table
    table = {}
    for name, _ in key:
        od = REGISTRY[name]
        fn = sympy_function(name)
        n = od.arity if isinstance(od.arity, int) else od.arity[0]
        symbols = [sp.Symbol(f"_a{i}") for i in range(n)]
        try:
            e = fn(*symbols) if fn is not None else None
        except Exception:  # noqa: BLE001 - a form that needs more than plain symbols: no name of its own
            continue
        if isinstance(e, sp.Basic) and len(e.args) == n and set(e.args) == set(symbols):
            table.setdefault(type(e).__name__, name)
    _SYMPY_OPS.clear()
    _SYMPY_OPS[key] = table
    return table


def _sympy_reciprocals() -> dict[str, Any]:
    """SymPy functions that are reciprocals of others (``sec`` is ``1 / cos``)."""
    import sympy as sp

    return {"sec": sp.cos, "csc": sp.sin, "cot": sp.tan, "sech": sp.cosh, "csch": sp.sinh, "coth": sp.tanh}


def _frontend() -> Any:
    """The frontend module (its name is shadowed on the package by the ``tensor`` constructor)."""
    return importlib.import_module("rewritediff.tensor")


class _Pending:
    """A numeric SymPy subexpression, turned into a constant once a sibling term gives its dtype."""

    __slots__ = ("expr",)

    def __init__(self, expr: Any) -> None:
        self.expr = expr


def _terms(values: Sequence[Any]) -> list[Term]:
    """Converted arguments as terms, numbers taking the dtype of the first term among them (weakly)."""
    as_term = _frontend().as_term
    like = next((v for v in values if isinstance(v, Term)), None)
    return [v if isinstance(v, Term) else as_term(_from_sympy_number(v.expr), like) for v in values]


def from_sympy(expr: Any, mapping: dict[Any, Term] | None = None) -> Term:
    """The term of a SymPy expression; ``mapping`` sends each Symbol (or its name) to a term."""
    mapping = mapping or {}
    by_name = {(k if isinstance(k, str) else str(k)): v for k, v in mapping.items()}
    done: dict[int, Any] = {}
    keep: list[Any] = []  # holds every visited object so ids stay unique during the walk
    stack: list[tuple[Any, bool]] = [(expr, False)]
    while stack:
        e, expanded = stack.pop()
        if id(e) in done:
            continue
        if not expanded:
            keep.append(e)
            stack.append((e, True))
            stack.extend((a, False) for a in reversed(e.args) if id(a) not in done)
            continue
        done[id(e)] = _convert_sympy_node(e, [done[id(a)] for a in e.args], by_name, lambda obj: done[id(obj)])
    out = done[id(expr)]
    if isinstance(out, _Pending):
        return constant(_from_sympy_number(out.expr))
    if not isinstance(out, Term):
        raise RewriteDiffTypeError(f"from_sympy: {expr} is not an expression")
    return out


def _convert_sympy_node(e: Any, kids: list[Any], by_name: dict[str, Term], lookup: Callable[[Any], Any]) -> Any:
    """Convert one SymPy node whose arguments are already converted (``kids``)."""
    import sympy as sp

    T = _frontend()

    if e.is_Symbol:
        term = by_name.get(e.name)
        if term is None:
            raise RewriteDiffTypeError(f"from_sympy: no term given for symbol {e.name!r}")
        return term
    if isinstance(e, sp.logic.boolalg.BooleanAtom) or e.is_Number or e.is_NumberSymbol:
        return _Pending(e)
    name = type(e).__name__
    if name == "ExprCondPair":
        return tuple(kids)
    if name == "Piecewise":
        return _piecewise_from_sympy(e, kids)
    if kids and all(isinstance(k, _Pending) for k in kids):
        return _Pending(e)
    if name == "Mul":
        return _mul_from_sympy(e, kids, lookup)
    if name == "Pow":
        return _pow_from_sympy(kids[0], kids[1])
    op = _sympy_ops().get(name)
    if op is not None:
        opdef = REGISTRY[op]
        if opdef.nary:
            return apply(op, *_terms(kids))
        if opdef.arity == 2 and len(kids) > 2:  # Max, And: n-ary in SymPy, folded from the left
            terms = _terms(kids)
            out = terms[0]
            for t in terms[1:]:
                out = apply(op, out, t)
            return out
        if opdef.arity_ok(len(kids)):
            return apply(op, *_terms(kids))
    inverse = _sympy_reciprocals().get(name)
    if inverse is not None and len(kids) == 1:
        op = _sympy_ops().get(inverse.__name__)
        if op is not None:
            return T.reciprocal(apply(op, *_terms(kids)))
    if name in ("asinh", "acosh", "atanh") and len(kids) == 1:
        (x,) = _terms(kids)
        if name == "asinh":
            return T.log(x + T.sqrt(T.sqr(x) + 1.0))
        if name == "acosh":
            return T.log(x + T.sqrt(T.sqr(x) - 1.0))
        return 0.5 * T.log((1.0 + x) / (1.0 - x))
    opdef = REGISTRY.get(name)
    if opdef is not None and opdef.elementwise and opdef.arity_ok(len(kids)):
        return apply(name, *_terms(kids))
    raise RewriteDiffTypeError(f"from_sympy: no rewritediff op for SymPy {name} (in {e})")


def _mul_from_sympy(e: Any, kids: list[Any], lookup: Callable[[Any], Any]) -> Term:
    """A SymPy product as numerator / denominator, a -1 coefficient becoming a negation."""
    T = _frontend()

    coeff = 1.0
    num: list[Term] = []
    den: list[Term] = []
    for a, k in zip(e.args, kids):
        if isinstance(k, _Pending):
            coeff *= float(_from_sympy_number(k.expr))
        elif a.is_Pow and a.exp.is_Number and a.exp.is_negative and isinstance(lookup(a.base), Term):
            den.append(_pow_from_sympy(lookup(a.base), _Pending(-a.exp)))
        else:
            num.append(k)
    negate = coeff < 0
    coeff = abs(coeff)
    if coeff != 1.0 or not (num or den):
        num.insert(0, T.as_term(coeff, (num or den or [None])[0]))
    top = (num[0] if len(num) == 1 else T.mul(*num)) if num else None
    if den:
        bottom = den[0] if len(den) == 1 else T.mul(*den)
        out = T.reciprocal(bottom) if top is None else T.true_div(top, bottom)
    else:
        out = top
    return T.neg(out) if negate else out


def _pow_from_sympy(b: Any, k: Any) -> Term:
    """``b ** k`` with the common exponents as their own ops (sqr, sqrt, reciprocal)."""
    T = _frontend()

    if isinstance(b, Term) and isinstance(k, _Pending):
        v = _from_sympy_number(k.expr)
        special = {1: lambda: b, 2: lambda: T.sqr(b), 0.5: lambda: T.sqrt(b), -1: lambda: T.reciprocal(b), -0.5: lambda: T.reciprocal(T.sqrt(b))}
        if v in special:
            return special[v]()
    b_t, k_t = _terms([b, k])
    return T.pow(b_t, k_t)


def _piecewise_from_sympy(e: Any, kids: list[Any]) -> Any:
    """Nested switches from a Piecewise whose last branch is the otherwise branch."""
    T = _frontend()

    *rest, (out, last_cond) = kids
    if not (isinstance(last_cond, _Pending) and _from_sympy_number(last_cond.expr) is True):
        raise RewriteDiffTypeError(f"from_sympy: Piecewise without an otherwise branch: {e}")
    for val, cond in reversed(rest):
        if isinstance(cond, _Pending):
            if _from_sympy_number(cond.expr):
                out = val
            continue
        val_t, out_t = _terms([val, out])
        out = T.switch(cond, val_t, out_t)
    return out
