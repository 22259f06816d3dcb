"""The grammar: every construct parses to the documented AST."""

from __future__ import annotations

import pytest

from rewritediff.errors import RuleError
from rewritediff.rules import Call, NoneLit, Num, Special, Star, Str, Tuple, Var, parse


def one(text: str):
    rules = parse(text).rules
    assert len(rules) == 1
    return rules[0]


def test_d_rule_with_out():
    r = one("d exp(x) = out")
    assert r.kind == "d" and r.op == "exp"
    assert r.lhs == Call("exp", (Var("x"),))
    assert r.rhs == (Var("out"),)
    assert r.guard is None and r.cot == ()


def test_partials_separated_by_semicolons():
    r = one("d mul(x, y) = y ; x")
    assert r.rhs == (Var("y"), Var("x"))


def test_infix_desugars_to_registry_ops():
    r = one("d f(x, y) = x + y - x * y / x ** 2 @ y")
    (e,) = r.rhs
    # Python precedence: ((x + y) - ((x * y) / x ** 2) @ y)
    assert e == Call(
        "sub",
        (Call("add", (Var("x"), Var("y"))), Call("matmul", (Call("true_div", (Call("mul", (Var("x"), Var("y"))), Call("pow", (Var("x"), Num(2))))), Var("y")))),
    )


def test_unary_minus_and_power():
    (e,) = one("d f(x) = -x ** 2").rhs
    assert e == Call("neg", (Call("pow", (Var("x"), Num(2))),))
    (e,) = one("d f(x) = -1").rhs
    assert e == Num(-1)
    (e,) = one("d f(x) = 2 ** -x").rhs
    assert e == Call("pow", (Num(2), Call("neg", (Var("x"),))))


@pytest.mark.parametrize(("sym", "op"), [("<", "lt"), (">", "gt"), ("<=", "le"), (">=", "ge"), ("==", "eq"), ("!=", "neq")])
def test_comparisons(sym, op):
    (e,) = one(f"d f(x, y) = x {sym} y ; 1").rhs[:1]
    assert e == Call(op, (Var("x"), Var("y")))


def test_literals():
    (e,) = one("d f(x) = g(x){a=1, b=2.5, c=True, d=False, e=None, f='s', g=\"t\", h=(1, 0), i=(), j=(3,), k=1e-3}").rhs
    attrs = dict(e.attrs)
    assert attrs["a"] == Num(1) and isinstance(attrs["a"].value, int)
    assert attrs["b"] == Num(2.5)
    assert attrs["c"] == Num(True) and attrs["d"] == Num(False)
    assert attrs["e"] == NoneLit()
    assert attrs["f"] == Str("s") and attrs["g"] == Str("t")
    assert attrs["h"] == Tuple((Num(1), Num(0)))
    assert attrs["i"] == Tuple(())
    assert attrs["j"] == Tuple((Num(3),))
    assert attrs["k"] == Num(0.001)


def test_specials():
    r = one('d f(x, y, z) = zero ; disconnected ; null("no gradient")')
    assert r.rhs == (Special("zero"), Special("disconnected"), Special("null", "no gradient"))


def test_vjp_jvp_transpose():
    r = one("vjp dot(a, b) [g] = dot(g, b) ; dot(a, g)")
    assert r.kind == "vjp" and r.cot == ("g",) and len(r.rhs) == 2
    r = one("jvp dot(a, b) [da, db] = dot(da, b) + dot(a, db)")
    assert r.kind == "jvp" and r.cot == ("da", "db") and len(r.rhs) == 1
    r = one("transpose sum(x){axis, keepdims} [ct] = broadcast_like(ct, x)")
    assert r.kind == "transpose" and r.cot == ("ct",)
    assert r.lhs.attrs == (("axis", Var("axis")), ("keepdims", Var("keepdims")))


def test_attribute_patterns():
    r = one("transpose sum(x){axis=a, keepdims=False} [ct] = ct")
    assert r.lhs.attrs == (("axis", Var("a")), ("keepdims", Num(False)))
    r = one("transpose sum(x){axis=None} [ct] = ct")
    assert r.lhs.attrs == (("axis", NoneLit()),)


def test_rewrite_and_equal():
    r = one("rule x * 1 => x")
    assert r.kind == "rewrite" and r.lhs == Call("mul", (Var("x"), Num(1))) and r.rhs == (Var("x"),)
    r = one("rule x * (y + z) <=> x * y + x * z")
    assert r.kind == "equal"
    r = one("rule exp(log(x)) => x if positive(x)")
    assert r.guard == Call("positive", (Var("x"),))


def test_def():
    r = one("def logcosh(x) = log(cosh(x))")
    assert r.kind == "def" and r.lhs == Call("logcosh", (Var("x"),)) and r.rhs == (Call("log", (Call("cosh", (Var("x"),)),)),)
    r = one("def s(x){axis=None} = sum(x){axis}")
    assert r.lhs.attrs == (("axis", NoneLit()),)


def test_variadic_pattern():
    r = one("d mul(*xs) = rest")
    assert r.lhs.args == (Star("xs"),)


def test_guards_with_logic():
    r = one("d f(x) = x if positive(x) and ndim(x) == 0 or not is_const(x)")
    g = r.guard
    assert g.op == "or"
    assert g.args[0].op == "and" and g.args[1] == Call("not", (Call("is_const", (Var("x"),)),))
    r = one("d f(x) = x if not (ndim(x) == 0 or positive(x))")
    assert r.guard.op == "not" and r.guard.args[0].op == "or"


def test_comments_blank_lines_and_continuations():
    text = """
# a comment

d exp(x) = out   # trailing comment
d f(x, y) = g(x,
              y) ; \\
            x
vjp dot(a, b) [g] = dot(g,
    b) ; a
"""
    rules = parse(text, "t.rules").rules
    assert [r.op for r in rules] == ["exp", "f", "dot"]
    assert [r.source.line for r in rules] == [4, 5, 8]
    assert rules[0].text == "d exp(x) = out"
    assert rules[1].text == "d f(x, y) = g(x, y) ; x"
    assert str(rules[2].source) == "t.rules:8:1"


def test_keywords_are_names_where_no_keyword_fits():
    r = one("d f(d, rule) = d * rule ; transpose(d)")
    assert r.lhs.args == (Var("d"), Var("rule"))
    assert r.rhs[1] == Call("transpose", (Var("d"),))


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ("d exp(x) = ", 1, 12),
        ("d exp(x) = out\nd log(x) = 1 /", 2, 15),
        ("d exp(x) out", 1, 10),
        ("d exp(x) = out $", 1, 16),
        ("frobnicate exp(x) = out", 1, 1),
        ("d exp(x = out", 1, 9),
    ],
)
def test_syntax_errors_carry_position(text, line, col):
    with pytest.raises(RuleError) as info:
        parse(text, "bad.rules")
    msg = str(info.value)
    assert msg.startswith(f"bad.rules:{line}:{col}: syntax error"), msg


def test_empty_text():
    assert parse("").rules == []
    assert parse("# nothing\n\n").rules == []
