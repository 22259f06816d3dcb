"""Rule coverage: every shipped rewrite rule fires in the engine on an input built from its own left-hand side.

A rule whose guard the engine can never establish (or whose pattern the engine never holds) is
dead: it costs matching time and promises a simplification that never happens. Each direction of
each ``rule`` is tried alone on inputs built from its pattern (``rules.witnesses.structures``: fresh
inputs of a few shapes, ``exp`` of an input where a sign is needed, identity and scalar constants,
attribute values from a palette), and the runner's per-rule count of firings must be positive.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import rewritediff as rd
from rewritediff.engine import analysis
from rewritediff.engine.rewrite import compile_rules
from rewritediff.engine.simplify import _run
from rewritediff.rules import default_rules, helpers, load_string
from rewritediff.rules.ruleset import RuleSet
from rewritediff.rules.witnesses import build, structures
from rewritediff.terms import apply

WITNESSES_TRIED = 5  # automatic inputs tried per rule before it counts as dead

# Rules whose input cannot be built from the pattern automatically, with a hand-built input each,
# keyed by the rule's text. Every shipped rule is built automatically today; a rule added here
# must say why (for instance a pattern that only a rewrite ever produces, which a constructor
# would normalise away).
HAND_BUILT: dict[str, Callable[[], rd.Term]] = {}


def _shipped_rewrites() -> list:
    rs = default_rules()
    rules = sorted(rs.rules("rewrite") + rs.rules("equal"), key=lambda r: (r.source.file, r.source.line))
    return [(rw, r) for r in rules for rw in compile_rules([r])]


def _fires(rw: object, term: rd.Term) -> bool:
    _, report, *_ = _run([term], iter_limit=4, node_limit=10_000, time_limit=5.0, rewrites=[rw])
    return report.fired.get(rw.where, 0) > 0


def _fires_somewhere(rw: object, rule: object) -> bool:
    if rule.text in HAND_BUILT:
        return _fires(rw, HAND_BUILT[rule.text]())
    for n, struct in enumerate(structures(rw.lhs, rw.guard)):
        if n >= WITNESSES_TRIED:
            break
        term, _ = build(rw.lhs, struct)
        if _fires(rw, term):
            return True
    return False


@pytest.mark.parametrize("rw,rule", _shipped_rewrites(), ids=lambda v: getattr(v, "where", "").rsplit("/", 1)[-1] or None)
def test_every_shipped_rewrite_fires(rw, rule):
    assert _fires_somewhere(rw, rule), f"{rule.source}: the rule never fired on an input of its own (dead rule)\n    {rule.text}"


def test_a_dead_rule_fails_coverage():
    # a guard the engine reads as a bool where the rule compares a shape: the rule can never fire
    rs = RuleSet()
    (dead,) = rs.load_string("rule reshape(x){shape=s} => x if ndim(x) == s", "dead.rules")
    (rw,) = compile_rules([dead])
    assert not _fires_somewhere(rw, dead)


def test_reshape_to_its_own_shape_is_removed():
    x = rd.tensor("x", shape=(3, 4))
    e = rd.explain(apply("reshape", x, shape=(3, 4)))
    assert e.result is x
    assert "reshape(x){shape=s} => x if static_shape(x) == s" in str(e)


def test_hand_built_table_names_shipped_rules():
    texts = {r.text for _, r in _shipped_rewrites()}
    assert set(HAND_BUILT) <= texts


# ---- one vocabulary for guards -------------------------------------------------------------------


def test_engine_guard_names_are_term_guard_names():
    assert set(analysis.PREDICATES) <= set(helpers.PREDICATES)


@pytest.mark.parametrize("name", sorted(analysis.PREDICATES))
def test_engine_and_term_guards_agree(name):
    """A guard read by the engine (e-class facts, then the term predicate) means what it means on terms."""
    from rewritediff.engine.egraph import EGraph
    from rewritediff.engine.guards import eval_guard
    from rewritediff.rules.ast import Call, Num, Var

    x = rd.tensor("x", shape=(3, 4))
    candidates = [rd.exp(x), x, -rd.exp(x), rd.tensor("s", shape=()), rd.sum(rd.exp(x), axis=0), rd.tensor("y", shape=(3, 4), dtype="float32")]
    arity = {"same_shape": 2, "broadcasts_into": 2, "same_dtype": 2, "same_shape_after": 3}.get(name, 1)
    eg = EGraph()
    cls = {t.uid: eg.add_term(t) for t in candidates}
    eg.rebuild()
    term_pred = helpers.PREDICATES[name]
    for args in [(a,) for a in candidates] if arity == 1 else [(a, b) for a in candidates for b in candidates]:
        names = [f"a{i}" for i in range(len(args))]
        guard = Call(name, tuple(Var(n) for n in names) + ((Num(0),) if arity == 3 else ()))
        got = eval_guard(eg, guard, {n: eg.find(cls[a.uid]) for n, a in zip(names, args)})
        want = term_pred(*args, *((0,) if arity == 3 else ()))
        if isinstance(want, bool):
            # a fact: the engine may prove more than the conservative term reading, never less
            assert got is True or got is False or got is None, (name, args, got)
            assert got is True or not want, (name, args, got, want)
        else:
            assert got == want and type(got) is type(want), (name, args, got, want)


def test_user_rule_on_static_shape_fires():
    rs = RuleSet()
    (r,) = load_string("rule reshape(x){shape=s} => x if static_shape(x) == s", "mine.rules", into=rs)
    (rw,) = compile_rules([r])
    x = rd.tensor("x", shape=(2, 5))
    assert _fires(rw, apply("reshape", x, shape=(2, 5)))
    assert not _fires(rw, apply("reshape", x, shape=(5, 2)))
