"""The SymPy check of d rules: the shipped partials pass, a wrong one is reported with its place."""

from __future__ import annotations

from rewritediff import rules
from rewritediff.rules import RuleSet, sympy_check
from rewritediff.rules.sympy_check import coverage


def test_shipped_partials_agree_with_sympy():
    problems = sympy_check.check(rules.default_rules())
    assert problems == [], "\n".join(str(p) for p in problems)


def test_shipped_elementwise_partials_are_covered():
    rs = RuleSet()
    rs.load(rules.rule_files()[[p.name for p in rules.rule_files()].index("elementwise.rules")])
    checked, skipped = coverage(rs)
    names = {r.op for r in checked}
    for op in ("add", "mul", "sub", "true_div", "pow", "tanh", "sigmoid", "softplus", "abs", "maximum", "minimum", "switch", "clip", "arccos"):
        assert op in names, op
    assert all(r.op in ("round", "cast") for r in skipped)


def test_wrong_partial_is_reported_with_its_line():
    rs = RuleSet()
    rs.load_string("d exp(x) = out\n\nd tanh(x) = 1 - out\nd sin(x) = cos(x)\n", "wrong.rules")
    problems = rs.check()
    assert len(problems) == 1
    msg = str(problems[0])
    assert msg.startswith("wrong.rules:3:1: d tanh: the partial w.r.t. argument 0 is 1 - tanh(x)"), msg
    assert "tanh(x)**2" in msg
    assert rules.check(rs) and problems[0].rule.source.line == 3


def test_wrong_piecewise_partial_is_found_numerically():
    rs = RuleSet()
    rs.load_string("d maximum(x, y) = switch(x >= y, 1, 0) ; switch(x >= y, 1, 0)", "pw.rules")
    (p,) = rs.check()
    assert p.arg == 1 and str(p).startswith("pw.rules:1:1:")


def test_wrong_variadic_partial():
    rs = RuleSet()
    rs.load_string("d mul(*xs) = xs_i", "v.rules")
    assert {p.arg for p in rs.check()} == {0, 1, 2}


def test_nonzero_partial_of_piecewise_constant_op():
    rs = RuleSet()
    rs.load_string("d floor(x) = 1", "f.rules")
    (p,) = rs.check()
    assert "piecewise constant" in str(p)


def test_def_ops_are_checked_through_their_expansion():
    rs = RuleSet()
    rs.load_string("def logcosh(x) = log(cosh(x))\nd logcosh(x) = tanh(x)", "lc.rules")
    assert rs.check() == []
    rs = RuleSet()
    rs.load_string("def logcosh(x) = log(cosh(x))\nd logcosh(x) = sinh(x)", "lc.rules")
    (p,) = rs.check()
    assert str(p).startswith("lc.rules:2:1:")
