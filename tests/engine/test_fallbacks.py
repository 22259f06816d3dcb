"""The engine's fallbacks: a guard it cannot decide and a right-hand side it cannot build are
left out and listed in the run report; any other error inside the engine reaches the caller."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.engine import simplify as simplify_module
from rewritediff.engine.egraph import EGraph
from rewritediff.engine.extract import Extractor
from rewritediff.engine.runner import Runner
from rewritediff.rules import helpers

from .helpers import rewrites


def _run(term: rd.Term, rws: list) -> tuple[EGraph, int, object]:
    eg = EGraph()
    root = eg.add_term(term)
    return eg, root, Runner(rws, time_limit=5.0).run(eg)


def test_an_engine_error_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Extractor, roots: list) -> None:
        raise AttributeError("broken extractor")

    monkeypatch.setattr(Extractor, "run", broken)
    x = rd.vector("x")
    with pytest.raises(AttributeError, match="broken extractor"):
        simplify_module.simplify_terms([rd.log(rd.exp(x))])
    with pytest.raises(AttributeError, match="broken extractor"):
        rd.function([x], rd.log(rd.exp(x)))
    f = rd.function([x], rd.log(rd.exp(x)), simplify=False)  # without the engine, compiles
    np.testing.assert_allclose(f(np.array([0.5, 2.0])), [0.5, 2.0])


def test_an_undecidable_guard_is_recorded_and_the_rule_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    def undecidable(x: object) -> bool:
        raise ValueError("cannot tell")

    monkeypatch.setitem(helpers.PREDICATES, "undecidable_here", undecidable)
    x = rd.vector("x")
    eg, root, report = _run(rd.log(rd.exp(x)), rewrites("rule log(exp(x)) => x if undecidable_here(x)"))
    assert eg.find(root) != eg.find(eg.add_term(x))
    assert report.fired == {}
    assert report.fallbacks == {"guard undecided (undecidable_here: ValueError)": 1}
    assert "  fallback: guard undecided (undecidable_here: ValueError): 1x" in str(report).splitlines()


def test_a_bug_in_a_guard_helper_surfaces(monkeypatch: pytest.MonkeyPatch) -> None:
    def buggy(x: object) -> bool:
        return x.no_such_attribute  # type: ignore[attr-defined]

    monkeypatch.setitem(helpers.PREDICATES, "buggy_here", buggy)
    x = rd.vector("x")
    with pytest.raises(AttributeError, match="no_such_attribute"):
        _run(rd.log(rd.exp(x)), rewrites("rule log(exp(x)) => x if buggy_here(x)"))


def test_a_right_hand_side_that_does_not_fit_is_recorded() -> None:
    A = rd.matrix("A", shape=(2, 3))
    eg, root, report = _run(rd.exp(A), rewrites("rule exp(x) => dot(x, x)"))
    assert report.fired == {}
    assert report.fallbacks == {"right-hand side not built (<test>:1: ShapeError)": 1}
    assert len(eg.classes[eg.find(root)].nodes) == 1
