"""Checking rules of every kind by value: unsound rewrites, too-weak guards, wrong vjp/jvp/transpose rules and
rewrites that assume finite values are reported with their place, the inputs and both values."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import sympy

from rewritediff import rules
from rewritediff.errors import RuleError
from rewritediff.rules import RuleSet
from rewritediff.rules.checking import CONVENTION_SKIP, HARD_INPUTS, SPARSE_SKIP, check_rules


def _problems(text: str, name: str = "mine.rules") -> list:
    rs = RuleSet()
    rs.load_string(text, name)
    return rs.check()


def _array_after(label: str, message: str) -> np.ndarray:
    """The array printed after ``label`` in a problem message (``float64[3, 3] [[...]]``)."""
    m = re.search(re.escape(label) + r" float\d+\[[^\]]*\] (\[.*?\]\]?)(?:;|\n|$)", message, re.S)
    assert m, message
    return np.array(eval(m.group(1)))  # noqa: S307 - numbers printed by the checker


def test_unsound_rewrite_is_reported_with_place_inputs_and_values():
    problems = _problems("\n\nrule sin(x) * sin(x) => x\n")
    assert problems
    msg = str(problems[0])
    assert msg.startswith("mine.rules:3:1: the right-hand side changes the value"), msg
    assert "rule sin(x) * sin(x) => x" in msg
    x = _array_after("x =", msg)
    # the values reported are the two sides at the reported input, computed independently here
    np.testing.assert_allclose(problems[0].expected, np.sin(x) ** 2, rtol=1e-4)
    np.testing.assert_allclose(problems[0].got, x, rtol=1e-4)
    assert any("SymPy" in str(p) for p in problems)  # sin(x)**2 - x is not 0


def test_sound_rewrites_pass():
    assert (
        _problems(
            "rule sin(x) * sin(x) => sqr(sin(x))\nrule exp(log(x)) => x if positive(x)\nrule log(x) + log(y) <=> log(x * y) if positive(x) and positive(y)"
        )
        == []
    )


def test_too_weak_guard_is_reported():
    (p, *_) = _problems("rule sqrt(sqr(x)) => x if nonzero(x)")
    x = _array_after("x =", str(p))
    assert (x < 0).any()  # the guard holds (nonzero), the rule is wrong for negative x
    assert _problems("rule sqrt(sqr(x)) => x if nonnegative(x)") == []


def test_guard_needed_is_recorded():
    rs = RuleSet()
    rs.load_string("rule exp(log(x)) => x if positive(x)\nrule x * 1 => x if positive(x)", "g.rules")
    report = check_rules(rs)
    assert report.guard_needed == {"g.rules:1:1": True, "g.rules:2:1": False}


def test_rule_that_drops_a_nan_must_be_tagged_finite():
    (p,) = _problems("rule x - x => zeros_like(x)")
    assert "@finite" in str(p)
    assert np.isnan(p.expected).any() and not np.isnan(p.got).any()
    assert _problems("@finite rule x - x => zeros_like(x)") == []


def test_wrong_vjp_is_reported_against_central_differences():
    rules.define_op("myexp", np.exp, sympy=sympy.exp)
    rs = RuleSet()
    rs.load_string("vjp myexp(x) [g] = g * out * 2\njvp myexp(x) [dx] = dx * out", "my.rules")
    (p,) = rs.check()
    assert str(p).startswith("my.rules:1:1: dot-product test"), str(p)
    # <J^T u, v> from the wrong rule is twice the true <u, J v>, which the jvp rule and central differences give
    assert p.got == pytest.approx(2 * p.expected, rel=1e-5)
    assert "from the op's other rule" in str(p)
    rs = RuleSet()
    rs.load_string("vjp myexp(x) [g] = g * out\njvp myexp(x) [dx] = dx * out", "my.rules")
    assert rs.check() == []


def test_wrong_jvp_and_transpose_are_reported():
    rules.define_op("mysin", np.sin, sympy=sympy.sin)
    rs = RuleSet()
    rs.load_string("jvp mysin(x) [dx] = dx * sin(x)", "j.rules")
    (p,) = rs.check()
    assert str(p).startswith("j.rules:1:1: dot-product test: <u, J v>")
    rs = RuleSet()
    rs.load_string("transpose sum(x){axis, keepdims} [g] = expand_like(g, x){axis, keepdims} * 2", "t.rules")
    (p,) = rs.check()
    assert str(p).startswith("t.rules:1:1: dot-product test: <J^T u, v>")


def test_shipped_rules_pass_every_check():
    report = check_rules(rules.default_rules())
    assert report.problems == [], "\n\n".join(str(p) for p in report.problems)
    # every rewrite rule is checked by value; a derivative rule is skipped only for a stated reason
    shipped = rules.default_rules()
    rewrites = shipped.rules("rewrite") + shipped.rules("equal")
    assert {id(r) for r in rewrites} <= {id(r) for r in report.checked}
    reasons = {
        CONVENTION_SKIP,
        *HARD_INPUTS.values(),
        SPARSE_SKIP,
        "no SymPy form",
        "the op's output is not floating-point: no derivative to compare",
        "the rule gives no derivative (null) for any argument",
    }
    unexplained = [f"{r.source}: {r.text} ({why})" for r, why in report.skipped if why not in reasons]
    assert unexplained == []
    kinds = {r.kind for r in report.checked}
    assert kinds == {"d", "rewrite", "equal", "vjp", "jvp", "transpose"}


def test_load_with_check_refuses_wrong_rules(tmp_path: Path):
    bad = tmp_path / "bad.rules"
    bad.write_text("rule x * 1 => x\nrule sin(x) * sin(x) => x\n")
    rs = RuleSet()
    with pytest.raises(RuleError) as info:
        rules.load(bad, into=rs, check=True)
    assert f"{bad}:2:1:" in str(info.value)
    assert len(rs) == 0  # all or nothing
    good = tmp_path / "good.rules"
    good.write_text("rule x * 1 => x\n")
    assert len(rules.load(good, into=rs, check=True)) == 1
    assert len(rules.load(bad, into=RuleSet())) == 2  # without check, only validation


# ---- tags -------------------------------------------------------------------------------------------


def test_tags_are_parsed():
    rs = RuleSet()
    (a, b) = rs.load_string("@finite rule x - x => zeros_like(x)\nrule x * 1 => x", "t.rules")
    assert a.tags == ("finite",) and b.tags == ()
    assert a.text == "@finite rule x - x => zeros_like(x)"


def test_unknown_tag_and_misplaced_tag_are_load_errors():
    with pytest.raises(RuleError, match=r"^t.rules:2:1: unknown tag @fast"):
        RuleSet().load_string("rule x * 1 => x\n@fast rule x - x => zeros_like(x)", "t.rules")
    with pytest.raises(RuleError, match=r"^t.rules:1:1: @finite applies to rule rules only"):
        RuleSet().load_string("@finite d exp(x) = out", "t.rules")


def test_shipped_finite_rules_are_the_documented_ones():
    tagged = sorted(r.text for r in rules.default_rules() if "finite" in r.tags)
    text = Path(__file__).resolve().parents[2].joinpath("rules.md").read_text()
    table = text[text.index("## Tags: `@finite`") : text.index("## Checks at load time")]
    assert len(tagged) == 25
    for rule in tagged:
        lhs = rule.split("rule ", 1)[1].split(" => ")[0]
        assert lhs in table or lhs.replace("a @ c", "c @ a") in table, rule


def test_matmul_before_a_name_is_not_a_tag():
    rs = RuleSet()
    (r,) = rs.load_string("rule a @c => a if is_identity(c)", "t.rules")
    assert r.tags == () and r.lhs.op == "matmul"
