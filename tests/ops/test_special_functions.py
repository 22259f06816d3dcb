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


def test_log1mexp_is_finite_and_accurate_on_both_branches() -> None:
    x = np.array([-1e-20, -1e-8, -0.5, -0.6931471805599453, -2.0, -40.0, -800.0])
    # closed forms: log(-expm1(x)) ~ log(-x) near 0; log1p(-exp(x)) ~ -exp(x) far below
    got = _run(rd.log1mexp, x)
    assert np.all(np.isfinite(got))
    assert got[0] == pytest.approx(math.log(1e-20), rel=1e-12)
    assert got[1] == pytest.approx(math.log(1e-8) - 0.5e-8, rel=1e-12)
    assert got[2] == pytest.approx(math.log(1 - math.exp(-0.5)), rel=1e-14)
    assert got[3] == pytest.approx(-math.log(2.0), rel=1e-14)
    assert got[5] == pytest.approx(-math.exp(-40.0), rel=1e-12)
    assert got[6] == 0.0
    with np.errstate(invalid="ignore"):  # log of a negative number: NaN, as log(1 - exp(1)) is
        assert np.isnan(_run(rd.log1mexp, np.array([1.0])))[0]


def test_logaddexp_does_not_overflow() -> None:
    got = _run(rd.logaddexp, np.array([1000.0, -1000.0, 0.0]), np.array([1000.0, -1000.0, 0.0]))
    np.testing.assert_allclose(got, [1000.0 + math.log(2.0), -1000.0 + math.log(2.0), math.log(2.0)], rtol=1e-15)
    x, y = rd.scalar("x"), rd.scalar("y")
    gx, gy = rd.grad(rd.logaddexp(x, y), [x, y])
    np.testing.assert_allclose(rd.function([x, y], [gx, gy])(1000.0, 999.0), [1 / (1 + math.exp(-1)), 1 / (1 + math.exp(1))], rtol=1e-12)


def test_xlogx_and_xlogy0_are_zero_where_x_is_zero() -> None:
    np.testing.assert_array_equal(_run(rd.xlogx, np.array([0.0, 1.0])), [0.0, 0.0])
    assert _run(rd.xlogx, np.array([np.e]))[0] == pytest.approx(np.e, rel=1e-15)
    got = _run(rd.xlogy0, np.array([0.0, 0.0, 0.0, 2.0]), np.array([0.0, np.inf, 3.0, np.e]))
    np.testing.assert_allclose(got, [0.0, 0.0, 0.0, 2.0], rtol=1e-15)


def test_relu_softsign_and_log_sigmoid() -> None:
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(_run(rd.relu, x), [0.0, 0.0, 3.0])
    np.testing.assert_allclose(_run(rd.softsign, x), [-2.0 / 3.0, 0.0, 0.75], rtol=1e-15)
    v = rd.vector("v")
    g = rd.function([v], rd.grad(rd.relu(v).sum(), v))(x)
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0])  # 0 at the kink, as PyTensor
    # log_sigmoid is finite at both extremes: ~x far below, ~-exp(-x) far above
    got = _run(rd.log_sigmoid, np.array([-1000.0, 0.0, 40.0]))
    np.testing.assert_allclose(got, [-1000.0, -math.log(2.0), -math.exp(-40.0)], rtol=1e-14)
    gl = rd.function([v], rd.grad(rd.log_sigmoid(v).sum(), v))(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(gl, [1.0, 0.5, 0.0])


def test_isnan_isinf_are_bool_and_carry_no_gradient() -> None:
    x = np.array([np.nan, np.inf, -np.inf, 1.0])
    v = rd.vector("v")
    assert rd.isnan(v).dtype == "bool" and rd.isinf(v).dtype == "bool"
    np.testing.assert_array_equal(_run(rd.isnan, x), [True, False, False, False])
    np.testing.assert_array_equal(_run(rd.isinf, x), [False, True, True, False])
    cost = rd.switch(rd.isnan(v), 0.0, v).sum()
    np.testing.assert_array_equal(rd.function([v], rd.grad(cost, v))(x), [0.0, 1.0, 1.0, 1.0])


@pytest.mark.parametrize("backend", ["jax", "dask", "array_api"])
def test_isnan_isinf_on_other_backends(backend) -> None:
    pytest.importorskip({"jax": "jax", "dask": "dask.array", "array_api": "numpy"}[backend])
    options = {"compute": True} if backend == "dask" else {}
    v = rd.vector("v")
    x = np.array([np.nan, np.inf, -np.inf, 1.0])
    got = rd.function([v], [rd.isnan(v), rd.isinf(v)], backend=backend, **options)(x)
    np.testing.assert_array_equal(np.asarray(got[0]), [True, False, False, False])
    np.testing.assert_array_equal(np.asarray(got[1]), [False, True, True, False])


def test_naive_log1mexp_is_stabilized() -> None:
    x = rd.vector("x")
    for naive in (rd.log(1 - rd.exp(x)), rd.log1p(-rd.exp(x))):
        assert rd.pprint(rd.simplify(naive)) == "log1mexp(x)"
        # near 0 the naive form rounds 1 - exp(x) to 0 (-inf); the closed form is log(-x) there
        got = rd.function([x], naive)(np.array([-1e-20, -800.0]))
        np.testing.assert_allclose(got, [math.log(1e-20), 0.0], rtol=1e-12)
        g = rd.function([x], rd.grad(naive.sum(), x))(np.array([-1e-20, -1.0]))
        np.testing.assert_allclose(g, [-1e20, -math.exp(-1.0) / (1 - math.exp(-1.0))], rtol=1e-12)


def test_naive_logaddexp_is_stabilized() -> None:
    x, y = rd.vector("x"), rd.vector("y")
    naive = rd.log(rd.exp(x) + rd.exp(y))
    assert rd.pprint(rd.simplify(naive)) in ("logaddexp(x, y)", "logaddexp(y, x)")
    xs, ys = np.array([1000.0, -1000.0]), np.array([999.0, -1001.0])
    got = rd.function([x, y], naive)(xs, ys)
    np.testing.assert_allclose(got, [1000.0 + math.log1p(math.exp(-1.0)), -1000.0 + math.log1p(math.exp(-1.0))], rtol=1e-15)
    g = rd.function([x, y], rd.grad(naive.sum(), x))(xs, ys)
    np.testing.assert_allclose(g, [1 / (1 + math.exp(-1.0))] * 2, rtol=1e-12)
