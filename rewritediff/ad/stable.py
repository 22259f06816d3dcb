"""Stable forms before differentiating: the stabilization rules applied bottom-up, so a naive loss gets the gradient of its stable form."""

from __future__ import annotations

from typing import Any

from rewritediff.ad.reverse import _rules, _sum_contribs
from rewritediff.errors import BUILD_ERRORS
from rewritediff.rules.ast import STABLE_TAG, Call
from rewritediff.rules.helpers import const_value, eval_guard
from rewritediff.rules.instantiate import instantiate, match
from rewritediff.terms import Term, apply

# ---- stable forms before differentiating --------------------------------------------------------------
_STABILIZE_RULES: dict[tuple[int, int, str], list[Any]] = {}


def _stabilize_rules(op: str) -> list[tuple[Any, frozenset]]:
    """The ``@stable`` rules about ``op``, in load order, each with the ops its
    pattern's arguments must have (a cheap test before matching); cached per rule set."""
    rules = _rules()
    key = (id(rules), len(rules), op)
    hit = _STABILIZE_RULES.get(key)
    if hit is None:
        hit = [(r, frozenset(a.op for a in r.lhs.args if isinstance(a, Call))) for r in rules.rules_for(op, "rewrite") if STABLE_TAG in r.tags]
        _STABILIZE_RULES[key] = hit
    return hit


def _stabilize_node(node: Term, keep: set[int]) -> Term:
    """``node`` rewritten by the first stabilization rule that matches it (repeatedly), else itself.

    A match may not look inside a term of ``keep`` (a wrt, a known or constant gradient): such a
    term can only be bound whole to a pattern variable, so it stays in the graph.
    """
    for _ in range(8):  # a rewritten node may match again (log(1 - x) after x became sigmoid): bounded
        ops = {a.op for a in node.args}
        for rule, needs in _stabilize_rules(node.op):
            if not needs <= ops:
                continue
            env = match(rule.lhs, node)
            if env is None:
                continue
            bound = {v.uid for v in env.values() if isinstance(v, Term)}
            stack, seen, inside_keep = list(node.args), set(), False
            while stack:
                t = stack.pop()
                if t.uid in bound or t.uid in seen or not t.args:
                    continue
                if t.uid in keep:
                    inside_keep = True
                    break
                seen.add(t.uid)
                if const_value(t) is None:
                    stack.extend(t.args)
            try:
                if inside_keep or not eval_guard(rule.guard, env):
                    continue
                new = instantiate(rule.rhs[0], env, like=node)
            except (*BUILD_ERRORS, KeyError):  # this match does not build (or its guard cannot be read): the next rule may
                continue
            if isinstance(new, Term) and new.type == node.type:
                node = new
                break
        else:
            return node
    return node


def _stabilized(roots: list[Term], keep: set[int]) -> list[Term]:
    """``roots`` with the stabilization rules applied bottom-up (terms of ``keep`` and below them untouched).

    The gradient of a stable form is as stable as its value (``log_softmax``'s adjoint has no
    division by ``softmax``), so the sweeps differentiate the stabilized graph: a naive loss gets
    the gradient of the form the simplifier would give its value.
    """
    new: dict[int, Term] = {}
    stack: list[tuple[Term, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        node, expanded = stack.pop()
        if node.uid in new:
            continue
        if not node.args or node.uid in keep:
            new[node.uid] = node
            continue
        if not expanded:
            stack.append((node, True))
            stack.extend((a, False) for a in reversed(node.args) if a.uid not in new)
            continue
        args = tuple(new[a.uid] for a in node.args)
        built = node if all(a is b for a, b in zip(args, node.args)) else apply(node.op, *args, **dict(node.attrs))
        new[node.uid] = _stabilize_node(built, keep)
    return [new[r.uid] for r in roots]


def _stabilized_seeds(seeds: dict[Term, Term], keep: set[int]) -> dict[Term, Term]:
    """The seeds re-keyed by the stabilized roots (roots that became the same term add their seeds)."""
    roots = list(seeds)
    out: dict[Term, Term] = {}
    for old, root in zip(roots, _stabilized(roots, keep)):
        out[root] = _sum_contribs([out[root], seeds[old]]) if root in out else seeds[old]
    return out
