"""Loading: validation errors (message and position), the default rule set, lookups."""

from __future__ import annotations

import pytest

import rewritediff as rd
from rewritediff import rules
from rewritediff.errors import RuleError
from rewritediff.rules import RuleSet, Special


def error(text: str, ruleset: RuleSet | None = None) -> str:
    with pytest.raises(RuleError) as info:
        (ruleset or RuleSet()).load_string(text, "t.rules")
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("d frob(x) = 1", "t.rules:1:3:", "unknown op 'frob'"),
        ("d exp(x) = frob(x)", "t.rules:1:12:", "unknown op 'frob'"),
        ("d exp(x) = out\nd log(x) = positive(x)", "t.rules:2:12:", "unknown op 'positive'"),
        ("d exp(x, y) = 1 ; 1", "t.rules:1:3:", "wrong arity: exp takes 1 argument(s), got 2"),
        ("d exp(x) = log(x, x)", "t.rules:1:12:", "wrong arity: log takes 1 argument(s), got 2"),
        ("d mul(x, y) = z ; x", "t.rules:1:15:", "unbound name 'z' on the right-hand side"),
        ("d exp(x) = (x +\n    y)", "t.rules:2:5:", "unbound name 'y'"),
        ("vjp exp(x) [g] = h", "t.rules:1:18:", "unbound name 'h'"),
        ("rule exp(log(x)) => out", "t.rules:1:21:", "unbound name 'out'"),
        ("rule x * 1 => y", "t.rules:1:15:", "unbound name 'y'"),
        ("rule x * 0 <=> 0", "t.rules:1:1:", "'x' appears on the left but not on the right"),
        ("d add(*xs) = x", "t.rules:1:14:", "unbound name 'x'"),
        ("d exp(x) = 1 ; 2", "t.rules:1:1:", "wrong number of right-hand sides: d exp needs one right-hand side per argument (1"),
        ("d mul(x, y) = y", "t.rules:1:1:", "wrong number of right-hand sides"),
        ("vjp exp(x) [g] = g ; g", "t.rules:1:1:", "wrong number of right-hand sides"),
        ("transpose neg(x) [g] = g ; g", "t.rules:1:1:", "wrong number of right-hand sides"),
        ("jvp mul(x, y) [dx, dy] = dx ; dy", "t.rules:1:1:", "wrong number of right-hand sides: jvp mul needs one right-hand side"),
        ("d add(*xs) = 1 ; 1", "t.rules:1:1:", "wrong number of right-hand sides"),
        ("jvp mul(x, y) [dx] = dx", "t.rules:1:1:", "one tangent name per argument (2)"),
        ("vjp exp(x) [g, h] = g", "t.rules:1:1:", "exactly one cotangent name"),
        ("d exp(x) = out if frob(x)", "t.rules:1:19:", "unknown guard predicate 'frob'"),
        ("vjp sum(x){axis} [g] = broadcast_like(dimshuffle(g){pattern=frob(axis)}, x)", "t.rules:1:61:", "unknown attribute helper 'frob'"),
        ("transpose sum(x){axes} [g] = g", "t.rules:1:11:", "unknown attribute 'axes' of sum"),
        ("d exp(x) = exp(x){axis=1}", "t.rules:1:12:", "unknown attribute 'axis' of exp"),
        ("d exp(x) = out\nd exp(x) = 2 * out", "t.rules:2:1:", "duplicate rule: d exp is already given without a guard at t.rules:1:1"),
        ("d exp(x) = 1 + zero", "t.rules:1:1:", "zero must be a whole right-hand side"),
        ("rule x * 0 => zero", "t.rules:1:1:", "zero is a gradient value"),
        ("d maximum(*xs) = 1", "t.rules:1:12:", "*xs: maximum is not variadic"),
        ("d mul(x, x) = x ; x", "t.rules:1:10:", "name 'x' bound twice"),
        ('d exp(x) = "s"', "t.rules:1:12:", "not a term"),
        ("d exp(x) = x and x", "t.rules:1:12:", "'and' belongs in a guard"),
        ("def exp(x) = log(x)", "t.rules:1:5:", "an op named 'exp' already exists"),
        ("def f(x) = y", "t.rules:1:12:", "unbound name 'y'"),
        ("def f(x) = out", "t.rules:1:12:", "unbound name 'out'"),
        ("d exp(x) = ", "t.rules:1:12:", "syntax error"),
    ],
)
def test_validation_errors(text, where, what):
    msg = error(text)
    assert msg.startswith(where), msg
    assert what in msg, msg


