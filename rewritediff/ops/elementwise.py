"""Elementwise ops as one table: name, arity, dtype rule, numpy source, numexpr source, SymPy form, further facts.

All broadcast like numpy. ``add`` and ``mul`` are n-ary (sorted at construction). The numexpr
column is what lets the lowering fuse chains of these ops into one pass; it is left empty for
transcendental functions, which numpy's SIMD loops compute 2-4x faster than numexpr's
(measured on this project's benchmark machine: exp 22 ms vs 55 ms, tanh 30 ms vs 133 ms for 1e7
elements), so fusion covers the memory-bound arithmetic between them.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import sympy

from rewritediff import runtime as rt
from rewritediff.errors import RewriteDiffTypeError
from rewritediff.ops import signs
from rewritediff.ops.infer import as_float, broadcast_shapes, promote
from rewritediff.ops.registry import Form, OpDef, get_op, infix, prefix, register
from rewritediff.terms import TensorType, Term, apply, check_dtype

_PROBED: dict[tuple, str] = {}


def numpy_dtype(name: str, dtypes: tuple) -> str:
    """The dtype numpy itself gives for op ``name`` on these argument dtypes (so types match run time)."""
    key = (name, dtypes)
    if key not in _PROBED:
        try:
            with np.errstate(all="ignore"):
                out = np.asarray(get_op(name).impl(*[np.ones((), dtype=d) for d in dtypes]))
        except TypeError as exc:
            raise RewriteDiffTypeError(f"{name}: not defined for arguments of dtype {', '.join(dtypes)} ({exc})") from None
        _PROBED[key] = out.dtype.name
    return _PROBED[key]


def _make_infer(name: str, rule: str) -> Any:
    def infer(args: tuple, attrs: dict) -> TensorType:
        shape = broadcast_shapes(name, [a.static_shape for a in args])
        dts = [a.dtype for a in args]
        if rule in ("promote", "float", "switch") and any(d not in ("float64", "float32", "int64") for d in dts):
            dt = numpy_dtype(name, tuple(dts))
        elif rule == "promote":
            dt = promote(dts)
        elif rule == "float":
            dt = as_float(promote(dts))
        elif rule == "bool":
            dt = "bool"
        elif rule == "switch":
            dt = promote(dts[1:])
        else:  # cast
            dt = check_dtype(attrs["dtype"])
        return TensorType(dt, shape)

    return infer


def _nary(args: list[str], sep: str, many: str) -> str:
    """Infix source for a few operands; a call for many (a long infix chain nests too deep for Python's compiler)."""
    if len(args) <= 32:
        return "(" + sep.join(args) + ")"
    return f"{many}({', '.join(args)})"


def _np(fn: str) -> str:
    return f"np.{fn}({{0}})"


def _scipy_special(name: str) -> Any:
    """A ``scipy.special`` ufunc as an op's impl, imported on its first call (importing scipy.special takes 0.2 s)."""
    fn: list = []

    def impl(*xs: np.ndarray) -> np.ndarray:
        if not fn:
            fn.append(getattr(importlib.import_module("scipy.special"), name))
        return fn[0](*xs)

    impl.__name__ = name
    return impl


def _add_without_zeros(args: list[Term], zero: list[bool]) -> Term | None:
    """A sum without its zero terms (None: every term is zero)."""
    keep = [a for a, z in zip(args, zero) if not z]
    if not keep:
        return None
    return keep[0] if len(keep) == 1 else apply("add", *keep)


def _sub_without_zeros(args: list[Term], zero: list[bool]) -> Term | None:
    """``x - 0`` is x, ``0 - y`` is -y (None: both are zero)."""
    if all(zero):
        return None
    return args[0] if zero[1] else apply("neg", args[1])


# One row per op: name, arity, dtype rule, numpy source (None: the lowering calls ``impl``),
# numexpr source (None: no numexpr form, which also marks the op transcendental for the cost
# model), SymPy form (a callable over SymPy expressions: the rule checker differentiates it),
# doc, and optionally a dict of further OpDef fields: ``signs`` (ops/signs.py), ``zero_out``,
# ``without_zeros``, ``sympy_args``, ``sample_domain``, ``impl`` (when the source calls a runtime helper or there is no source:
# type probes, constant folding and the lowering then all run that one implementation).
# fmt: off
ELEMENTWISE: list[tuple] = [
    ("add", (2, None), "promote", lambda a, k: _nary(a, " + ", "rt.add_n"), lambda a: "(" + " + ".join(a) + ")", lambda *a: sympy.Add(*a), "x + y + ...", {"signs": signs.total, "without_zeros": _add_without_zeros}),
    ("mul", (2, None), "promote", lambda a, k: _nary(a, " * ", "rt.mul_n"), lambda a: "(" + " * ".join(a) + ")", lambda *a: sympy.Mul(*a), "x * y * ...", {"signs": signs.product, "zero_out": True}),
    ("sub", 2, "promote", "({0} - {1})", "({0} - {1})", lambda a, b: a - b, "x - y", {"without_zeros": _sub_without_zeros}),
    ("true_div", 2, "float", "({0} / {1})", "({0} / {1})", lambda a, b: a / b, "x / y", {"signs": signs.quotient, "zero_out": (0,)}),
    ("neg", 1, "promote", "(-{0})", "(-{0})", lambda a: -a, "-x", {"signs": signs.negate, "zero_out": (0,)}),
    ("reciprocal", 1, "float", "(1.0 / {0})", "(1.0 / {0})", lambda a: 1 / a, "1 / x", {"signs": signs.reciprocal}),
    ("pow", 2, "promote", "({0} ** {1})", "({0} ** {1})", lambda a, b: a**b, "x ** y", {"signs": signs.power}),
    ("sqr", 1, "promote", "np.square({0})", "({0} * {0})", lambda a: a**2, "x ** 2", {"signs": signs.magnitude}),
    ("exp", 1, "float", _np("exp"), None, sympy.exp, "e ** x", {"signs": signs.POS}),
    ("log", 1, "float", _np("log"), None, sympy.log, "natural logarithm"),
    ("log1p", 1, "float", _np("log1p"), None, lambda a: sympy.log(1 + a), "log(1 + x), accurate near 0", {"signs": signs.keeps_nonnegative}),
    ("expm1", 1, "float", _np("expm1"), None, lambda a: sympy.exp(a) - 1, "exp(x) - 1, accurate near 0"),
    ("sqrt", 1, "float", _np("sqrt"), None, sympy.sqrt, "square root", {"signs": signs.root}),
    ("sin", 1, "float", _np("sin"), None, sympy.sin, "sine"),
    ("cos", 1, "float", _np("cos"), None, sympy.cos, "cosine"),
    ("tan", 1, "float", _np("tan"), None, sympy.tan, "tangent"),
    ("tanh", 1, "float", _np("tanh"), None, sympy.tanh, "hyperbolic tangent"),
    ("arcsin", 1, "float", _np("arcsin"), None, sympy.asin, "inverse sine"),
    ("arccos", 1, "float", _np("arccos"), None, sympy.acos, "inverse cosine"),
    ("arctan", 1, "float", _np("arctan"), None, sympy.atan, "inverse tangent"),
    ("sinh", 1, "float", _np("sinh"), None, sympy.sinh, "hyperbolic sine"),
    ("cosh", 1, "float", _np("cosh"), None, sympy.cosh, "hyperbolic cosine", {"signs": signs.POS}),
    ("erfcx", 1, "float", None, None, lambda a: sympy.exp(a**2) * sympy.erfc(a), "scaled complementary error function exp(x ** 2) * erfc(x)", {"signs": signs.POS, "impl": _scipy_special("erfcx")}),
    ("erf", 1, "float", None, None, sympy.erf, "error function", {"signs": signs.same_as_arg(0), "impl": _scipy_special("erf")}),
    ("erfc", 1, "float", None, None, sympy.erfc, "complementary error function 1 - erf(x), accurate for large x", {"signs": signs.NONNEG, "impl": _scipy_special("erfc")}),
    ("erfinv", 1, "float", None, None, sympy.erfinv, "inverse of erf on (-1, 1)", {"signs": signs.same_as_arg(0), "impl": _scipy_special("erfinv")}),
    ("erfcinv", 1, "float", None, None, lambda a: sympy.erfinv(1 - a), "inverse of erfc on (0, 2)", {"impl": _scipy_special("erfcinv")}),
    ("gammaln", 1, "float", None, None, sympy.loggamma, "log |gamma(x)|", {"impl": _scipy_special("gammaln")}),
    ("psi", 1, "float", None, None, sympy.digamma, "digamma function, the derivative of gammaln", {"impl": _scipy_special("psi")}),
    # the order n is an integer: the rule checker holds it at 2 (d/dn is not defined)
    ("polygamma", 2, "float", None, None, sympy.polygamma, "polygamma(n, x): the n-th derivative of psi", {"impl": _scipy_special("polygamma"), "sympy_args": (lambda n: sympy.Integer(2), None)}),
    ("gamma", 1, "float", None, None, sympy.gamma, "gamma function", {"impl": _scipy_special("gamma")}),
    ("sigmoid", 1, "float", "rt.sigmoid({0})", None, lambda a: 1 / (1 + sympy.exp(-a)), "logistic sigmoid 1 / (1 + exp(-x))", {"signs": signs.POS, "impl": rt.sigmoid}),
    ("softplus", 1, "float", "rt.softplus({0})", None, lambda a: sympy.log(1 + sympy.exp(a)), "log(1 + exp(x)), stable", {"signs": signs.POS, "impl": rt.softplus}),
    ("log1mexp", 1, "float", "np.where({0} > -0.6931471805599453, np.log(-np.expm1({0})), np.log1p(-np.exp(np.minimum({0}, -0.6931471805599453))))", None, lambda a: sympy.log(1 - sympy.exp(a)), "log(1 - exp(x)) for x < 0, stable: log(-expm1(x)) above -log(2), log1p(-exp(x)) below (its argument clamped: no warning from the branch not taken)"),
    ("logaddexp", 2, "float", "np.logaddexp({0}, {1})", None, lambda a, b: sympy.log(sympy.exp(a) + sympy.exp(b)), "log(exp(x) + exp(y)), stable"),
    ("xlogx", 1, "float", "({0} * np.log(np.where({0} == 0, 1.0, {0})))", None, lambda a: a * sympy.log(a), "x * log(x), 0 at x = 0", {"zero_out": (0,)}),
    ("xlogy0", 2, "float", "({0} * np.log(np.where({0} == 0, 1.0, {1})))", None, lambda a, b: a * sympy.log(b), "x * log(y), 0 where x == 0", {"zero_out": (0,)}),
    ("relu", 1, "promote", "np.maximum({0}, 0)", "where({0} > 0, {0}, 0)", lambda a: sympy.Max(a, 0), "max(x, 0)", {"signs": signs.NONNEG, "zero_out": (0,)}),
    ("softsign", 1, "float", "({0} / (1 + np.abs({0})))", "({0} / (1 + abs({0})))", lambda a: a / (1 + sympy.Abs(a)), "x / (1 + |x|)", {"signs": signs.same_as_arg(0), "zero_out": (0,)}),
    ("log_sigmoid", 1, "float", "(-rt.softplus(-{0}))", None, lambda a: -sympy.log(1 + sympy.exp(-a)), "log(sigmoid(x)), stable: -softplus(-x)", {"signs": signs.NONPOS, "impl": lambda x: -rt.softplus(-x)}),
    ("abs", 1, "promote", _np("abs"), "abs({0})", sympy.Abs, "absolute value", {"signs": signs.magnitude}),
    ("sign", 1, "promote", _np("sign"), "where({0} > 0, 1.0, where({0} < 0, -1.0, 0.0))", sympy.sign, "sign: -1, 0 or 1"),
    ("maximum", 2, "promote", "np.maximum({0}, {1})", "where({0} >= {1}, {0}, {1})", lambda a, b: sympy.Max(a, b), "elementwise larger of x and y", {"signs": signs.larger}),
    ("minimum", 2, "promote", "np.minimum({0}, {1})", "where({0} <= {1}, {0}, {1})", lambda a, b: sympy.Min(a, b), "elementwise smaller of x and y", {"signs": signs.smaller}),
    ("switch", 3, "switch", "np.where({0}, {1}, {2})", "where({0}, {1}, {2})", lambda c, a, b: sympy.Piecewise((a, c), (b, True)), "switch(cond, a, b): a where cond else b", {"sympy_args": (lambda c: sympy.Gt(c, 0), None, None)}),
    ("clip", 3, "promote", "np.clip({0}, {1}, {2})", "where({0} < {1}, {1}, where({0} > {2}, {2}, {0}))", lambda x, lo, hi: sympy.Min(sympy.Max(x, lo), hi), "clip(x, lo, hi)", {"sample_domain": lambda x, lo, hi: lo < hi}),
    ("lt", 2, "bool", "({0} < {1})", "({0} < {1})", sympy.Lt, "x < y"),
    ("gt", 2, "bool", "({0} > {1})", "({0} > {1})", sympy.Gt, "x > y"),
    ("le", 2, "bool", "({0} <= {1})", "({0} <= {1})", sympy.Le, "x <= y"),
    ("ge", 2, "bool", "({0} >= {1})", "({0} >= {1})", sympy.Ge, "x >= y"),
    ("eq", 2, "bool", "({0} == {1})", "({0} == {1})", sympy.Eq, "x == y elementwise"),
    ("neq", 2, "bool", "({0} != {1})", "({0} != {1})", sympy.Ne, "x != y elementwise"),
    ("and_", 2, "bool", "np.logical_and({0}, {1})", "({0} & {1})", sympy.And, "logical and"),
    ("or_", 2, "bool", "np.logical_or({0}, {1})", "({0} | {1})", sympy.Or, "logical or"),
    ("not_", 1, "bool", "np.logical_not({0})", "(~{0})", sympy.Not, "logical not"),
    # SymPy has no such predicates: opaque functions of the same names
    ("isnan", 1, "bool", _np("isnan"), None, sympy.Function("isnan"), "x is NaN"),
    ("isinf", 1, "bool", _np("isinf"), None, sympy.Function("isinf"), "x is +inf or -inf"),
    ("floor", 1, "promote", _np("floor"), None, sympy.floor, "round down"),
    ("ceil", 1, "promote", _np("ceil"), None, sympy.ceiling, "round up"),
    ("round", 1, "promote", "np.round({0})", None, None, "round half to even"),
    ("cast", 1, "cast", "{0}.astype(np.{dtype})", None, None, "convert to another dtype", {"signs": signs.cast, "zero_out": (0,)}),
]
# fmt: on


def _compare(text: str, latex: str) -> dict:
    """A comparison: non-associative, both operands binding tighter than it."""
    return {"text_form": infix(text, "comparison", left="or"), "latex_form": infix(latex, "comparison", left="or")}


def _delimited(left: str, right: str) -> dict:
    """A LaTeX form enclosing its one argument (``|x|``), so it needs no parentheses."""
    return {"latex_form": Form((left, 0, right))}


# How the printers write each op (OpDef.text_form, latex_form, latex_name, print_kind, cheap); the
# n-ary sum and product (rewritediff.ops.SUM_OP, PRODUCT_OP) are written by the printers' own code.
# Ops not listed print as calls: name(x, y)
NOTATION: dict[str, dict] = {
    "sub": {"text_form": infix(" - ", "additive"), "latex_form": infix(" - ", "additive")},
    "true_div": {
        "text_form": infix(" / ", "multiplicative", right="unary"),
        "latex_form": Form((r"\frac{", 0, "}{", 1, "}"), "unary"),
        "print_kind": "quotient",
    },
    "neg": {"text_form": prefix("-"), "print_kind": "negation", "cheap": True},
    "reciprocal": {
        "text_form": Form(("1 / ", (0, "unary")), "multiplicative"),
        "latex_form": Form((r"\frac{1}{", 0, "}"), "unary"),
        "print_kind": "inverse",
        "cheap": True,
    },
    "pow": {"text_form": infix(" ** ", "power", left="atom", right="unary"), "latex_form": Form(((0, "atom"), "^{", 1, "}"), "power"), "print_kind": "power"},
    "sqr": {"latex_form": Form(((0, "atom"), "^{2}"), "power")},
    "sqrt": {"latex_form": Form((r"\sqrt{", 0, "}"))},
    "abs": _delimited(r"\left|", r"\right|"),
    "floor": _delimited(r"\left\lfloor ", r" \right\rfloor"),
    "ceil": _delimited(r"\left\lceil ", r" \right\rceil"),
    "switch": {"latex_form": Form((r"\begin{cases} ", 1, r" & \text{if } ", 0, r" \\ ", 2, r" & \text{otherwise} \end{cases}"))},
    "lt": _compare(" < ", " < "),
    "gt": _compare(" > ", " > "),
    "le": _compare(" <= ", r" \leq "),
    "ge": _compare(" >= ", r" \geq "),
    "eq": _compare(" == ", " = "),
    "neq": _compare(" != ", r" \neq "),
    "and_": {"text_form": infix(" & ", "and"), "latex_form": infix(r" \land ", "and")},
    "or_": {"text_form": infix(" | ", "or"), "latex_form": infix(r" \lor ", "or")},
    "not_": {"text_form": prefix("~"), "latex_form": prefix(r"\lnot "), "cheap": True},
    "cast": {"print_kind": "conversion", "cheap": True},
    **{name: {"latex_name": "\\" + name} for name in ("exp", "log", "sin", "cos", "tan", "tanh", "sinh", "cosh", "arcsin", "arccos", "arctan")},
    "sigmoid": {"latex_name": r"\sigma"},
    "maximum": {"latex_name": r"\max"},
    "minimum": {"latex_name": r"\min"},
}

# numpy ufuncs for the ops that have one (binary add and mul only: n-ary ones are chains)
UFUNCS = {
    "add": "add",
    "mul": "multiply",
    "sub": "subtract",
    "true_div": "true_divide",
    "neg": "negative",
    "pow": "power",
    "sqr": "square",
    "exp": "exp",
    "log": "log",
    "log1p": "log1p",
    "expm1": "expm1",
    "sqrt": "sqrt",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "tanh": "tanh",
    "arcsin": "arcsin",
    "arccos": "arccos",
    "arctan": "arctan",
    "sinh": "sinh",
    "cosh": "cosh",
    "abs": "absolute",
    "logaddexp": "logaddexp",
    "maximum": "maximum",
    "minimum": "minimum",
}


def _impl_from_source(src: Any, nargs: Any) -> Any:
    """A numpy callable running the op's own source (type probes and constant folding use what the lowering emits)."""

    def impl(*xs: np.ndarray, **attrs: Any) -> np.ndarray:
        names = [f"a{i}" for i in range(len(xs))]
        code = src(names, attrs) if callable(src) else src.format(*names, **attrs)
        return eval(code, {"np": np, "rt": rt}, dict(zip(names, xs)))  # noqa: S307 - our own templates

    return impl


for _name, _arity, _rule, _src, _ne, _sym, _doc, *_more in ELEMENTWISE:
    _facts = dict(_more[0]) if _more else {}
    _facts.update(NOTATION.get(_name, {}))
    register(
        OpDef(
            name=_name,
            infer=_make_infer(_name, _rule),
            impl=_facts.pop("impl", None) or _impl_from_source(_src, _arity),
            arity=_arity,
            attrs={"dtype": None} if _name == "cast" else {},
            emit=_src,
            elementwise=True,
            runtime_shape=lambda shapes, attrs: np.broadcast_shapes(*shapes),
            numexpr=_ne,
            ufunc=UFUNCS.get(_name),
            sympy=_sym,
            nary=_name in ("add", "mul"),
            unit={"add": 0, "mul": 1}.get(_name),
            doc=_doc,
            group="elementwise",
            differentiable=_rule not in ("bool",) and _name not in ("floor", "ceil", "round", "sign"),
            **_facts,
        )
    )
