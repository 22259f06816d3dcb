"""The subcommands: grad, rop, jacobian, hessian, simplify, rules list/check and demo, and what they share."""

from __future__ import annotations

import argparse
import contextlib
import difflib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import rewritediff as rd
import rewritediff.rules as rules_module
from rewritediff.cli.declare import DEFAULT_DIM, DEMO_EXPR, DEMO_VARS, TOLERANCE, CliError, _one_line, declare
from rewritediff.cli.expression import build_expression
from rewritediff.errors import RuleError
from rewritediff.ops import REGISTRY
from rewritediff.rules import KINDS as RULE_KINDS
from rewritediff.rules import RuleSet, default_rules
from rewritediff.terms import inputs_of
from rewritediff.verify import central_directional, central_hessian, central_jacobian, max_errors


# ---- user rule files ---------------------------------------------------------------------------------
@contextlib.contextmanager
def user_rules(paths: Sequence[str]) -> Iterator[None]:
    """Use the shipped rules plus the rule files ``paths`` (``--rules``) while the block runs.

    The files are loaded into a copy of the shipped rule set, which stands in for the default rule
    set until the block ends; then the shipped set and the op registry (``def`` ops the files
    define) are restored, so running the command in a Python process leaves no trace.
    """
    if not paths:
        yield
        return
    shipped = rules_module.default_rules()
    registry = dict(REGISTRY)
    mine = shipped.copy()
    try:
        for name in paths:
            if not Path(name).is_file():
                raise CliError(f"--rules {name}: no such file")
            try:
                mine.load(name)
            except RuleError as exc:
                raise CliError(f"--rules {name}: {_one_line(exc)}") from exc
            except ValueError as exc:  # a def of an op that is already built in
                raise CliError(f"--rules {name}: {_one_line(exc)}") from exc
        rules_module._DEFAULT = mine
        yield
    finally:
        rules_module._DEFAULT = shipped
        for op in [n for n in REGISTRY if n not in registry]:
            del REGISTRY[op]
        REGISTRY.update(registry)


# ---- shared pieces of the commands -------------------------------------------------------------------
@dataclass
class _Problem:
    """The parsed expression, its declared variables and the variables differentiated."""

    text: str
    expr: Any
    variables: dict[str, Any]
    wrt: list[Any]

    @property
    def inputs(self) -> list[Any]:
        """The declared variables the expression uses, in declaration order."""

        used = {t.uid for t in inputs_of([self.expr])}
        return [v for v in self.variables.values() if v.uid in used]


def _problem(args: argparse.Namespace, static: bool = False, need_wrt: bool = True) -> _Problem:
    if args.expr.startswith(" -"):  # see _protect_negative_expressions
        args.expr = args.expr[1:]
    variables = declare(args.var or [], static=static, default_dim=args.dim)
    expr = build_expression(args.expr, variables, implicit=not args.var)
    wrt = []
    if need_wrt and not args.wrt:  # every float variable the expression uses
        used = {t.uid for t in inputs_of([expr])}
        wrt = [v for v in variables.values() if v.uid in used and v.dtype == "float64"]
        if not wrt:
            raise CliError(f"{args.expr!r} uses no float variable to differentiate with respect to")
    elif need_wrt:
        names = [n.strip() for spec in args.wrt for n in spec.split(",") if n.strip()]
        if not names:
            raise CliError("--wrt needs a variable name")
        for name in names:
            if name not in variables:
                raise CliError(f"--wrt {name}: unknown name {name!r} (declare it with --var {name}:KIND)")
            if variables[name] in wrt:
                raise CliError(f"--wrt {name}: given twice")
            if variables[name].dtype != "float64":
                raise CliError(f"--wrt {name}: {name} is an integer variable; derivatives are taken with respect to float variables")
            wrt.append(variables[name])
    return _Problem(args.expr, expr, variables, wrt)


def _short_path(where: str) -> str:
    """A rule location with the package's parent directory stripped (``rewritediff/rules/x.rules:3``)."""
    root = str(Path(__file__).resolve().parents[2]) + "/"
    return where[len(root) :] if where.startswith(root) else where


def _simplified(terms: list[Any], args: argparse.Namespace, out: Callable[[str], None]) -> list[Any]:
    """``terms`` simplified (unless --no-simplify); with --trace, print the rules that fired."""
    if getattr(args, "no_simplify", False):
        return terms
    try:
        expl = rd.explain(list(terms))
    except Exception as exc:  # noqa: BLE001 - a failure of the simplifier must not hide a correct result
        if getattr(args, "debug", False):
            raise
        out(f"# simplification failed ({type(exc).__name__}: {_one_line(exc)}); the result is printed as the rules built it")
        return terms
    if getattr(args, "trace", False):
        _print_trace(expl, out)
    return list(expl.result)


