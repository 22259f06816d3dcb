"""Derivative rules (``vjp``, ``jvp``, ``transpose``) checked by the dot-product test
``<u, J v> == <J^T u, v>`` against central differences of the op's own value."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

from rewritediff.ops import REGISTRY
from rewritediff.rules.ast import Rule, Special, Star, Var
from rewritediff.rules.check_report import Problem, Report
from rewritediff.rules.check_sampling import _draw, evaluate_term
from rewritediff.rules.helpers import eval_guard, literal_value
from rewritediff.rules.instantiate import match
from rewritediff.rules.ruleset import RuleSet
from rewritediff.rules.witnesses import (
    ATTR_VALUES,
    DEFAULT_ATTR_VALUES,
    MAX_TRIES,
    _contract_holds,
    _Leaves,
)
from rewritediff.terms import TensorType, Term, apply, variable

# ---- derivative rules: the dot-product test -----------------------------------------------------------

FD_STEP = 1e-6


def _op_structures(rule: Rule, max_tries: int = MAX_TRIES) -> Iterator[tuple[Term, dict]]:
    """Terms ``op(args){attrs}`` of a derivative rule's op, with free float64 inputs, on which the rule applies."""
    args = rule.lhs.args
    variadic = len(args) == 1 and isinstance(args[0], Star)
    names = [f"{args[0].name}{i}" for i in range(3)] if variadic else [a.name for a in args if isinstance(a, Var)]
    trailing = not variadic and bool(args) and isinstance(args[-1], Star)
    for extra in (0, 2) if trailing else (0,):
        # op(x, *rest): no further argument (index arrays, dims), then two (op(g, *xs))
        more = [f"{args[-1].name}{i}" for i in range(extra)] if trailing else []
        yield from _op_terms(rule, names + more, max_tries)


def _op_terms(rule: Rule, names: list[str], max_tries: int) -> Iterator[tuple[Term, dict]]:

    pat = rule.lhs
    avars = [(v.name, key) for key, v in pat.attrs if isinstance(v, Var)]
    fixed: dict = {}
    options: list = [(("any", (3, 3)), ("any", (3,)), ("any", ()), ("any", (2, 3, 3)))] * len(names)
    options += [ATTR_VALUES.get(key, DEFAULT_ATTR_VALUES) for _, key in avars]
    leaves = _Leaves()
    for key, v in pat.attrs:
        if not isinstance(v, Var):
            fixed[key] = literal_value(v)
    for combo in itertools.islice(itertools.product(*options), max_tries):
        xs = [leaves.input(n, s, "float64") for n, (_, s) in zip(names, combo[: len(names)])]
        attrs = {key: val for (_, key), val in zip(avars, combo[len(names) :])}
        attrs.update(fixed)
        try:
            term = apply(rule.op, *xs, **attrs)
        except Exception:  # noqa: BLE001 - not a valid application of the op
            continue
        if term.op != rule.op:
            continue
        env = match(pat, term)
        if env is None:
            continue
        env["out"] = term
        try:
            ok = eval_guard(rule.guard, env)
        except Exception:  # noqa: BLE001
            continue
        if ok:
            yield term, env


def _inner(a: Any, b: Any) -> float:
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


def check_derivative(rule: Rule, ruleset: Any = None, seed: int = 0, report: Report | None = None) -> list[Problem]:
    """The dot-product test of one ``vjp``, ``jvp`` or ``transpose`` rule against central differences (and the other mode's rule)."""
    report = report if report is not None else Report()
    od = REGISTRY.get(rule.op)
    if od is not None and od.gradient_convention:
        report.skipped.append((rule, CONVENTION_SKIP))
        return []
    if rule.op in HARD_INPUTS:
        report.skipped.append((rule, HARD_INPUTS[rule.op]))
        return []
    if od is not None and od.takes_sparse:
        report.skipped.append((rule, SPARSE_SKIP))
        return []
    single = RuleSet()
    single.add(rule, replace=True)
    rng = np.random.default_rng(seed + 104729 * rule.source.line)
    non_float = False
    for term, _env in itertools.islice(_op_structures(rule), 40):
        if not isinstance(term.type, TensorType) or not term.dtype.startswith("float"):
            non_float = True
            continue
        if not _contract_holds(term):
            continue
        args = list(term.args)
        float_args = [i for i, a in enumerate(args) if a.op == "input" and a.dtype.startswith("float")]
        for how in ("positive", "unit", "mixed"):
            values = {a.uid: _draw(rng, a.static_shape, a.dtype, how) for a in args if a.op == "input"}
            try:
                out = evaluate_term(term, values)
            except Exception:  # noqa: BLE001 - the op does not run on this input (static checks let it through)
                break
            if not np.all(np.isfinite(out)):
                continue
            try:
                result = _dot_test(rule, single, ruleset, term, values, float_args, rng)
            except Exception:  # noqa: BLE001 - a side that does not evaluate on this input
                result = "skip"
            if result == "null":
                report.skipped.append((rule, "the rule gives no derivative (null) for any argument"))
                return []
            if result == "skip":
                continue
            report.checked.append(rule)
            return result
    why = (
        "the op's output is not floating-point: no derivative to compare" if non_float else "no input built for the op makes the rule apply with finite values"
    )
    report.skipped.append((rule, why))
    return []


CONVENTION_SKIP = "the op changes gradients on purpose (zero_grad, grad_clip, ...): its rules are conventions, not derivatives of its value"
"""Why the dot-product test skips the rules of ops whose ``OpDef.gradient_convention`` is set."""

