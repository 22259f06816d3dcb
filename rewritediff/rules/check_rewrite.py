"""Rewrite rules (``=>``, ``<=>``) checked by value: both sides at random inputs where the guard
holds, NaN propagation unless ``@finite``, and SymPy when both sides are elementwise."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from rewritediff.ops import REGISTRY
from rewritediff.rules import sympy_check
from rewritediff.rules.ast import Call, Rule, Special, Star, Tuple, Var
from rewritediff.rules.check_report import Problem, Report
from rewritediff.rules.check_sampling import _DISTRIBUTIONS, _draw, _guard_on_values, _inputs_of, _mismatch, _nan_changed, evaluate_term
from rewritediff.rules.instantiate import instantiate
from rewritediff.rules.witnesses import (
    MORE_TRIES,
    Structure,
    build,
    pattern_vars,
    structures,
)
from rewritediff.terms import TensorType, Term, toposort

# ---- rewrite rules ----------------------------------------------------------------------------------

SAMPLES = 3  # value samples per structure and distribution


def _rewrite_structures(rule: Rule) -> list[tuple[Structure, str]]:
    """Up to three witnesses of different shapes in float64, and the first again in float32."""
    found: list[Structure] = []
    shapes: set = set()
    for s in structures(rule.lhs, rule.guard, on_found=MORE_TRIES):
        key = tuple(sh for _, _, sh in s.terms)
        if key in shapes:
            continue
        shapes.add(key)
        found.append(s)
        if len(found) == 3:
            break
    out = [(s, "float64") for s in found]
    if found:
        out.append((found[0], "float32"))
    return out


def check_rewrite(rule: Rule, seed: int = 0, report: Report | None = None) -> list[Problem]:
    """The problems of one ``rule`` (``=>`` or ``<=>``): values at random inputs, NaN propagation, SymPy."""

    report = report if report is not None else Report()
    rhs_expr = rule.rhs[0]
    witnesses = _rewrite_structures(rule)
    if not witnesses:
        report.skipped.append((rule, "no input built from the left-hand side satisfies the guard"))
        return []
    problems: list[Problem] = []
    rng = np.random.default_rng(seed + 7919 * rule.source.line)
    finite_only = "finite" in getattr(rule, "tags", ())
    evaluated = 0
    outside = broken_outside = 0
    for struct, dtype in witnesses:
        try:
            lhs, env = build(rule.lhs, struct, dtype, free=True)
            rhs = instantiate(rhs_expr, env, like=lhs)
        except Exception:  # noqa: BLE001 - a right-hand side that does not build for this shape is not checked here
            continue
        if not isinstance(rhs, Term) or not isinstance(rhs.type, TensorType) or rhs.dtype != lhs.dtype or rhs.ndim != lhs.ndim:
            continue  # the engine never applies a rewrite that changes the dtype or rank
        if any(a is not None and b is not None and a != b for a, b in zip(lhs.static_shape, rhs.static_shape)):
            continue  # nor one that changes a static dim
        leaves = _inputs_of(lhs)
        spd = {t.args[0].uid for t in toposort([lhs]) if t.op == "cholesky" and t.args[0].op == "input"}
        reported = bool(problems)
        for how, k in itertools.product(_DISTRIBUTIONS, range(SAMPLES)):
            values = {x.uid: _draw(rng, x.static_shape, x.dtype, how) for x in leaves}
            for uid in spd:  # cholesky's documented precondition: a symmetric positive definite input
                a = values[uid]
                values[uid] = (a @ np.swapaxes(a, -1, -2) + a.shape[-1] * np.eye(a.shape[-1])).astype(a.dtype)
            holds = _guard_on_values(rule.guard, env, values)
            if holds is None:
                holds = True  # only the terms' guard could be read: it held
            try:
                a = evaluate_term(lhs, values)
            except Exception:  # noqa: BLE001 - the left-hand side does not run on this input: nothing to compare
                break
            try:
                b = evaluate_term(rhs, values)
            except Exception as exc:  # noqa: BLE001 - the rewrite would break a term that runs
                names = {x.name or f"input{x.uid}": values[x.uid] for x in leaves}
                problems.append(Problem(rule, f"the right-hand side fails to evaluate where the left-hand side runs: {exc}", names, a, None))
                break
            if not holds:
                outside += 1
                broken_outside += _mismatch(a, b, dtype) or _nan_changed(a, b)
                continue
            evaluated += 1
            if not reported and _mismatch(a, b, dtype):
                names = {x.name or f"input{x.uid}": values[x.uid] for x in leaves}
                attrs = {n: v for n, v in struct.attrs}
                problems.append(Problem(rule, f"the right-hand side changes the value ({dtype}, {struct.describe()})", {**names, **attrs}, a, b))
                reported = True
            if not reported and not finite_only and how == "mixed" and k == 0 and leaves:
                # a NaN in an input must stay a NaN unless the rule is marked @finite
                for x in leaves:
                    if not x.dtype.startswith("float"):
                        continue
                    v = np.array(values[x.uid], copy=True)
                    v.flat[0] = np.nan
                    nan_values = {**values, x.uid: v}
                    try:
                        a2, b2 = evaluate_term(lhs, nan_values), evaluate_term(rhs, nan_values)
                    except Exception:  # noqa: BLE001 - a NaN the op refuses (a linear-algebra routine) says nothing
                        continue
                    if _nan_changed(a2, b2):
                        names = {y.name or f"input{y.uid}": nan_values[y.uid] for y in leaves}
                        problems.append(
                            Problem(
                                rule, "a NaN input does not give the same NaNs on both sides (the rule assumes finite values): mark it @finite", names, a2, b2
                            )
                        )
                        reported = True
                        break
    if rule.guard is not None:
        report.guard_needed[str(rule.source)] = broken_outside > 0
    if evaluated == 0:
        report.skipped.append((rule, "no sample satisfied the guard"))
        return problems
    problems.extend(_sympy_rewrite(rule))
    report.checked.append(rule)
    return problems


_SYMPY_EXTRA = {"zeros_like": lambda x: 0, "ones_like": lambda x: 1}


def _sympy_rewrite(rule: Rule) -> list[Problem]:
    """``simplify(lhs - rhs) == 0`` when both sides are elementwise ops SymPy knows (else nothing to say)."""
    import sympy

    def elementwise(expr: Any) -> bool:
        stack = [expr]
        while stack:
            e = stack.pop()
            if isinstance(e, Call):
                od = REGISTRY.get(e.op)
                if e.attrs or od is None or not (od.elementwise or e.op in _SYMPY_EXTRA):
                    return False
                if e.op not in _SYMPY_EXTRA and sympy_check.sympy_function(e.op) is None:
                    return False
                stack.extend(e.args)
            elif isinstance(e, Star | Tuple | Special):
                return False
        return True

    if not (elementwise(rule.lhs) and elementwise(rule.rhs[0])):
        return []
    tvars, _ = pattern_vars(rule.lhs)
    assume = _sign_assumptions(rule.guard)
    env = {n: sympy.Symbol(n, real=True, **assume.get(n, {})) for n in tvars}

    def to_sympy(expr: Any) -> Any:
        if isinstance(expr, Call) and expr.op in _SYMPY_EXTRA:
            return sympy.Integer(_SYMPY_EXTRA[expr.op](None))
        if isinstance(expr, Call):
            return sympy_check.sympy_function(expr.op)(*[to_sympy(a) for a in expr.args])
        return sympy_check.expr_to_sympy(expr, env)

    try:
        diff = to_sympy(rule.lhs) - to_sympy(rule.rhs[0])
    except Exception:  # noqa: BLE001 - no SymPy form: the numeric check stands alone
        return []
    if diff == 0 or sympy.expand(diff) == 0 or sympy.simplify(diff) == 0:
        return []
    symbols = sorted(diff.free_symbols, key=str)
    bad = sympy_check._numeric_mismatch(sympy.Integer(0), diff, symbols, seed=rule.source.line)
    if bad is None or "no valid sample point" in bad:
        return []
    return [Problem(rule, f"SymPy: lhs - rhs = {sympy.simplify(diff)}, not 0", bad, 0.0, float(diff.subs({s: bad[str(s)] for s in symbols}).evalf()))]


def _sign_assumptions(guard: Any) -> dict[str, dict]:
    """SymPy assumptions a guard states about single variables (``positive(x) and nonzero(y)``)."""
    out: dict[str, dict] = {}
    stack = [guard] if guard is not None else []
    names = {"positive": "positive", "nonnegative": "nonnegative", "nonzero": "nonzero", "negative": "negative", "nonpositive": "nonpositive"}
    while stack:
        e = stack.pop()
        if isinstance(e, Call) and e.op == "and":
            stack.extend(e.args)
        elif isinstance(e, Call) and e.op in names and len(e.args) == 1 and isinstance(e.args[0], Var):
            out.setdefault(e.args[0].name, {})[names[e.op]] = True
    return out
