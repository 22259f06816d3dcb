"""Matching a rule's left-hand side against a term and building its right-hand side as terms.

Numeric literals are weak: a literal takes the dtype of the term it combines with (the first
non-boolean term argument of the same call), or of ``like`` (the op's output) when it stands alone,
so ``1 - out ** 2`` on float32 stays float32. Recursion here is over a rule's own expression,
which is a few nodes deep, never over a term graph.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from rewritediff.errors import RuleError
from rewritediff.ops import REGISTRY
from rewritediff.rules.ast import Call, NoneLit, Num, Rule, Special, Star, Str, Tuple, Var, names_in
from rewritediff.rules.helpers import const_value, eval_attr, literal_value
from rewritediff.terms import TensorType, Term, apply, as_term


class _Builder:
    """Instantiation state: the bindings, the default literal type and the terms known to be zero."""

    def __init__(self, env: dict, like: Term | None, facts: Any) -> None:
        self.env = env
        self.like = like
        self.facts = facts
        self.zeros: dict[int, Term] = {}

    def literal(self, value: Any, anchor: Term | None) -> Term:
        return as_term(value, anchor if anchor is not None else self.like)

    def build(self, expr: Any) -> Any:
        if isinstance(expr, Var):
            if expr.name not in self.env:
                raise RuleError(f"unbound name {expr.name!r} in right-hand side")
            return self.env[expr.name]
        if isinstance(expr, Num):
            return expr.value
        if isinstance(expr, Special):
            return expr
        if isinstance(expr, Str | Tuple | NoneLit):
            raise RuleError(f"{expr!r} is not a term")
        if not isinstance(expr, Call):
            raise RuleError(f"cannot instantiate {expr!r}")
        vals = []
        for a in expr.args:
            if isinstance(a, Star):
                spliced = self.env.get(a.name)
                if not isinstance(spliced, tuple):
                    raise RuleError(f"*{a.name} must name a bound sequence of arguments")
                vals.extend(spliced)
            else:
                vals.append(self.build(a))
        for v in vals:
            if isinstance(v, Special):
                raise RuleError(f"{v.kind} may only be a whole right-hand side, not an argument of {expr.op}")
        terms = [v for v in vals if isinstance(v, Term)]
        anchor = next((t for t in terms if isinstance(t.type, TensorType) and t.dtype != "bool"), None)
        args = [v if isinstance(v, Term) else self.literal(v, anchor) for v in vals]
        attrs = {k: eval_attr(e, self.env, self.facts) for k, e in expr.attrs}
        return self.apply(expr.op, args, attrs)

    def apply(self, op: str, args: list, attrs: dict) -> Term:
        full = apply(op, *args, **attrs)
        if not self.zeros:
            return full
        zero_pos = [i for i, a in enumerate(args) if a.uid in self.zeros]
        if not zero_pos:
            return full
        od = REGISTRY[op]
        if od.zero_out is True or any(i in od.zero_out for i in zero_pos):
            self.zeros[full.uid] = full
            return full
        if od.without_zeros is not None:
            reduced = od.without_zeros(args, [a.uid in self.zeros for a in args])
            if reduced is None:
                self.zeros[full.uid] = full
                return full
            if reduced.type == full.type:
                return reduced
        return full

    def top(self, expr: Any) -> Term | Special:
        val = self.build(expr)
        if isinstance(val, Special):
            return val
        if not isinstance(val, Term):
            val = self.literal(val, None)
        if val.uid in self.zeros:
            return Special("zero")
        return val


def instantiate(expr: Any, env: dict, like: Term | None = None, facts: Any = None, zeros: Sequence[Term] = ()) -> Term | Special:
    """Build the right-hand side ``expr`` as a term with the bindings ``env`` (``zero``/``disconnected``/``null`` stay Specials).

    ``like`` types standalone literals (default: ``out``, else the first bound term). Terms in ``zeros``
    are known to be zero: arithmetic on them is dropped where that keeps the result's type, and a
    result that is entirely zero comes back as ``Special("zero")``.
    """
    if like is None:
        out = env.get("out")
        like = out if isinstance(out, Term) else next((v for v in env.values() if isinstance(v, Term)), None)
    builder = _Builder(env, like, facts)
    for z in zeros:
        builder.zeros[z.uid] = z
    return builder.top(expr)


def _attr_matches(lit: Any, val: Any) -> bool:
    if lit == val:
        return True
    if isinstance(val, tuple) and not isinstance(lit, tuple) and lit is not None:
        return val == (lit,)
    if isinstance(lit, tuple) and isinstance(val, tuple):
        return tuple(lit) == tuple(val)
    return False


def match(pattern: Any, term: Term, env: dict | None = None) -> dict | None:
    """Bindings making ``pattern`` equal to ``term`` (variables bound to subterms, attributes to values), or None."""
    env = {} if env is None else env
    if isinstance(pattern, Var):
        bound = env.get(pattern.name)
        if bound is None:
            env[pattern.name] = term
            return env
        return env if bound is term else None
    if isinstance(pattern, Num):
        v = const_value(term)
        same_kind = isinstance(v, bool) == isinstance(pattern.value, bool)
        return env if v is not None and same_kind and v == pattern.value else None
    if not isinstance(pattern, Call) or not isinstance(term, Term) or pattern.op != term.op:
        return None
    pargs = pattern.args
    if len(pargs) == 1 and isinstance(pargs[0], Star):
        env[pargs[0].name] = tuple(term.args)
    elif pargs and isinstance(pargs[-1], Star):
        fixed = len(pargs) - 1
        if len(term.args) < fixed:
            return None
        for p, a in zip(pargs[:fixed], term.args):
            if match(p, a, env) is None:
                return None
        env[pargs[-1].name] = tuple(term.args[fixed:])
    else:
        if len(pargs) != len(term.args):
            return None
        if REGISTRY[term.op].nary and 1 < len(pargs) <= 4:
            # add and mul are commutative: their arguments are sorted by creation, so try every order
            for order in itertools.permutations(term.args):
                trial = dict(env)
                if all(match(p, a, trial) is not None for p, a in zip(pargs, order)):
                    env.clear()
                    env.update(trial)
                    break
            else:
                return None
        else:
            for p, a in zip(pargs, term.args):
                if match(p, a, env) is None:
                    return None
    for name, e in pattern.attrs:
        val = term.attr(name)
        if isinstance(e, Var):
            if e.name in env and env[e.name] != val:
                return None
            env[e.name] = val
        elif not _attr_matches(literal_value(e), val):
            return None
    return env


def is_variadic(rule: Rule) -> bool:
    """Whether the rule's pattern is ``op(*xs)``."""
    args = rule.lhs.args
    return len(args) == 1 and isinstance(args[0], Star)