HARD_INPUTS: dict[str, str] = {
    "cholesky": "needs a symmetric positive definite input and symmetric perturbations (its rules are checked in tests/test_derivative_coverage.py)",
    "join_part": "the cotangent's shape is that of a join of the other arguments (checked in tests/test_derivative_coverage.py)",
    "join_embed": "the cotangent's shape is that of a join of the other arguments (checked in tests/test_derivative_coverage.py)",
    "unrepeat": "the cotangent's shape is that of a repeat (checked in tests/test_derivative_coverage.py)",
    "untile": "the cotangent's shape is that of a tile (checked in tests/test_derivative_coverage.py)",
    "stand_in": "an internal placeholder of the lowering, never differentiated",
    "searchsorted": "needs a sorted vector and gives integers (its zero gradient is checked in tests/test_derivative_coverage.py)",
    "take_along_axis": "needs integer indices within the axis (checked in tests/test_derivative_coverage.py)",
    "untake_along_axis": "needs integer indices within the axis (checked in tests/test_derivative_coverage.py)",
}
"""Ops whose inputs the generic builder cannot make, and where their derivatives are checked instead."""

SPARSE_SKIP = "takes sparse matrices, which the generic builder does not make (checked in tests/test_derivative_coverage.py and tests/test_sparse.py)"
"""Why the dot-product test skips the rules of ops that take sparse matrices (``OpDef.takes_sparse``)."""


def _dot_test(rule: Rule, single: Any, ruleset: Any, term: Term, values: dict, float_args: list[int], rng: np.random.Generator) -> Any:
    args = list(term.args)
    u = variable(TensorType(term.dtype, term.static_shape), "u")
    if rule.kind in ("vjp", "transpose"):
        # arguments the rule declares without a derivative (null) are held fixed
        adj0 = single.vjp(term, u) if rule.kind == "vjp" else single.transpose(term, u)
        if adj0 is None:
            return "skip"
        kept = [i for i in float_args if not (isinstance(adj0[i], Special) and adj0[i].kind == "null")]
        if float_args and not kept:
            return "null"
        float_args = kept
    if not float_args:
        return "skip"
    u_val = rng.standard_normal(term.static_shape)
    v_vals = {i: rng.standard_normal(args[i].static_shape) for i in float_args}
    # central differences of the op's own value along v
    plus = {**values, **{args[i].uid: values[args[i].uid] + FD_STEP * v_vals[i] for i in float_args}}
    minus = {**values, **{args[i].uid: values[args[i].uid] - FD_STEP * v_vals[i] for i in float_args}}
    jv_fd = (evaluate_term(term, plus) - evaluate_term(term, minus)) / (2 * FD_STEP)
    if not np.all(np.isfinite(jv_fd)):
        return "skip"
    tangents = {i: variable(TensorType(args[i].dtype, args[i].static_shape), f"v{i}") for i in float_args}
    vals = {**values, u.uid: u_val, **{tangents[i].uid: v_vals[i] for i in float_args}}
    fd = _inner(u_val, jv_fd)
    inputs = {**{f"arg{i}": values[a.uid] for i, a in enumerate(args) if a.uid in values}, "u": u_val, **{f"v{i}": v_vals[i] for i in float_args}}
    attrs = dict(term.attrs)
    if attrs:
        inputs["attrs"] = attrs

    def reverse(rs: Any, kind: str) -> float | None:
        adj = rs.vjp(term, u) if kind == "vjp" else rs.transpose(term, u)
        if adj is None:
            return None
        total = 0.0
        for i in float_args:
            a = adj[i]
            if isinstance(a, Special):
                if a.kind == "null":
                    return None
                continue
            total += _inner(np.broadcast_to(evaluate_term(a, vals), args[i].static_shape), v_vals[i])
        return total

    def forward(rs: Any, kind: str) -> float | None:
        if kind == "transpose":
            # a linear op's forward mode is the op on the tangents (arguments it is not linear in keep their value)
            t = {**values, **{args[i].uid: v_vals[i] for i in float_args}}
            return _inner(u_val, evaluate_term(term, t))
        jv = rs.jvp(term, [tangents.get(i) for i in range(len(args))])
        if jv is None or isinstance(jv, Special) and jv.kind != "zero":
            return None
        if isinstance(jv, Special):
            return 0.0
        return _inner(u_val, np.broadcast_to(evaluate_term(jv, vals), term.static_shape))

    try:
        mine = reverse(single, rule.kind) if rule.kind in ("vjp", "transpose") else forward(single, rule.kind)
    except Exception:  # noqa: BLE001 - the rule does not build on this input
        return "skip"
    if mine is None:
        return "skip"
    scale = max(1.0, abs(fd), float(np.linalg.norm(u_val) * np.linalg.norm(jv_fd)))
    tol = 1e-5 * scale
    side = "<J^T u, v>" if rule.kind in ("vjp", "transpose") else "<u, J v>"
    other_side = "<u, J v>" if rule.kind in ("vjp", "transpose") else "<J^T u, v>"
    # the other mode, from the rule set's own rule for this op (a transpose rule's forward mode is the op itself)
    other = None
    try:
        if rule.kind == "transpose":
            other = forward(single, "transpose")
        elif ruleset is not None:
            other = reverse(ruleset, "vjp") if rule.kind == "jvp" else forward(ruleset, "jvp")
    except Exception:  # noqa: BLE001 - the other mode has no rule that builds here
        other = None
    if abs(mine - fd) <= tol:
        return []
    extra = f"; {other_side} = {other:.10g} from the op's other rule" if other is not None else ""
    what = f"dot-product test: {side} = {mine:.10g} from this rule, but <u, J v> = {fd:.10g} by central differences{extra}"
    return [Problem(rule, what, inputs, fd, mine)]
