"""Load-time checks of parsed rules: every problem is a RuleError whose message starts with ``file:line:col:``.

Checked: unknown ops, wrong arity, unknown attributes, right-hand names the left-hand side does not
bind, the number of right-hand sides and cotangent names, unknown guard predicates and attribute
helpers, misplaced ``zero``/``disconnected``/``null``, and duplicate unguarded rules.
"""

from __future__ import annotations

from typing import Any

from rewritediff.errors import RuleError
from rewritediff.ops import REGISTRY, OpDef
from rewritediff.rules.ast import Call, NoneLit, Num, Rule, Special, Star, Str, Tuple, Var
from rewritediff.rules.helpers import _LOGIC, ARITH, ATTR_HELPERS, COMPARE, PREDICATES
from rewritediff.rules.parser import Parsed

DERIVATIVE_KINDS = ("d", "vjp", "jvp", "transpose")
KIND_WORDS = {"d": "d", "vjp": "vjp", "jvp": "jvp", "transpose": "transpose", "def": "def", "rewrite": "rule", "equal": "rule"}


TAGS: dict[str, tuple[str, ...]] = {
    "finite": ("rewrite", "equal"),
    "stable": ("rewrite",),
}
"""Tags a rule may carry, and the rule kinds each applies to. ``@finite``: the rewrite assumes finite
values (it may turn a NaN or an infinity into a number); ``finite_math=False`` leaves it out.
``@stable``: a stabilization (its right-hand side is the numerically stable form of its left): the
gradient sweeps apply it before differentiating, and extraction prefers its right-hand side."""


def fail(rule: Rule, pos: tuple[int, int] | None, message: str) -> RuleError:
    """A RuleError located at ``pos`` (or the rule's start) quoting the rule."""
    line, col = pos if pos is not None else (rule.source.line, rule.source.col)
    quote = f"\n    {rule.text}" if rule.text else ""
    return RuleError(f"{rule.source.file}:{line}:{col}: {message}{quote}")