def _print_trace(expl: Any, out: Callable[[str], None]) -> None:
    steps = list(getattr(expl, "steps", []))
    out(f"# rules that fired while simplifying ({len(steps)}):" if steps else "# no simplification rule changed the result")
    for s in steps:
        rule = getattr(s.rewrite, "rule", None)
        text = rule.text.strip() if rule is not None and rule.text else s.rewrite.name
        out(f"#   {_short_path(s.rewrite.where)}: {text}")


def _show(args: argparse.Namespace, header: str, labels: list[str], outs: list[Any], inputs: list[Any], out: Callable[[str], None]) -> None:
    """Print the outputs (pprint, and the --latex, --dot, --source views)."""
    out(f"# {header}")
    values = getattr(args, "debug", False)  # constants of no nameable structure: their values, not const(shape)
    if len(outs) == 1:
        out(rd.pprint(outs[0], constants=values))
    else:
        out("# " + ", ".join(f"out{i} = {label}" for i, label in enumerate(labels)))
        out(rd.pprint(outs, constants=values))
    if getattr(args, "latex", False):
        out("# LaTeX")
        out(rd.latex(outs[0] if len(outs) == 1 else outs))
    if getattr(args, "dot", None):
        rd.dot_graph(outs[0] if len(outs) == 1 else outs, args.dot)
        out(f"# wrote the graph to {args.dot}")
    if getattr(args, "source", False):
        f = _compile(inputs, outs, on_unused_input="ignore")
        out(f"# generated code: compiled({', '.join(v.name for v in inputs)})")
        out(f.source.rstrip("\n"))


def _compile(inputs: list[Any], outputs: Any, on_unused_input: str = "raise") -> Any:
    """``rd.function`` for the command (ops defined by ``--rules`` files fuse like any other: they lower as their expansions)."""
    return rd.function(inputs, outputs, on_unused_input=on_unused_input)


def random_inputs(variables: Sequence[Any], seed: int, default_dim: int = DEFAULT_DIM) -> list[np.ndarray]:
    """Seeded random values of the variables' shapes (unknown dims: ``default_dim``): floats in [0.5, 1.5) (positive, so log
    and sqrt are defined); integers (indices) in [0, the smallest dim of any variable), so they index every axis."""
    rng = np.random.default_rng(seed)
    shapes = [tuple(default_dim if d is None else d for d in v.static_shape) for v in variables]
    bound = min([default_dim, *(d for shape in shapes for d in shape)])
    out = []
    for v, shape in zip(variables, shapes):
        if v.dtype.startswith(("int", "uint")):
            out.append(rng.integers(0, max(bound, 1), size=shape).astype(v.dtype))
        else:
            out.append(rng.uniform(0.5, 1.5, size=shape))
    return out


def compare(analytic: Sequence[Any], numeric: Sequence[Any], tol: float = TOLERANCE) -> tuple[float, float, bool]:
    """Max absolute and relative errors, and whether every element is within ``tol`` (absolute or relative)."""
    try:
        return max_errors(analytic, numeric, tol)
    except ValueError as exc:  # shapes that differ
        raise CliError(f"evaluation: {exc}") from exc


def _call(f: Any, values: list[np.ndarray]) -> Any:
    try:
        return f(*values)
    except Exception as exc:  # noqa: BLE001 - shape mismatches of the random inputs
        raise CliError(f"evaluation at random inputs failed: {_one_line(exc)} (give consistent shapes with --var NAME:KIND:SHAPE)") from exc


def _report(ok: bool, max_abs: float, max_rel: float, what: str, args: argparse.Namespace, out: Callable[[str], None]) -> int:
    verdict = "ok" if ok else "MISMATCH"
    out(f"# check against {what} at random inputs (seed {args.seed}): max abs error {max_abs:.2e}, max rel error {max_rel:.2e}: {verdict}")
    return 0 if ok else 1


def _with(values: list[np.ndarray], positions: list[int], new: Sequence[np.ndarray]) -> list[np.ndarray]:
    vals = list(values)
    for p, v in zip(positions, new):
        vals[p] = v
    return vals


def _wrt_positions(prob: _Problem, inputs: list[Any]) -> list[int]:
    return [next(i for i, v in enumerate(inputs) if v is w) for w in prob.wrt]


