"""Checking rules of every kind: rewrite rules by value (and SymPy), derivative rules by the dot-product test.

A rule is only as good as the numbers it gives, so each kind is checked against an independent
reading of what it claims:

* ``rule lhs => rhs`` / ``<=>``: both sides evaluated (numpy, through each op's ``impl``) at random
  inputs of several shapes and dtypes, drawn so that the guard holds (the guard is read on the
  values: ``positive(x)`` means every drawn element is > 0); samples where the guard fails are
  drawn too and counted (they show whether the guard is needed). Where both sides are
  elementwise, SymPy must also find ``simplify(lhs - rhs) == 0`` (or agree numerically). A rule
  not marked ``@finite`` must also keep NaN inputs NaN (``x * 0 => 0`` does not).
* ``vjp`` / ``jvp`` / ``transpose``: the dot-product test ``<u, J v> == <J^T u, v>`` for random
  ``u`` and ``v``, each side against central differences of the op's own value.
* ``d``: against ``sympy.diff`` (:mod:`rewritediff.rules.sympy_check`).

Inputs are built from a rule's own left-hand side (:func:`structures`): every pattern variable gets
a fresh input of a shape and kind from a small palette, every bound attribute a value from a
palette keyed by the attribute's name, until the pattern builds and the guard holds on the terms.
The same witnesses drive the rule-coverage test of the engine.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewritediff.ops import REGISTRY
from rewritediff.rules import sympy_check
from rewritediff.rules.ast import Call, Rule, Special, Star, Tuple, Var
from rewritediff.rules.define import evaluate
from rewritediff.rules.helpers import eval_guard, literal_value
from rewritediff.rules.instantiate import instantiate, match
from rewritediff.rules.witnesses import (
    ATTR_VALUES,
    DEFAULT_ATTR_VALUES,
    MAX_TRIES,
    MORE_TRIES,
    Structure,
    _contract_holds,
    _Leaves,
    build,
    pattern_vars,
    structures,
)
from rewritediff.terms import TensorType, Term, apply, inputs_of, toposort, variable

# ---- problems --------------------------------------------------------------------------------------


@dataclass
class Problem:
    """A rule that gives a wrong value: where it is, what was checked, the inputs that show it and both values."""

    rule: Rule
    what: str
    inputs: dict = field(default_factory=dict)
    expected: Any = None
    got: Any = None

    @property
    def message(self) -> str:
        """file:line:col: what is wrong, the inputs and both values."""
        with np.printoptions(precision=5, threshold=12, edgeitems=3, linewidth=200):
            ins = "; ".join(f"{k} = {_show(v)}" for k, v in self.inputs.items())
            lines = [f"{self.rule.source}: {self.what}", f"    {self.rule.text}"]
            if ins:
                lines.append(f"    inputs: {ins}")
            if self.expected is not None or self.got is not None:
                lines.append(f"    expected: {_show(self.expected)}")
                lines.append(f"    got:      {_show(self.got)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.message


def _show(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"{v.dtype}{list(v.shape)} {np.array2string(v, separator=', ')}" if v.ndim else f"{v.dtype} {v.item()!r}"
    return repr(v)


@dataclass
class Report:
    """What a check did: problems, and the rules it checked or could not (with why)."""

    problems: list[Problem] = field(default_factory=list)
    checked: list[Rule] = field(default_factory=list)
    skipped: list[tuple[Rule, str]] = field(default_factory=list)
    guard_needed: dict[str, bool] = field(default_factory=dict)  # per guarded rule: some sample outside the guard breaks it


# ---- reading guards on values -----------------------------------------------------------------------


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x)


def _finite_all(x: Any, pred: Any) -> bool:
    a = _arr(x)
    if a.dtype.kind not in "biuf" or a.size == 0:
        return False
    with np.errstate(invalid="ignore"):
        return bool(np.all(pred(a)))


def _is_identity_value(x: Any) -> bool:
    a = _arr(x)
    return a.ndim == 2 and a.shape[0] == a.shape[1] and bool(np.array_equal(a, np.eye(a.shape[0])))


def _const_value(x: Any) -> Any:
    a = _arr(x)
    if a.size == 0:
        return None
    first = a.flat[0]
    return first.item() if np.all(a == first) else None


VALUE_FACTS: dict[str, Any] = {
    "positive": lambda x: _finite_all(x, lambda a: a > 0),
    "nonnegative": lambda x: _finite_all(x, lambda a: a >= 0),
    "nonzero": lambda x: _finite_all(x, lambda a: a != 0),
    "negative": lambda x: _finite_all(x, lambda a: a < 0),
    "nonpositive": lambda x: _finite_all(x, lambda a: a <= 0),
    "ndim": lambda x: _arr(x).ndim if isinstance(x, np.ndarray) else int(np.ndim(x)),
    "static_shape": lambda x: tuple(_arr(x).shape),
    "same_shape": lambda a, b: _arr(a).shape == _arr(b).shape,
    "same_shape_after": lambda a, b, n: _arr(a).shape[int(n) :] == _arr(b).shape,
    "broadcasts_into": lambda a, b: np.broadcast_shapes(_arr(a).shape, _arr(b).shape) == _arr(b).shape,
    "is_scalar": lambda x: _arr(x).ndim == 0,
    "is_const": lambda x: True,  # a sample is a fixed value
    "is_identity": _is_identity_value,
    "const_value": _const_value,
    "is_zero": lambda x: _const_value(x) == 0,
    "is_one": lambda x: _const_value(x) == 1,
    "dtype": lambda x: _arr(x).dtype.name,
    "dtype_is_float": lambda x: _arr(x).dtype.kind == "f",
    "same_dtype": lambda a, b: _arr(a).dtype == _arr(b).dtype,
    "same_type": lambda a, b: _arr(a).dtype == _arr(b).dtype and _arr(a).shape == _arr(b).shape,
}
"""The guard vocabulary read on sampled values instead of terms (the meaning a guard promises)."""


def _guard_on_values(guard: Any, env: dict, values: dict) -> bool | None:
    """The guard evaluated with each bound term replaced by its sampled value (None: cannot be read on values)."""
    if guard is None:
        return True
    venv = {k: (values[v.uid] if isinstance(v, Term) and v.uid in values else v) for k, v in env.items()}
    try:
        return bool(eval_guard(guard, venv, VALUE_FACTS))
    except Exception:  # noqa: BLE001 - a guard that needs more than values (an attribute helper on a term)
        return None


# ---- evaluation -----------------------------------------------------------------------------------


def evaluate_term(term: Term, values: dict[int, np.ndarray]) -> np.ndarray:
    """A term's value from its inputs' values (each op's ``impl``; floating-point warnings silenced)."""

    with np.errstate(all="ignore"):
        return np.asarray(evaluate(term, values))


def _inputs_of(term: Term) -> list[Term]:

    return [t for t in inputs_of([term]) if t.op == "input"]


_DISTRIBUTIONS = ("mixed", "positive", "unit", "special")


def _draw(rng: np.random.Generator, shape: tuple, dtype: str, how: str) -> np.ndarray:
    if how == "positive":
        a = rng.uniform(0.1, 3.0, shape)
    elif how == "unit":
        a = rng.uniform(-0.9, 0.9, shape)
    elif how == "special":
        a = rng.choice(np.array([0.0, 1.0, -1.0, 0.5, 2.0, -2.0]), shape)
    else:
        a = rng.uniform(-3.0, 3.0, shape)
    return np.asarray(a, dtype=dtype)


def _tolerances(dtype: str) -> tuple[float, float]:
    return (1e-4, 1e-5) if np.dtype(dtype).itemsize <= 4 else (1e-7, 1e-10)


def _mismatch(lhs: np.ndarray, rhs: np.ndarray, dtype: str) -> bool:
    """The right-hand side changes a value: it differs where the left is finite (a stabilization may fix an overflow)."""
    if lhs.shape != rhs.shape:
        try:
            rhs = np.broadcast_to(rhs, lhs.shape)
        except ValueError:
            return True
    rtol, atol = _tolerances(dtype)
    lf = np.isfinite(lhs)
    rf = np.isfinite(rhs)
    if np.any(lf & ~rf):
        return True
    both = lf & rf
    scale = np.max(np.abs(lhs[both]), initial=1.0)
    with np.errstate(all="ignore"):
        return bool(np.any(np.abs(lhs[both].astype(float) - rhs[both].astype(float)) > atol * scale + rtol * np.abs(lhs[both])))


def _nan_changed(lhs: np.ndarray, rhs: np.ndarray) -> bool:
    try:
        rhs = np.broadcast_to(rhs, lhs.shape)
    except ValueError:
        return True
    return bool(np.any(np.isnan(lhs) != np.isnan(rhs)))


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
    from rewritediff.rules.ruleset import RuleSet

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


# ---- everything -----------------------------------------------------------------------------------


def check_rules(rules: Any, ruleset: Any = None, seed: int = 0) -> Report:
    """Check every rule in ``rules`` (a RuleSet or a list of Rules) by its kind; a :class:`Report`."""

    report = Report()
    items = list(rules.rules() if hasattr(rules, "rules") else rules)
    if ruleset is None and hasattr(rules, "rules"):
        ruleset = rules
    for rule in items:
        if rule.kind == "d":
            found = sympy_check.check_rule(rule)
            if found is None:
                report.skipped.append((rule, "no SymPy form"))
            else:
                report.checked.append(rule)
                report.problems.extend(found)
        elif rule.kind in ("rewrite", "equal"):
            report.problems.extend(check_rewrite(rule, seed, report))
        elif rule.kind in ("vjp", "jvp", "transpose"):
            report.problems.extend(check_derivative(rule, ruleset, seed, report))
    return report


def check(rules: Any, ruleset: Any = None, seed: int = 0) -> list:
    """The problems of every rule in ``rules``, each naming its ``file:line:col``, the inputs and both values."""
    return check_rules(rules, ruleset, seed).problems
