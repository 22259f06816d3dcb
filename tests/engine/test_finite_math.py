"""finite_math=False: the rewrites that assume finite values (tagged @finite) are left out, so NaN inputs propagate."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd

NAN_X = np.array([np.nan, 1.0, 2.0])
NAN_Y = np.array([3.0, np.nan, 4.0])


def _cases() -> list:
    x, y = rd.vector("x"), rd.vector("y")
    a = rd.matrix("a", shape=(2, 2))
    return [
        ("x - x", [x, y], x - x, lambda x, y: x - x),
        ("x * 0", [x, y], x * 0.0, lambda x, y: x * 0.0),
        ("(x * y) / y", [x, y], (x * y) / y, lambda x, y: (x * y) / y),
        ("(x + y) - y", [x, y], (x + y) - y, lambda x, y: (x + y) - y),
        ("x / x", [x, y], rd.exp(x) / rd.exp(x), lambda x, y: np.exp(x) / np.exp(x)),
        ("a @ eye", [a], a @ rd.eye(2), lambda a: a @ np.eye(2)),
    ]


@pytest.mark.parametrize("name,inputs,expr,reference", _cases(), ids=[c[0] for c in _cases()])
def test_nan_inputs_propagate_without_finite_math(name, inputs, expr, reference):
    args = [np.array([[np.nan, 1.0], [2.0, 3.0]])] if len(inputs) == 1 else [NAN_X, NAN_Y]
    with np.errstate(all="ignore"):
        want = reference(*args)
    f = rd.function(inputs, expr, finite_math=False, on_unused_input="ignore")
    got = f(*args)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)])
    # by default the rules that assume finite values apply: a NaN turns into a number somewhere
    default = rd.function(inputs, expr, on_unused_input="ignore")(*args)
    assert np.isnan(default).sum() < np.isnan(want).sum()


def test_simplify_keeps_nan_producing_forms_without_finite_math():
    x = rd.vector("x")
    assert rd.simplify(x - x, finite_math=False) is x - x
    assert rd.simplify(x - x).op == "zeros_like"
    # rules that keep NaNs still apply
    assert rd.simplify(x * 1.0, finite_math=False) is x


def test_gradient_without_finite_math_propagates_nan():
    x = rd.vector("x")
    cost = rd.sum(x * 0.0 + rd.sqr(x))
    g = rd.grad(cost, x)
    got = rd.function([x], g, finite_math=False)(NAN_X)
    assert np.isnan(got[0]) and np.allclose(got[1:], 2 * NAN_X[1:])


def test_finite_math_is_part_of_the_cache_key():
    x = rd.vector("x")
    f1 = rd.function([x], x - x)
    f2 = rd.function([x], x - x, finite_math=False)
    assert f1 is not f2
    assert not np.isnan(f1(NAN_X)).any() and np.isnan(f2(NAN_X))[0]
