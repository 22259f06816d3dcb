"""Rules compiled for the engine: a rewrite per direction of each rule, with what the scheduler needs to know of its pattern (ops, size, depth, whether it reduces)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from rewritediff.engine.egraph import EGraph
from rewritediff.ops import CONST_OP, REGISTRY
from rewritediff.rules.ast import STABLE_TAG, Call, Num, Rule, Special, names_in


@dataclass(frozen=True)
class Rewrite:
    """A directed rewrite compiled from a rule (an ``equal`` rule gives one per usable direction)."""

    name: str
    lhs: Call
    rhs: Any
    guard: Any
    rule: Rule | None = None
    stabilizes: bool = False
    needs: frozenset = frozenset()  # ops (and "const" for literals) the left-hand side needs present
    depth: int = 1  # nesting depth of the left-hand side (a variable or literal is depth 0)
    reduces: bool = False  # the right-hand side has fewer ops and literals than the left (run first, see Runner)

    def applicable(self, eg: EGraph) -> bool:
        """Whether every op of the left-hand side occurs in the graph (a cheap pre-filter)."""
        return all(eg.by_op.get(op) for op in self.needs)

    @functools.cached_property
    def where(self) -> str:
        """``file:line`` of the rule (or the rewrite's name)."""
        if self.rule is not None:
            return f"{self.rule.source.file}:{self.rule.source.line}"
        return self.name


def pattern_ops(expr: Any) -> frozenset:
    """Ops a pattern needs in the graph (``const`` for a numeric literal)."""
    out: set = set()
    stack = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, Call):
            out.add(e.op)
            stack.extend(e.args)
        elif isinstance(e, Num):
            out.add(CONST_OP)
    return frozenset(out)


def pattern_size(expr: Any) -> int:
    """Number of calls and numeric literals in a pattern or right-hand side."""
    n = 0
    stack = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, Call):
            n += 1
            stack.extend(e.args)
        elif isinstance(e, Num):
            n += 1
    return n


def _reduces(lhs: Call, rhs: Any) -> bool:
    """A cheap rule to run before the others: a smaller right-hand side, and at most one sum or product in the pattern.

    Patterns with two or more sums or products (factoring: ``x * y + x * z``) are matched modulo
    commutativity against every pair of arguments, which is what makes them expensive.
    """
    nary = 0
    stack = [lhs]
    while stack:
        e = stack.pop()
        if isinstance(e, Call):
            nary += e.op in REGISTRY and REGISTRY[e.op].nary
            stack.extend(e.args)
    return nary <= 1 and pattern_size(rhs) < pattern_size(lhs)


def pattern_depth(expr: Any) -> int:
    """Nesting depth of a pattern: 0 for a variable or literal, 1 + the deepest argument for a call."""
    best = 0
    stack = [(expr, 0)]
    while stack:
        e, d = stack.pop()
        if isinstance(e, Call):
            d += 1
            stack.extend((a, d) for a in e.args)
        best = max(best, d)
    return best


def _has_special(expr: Any) -> bool:
    stack = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, Special):
            return True
        if isinstance(e, Call):
            stack.extend(e.args)
    return False


def compile_rules(rules: list[Rule]) -> list[Rewrite]:
    """Directed rewrites from ``rewrite`` (``=>``) and ``equal`` (``<=>``) rules; others are ignored.

    Rules tagged ``@stable`` (stabilizations) are marked: the terms they match are penalised in extraction.
    """
    out: list[Rewrite] = []
    for r in rules:
        if r.kind not in ("rewrite", "equal") or not r.rhs or not isinstance(r.lhs, Call):
            continue
        rhs = r.rhs[0]
        if _has_special(rhs):
            continue
        where = f"{r.source.file}:{r.source.line}"
        stab = STABLE_TAG in r.tags
        lv = names_in(r.lhs)
        if names_in(rhs) <= lv:
            out.append(Rewrite(where, r.lhs, rhs, r.guard, r, stab, pattern_ops(r.lhs), pattern_depth(r.lhs), _reduces(r.lhs, rhs)))
        if r.kind == "equal" and isinstance(rhs, Call) and lv <= names_in(rhs) and (r.guard is None or names_in(r.guard) <= names_in(rhs)):
            out.append(Rewrite(where + " (<=)", rhs, r.lhs, r.guard, r, stab, pattern_ops(rhs), pattern_depth(rhs), _reduces(rhs, r.lhs)))
    return out
