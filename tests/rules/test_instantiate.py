"""Building right-hand sides as terms: bindings, attributes, weak literals, specials."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.errors import RuleError
from rewritediff.rules import RuleSet, Special, instantiate, parse
from rewritediff.rules.ast import Call, Num, Var


def rhs(text: str, i: int = 0):
    return parse(text).rules[0].rhs[i]


def test_literals_take_the_dtype_of_their_neighbour():
    x = rd.vector("x", dtype="float32")
    t = rd.tanh(x)
    e = instantiate(rhs("d tanh(x) = 1 - out ** 2"), {"x": x, "out": t})
    assert e.dtype == "float32"
    assert e is rd.sub(1.0, rd.pow(t, 2.0))
    for node in (e.args[0], e.args[1].args[1]):
        assert node.op == "const" and node.dtype == "float32"


def test_standalone_literal_takes_the_output_dtype():
    x = rd.vector("x", dtype="float32")
    e = instantiate(Num(1), {"x": x, "out": rd.neg(x)})
    assert e.op == "const" and e.dtype == "float32" and e.ndim == 0
    e = instantiate(Num(2), {"x": x}, like=rd.scalar("s", dtype="float16"))
    assert e.dtype == "float16"


def test_literal_next_to_a_boolean_uses_the_output_dtype():
    x, y = rd.vector("x", dtype="float32"), rd.vector("y", dtype="float32")
    e = instantiate(rhs("d maximum(x, y) = switch(x >= y, 1, 0) ; 0"), {"x": x, "y": y, "out": rd.maximum(x, y)})
    assert e.op == "switch" and e.dtype == "float32"


def test_integer_literal_with_an_int_term():
    i = rd.vector("i", dtype="int32")
    e = instantiate(rhs("d f(i) = i + 1"), {"i": i})
    assert e.dtype == "int32"


def test_attributes_from_literals_bound_names_and_helpers():
    x = rd.matrix("x")
    e = instantiate(rhs("d f(x) = dimshuffle(x){pattern=(1, 0)}"), {"x": x})
    assert e is rd.dimshuffle(x, 1, 0)
    env = {"x": x, "pattern": (1, 0)}
    e = instantiate(rhs("d f(x) = dimshuffle(x){pattern=inverse_pattern(pattern)}"), env)
    assert e.attr("pattern") == (1, 0)
    e = instantiate(rhs("d f(x) = sum(x){axis=a, keepdims}"), {"x": x, "a": (1,), "keepdims": True})
    assert e is rd.sum(x, axis=1, keepdims=True)
    e = instantiate(rhs("d f(x) = dimshuffle(sum(x){axis=0}){pattern=expand_pattern(0, x)}"), {"x": x})
    assert e.attr("pattern") == ("x", 0)


def test_specials_come_back_as_specials():
    assert instantiate(rhs("d f(x) = zero"), {}) == Special("zero")
    assert instantiate(rhs('d f(x) = null("why")'), {}) == Special("null", "why")
    assert instantiate(rhs("d f(x) = disconnected"), {}) == Special("disconnected")


def test_unbound_name_at_instantiation():
    with pytest.raises(RuleError, match="unbound name 'q'"):
        instantiate(Var("q"), {"x": rd.scalar("x")})


def test_nested_special_is_rejected():
    with pytest.raises(RuleError, match="whole right-hand side"):
        instantiate(Call("add", (Var("x"), Call("neg", (rhs("d f(x) = zero"),)))), {"x": rd.scalar("x")})


def test_partials_of_the_shipped_elementwise_rules_are_numerically_right():
    from rewritediff.rules import default_rules

    rs = default_rules()
    x = rd.vector("x")
    v = np.array([0.2, 0.5, 0.7])
    for fn, d in [
        (rd.tanh, lambda a: 1 - np.tanh(a) ** 2),
        (rd.sigmoid, lambda a: np.exp(-a) / (1 + np.exp(-a)) ** 2),
        (rd.exp, np.exp),
        (rd.log, lambda a: 1 / a),
    ]:
        (p,) = rs.partials(fn(x))
        got = rd.function([x], p)(v)
        np.testing.assert_allclose(got, d(v), rtol=1e-12)


def test_float32_partials_stay_float32():
    from rewritediff.rules import default_rules

    rs = default_rules()
    x = rd.vector("x", dtype="float32")
    for op in ("tanh", "sigmoid", "exp", "log", "sqrt", "arcsin", "tan", "reciprocal", "sqr", "expm1", "log1p"):
        (p,) = rs.partials(rd.apply(op, x))
        assert p.dtype == "float32", (op, p)


def test_variadic_rest_and_current_argument():
    rs = RuleSet()
    rs.load_string("vjp mul(*xs) [g] = sum_to(g * rest, xs_i)")
    x, y, z, g = rd.vector("x"), rd.vector("y"), rd.scalar("z"), rd.vector("g")
    out = rs.vjp(rd.mul(x, y, z), g)
    assert out == [rd.sum_to(rd.mul(g, rd.mul(y, z)), x), rd.sum_to(rd.mul(g, rd.mul(x, z)), y), rd.sum_to(rd.mul(g, rd.mul(x, y)), z)]