def test_error_quotes_the_rule():
    msg = error("d exp(x) = x  +  y   # comment")
    assert msg.endswith("\n    d exp(x) = x + y")


def test_duplicate_across_loads_names_both_places():
    rs = RuleSet()
    rs.load_string("d exp(x) = out", "a.rules")
    msg = error("\n\nd exp(x) = 2 * out", rs)
    assert msg.startswith("t.rules:3:1: duplicate rule") and "a.rules:1:1" in msg


def test_guarded_rules_are_not_duplicates():
    rs = RuleSet()
    rs.load_string("d exp(x) = out if ndim(x) == 0\nd exp(x) = out")
    assert len(rs.rules_for("exp", "d")) == 2


def test_attribute_literals_distinguish_rules():
    rs = RuleSet()
    rs.load_string("transpose sum(x){keepdims=True} [g] = broadcast_like(g, x)\ntranspose sum(x){keepdims=False} [g] = g")
    assert len(rs.rules("transpose")) == 2


def test_replace_overrides_a_rule():
    rs = RuleSet()
    rs.load_string("d exp(x) = 2 * out")
    rs.load_string("d exp(x) = out", replace=True)
    (r,) = rs.rules("d")
    assert r.text == "d exp(x) = out"


def test_a_failed_load_adds_nothing():
    rs = RuleSet()
    with pytest.raises(RuleError):
        rs.load_string("d exp(x) = out\nd log(x) = nope")
    assert len(rs) == 0


def test_def_in_same_load_is_known_before_its_definition():
    rs = RuleSet()
    rs.load_string("d twice(x) = 2\ndef twice(x) = 2 * x")
    x = rd.scalar("x")
    assert rs.partials(rd.apply("twice", x))[0].op == "const"


def test_default_rules_load_the_shipped_files_once():
    rs = rules.default_rules()
    assert rs is rules.default_rules()
    assert [r.op for r in rs.rules("d")][:2] == ["add", "mul"] or rs.rules_for("exp", "d")
    assert rs.rules_for("tanh", "d")
    files = [p.name for p in rules.rule_files()]
    assert files == sorted(files) and "elementwise.rules" in files


def test_load_string_into_a_fresh_rule_set_leaves_the_default_alone():
    before = len(rules.default_rules())
    rs = RuleSet()
    rules.load_string("d exp(x) = out", into=rs)
    assert len(rules.default_rules()) == before and len(rs) == 1


def test_load_from_a_file(tmp_path):
    p = tmp_path / "mine.rules"
    p.write_text("d exp(x) = out\nd log(x) = frob(x)\n")
    with pytest.raises(RuleError, match=r"mine\.rules:2:12: unknown op 'frob'"):
        rules.load(p, into=RuleSet())
    p.write_text("d exp(x) = out\n")
    rs = RuleSet()
    assert [r.op for r in rules.load(p, into=rs)] == ["exp"]


# ---- lookups -------------------------------------------------------------------------------
def test_find_binds_args_attrs_and_out():
    rs = RuleSet()
    rs.load_string("transpose sum(x){axis=a, keepdims} [g] = broadcast_like(g, x)")
    x = rd.matrix("x")
    t = rd.sum(x, axis=1)
    rule, env = rs.find("transpose", t)
    assert env["x"] is x and env["a"] == (1,) and env["keepdims"] is False and env["out"] is t


def test_find_matches_attribute_literals_and_guards_in_order():
    rs = RuleSet()
    rs.load_string(
        """
transpose sum(x){axis=None} [g] = broadcast_like(g, x)
transpose sum(x){axis=0, keepdims=False} [g] = broadcast_like(dimshuffle(g){pattern=("x", 0)}, x) if ndim(x) == 2
transpose sum(x){keepdims=True} [g] = broadcast_like(g, x)
"""
    )
    x = rd.matrix("x")
    assert rs.find("transpose", rd.sum(x))[0].source.line == 2
    assert rs.find("transpose", rd.sum(x, axis=0))[0].source.line == 3
    assert rs.find("transpose", rd.sum(x, axis=1, keepdims=True))[0].source.line == 4
    assert rs.find("transpose", rd.sum(x, axis=1)) is None
    assert rs.find("transpose", rd.sum(rd.tensor3("y"), axis=0)) is None


