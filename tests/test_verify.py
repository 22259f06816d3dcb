"""The central differences the command checks with, against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewritediff.verify import central_directional, central_hessian, central_jacobian, central_partial, max_errors

RNG = np.random.default_rng(0)
A = RNG.normal(size=(3, 4))
B = RNG.normal(size=(4, 4))


def test_central_jacobian_of_a_linear_map_is_its_matrix() -> None:
    x = RNG.normal(size=4)
    np.testing.assert_allclose(central_jacobian(lambda v: A @ v, x), A, rtol=1e-6, atol=1e-8)


def test_central_jacobian_keeps_the_shapes_of_output_and_input() -> None:
    x = RNG.normal(size=(2, 3))
    jac = central_jacobian(lambda v: np.sin(v).sum(axis=0), x)
    assert jac.shape == (3, 2, 3)
    want = np.zeros((3, 2, 3))
    for i in range(2):
        for j in range(3):
            want[j, i, j] = math.cos(x[i, j])
    np.testing.assert_allclose(jac, want, atol=1e-8)


def test_central_partial_holds_the_other_arguments() -> None:
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=3)
    # f(a, b) = sum(a * b**2): d/da = b**2 broadcast, d/db = 2 b * a.sum(0)
    np.testing.assert_allclose(central_partial(lambda x, y: np.sum(x * y**2), [a, b], 0), np.broadcast_to(b**2, a.shape), atol=1e-8)
    np.testing.assert_allclose(central_partial(lambda x, y: np.sum(x * y**2), [a, b], 1), 2 * b * a.sum(axis=0), atol=1e-8)
    # a vector output: d (a @ b) / d b is a itself, and a 0-d argument keeps its empty shape
    np.testing.assert_allclose(central_partial(lambda x, y: x @ y, [a, b], 1), a, atol=1e-8)
    assert central_partial(lambda x, s: float(s) * x.sum(), [a, np.array(2.0)], 1) == pytest.approx(a.sum())
    with pytest.raises(ValueError, match="argument 2 of a function of 2 points"):
        central_partial(lambda x, y: x, [a, b], 2)


def test_central_hessian_of_a_quadratic_form() -> None:
    x = RNG.normal(size=4)
    np.testing.assert_allclose(central_hessian(lambda v: float(v @ B @ v), x), B + B.T, atol=1e-6)


def test_central_directional_is_the_product_rule() -> None:
    x, y, t, u = (RNG.normal(size=3) for _ in range(4))
    np.testing.assert_allclose(central_directional(lambda a, b: a * b, [x, y], [t, u]), t * y + x * u, atol=1e-8)


def test_max_errors() -> None:
    a = np.array([1.0, 2.0])
    assert max_errors([a], [a + [0.0, 1e-3]], tol=1e-2)[2]
    max_abs, _, ok = max_errors([a], [a + [0.0, 1.0]], tol=1e-2)
    assert max_abs == pytest.approx(1.0) and not ok
    assert not max_errors([a], [np.array([np.nan, 1.0])], tol=1.0)[2]
    with pytest.raises(ValueError, match=r"shape \(2,\), finite differences give \(3,\)"):
        max_errors([a], [np.zeros(3)], tol=1.0)