def trailing_star(rule: Rule) -> bool:
    """Whether the rule's pattern is ``op(a, b, *rest)``: fixed arguments, then any number more."""
    args = rule.lhs.args
    return len(args) > 1 and isinstance(args[-1], Star)


def components(rule: Rule, nargs: int) -> list:
    """The right-hand side that applies to each of ``nargs`` arguments (d, vjp and transpose rules)."""
    if is_variadic(rule):
        return [rule.rhs[0]] * nargs
    if trailing_star(rule):
        fixed = len(rule.lhs.args) - 1
        return list(rule.rhs[:fixed]) + [rule.rhs[-1]] * (nargs - fixed)
    return list(rule.rhs)


def bind_arg(rule: Rule, env: dict, i: int) -> dict:
    """``env`` extended, for a variadic rule, with ``xs_i`` (argument i), ``i``, ``others`` and ``rest`` (the op over the others)."""
    if not is_variadic(rule):
        return env
    star = rule.lhs.args[0].name
    args = env[star]
    others = args[:i] + args[i + 1 :]
    env = dict(env)
    env[f"{star}_i"] = args[i]
    env["i"] = i
    env["others"] = tuple(others)
    if others and "rest" in names_in(rule.rhs):
        env["rest"] = others[0] if len(others) == 1 else apply(rule.lhs.op, *others, **dict(env["out"].attrs))
    return env


def instantiate_for_arg(rule: Rule, env: dict, i: int, facts: Any = None) -> Term | Special:
    """The right-hand side for argument ``i``: ``rhs[i]``, or the single rhs of a variadic rule with ``xs_i``/``rest`` bound."""
    if is_variadic(rule):
        return instantiate(rule.rhs[0], bind_arg(rule, env, i), facts=facts)
    return instantiate(components(rule, i + 1)[i], env, facts=facts)