def test_partials_vjp_jvp_transpose():
    rs = RuleSet()
    rs.load_string(
        """
d mul(*xs) = rest
vjp dot(a, b) [g] = dot(g, dimshuffle(b){pattern=(1, 0)}) ; dot(dimshuffle(a){pattern=(1, 0)}, g) if ndim(a) == 2 and ndim(b) == 2
jvp dot(a, b) [da, db] = dot(da, b) + dot(a, db)
transpose neg(x) [ct] = -ct
jvp add(*xs) [dxs] = dxs_i
"""
    )
    a, b, g = rd.matrix("a"), rd.matrix("b"), rd.matrix("g")
    t = rd.dot(a, b)
    ga, gb = rs.vjp(t, g)
    assert ga is rd.dot(g, rd.dimshuffle(b, 1, 0)) and gb is rd.dot(rd.dimshuffle(a, 1, 0), g)
    assert rs.jvp(t, [g, None]) is rd.dot(g, b)
    assert rs.jvp(t, [None, g]) is rd.dot(a, g)
    assert rs.jvp(t, [None, None]) == Special("zero")
    assert rs.jvp(t, [g, g]) is rd.add(rd.dot(g, b), rd.dot(a, g))
    assert rs.transpose(rd.neg(a), g) == [rd.neg(g)]
    x, y, z = rd.vector("x"), rd.vector("y"), rd.vector("z")
    assert rs.partials(rd.mul(x, y, z)) == [rd.mul(y, z), rd.mul(x, z), rd.mul(x, y)]
    assert rs.partials(rd.mul(x, y)) == [y, x]
    assert rs.jvp(rd.add(x, y, z), [None, y, None]) is y
    assert rs.jvp(rd.add(x, y), [x, y]) is rd.add(x, y)
    assert rs.partials(rd.exp(x)) is None and rs.vjp(rd.exp(x), x) is None


def test_jvp_keeps_zero_tangent_when_dropping_it_would_change_the_shape():
    rs = RuleSet()
    rs.load_string("jvp sub(x, y) [dx, dy] = dx - dy")
    m, v = rd.matrix("m"), rd.vector("v")
    out = rs.jvp(rd.sub(m, v), [None, v])
    assert out.type == rd.sub(m, v).type and out.op == "sub"
    out = rs.jvp(rd.sub(v, v), [None, v])
    assert out is rd.neg(v)


def test_guard_facts_override_the_default_predicates():
    rs = RuleSet()
    rs.load_string("rule exp(log(x)) => x if positive(x)")
    x = rd.vector("x")
    t = rd.exp(rd.log(x))
    assert rs.find("rewrite", t) is None
    assert rs.find("rewrite", t, facts={"positive": lambda term: True})[1]["x"] is x

    class Facts:
        def positive(self, term):
            return term is x

    assert rs.find("rewrite", t, facts=Facts()) is not None


def test_rules_listing():
    rs = RuleSet()
    rs.load_string("d exp(x) = out\nrule x * 1 => x\nd log(x) = 1 / x")
    assert [r.op for r in rs.rules("d")] == ["exp", "log"]
    assert [r.kind for r in rs.rules()] == ["d", "rewrite", "d"]
    assert rs.rules_for("mul") == rs.rules("rewrite")
    assert rs.ops("d") == ["exp", "log"]


def test_rewrite_patterns_match_nested_terms_and_constants():
    rs = RuleSet()
    rs.load_string("rule x * 1 => x\nrule log(exp(x)) => x\nrule x - x => zeros_like(x)")
    x, y = rd.vector("x"), rd.vector("y")
    rule, env = rs.find("rewrite", rd.mul(x, 1.0))
    assert env == {"x": x}
    assert rs.find("rewrite", rd.mul(x, 2.0)) is None
    assert rs.find("rewrite", rd.log(rd.exp(y)))[1] == {"x": y}
    assert rs.find("rewrite", rd.log(rd.sin(y))) is None
    assert rs.find("rewrite", rd.sub(x, x)) is not None
    assert rs.find("rewrite", rd.sub(x, y)) is None
    rule, env = rs.find("rewrite", rd.sub(x, x))
    assert rules.instantiate(rule.rhs[0], env) is rd.zeros_like(x)
