"""RuleSet: an ordered collection of validated rules, indexed by kind and op, with the lookups the
gradient drivers use (``partials``, ``vjp``, ``jvp``, ``transpose``, ``expansion``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rewritediff.errors import RuleError
from rewritediff.ops import REGISTRY, SUM_OP
from rewritediff.rules.ast import Rule, Special
from rewritediff.rules.define import register_def
from rewritediff.rules.helpers import eval_guard
from rewritediff.rules.instantiate import bind_arg, instantiate, instantiate_for_arg, is_variadic, match
from rewritediff.rules.parser import parse
from rewritediff.rules.validate import Validator, duplicate_error, duplicate_key
from rewritediff.terms import Term, apply

# The rule checker (``rules/checking.check``), set by ``rules/checking.py`` when it loads
value_checker: Callable[..., list] | None = None

KINDS = ("d", "vjp", "jvp", "transpose", "rewrite", "equal", "def")


def sum_tangents(parts: Sequence[Term], term: Term) -> Term:
    """The tangent of ``term`` as the sum of its arguments' contributions, broadcast to its shape where that may differ.

    One place for the forward-mode sum of per-argument parts (a variadic jvp rule's, and the lifting
    of scalar partials), so both modes build the same graph.
    """
    total = parts[0] if len(parts) == 1 else apply(SUM_OP, *parts)
    if total.type != term.type and total.static_shape != term.static_shape:
        total = apply("broadcast_like", total, term)
    return total


class RuleSet:
    """Rules in load order, indexed by (kind, op); the first applicable rule wins."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []
        self._index: dict[tuple[str, str], list[Rule]] = {}
        self._dups: dict[tuple, Rule] = {}

    # ---- loading ----------------------------------------------------------------------------
    def add(self, rule: Rule, replace: bool = False) -> Rule:
        """Add one (already validated) rule; a duplicate unguarded rule is an error unless ``replace``."""
        key = duplicate_key(rule)
        if key is not None and key in self._dups:
            other = self._dups[key]
            if not replace:
                raise duplicate_error(rule, other)
            self.remove(other)
        if rule.kind == "def":
            register_def(rule)
        self._rules.append(rule)
        self._index.setdefault((rule.kind, rule.lhs.op), []).append(rule)
        if key is not None:
            self._dups[key] = rule
        return rule

    def remove(self, rule: Rule) -> None:
        """Remove a rule (by identity)."""
        self._rules = [r for r in self._rules if r is not rule]
        lst = self._index.get((rule.kind, rule.lhs.op), [])
        self._index[(rule.kind, rule.lhs.op)] = [r for r in lst if r is not rule]
        key = duplicate_key(rule)
        if key is not None and self._dups.get(key) is rule:
            del self._dups[key]

    def load_string(self, text: str, filename: str = "<string>", replace: bool = False, check: bool = False) -> list[Rule]:
        """Parse and validate ``text`` and add its rules (all or none); returns them in file order.

        ``check=True`` also checks the new rules by value (:mod:`rewritediff.rules.checking`) and
        raises a RuleError listing every problem, leaving the rule set as it was.
        """
        rules = self._load_string(text, filename, replace)
        if check:
            problems = value_checker(rules, self)
            if problems:
                for rule in rules:
                    self.remove(rule)
                raise RuleError(f"{filename}: {len(problems)} rule problem(s) found by checking values:\n" + "\n".join(str(p) for p in problems))
        return rules

    def _load_string(self, text: str, filename: str, replace: bool) -> list[Rule]:
        parsed = parse(text, filename)
        pending = {r.lhs.op: r for r in parsed.rules if r.kind == "def"}
        validator = Validator(parsed, pending)
        seen: dict[tuple, Rule] = {}
        for rule in parsed.rules:
            validator.check(rule)
            key = duplicate_key(rule)
            if key is not None:
                other = seen.get(key) or (None if replace else self._dups.get(key))
                if other is not None:
                    raise duplicate_error(rule, other)
                seen[key] = rule
        for rule in parsed.rules:
            self.add(rule, replace=replace)
        return list(parsed.rules)

    def load(self, path: str | Path, replace: bool = False, check: bool = False) -> list[Rule]:
        """Load a rule file (``check=True``: refuse it, naming each problem, unless every rule passes :meth:`check`)."""
        path = Path(path)
        return self.load_string(path.read_text(), str(path), replace=replace, check=check)

    def copy(self) -> RuleSet:
        """A new rule set with the same rules (adding to it leaves this one alone)."""
        new = RuleSet()
        new._rules = list(self._rules)
        new._index = {k: list(v) for k, v in self._index.items()}
        new._dups = dict(self._dups)
        return new

    # ---- listing ----------------------------------------------------------------------------
    def rules(self, kind: str | None = None) -> list[Rule]:
        """All rules (of one kind), in load order."""
        return [r for r in self._rules if kind is None or r.kind == kind]

    def rules_for(self, op: str, kind: str | None = None) -> list[Rule]:
        """The rules about ``op`` (of one kind), in load order."""
        if kind is not None:
            return list(self._index.get((kind, op), []))
        return [r for r in self._rules if r.lhs.op == op]

    def ops(self, kind: str) -> list[str]:
        """Ops having at least one rule of ``kind``, in order of first appearance."""
        out: list[str] = []
        for r in self._rules:
            if r.kind == kind and r.lhs.op not in out:
                out.append(r.lhs.op)
        return out

    def __iter__(self) -> Iterator[Rule]:
        return iter(list(self._rules))

    def __len__(self) -> int:
        return len(self._rules)

    def __repr__(self) -> str:
        return f"<RuleSet of {len(self._rules)} rules>"

    # ---- lookup -----------------------------------------------------------------------------
    def find(self, kind: str, term: Term, facts: Any = None) -> tuple[Rule, dict] | None:
        """The first rule of ``kind`` whose pattern matches ``term`` and whose guard holds, with its bindings.

        The bindings map pattern names to the term's arguments (a variadic ``*xs`` to the tuple of
        them), attribute names to values and ``out`` to ``term`` itself.
        """
        for rule in self._index.get((kind, term.op), ()):
            env = match(rule.lhs, term)
            if env is None:
                continue
            if kind not in ("rewrite", "equal"):
                env["out"] = term
            try:
                ok = eval_guard(rule.guard, env, facts)
            except RuleError:
                raise
            except Exception as exc:
                raise RuleError(f"{rule.source}: evaluating the guard on {term.op} failed: {exc}\n    {rule.text}") from exc
            if ok:
                return rule, env
        return None

    def _build(self, rule: Rule, env: dict, i: int, facts: Any) -> Term | Special:
        try:
            return instantiate_for_arg(rule, env, i, facts)
        except RuleError as exc:
            raise RuleError(f"{rule.source}: {exc}\n    {rule.text}") from None
        except Exception as exc:
            raise RuleError(f"{rule.source}: building the right-hand side for argument {i} failed: {exc}\n    {rule.text}") from exc

    def partials(self, term: Term, facts: Any = None) -> list[Term | Special] | None:
        """The scalar partials of ``term`` w.r.t. each argument from its ``d`` rule (None: no rule)."""
        found = self.find("d", term, facts)
        if found is None:
            return None
        rule, env = found
        return [self._build(rule, env, i, facts) for i in range(len(term.args))]

    def _adjoints(self, kind: str, term: Term, ct: Term, facts: Any) -> list[Term | Special] | None:
        found = self.find(kind, term, facts)
        if found is None:
            return None
        rule, env = found
        env[rule.cot[0]] = ct
        return [self._build(rule, env, i, facts) for i in range(len(term.args))]

    def vjp(self, term: Term, g: Term, facts: Any = None) -> list[Term | Special] | None:
        """One adjoint per argument of ``term`` for the output cotangent ``g`` from its ``vjp`` rule (None: no rule)."""
        return self._adjoints("vjp", term, g, facts)

    def transpose(self, term: Term, ct: Term, facts: Any = None) -> list[Term | Special] | None:
        """One adjoint per argument of the linear op ``term`` for the cotangent ``ct`` from its ``transpose`` rule."""
        return self._adjoints("transpose", term, ct, facts)

    def jvp(self, term: Term, tangents: Sequence[Term | None], facts: Any = None) -> Term | Special | None:
        """The tangent of ``term`` given one tangent (or None for zero) per argument, from its ``jvp`` rule.

        None: no rule. ``Special("zero")`` when every tangent is None or the result is known to be zero.
        """
        if len(tangents) != len(term.args):
            raise ValueError(f"jvp of {term.op}: {len(term.args)} argument(s) but {len(tangents)} tangent(s)")
        found = self.find("jvp", term, facts)
        if found is None:
            return None
        rule, env = found
        if all(t is None for t in tangents):
            return Special("zero")
        try:
            if is_variadic(rule):
                parts = []
                for i, t in enumerate(tangents):
                    if t is None:
                        continue
                    e = bind_arg(rule, env, i)
                    e[f"{rule.cot[0]}_i"] = t
                    part = instantiate(rule.rhs[0], e, facts=facts)
                    if isinstance(part, Special):
                        if part.kind == "zero":
                            continue
                        return part
                    parts.append(part)
                if not parts:
                    return Special("zero")
                return sum_tangents(parts, term)
            zeros = []
            for name, arg, t in zip(rule.cot, term.args, tangents):
                if t is None:
                    t = apply("zeros_like", arg)
                    zeros.append(t)
                env[name] = t
            return instantiate(rule.rhs[0], env, facts=facts, zeros=zeros)
        except RuleError as exc:
            raise RuleError(f"{rule.source}: {exc}\n    {rule.text}") from None
        except Exception as exc:
            raise RuleError(f"{rule.source}: building the jvp of {term.op} failed: {exc}\n    {rule.text}") from exc

    def expansion(self, term: Term) -> Term | None:
        """For an op defined by ``def`` (or with an ``expand``), ``term`` rewritten in terms of its definition."""
        od = REGISTRY.get(term.op)
        if od is None or od.expand is None:
            return None
        return od.expand(term.args, term.attr_dict)

    def check(self) -> list:
        """Check every rule by its kind (``d`` against SymPy, rewrites by value and SymPy, vjp/jvp/transpose by the dot-product test); the problems."""
        return value_checker(self)
