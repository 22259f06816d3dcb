"""User-defined ops: `def` in the rule language and define_op from Python."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import rewritediff as rd
from rewritediff import rules
from rewritediff.errors import RuleError
from rewritediff.ops import REGISTRY
from rewritediff.rules import RuleSet

V = np.linspace(-2.0, 2.0, 7)


def test_def_op_evaluates_like_numpy():
    rs = RuleSet()
    rs.load_string("def logcosh(x) = log(cosh(x))\nd logcosh(x) = tanh(x)", "user.rules")
    x = rd.vector("x")
    t = rd.apply("logcosh", x)
    assert t.op == "logcosh" and t.type == x.type
    assert rules.op_function("logcosh")(x) is t
    assert REGISTRY["logcosh"].elementwise
    np.testing.assert_allclose(rd.function([x], t)(V), np.log(np.cosh(V)))
    np.testing.assert_allclose(REGISTRY["logcosh"].impl(V), np.log(np.cosh(V)))
    assert rs.expansion(t) is rd.log(rd.cosh(x))
    (p,) = rs.partials(t)
    np.testing.assert_allclose(rd.function([x], p)(V), np.tanh(V))


def test_def_op_type_follows_the_expansion():
    rs = RuleSet()
    rs.load_string("def sumsq(x){axis=None} = sum(x * x){axis=axis}")
    m = rd.matrix("m", dtype="float32")
    t = rd.apply("sumsq", m, axis=1)
    assert t.type == rd.sum(m * m, axis=1).type
    v = np.arange(6.0, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(rd.function([m], t)(v), (v * v).sum(axis=1))
    np.testing.assert_allclose(rd.function([m], rd.apply("sumsq", m))(v), (v * v).sum())


def test_def_using_an_earlier_def():
    rs = RuleSet()
    rs.load_string("def logcosh(x) = log(cosh(x))\ndef twice_logcosh(x) = 2 * logcosh(x)")
    x = rd.vector("x")
    np.testing.assert_allclose(rd.function([x], rd.apply("twice_logcosh", x))(V), 2 * np.log(np.cosh(V)))


def test_redefining_a_def_op_replaces_it():
    rs = RuleSet()
    rs.load_string("def f(x) = 2 * x")
    RuleSet().load_string("def f(x) = 3 * x")
    x = rd.vector("x")
    np.testing.assert_allclose(rd.function([x], rd.apply("f", x))(V), 3 * V)


def test_define_op_then_rules():
    rules.define_op("logcosh", lambda x: np.log(np.cosh(x)), sympy=lambda x: sympy.log(sympy.cosh(x)))
    rs = RuleSet()
    rs.load_string("d logcosh(x) = tanh(x)", "user.rules")
    x = rd.vector("x", dtype="float32")
    t = rd.apply("logcosh", x)
    assert t.type == x.type
    np.testing.assert_allclose(rd.function([x], t)(V.astype("float32")), np.log(np.cosh(V)).astype("float32"), rtol=1e-6)
    (p,) = rs.partials(t)
    assert p is rd.tanh(x)
    assert rs.check() == []
    rs.load_string("d logcosh(x) = cosh(x)", "bad.rules", replace=True)
    (problem,) = rs.check()
    assert str(problem).startswith("bad.rules:1:1:")


def test_define_op_refuses_to_shadow_an_op():
    with pytest.raises(ValueError, match="already registered"):
        rules.define_op("exp", np.exp)


def test_define_op_with_explicit_infer_and_arity():
    from rewritediff.terms import TensorType

    rules.define_op(
        "rowsum", lambda m: m.sum(axis=1), arity=1, elementwise=False, infer=lambda args, attrs: TensorType(args[0].dtype, args[0].static_shape[:1])
    )
    m = rd.matrix("m")
    t = rd.apply("rowsum", m)
    assert t.ndim == 1
    v = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(rd.function([m], t)(v), v.sum(axis=1))


def test_rule_for_an_unknown_user_op_is_rejected():
    with pytest.raises(RuleError, match="unknown op 'logcosh'"):
        RuleSet().load_string("d logcosh(x) = tanh(x)")