class Validator:
    """Checks the rules of one load against the registry, the ops the load defines and a rule set."""

    def __init__(self, parsed: Parsed, pending_defs: dict[str, Rule]) -> None:
        self.parsed = parsed
        self.pending = pending_defs

    def pos(self, node: Any, rule: Rule) -> tuple[int, int]:
        return self.parsed.pos(node, rule)

    def opdef(self, name: str) -> OpDef | None:
        return REGISTRY.get(name)

    def known(self, name: str) -> bool:
        return name in REGISTRY or name in self.pending

    def arity_ok(self, name: str, n: int) -> tuple[bool, str]:
        if name in self.pending and name not in REGISTRY:
            k = len(self.pending[name].lhs.args)
            return n == k, str(k)
        od = REGISTRY[name]
        return od.arity_ok(n), od.arity_text()

    def op_attrs(self, name: str) -> dict:
        if name in self.pending and name not in REGISTRY:
            return {k: None for k, _ in self.pending[name].lhs.attrs}
        return REGISTRY[name].attrs

    # ---- expressions -------------------------------------------------------------------------
    def check_term_expr(self, rule: Rule, expr: Any, bound: dict[str, str], top: bool) -> None:
        """A right-hand side (or rewrite pattern) in term position."""
        if isinstance(expr, Var):
            if expr.name not in bound:
                raise fail(rule, self.pos(expr, rule), f"unbound name {expr.name!r} on the right-hand side: {self.binds_text(bound)}")
            return
        if isinstance(expr, Num):
            return
        if isinstance(expr, Special):
            if rule.kind in ("rewrite", "equal", "def"):
                raise fail(rule, None, f"{expr.kind} is a gradient value and cannot appear in a {KIND_WORDS[rule.kind]!r} rule")
            if not top:
                raise fail(rule, None, f"{expr.kind} must be a whole right-hand side, not part of an expression")
            return
        if isinstance(expr, Str | Tuple | NoneLit):
            raise fail(
                rule, self.pos(expr, rule), f"a {type(expr).__name__.lower()} literal is not a term (literals other than numbers belong in {{attributes}})"
            )
        if isinstance(expr, Star):
            raise fail(rule, self.pos(expr, rule), f"*{expr.name} may only stand as an argument of a call")
        if not isinstance(expr, Call):  # pragma: no cover - parser produces nothing else
            raise fail(rule, None, f"unexpected {expr!r}")
        splats = [a for a in expr.args if isinstance(a, Star)]
        if splats:
            self.check_call(rule, expr, None, splat=True)
        else:
            self.check_call(rule, expr)
        for a in expr.args:
            if isinstance(a, Star):
                if bound.get(a.name) not in ("arguments", "others"):
                    raise fail(
                        rule, self.pos(a, rule), f"*{a.name}: only a sequence bound by the pattern (*name, or others) can be spliced; {self.binds_text(bound)}"
                    )
                continue
            self.check_term_expr(rule, a, bound, False)
        for _, e in expr.attrs:
            self.check_attr_expr(rule, e, bound)

    def check_call(self, rule: Rule, call: Call, n_args: int | None = None, splat: bool = False) -> None:
        where = self.pos(call, rule)
        if call.op in _LOGIC:
            raise fail(rule, where, f"{call.op!r} belongs in a guard ('if ...'); on the right-hand side use the ops and_, or_, not_")
        if not self.known(call.op):
            hint = ""
            if call.op in PREDICATES or call.op in ATTR_HELPERS:
                hint = f" ({call.op} is a guard predicate/attribute helper, not an op)"
            raise fail(rule, where, f"unknown op {call.op!r}{hint}")
        n = len(call.args) if n_args is None else n_args
        ok, text = self.arity_ok(call.op, n)
        if splat:
            od = self.opdef(call.op)
            fixed = sum(1 for a in call.args if not isinstance(a, Star))
            ok = od is None or isinstance(od.arity, tuple) and (od.arity[1] is None or od.arity[1] >= fixed)
        if not ok:
            raise fail(rule, where, f"wrong arity: {call.op} takes {text} argument(s), got {n}")
        attrs = self.op_attrs(call.op)
        seen: list[str] = []
        for name, _ in call.attrs:
            if name not in attrs:
                raise fail(rule, where, f"unknown attribute {name!r} of {call.op} (it takes {', '.join(sorted(attrs)) or 'none'})")
            if name in seen:
                raise fail(rule, where, f"attribute {name!r} given twice")
            seen.append(name)

    def check_attr_expr(self, rule: Rule, expr: Any, bound: dict[str, str]) -> None:
        """An attribute value: literals, bound names, attribute-helper calls."""
        if isinstance(expr, Num | Str | NoneLit):
            return
        if isinstance(expr, Tuple):
            for e in expr.items:
                self.check_attr_expr(rule, e, bound)
            return
        if isinstance(expr, Var):
            if expr.name not in bound:
                raise fail(rule, self.pos(expr, rule), f"unbound name {expr.name!r} in an attribute: {self.binds_text(bound)}")
            return
        if isinstance(expr, Call):
            if expr.op not in ATTR_HELPERS and expr.op not in PREDICATES and expr.op not in ARITH and expr.op != "neg":
                raise fail(rule, self.pos(expr, rule), f"unknown attribute helper {expr.op!r} (known: {', '.join(sorted(ATTR_HELPERS))})")
            for a in expr.args:
                self.check_attr_expr(rule, a, bound)
            return
        raise fail(rule, None, f"{expr!r} cannot be an attribute value")

    def check_guard(self, rule: Rule, expr: Any, bound: dict[str, str]) -> None:
        """A guard: predicates, comparisons, and/or/not over bound names and literals."""
        if isinstance(expr, Num | Str | NoneLit):
            return
        if isinstance(expr, Tuple):
            for e in expr.items:
                self.check_guard(rule, e, bound)
            return
        if isinstance(expr, Var):
            if expr.name not in bound:
                raise fail(rule, self.pos(expr, rule), f"unbound name {expr.name!r} in the guard: {self.binds_text(bound)}")
            return
        if isinstance(expr, Call):
            if (
                expr.op not in PREDICATES
                and expr.op not in ATTR_HELPERS
                and expr.op not in _LOGIC
                and expr.op not in COMPARE
                and expr.op not in ARITH
                and expr.op != "neg"
            ):
                raise fail(rule, self.pos(expr, rule), f"unknown guard predicate {expr.op!r} (known: {', '.join(sorted(PREDICATES))})")
            for a in expr.args:
                self.check_guard(rule, a, bound)
            return
        raise fail(rule, None, f"{expr!r} cannot appear in a guard")

    @staticmethod
    def binds_text(bound: dict[str, str]) -> str:
        return "the left-hand side binds " + (", ".join(bound) if bound else "nothing")

    # ---- rules -------------------------------------------------------------------------------
    def check(self, rule: Rule) -> None:
        """Raise RuleError on the first problem of ``rule``."""
        self.check_tags(rule)
        if rule.kind in DERIVATIVE_KINDS:
            self.check_derivative(rule)
        elif rule.kind in ("rewrite", "equal"):
            self.check_rewrite(rule)
        elif rule.kind == "def":
            self.check_def(rule)
        else:  # pragma: no cover
            raise fail(rule, None, f"unknown rule kind {rule.kind!r}")

    def check_tags(self, rule: Rule) -> None:
        """Each tag is known and allowed on the rule's kind."""
        where = {name: (line, col) for name, line, col in self.parsed.positions.get(("tags", id(rule)), ())}
        for tag in rule.tags:
            if tag not in TAGS:
                raise fail(rule, where.get(tag), f"unknown tag @{tag} (known: {', '.join('@' + t for t in sorted(TAGS))})")
            kinds = TAGS[tag]
            if rule.kind not in kinds:
                words = sorted({"rule" if k in ("rewrite", "equal") else k for k in kinds})
                raise fail(rule, where.get(tag), f"@{tag} applies to {' and '.join(words)} rules only")

    def pattern_binds(self, rule: Rule) -> dict[str, str]:
        """Names bound by a derivative rule's pattern, cotangents and ``out``; checks the pattern."""
        lhs = rule.lhs
        bound: dict[str, str] = {}
        variadic = len(lhs.args) == 1 and isinstance(lhs.args[0], Star)
        if not self.known(lhs.op):
            raise fail(rule, self.pos(lhs, rule), f"unknown op {lhs.op!r}")
        if variadic:
            od = self.opdef(lhs.op)
            if od is None or not (od.nary or (isinstance(od.arity, tuple) and (od.arity[1] is None or od.arity[1] > 2))):
                raise fail(
                    rule, self.pos(lhs.args[0], rule), f"*{lhs.args[0].name}: {lhs.op} is not variadic (it takes {self.arity_ok(lhs.op, 0)[1]} argument(s))"
                )
            star = lhs.args[0].name
            bound[f"{star}_i"] = "argument"
            bound["rest"] = "others-op"
            bound["others"] = "others"
            bound["i"] = "index"
            bound[star] = "arguments"
        else:
            trailing = bool(lhs.args) and isinstance(lhs.args[-1], Star)
            if trailing:
                od = self.opdef(lhs.op)
                if od is None or not isinstance(od.arity, tuple):
                    raise fail(rule, self.pos(lhs.args[-1], rule), f"*{lhs.args[-1].name}: {lhs.op} takes a fixed number of arguments")
            else:
                self.check_call(rule, lhs, len(lhs.args))
            for j, a in enumerate(lhs.args):
                if isinstance(a, Star):
                    if j != len(lhs.args) - 1:
                        raise fail(rule, self.pos(a, rule), f"*{a.name} must be the last argument of the pattern")
                    bound[a.name] = "arguments"
                    continue
                if a.name in bound:
                    raise fail(rule, self.pos(a, rule), f"name {a.name!r} bound twice on the left-hand side")
                bound[a.name] = "argument"
        attrs = self.op_attrs(lhs.op)
        for name, e in lhs.attrs:
            if name not in attrs:
                raise fail(rule, self.pos(lhs, rule), f"unknown attribute {name!r} of {lhs.op} (it takes {', '.join(sorted(attrs)) or 'none'})")
            if isinstance(e, Var):
                if e.name in bound:
                    raise fail(rule, self.pos(e, rule), f"name {e.name!r} bound twice on the left-hand side")
                bound[e.name] = "attribute"
            elif not isinstance(e, Num | Str | NoneLit | Tuple):
                raise fail(rule, self.pos(lhs, rule), f"attribute {name!r} in a pattern must be a name (to bind) or a literal (to match)")
        for c in rule.cot:
            if c in bound or c == "out":
                raise fail(rule, self.parsed.positions.get(("cot", c)), f"cotangent name {c!r} is already bound")
            if variadic and rule.kind == "jvp":
                bound[f"{c}_i"] = "tangent"
            else:
                bound[c] = "cotangent" if rule.kind != "jvp" else "tangent"
        bound["out"] = "output"
        return bound

    def check_derivative(self, rule: Rule) -> None:
        lhs = rule.lhs
        bound = self.pattern_binds(rule)
        variadic = len(lhs.args) == 1 and isinstance(lhs.args[0], Star)
        n = 1 if variadic else len(lhs.args)
        kind = rule.kind
        if not variadic and lhs.args and isinstance(lhs.args[-1], Star) and kind == "jvp":
            raise fail(rule, None, f"jvp {lhs.op}: a pattern with *{lhs.args[-1].name} after fixed arguments takes vjp or transpose rules")
        if kind in ("vjp", "transpose") and len(rule.cot) != 1:
            raise fail(rule, None, f"{kind} rule: give exactly one cotangent name in [...], got {len(rule.cot)}")
        if kind == "jvp" and len(rule.cot) != n:
            raise fail(rule, None, f"jvp rule: give one tangent name per argument ({n}) in [...], got {len(rule.cot)}")
        want = 1 if kind == "jvp" else n
        if len(rule.rhs) != want:
            what = "one right-hand side" if kind == "jvp" else f"one right-hand side per argument ({want}, separated by ';')"
            if variadic and kind != "jvp":
                what = "one right-hand side for *" + lhs.args[0].name + " (it is instantiated per argument)"
            raise fail(rule, None, f"wrong number of right-hand sides: {kind} {lhs.op} needs {what}, got {len(rule.rhs)}")
        for r in rule.rhs:
            self.check_term_expr(rule, r, bound, True)
        if rule.guard is not None:
            self.check_guard(rule, rule.guard, bound)

    def check_rewrite(self, rule: Rule) -> None:
        lhs = rule.lhs
        if not isinstance(lhs, Call):
            raise fail(rule, self.pos(lhs, rule), "the left-hand side of a rewrite must be an op application")
        names: dict[str, str] = {}
        self.collect_pattern(rule, lhs, names)
        rhs = rule.rhs[0]
        for r in rule.rhs:
            self.check_term_expr(rule, r, names, True)
        if rule.kind == "equal":
            back: dict[str, str] = {}
            self.collect_pattern(rule, rhs, back)
            missing = [n for n in names if n not in back]
            if missing:
                raise fail(rule, None, f"'<=>' rule: {missing[0]!r} appears on the left but not on the right, so the rule cannot be used right to left")
        if rule.guard is not None:
            self.check_guard(rule, rule.guard, names)

    def collect_pattern(self, rule: Rule, expr: Any, names: dict[str, str]) -> None:
        """Check a rewrite pattern and collect the names it binds (in order)."""
        if isinstance(expr, Var):
            if expr.name == "out":
                raise fail(rule, self.pos(expr, rule), "'out' names a derivative rule's output; it cannot appear in a rewrite rule")
            names.setdefault(expr.name, "subterm")
            return
        if isinstance(expr, Num):
            return
        if isinstance(expr, Special):
            raise fail(rule, None, f"{expr.kind} cannot appear in a rewrite rule")
        if isinstance(expr, Call):
            self.check_call(rule, expr)
            for a in expr.args:
                self.collect_pattern(rule, a, names)
            for _, e in expr.attrs:
                if isinstance(e, Var):
                    names.setdefault(e.name, "attribute")
            return
        raise fail(rule, self.pos(expr, rule), f"{expr!r} cannot appear in a pattern")

    def check_def(self, rule: Rule) -> None:
        lhs = rule.lhs
        od = REGISTRY.get(lhs.op)
        if od is not None and od.expand is None:
            raise fail(rule, self.pos(lhs, rule), f"def {lhs.op}: an op named {lhs.op!r} already exists")
        bound: dict[str, str] = {}
        for a in lhs.args:
            if a.name in bound or a.name == "out":
                raise fail(rule, self.pos(a, rule), f"parameter {a.name!r} given twice" if a.name in bound else "'out' cannot be a parameter")
            bound[a.name] = "parameter"
        for name, _ in lhs.attrs:
            if name in bound:
                raise fail(rule, self.pos(lhs, rule), f"attribute {name!r} clashes with a parameter")
            bound[name] = "attribute"
        self.check_term_expr(rule, rule.rhs[0], bound, True)
        if self.uses_op(rule.rhs[0], lhs.op):
            raise fail(rule, self.pos(lhs, rule), f"def {lhs.op}: the expansion uses {lhs.op} itself")

    @staticmethod
    def uses_op(expr: Any, name: str) -> bool:
        """Whether ``expr`` calls ``name``."""
        stack = [expr]
        while stack:
            e = stack.pop()
            if isinstance(e, Call):
                if e.op == name:
                    return True
                stack.extend(e.args)
        return False


def literal_attrs(rule: Rule) -> tuple:
    """The attribute literals a pattern matches on (part of what makes two rules duplicates)."""
    return tuple((k, e) for k, e in rule.lhs.attrs if not isinstance(e, Var))


def duplicate_key(rule: Rule) -> tuple | None:
    """Rules with equal keys, both unguarded, are duplicates (None: never a duplicate)."""
    if rule.guard is not None:
        return None
    if rule.kind in DERIVATIVE_KINDS or rule.kind == "def":
        variadic = len(rule.lhs.args) == 1 and isinstance(rule.lhs.args[0], Star)
        return (rule.kind, rule.lhs.op, literal_attrs(rule), variadic or len(rule.lhs.args))
    return (rule.kind, rule.lhs, rule.rhs)


def duplicate_error(rule: Rule, other: Rule) -> RuleError:
    """The error for ``rule`` repeating ``other``."""
    what = f"{KIND_WORDS[rule.kind]} {rule.lhs.op}" if rule.kind in (*DERIVATIVE_KINDS, "def") else "rewrite"
    return fail(rule, None, f"duplicate rule: {what} is already given without a guard at {other.source} (guard one of them, or remove one)")