def _require_used(prob: _Problem, inputs: list[Any]) -> None:
    for w in prob.wrt:
        if all(v is not w for v in inputs):
            raise CliError(f"--wrt {w.name}: the expression does not depend on {w.name}")


# ---- commands --------------------------------------------------------------------------------------
def cmd_grad(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """``rewritediff grad``: the simplified gradient of a scalar expression."""
    prob = _problem(args)
    inputs = prob.inputs
    _require_used(prob, inputs)
    if prob.expr.ndim != 0:
        raise CliError(f"grad needs a scalar expression; {args.expr!r} has ndim {prob.expr.ndim} (wrap it in sum(...), or use `rewritediff jacobian`)")
    grads = _simplified(list(rd.grad(prob.expr, prob.wrt)), args, out)
    names = [w.name for w in prob.wrt]
    _show(args, f"gradient of {args.expr} with respect to {', '.join(names)}", [f"d/d{n}" for n in names], grads, inputs, out)
    if not args.eval:
        return 0
    values = random_inputs(inputs, args.seed, args.dim)
    pos = _wrt_positions(prob, inputs)
    f = _compile(inputs, prob.expr)
    g = _compile(inputs, grads, on_unused_input="ignore")
    analytic = _call(g, values)
    if not np.isfinite(_call(f, values)):
        raise CliError("evaluation at random inputs gives a non-finite value")
    num = rd.numeric_grad(lambda *ws: f(*_with(values, pos, ws)), [values[p] for p in pos])
    numeric = num.gf if isinstance(num.gf, list) else [num.gf]
    return _report(*_errors(analytic, numeric), "finite differences", args, out)


def _errors(analytic: Sequence[Any], numeric: Sequence[Any]) -> tuple[bool, float, float]:
    max_abs, max_rel, ok = compare(analytic, numeric)
    return ok, max_abs, max_rel


def _tangent_name(name: str, taken: set[str]) -> str:
    cand = f"d{name}"
    while cand in taken:
        cand = "d" + cand
    return cand


def cmd_rop(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """``rewritediff rop``: the R-operator (Jacobian times an eval point ``d<NAME>``)."""
    prob = _problem(args)
    inputs = prob.inputs
    _require_used(prob, inputs)
    taken = set(prob.variables)
    points = []
    for w in prob.wrt:
        name = _tangent_name(w.name, taken)
        taken.add(name)
        points.append(rd.tensor(name, shape=w.static_shape, dtype=w.dtype))
    res = rd.Rop(prob.expr, prob.wrt, points)
    res = _simplified(list(res) if isinstance(res, list | tuple) else [res], args, out)
    total = res[0] if len(res) == 1 else rd.add(*res)
    header = f"R-op of {args.expr}: " + " + ".join(f"J_{w.name} @ {p.name}" for w, p in zip(prob.wrt, points))
    all_inputs = inputs + points
    _show(args, header, [header], [total], all_inputs, out)
    if not args.eval:
        return 0
    values = random_inputs(all_inputs, args.seed, args.dim)
    f = _compile(inputs, prob.expr)
    r = _compile(all_inputs, total, on_unused_input="ignore")
    analytic = _call(r, values)
    base = values[: len(inputs)]
    pos = _wrt_positions(prob, inputs)
    tangents = values[len(inputs) :]
    numeric = central_directional(lambda *ws: _call(f, _with(base, pos, ws)), [base[p] for p in pos], tangents)
    return _report(*_errors([analytic], [numeric]), "central differences", args, out)


def cmd_jacobian(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """``rewritediff jacobian``: the Jacobian, with unknown dims kept symbolic (``--dim`` only sizes ``--eval``'s inputs)."""
    prob = _problem(args)
    inputs = prob.inputs
    _require_used(prob, inputs)
    jacs = rd.jacobian(prob.expr, prob.wrt)
    jacs = _simplified(list(jacs) if isinstance(jacs, list | tuple) else [jacs], args, out)
    names = [w.name for w in prob.wrt]
    _show(args, f"Jacobian of {args.expr} with respect to {', '.join(names)}", [f"J_{n}" for n in names], jacs, inputs, out)
    if not args.eval:
        return 0
    values = random_inputs(inputs, args.seed, args.dim)
    f = _compile(inputs, prob.expr)
    j = _compile(inputs, jacs, on_unused_input="ignore")
    analytic = _call(j, values)
    numeric = [central_jacobian(lambda x, p=p: f(*_with(values, [p], [x])), values[p]) for p in _wrt_positions(prob, inputs)]
    return _report(*_errors(analytic, numeric), "central differences", args, out)


def cmd_hessian(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """``rewritediff hessian``: the Hessian of a scalar expression (shape ``w.shape + w.shape`` for each wrt ``w``)."""
    prob = _problem(args)
    inputs = prob.inputs
    _require_used(prob, inputs)
    if prob.expr.ndim != 0:
        raise CliError(f"hessian needs a scalar expression; {args.expr!r} has ndim {prob.expr.ndim}")
    hs = rd.hessian(prob.expr, prob.wrt)
    hs = _simplified(list(hs) if isinstance(hs, list | tuple) else [hs], args, out)
    names = [w.name for w in prob.wrt]
    _show(args, f"Hessian of {args.expr} with respect to {', '.join(names)}", [f"H_{n}" for n in names], hs, inputs, out)
    if not args.eval:
        return 0
    values = random_inputs(inputs, args.seed, args.dim)
    f = _compile(inputs, prob.expr)
    hf = _compile(inputs, hs, on_unused_input="ignore")
    analytic = _call(hf, values)
    numeric = [central_hessian(lambda x, p=p: float(f(*_with(values, [p], [x]))), values[p]) for p in _wrt_positions(prob, inputs)]
    max_abs, max_rel, ok = compare(analytic, numeric, tol=1e-3)
    return _report(ok, max_abs, max_rel, "central differences", args, out)


def cmd_simplify(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """``rewritediff simplify``: the simplified expression, with ``--trace`` the rules that fired."""
    prob = _problem(args, need_wrt=False)
    expl = rd.explain(prob.expr)
    result = expl.result
    _show(args, f"simplified {args.expr}  ({rd.count_ops(prob.expr)} -> {rd.count_ops(result)} ops)", ["result"], [result], prob.inputs, out)
    if args.trace:
        _print_trace(expl, out)
    return 0


def _rule_line(rule: Any) -> str:
    return f"{_short_path(f'{rule.source.file}:{rule.source.line}')}: {rule.text}"


def cmd_rules_list(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """``rewritediff rules list [OP]``: the rules (of one op) with file:line."""

    rs = default_rules()
    if args.kind is not None and args.kind not in RULE_KINDS:
        raise CliError(f"--kind {args.kind!r}: one of {', '.join(RULE_KINDS)}")
    if args.op is None:
        rules = rs.rules(args.kind)
    else:
        if args.op not in REGISTRY:
            close = difflib.get_close_matches(args.op, sorted(REGISTRY), n=3)
            raise CliError(f"unknown op {args.op!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        rules = rs.rules_for(args.op, args.kind)
        if not rules:
            out(f"# no rules for {args.op}" + (f" of kind {args.kind}" if args.kind else ""))
            return 0
    for rule in rules:
        out(_rule_line(rule))
    return 0


def _count(problems: list) -> str:
    return "no problems" if not problems else f"{len(problems)} problem(s)"


def cmd_rules_check(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """``rewritediff rules check [FILE]...``: validate rule files against the shipped rules and check every rule by value (and SymPy)."""

    shipped = default_rules()
    if not args.files:
        problems = shipped.check()
        for p in problems:
            out(_short_path(str(p)))
        out(f"# {len(shipped)} shipped rules checked (values at random inputs, dot-product tests, SymPy where it has the ops): {_count(problems)}")
        return 1 if problems else 0
    fresh = shipped.copy()
    loaded = []
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            raise CliError(f"{name}: no such file")
        try:
            loaded += fresh.load(path, replace=args.replace)
        except RuleError as exc:
            out(str(exc))
            return 1
    mine = RuleSet()
    for rule in loaded:
        mine.add(rule, replace=True)
    problems = mine.check()
    for p in problems:
        out(str(p))
    out(f"# {len(loaded)} rule(s) loaded from {', '.join(args.files)} and checked: {_count(problems)}")
    return 1 if problems else 0


def cmd_demo(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """``rewritediff demo``: the gradient of a logistic-regression loss, its generated code and a finite-difference check."""
    out("# rewritediff demo: logistic regression, written naively")
    out(f"#   loss = {DEMO_EXPR}")
    out(f"#   {', '.join(DEMO_VARS)}")
    out("# the same as: rewritediff grad '<loss>' --wrt w " + " ".join(f"--var {v}" for v in DEMO_VARS) + " --trace --source --eval")
    demo = argparse.Namespace(**vars(args))
    demo.expr, demo.var, demo.wrt = DEMO_EXPR, list(DEMO_VARS), ["w"]
    demo.source, demo.eval, demo.trace, demo.latex, demo.dot, demo.no_simplify = True, True, True, False, None, False
    return cmd_grad(demo, out)
