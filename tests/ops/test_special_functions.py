"""Special functions against closed forms and identities (not against the scipy calls they run)."""

import math

import numpy as np
import pytest

import rewritediff as rd


def _run(fn, *values):
    xs = [rd.tensor(f"x{i}", shape=np.shape(v)) for i, v in enumerate(values)]
    return np.asarray(rd.function(xs, fn(*xs))(*[np.asarray(v, dtype=float) for v in values]))


def test_error_functions_at_known_points() -> None:
    x = np.array([0.0, np.inf, -np.inf, 30.0])
    np.testing.assert_allclose(_run(rd.erf, x), [0.0, 1.0, -1.0, 1.0])
    np.testing.assert_allclose(_run(rd.erfc, x), [1.0, 0.0, 2.0, 0.0], atol=1e-300)
    # erfc keeps its value where 1 - erf(x) would round to 0
    assert _run(rd.erfc, np.array([10.0]))[0] == pytest.approx(2.088487583762545e-45, rel=1e-12)


def test_inverse_error_functions_invert() -> None:
    x = np.array([-1.5, -0.3, 0.0, 0.7, 2.5])
    np.testing.assert_allclose(_run(lambda a: rd.erfinv(rd.erf(a)), x), x, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(_run(lambda a: rd.erfcinv(rd.erfc(a)), x), x, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(_run(rd.erfinv, np.array([1.0, -1.0])), [np.inf, -np.inf])


def test_gamma_family_at_known_points() -> None:
    x = np.array([1.0, 5.0, 0.5])
    np.testing.assert_allclose(_run(rd.gamma, x), [1.0, 24.0, math.sqrt(math.pi)], rtol=1e-14)
    np.testing.assert_allclose(_run(rd.gammaln, x), [0.0, math.log(24.0), 0.5 * math.log(math.pi)], atol=1e-14)
    euler = 0.5772156649015329
    np.testing.assert_allclose(_run(rd.psi, np.array([1.0, 2.0])), [-euler, 1.0 - euler], rtol=1e-14)
    # polygamma(1, 1) = pi^2 / 6, polygamma(2, 1) = -2 zeta(3)
    np.testing.assert_allclose(_run(rd.polygamma, np.array([1.0, 2.0]), np.array([1.0, 1.0])), [math.pi**2 / 6, -2 * 1.2020569031595942], rtol=1e-13)
    # gammaln does not overflow where gamma does
    assert _run(rd.gammaln, np.array([1000.0]))[0] == pytest.approx(5905.220423209181, rel=1e-14)


def test_second_derivatives_of_gammaln_reach_polygamma() -> None:
    x = rd.scalar("x")
    g2 = rd.grad(rd.grad(rd.gammaln(x), x), x)
    assert rd.function([x], g2)(1.0) == pytest.approx(math.pi**2 / 6, rel=1e-12)
    g3 = rd.grad(g2, x)
    assert rd.function([x], g3)(1.0) == pytest.approx(-2 * 1.2020569031595942, rel=1e-12)


def test_the_order_of_polygamma_gets_a_zero_gradient() -> None:
    n, x = rd.scalar("n"), rd.scalar("x")
    assert rd.function([n, x], rd.grad(rd.polygamma(n, x), n), on_unused_input="ignore")(1.0, 2.0) == 0.0
