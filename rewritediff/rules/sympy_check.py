"""Checking ``d`` rules against SymPy: each partial is compared with ``sympy.diff`` of the op's SymPy form.

The comparison is symbolic (``simplify(a - b) == 0``) for smooth expressions and otherwise numeric at
a few seeded random points, skipping points where either side is not a finite real number (so
piecewise ops are checked away from their kinks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

from rewritediff.ops import REGISTRY
from rewritediff.rules.ast import Call, NoneLit, Num, Rule, Special, Star, Str, Tuple, Var


class Unsupported(Exception):
    """An expression with no SymPy counterpart (the rule is skipped, not failed)."""


def sympy_function(op: str) -> Callable[..., Any] | None:
    """The SymPy form of ``op``: its ``OpDef.sympy`` (a callable, or the name of a sympy function)."""
    od = REGISTRY.get(op)
    if od is None or od.sympy is None:
        return None
    if callable(od.sympy):
        return od.sympy
    fn = getattr(sympy, od.sympy, None)
    return fn if callable(fn) else None


def expr_to_sympy(expr: Any, env: dict) -> Any:
    """A rule expression as a SymPy expression (``env`` maps names to SymPy expressions)."""
    if isinstance(expr, Var):
        if expr.name not in env:
            raise Unsupported(f"name {expr.name!r} has no SymPy value")
        return env[expr.name]
    if isinstance(expr, Num):
        v = expr.value
        if isinstance(v, bool):
            return sympy.true if v else sympy.false
        return sympy.Integer(v) if isinstance(v, int) else sympy.Float(v)
    if isinstance(expr, Special):
        if expr.kind == "zero":
            return sympy.Integer(0)
        raise Unsupported(expr.kind)
    if isinstance(expr, Str | Tuple | NoneLit | Star):
        raise Unsupported(repr(expr))
    if isinstance(expr, Call):
        fn = sympy_function(expr.op)
        if fn is None or expr.attrs:
            raise Unsupported(f"op {expr.op!r} has no SymPy counterpart")
        return fn(*[expr_to_sympy(a, env) for a in expr.args])
    raise Unsupported(repr(expr))


@dataclass
class Problem:
    """A ``d`` rule whose partial disagrees with SymPy."""

    rule: Rule
    arg: int
    expected: str
    got: str
    point: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        """file:line:col: what is wrong."""
        at = ", ".join(f"{k}={v:.4g}" if math.isfinite(v) else k for k, v in self.point.items())
        where = f" (at {at})" if at else ""
        return f"{self.rule.source}: d {self.rule.op}: the partial w.r.t. argument {self.arg} is {self.got}, but sympy.diff gives {self.expected}{where}\n    {self.rule.text}"

    def __str__(self) -> str:
        return self.message


_NONSMOOTH = (sympy.Piecewise, sympy.Heaviside, sympy.Max, sympy.Min, sympy.Abs, sympy.sign, sympy.DiracDelta)


def _smooth(e: Any) -> bool:
    return not any(e.has(t) for t in _NONSMOOTH)


def _value(e: Any, subs: dict) -> float | None:
    try:
        v = complex(e.subs(subs).evalf())
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if abs(v.imag) > 1e-12 or not math.isfinite(v.real):
        return None
    return v.real


def _numeric_mismatch(expected: Any, got: Any, symbols: list, seed: int, domain: Callable[..., bool] | None = None) -> dict | None:
    """A point where the two expressions differ, or None when they agree at every valid sample."""
    rng = np.random.default_rng(seed)
    valid = 0
    for attempt in range(60):
        lo, hi = ((0.1, 0.9), (-2.0, 2.0), (0.5, 3.0))[attempt % 3]
        point = {s: float(rng.uniform(lo, hi)) for s in symbols}
        if domain is not None and not domain(*point.values()):
            continue
        a, b = _value(expected, point), _value(got, point)
        if a is None or b is None:
            continue
        valid += 1
        if abs(a - b) > 1e-7 * max(1.0, abs(a), abs(b)):
            return {str(s): v for s, v in point.items()}
        if valid >= 6:
            break
    if valid < 2:
        return {"no valid sample point": math.nan}
    return None


def _same(expected: Any, got: Any, symbols: list, seed: int, domain: Callable[..., bool] | None = None) -> dict | None:
    if expected == got:
        return None
    if _smooth(expected) and _smooth(got):
        try:
            if sympy.simplify(expected - got) == 0:
                return None
        except Exception:  # noqa: BLE001 - fall back to numbers
            pass
    return _numeric_mismatch(expected, got, symbols, seed, domain)


def check_rule(rule: Rule) -> list[Problem] | None:
    """The problems of one ``d`` rule (None: it could not be checked, e.g. no SymPy form)."""
    op = rule.op
    od = REGISTRY.get(op)
    fn = sympy_function(op)
    if od is None or fn is None:
        return None
    variadic = len(rule.lhs.args) == 1 and isinstance(rule.lhs.args[0], Star)
    if variadic:
        star = rule.lhs.args[0].name
        symbols = [sympy.Symbol(f"{star}{i}", real=True) for i in range(3)]
    else:
        symbols = [sympy.Symbol(a.name, real=True) for a in rule.lhs.args]
    forms = od.sympy_args
    sym_args = [f(s) if i < len(forms) and (f := forms[i]) is not None else s for i, s in enumerate(symbols)]
    try:
        out = fn(*sym_args)
    except Exception:  # noqa: BLE001 - an op whose SymPy form needs attributes
        return None
    if not od.differentiable:
        # piecewise-constant ops: the only correct partial is a zero (or no gradient at all)
        problems = []
        for i, r in enumerate(rule.rhs):
            if not isinstance(r, Special) and not (isinstance(r, Num) and r.value == 0):
                problems.append(Problem(rule, i, "0 (the op is piecewise constant)", _text(r)))
        return problems
    env_base = {a.name: s for a, s in zip(rule.lhs.args, sym_args) if isinstance(a, Var)}
    env_base["out"] = out
    problems: list[Problem] = []
    checked = False
    for i, sym in enumerate(symbols):
        env = dict(env_base)
        if variadic:
            others = sym_args[:i] + sym_args[i + 1 :]
            env[f"{star}_i"] = sym_args[i]
            env["rest"] = fn(*others)
            rhs = rule.rhs[0]
        else:
            rhs = rule.rhs[i]
        if isinstance(rhs, Special) and rhs.kind != "zero":
            continue
        try:
            got = expr_to_sympy(rhs, env)
        except Unsupported:
            continue
        if got.is_Relational or isinstance(got, sympy.logic.boolalg.BooleanFunction | sympy.logic.boolalg.BooleanAtom):
            got = sympy.Piecewise((1, got), (0, True))
        expected = sympy.diff(out, sym)
        checked = True
        bad = _same(expected, got, symbols, seed=rule.source.line * 7919 + i, domain=od.sample_domain)
        if bad is not None:
            problems.append(Problem(rule, i, str(expected), str(got), bad))
    return problems if checked else None


def _text(expr: Any) -> str:
    if isinstance(expr, Special):
        return expr.kind
    try:
        return str(expr_to_sympy(expr, {}))
    except Unsupported:
        return repr(expr)


def check(ruleset: Any) -> list[Problem]:
    """Every problem of every ``d`` rule in ``ruleset`` (rules without a SymPy form are skipped)."""
    problems: list[Problem] = []
    for rule in ruleset.rules("d"):
        found = check_rule(rule)
        if found:
            problems.extend(found)
    return problems


def coverage(ruleset: Any) -> tuple[list[Rule], list[Rule]]:
    """The ``d`` rules that were checked against SymPy and those that could not be."""
    checked, skipped = [], []
    for rule in ruleset.rules("d"):
        (checked if check_rule(rule) is not None else skipped).append(rule)
    return checked, skipped
