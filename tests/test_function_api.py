"""The compiled function's API as PyTensor has it: keyword calls, defaults (In), givens, copy, shared values."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd


def test_keyword_calls_and_defaults() -> None:
    x, s = rd.vector("x"), rd.scalar("s")
    f = rd.function([x, rd.In(s, value=2.0)], x * s)
    np.testing.assert_array_equal(f(np.ones(3)), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(f(np.ones(3), 3.0), [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(f(x=np.ones(2), s=4.0), [4.0, 4.0])
    np.testing.assert_array_equal(f(np.ones(2), s=5.0), [5.0, 5.0])
    with pytest.raises(rd.CallError, match="no input named 'z'"):
        f(np.ones(2), z=1.0)
    with pytest.raises(rd.CallError, match="twice"):
        f(np.ones(2), x=np.ones(2))
    g = rd.function([x, s], x * s)
    with pytest.raises(rd.CallError, match="no value for input s"):
        g(x=np.ones(2))


def test_in_renames_for_keyword_calls() -> None:
    x = rd.vector()
    f = rd.function([rd.In(x, name="data")], rd.sum(x))
    assert f(data=np.arange(4.0)) == 6.0


def test_givens_replace_before_compiling() -> None:
    x, y = rd.vector("x"), rd.vector("y")
    f = rd.function([y], rd.sum(x * 2.0), givens={x: y + 1.0})
    assert f(np.ones(3)) == 12.0
    with pytest.raises(rd.RewriteDiffTypeError, match="givens"):
        rd.function([y], rd.sum(x), givens={x: rd.matrix("m")})


def test_copy_has_its_own_buffers_and_the_same_results() -> None:
    x = rd.vector("x")
    f = rd.function([x], rd.grad(rd.sum(rd.exp(rd.sin(x)) * x), x))
    g = f.copy()
    v = np.linspace(-1.0, 1.0, 200_000)
    np.testing.assert_array_equal(f(v), g(v))
    g.release_buffers()
    np.testing.assert_array_equal(f(v), g(v))


def test_shared_values_as_pytensor() -> None:
    w = rd.shared(np.zeros(3), "w")
    value = w.get_value()
    value[0] = 5.0  # a copy unless borrow=True
    assert w.get_value()[0] == 0.0
    w.set_value(np.ones(3))
    np.testing.assert_array_equal(w.get_value(borrow=True), np.ones(3))
    with pytest.raises(rd.ShapeError, match="set_value"):
        w.set_value(np.ones(4))
    v = rd.shared(np.zeros(3), "v", shape=(None,))  # a length that may change
    v.set_value(np.ones(5))
    assert v.get_value().shape == (5,)
    b = rd.shared(np.zeros((1, 3)), "b", broadcastable=(True, False))
    assert b.type.shape == (1, None)


def test_updates_read_the_old_values() -> None:
    a, b = rd.shared(np.array([1.0]), "a"), rd.shared(np.array([2.0]), "b")
    x = rd.scalar("x")
    f = rd.function([x], x, updates=[(a, b), (b, a)])  # a swap: each update sees the values before the call
    f(0.0)
    assert a.get_value()[0] == 2.0 and b.get_value()[0] == 1.0


def test_consider_constant_function_form() -> None:
    x = rd.vector("x")
    g = rd.grad(rd.sum(x * rd.consider_constant(x)), x)  # d/dx of x * c at c = x: c
    v = np.array([1.0, -2.0, 3.0])
    np.testing.assert_array_equal(rd.function([x], g)(v), v)
    assert rd.gradient.consider_constant is rd.consider_constant


def test_trust_input_skips_the_argument_checks() -> None:
    x = rd.vector("x", dtype="float32")
    f = rd.function([x], x * 2)
    data = np.array([1.0, 2.5, -3.0])  # float64 into a float32 input: refused unless trusted
    assert f.trust_input is False
    with pytest.raises(rd.CallError, match="x"):
        f(data)
    f.trust_input = True
    out = f(data)
    np.testing.assert_allclose(out, [2.0, 5.0, -6.0])
    assert out.dtype == np.float64  # nothing converted the argument
    g = rd.function([x], x * 2)  # the same graph compiled again keeps its own setting
    assert g.trust_input is False
    with pytest.raises(rd.CallError):
        g(data)
    assert f.copy().trust_input is True
    f.trust_input = False
    with pytest.raises(rd.CallError):
        f(data)


def test_trust_input_as_a_function_argument_gives_the_same_numbers() -> None:
    X, w = rd.matrix("X"), rd.vector("w")
    loss = rd.log1p(rd.exp(X @ w)).sum()
    checked = rd.function([X, w], rd.grad(loss, w))
    trusted = rd.function([X, w], rd.grad(loss, w), trust_input=True)
    rng = np.random.default_rng(0)
    Xv, wv = rng.normal(size=(7, 3)), rng.normal(size=3)
    expected = Xv.T @ (1 / (1 + np.exp(-(Xv @ wv))))
    np.testing.assert_allclose(trusted(Xv, wv), expected, rtol=1e-12)
    np.testing.assert_allclose(checked(Xv, wv), expected, rtol=1e-12)
    assert trusted.trust_input and not checked.trust_input
