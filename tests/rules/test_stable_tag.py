"""``@stable`` marks a stabilization: the gradient sweeps apply it before differentiating, whatever file holds it."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.cli import user_rules
from rewritediff.rules import RuleSet
from rewritediff.rules.ast import STABLE_TAG

RULE = "@stable rule log(x * x) => 2.0 * log(abs(x))\n"


def _grad_at(value: float) -> float:
    x = rd.scalar("x")
    with np.errstate(over="ignore"):
        return float(rd.function([x], rd.grad(rd.log(x * x), x))(value))


def test_a_user_stable_rule_is_differentiated_in_its_stable_form(tmp_path) -> None:
    # x * x overflows at 1e200, so the naive gradient 2x / (x * x) is 2e200 / inf = 0, not 2e-200
    assert _grad_at(1e200) == 0.0
    path = tmp_path / "my_rules.rules"  # any file name: the tag, not the name, makes it a stabilization
    path.write_text(RULE)
    with user_rules([str(path)]):
        assert _grad_at(1e200) == pytest.approx(2e-200, rel=1e-12)
        assert _grad_at(-4.0) == pytest.approx(-0.5, rel=1e-12)
    assert _grad_at(1e200) == 0.0  # the shipped rules are back


def test_without_the_tag_the_rule_is_not_applied_before_differentiating(tmp_path) -> None:
    path = tmp_path / "stabilize_mine.rules"  # a stabilization's file name does not make one
    path.write_text(RULE.replace("@stable ", ""))
    with user_rules([str(path)]):
        assert _grad_at(1e200) == 0.0


def test_shipped_stabilizations_carry_the_tag() -> None:
    stable = [r for r in rd.rules.default_rules().rules() if STABLE_TAG in r.tags]
    assert any("stabilize.rules" in r.source.file for r in stable)
    assert all(r.kind == "rewrite" for r in stable)


def test_stable_on_a_derivative_rule_is_a_load_error() -> None:
    with pytest.raises(rd.RuleError, match="stable"):
        RuleSet().load_string("@stable d tanh(x) = 1 - out * out")


def test_stable_gradient_matches_finite_differences_where_both_are_finite(tmp_path) -> None:
    path = tmp_path / "r.rules"
    path.write_text(RULE)
    with user_rules([str(path)]):
        for v in (-2.5, 0.7, 4.0):
            fd = (np.log((v + 1e-6) ** 2) - np.log((v - 1e-6) ** 2)) / 2e-6
            assert abs(_grad_at(v) - fd) < 1e-6
