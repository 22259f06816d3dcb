"""solve_triangular: values, adjoints and tangents against central differences, and the rules that
turn a solve with a Cholesky factor (or its transpose) into it."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.verify import central_directional, central_jacobian

# the shipped rules define ops (sym, used by the Cholesky adjoint): load them before the registry
# fixture of this directory takes its snapshot, so it never unregisters them
rd.rules.default_rules()


def _triangular_system(lower: bool, rhs_ndim: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    a = rng.normal(size=(4, 4)) + 4.0 * np.eye(4)  # both triangles filled: the op must read only one
    b = rng.normal(size=(4,) if rhs_ndim == 1 else (4, 3))
    return a, b


@pytest.mark.parametrize("rhs_ndim", [1, 2])
@pytest.mark.parametrize("lower", [True, False])
def test_value_reads_one_triangle(lower: bool, rhs_ndim: int) -> None:
    av, bv = _triangular_system(lower, rhs_ndim)
    a, b = rd.matrix("a"), (rd.vector("b") if rhs_ndim == 1 else rd.matrix("b"))
    got = rd.function([a, b], rd.linalg.solve_triangular(a, b, lower=lower))(av, bv)
    tri = np.tril(av) if lower else np.triu(av)
    np.testing.assert_allclose(got, np.linalg.solve(tri, bv), rtol=1e-12)


@pytest.mark.parametrize("rhs_ndim", [1, 2])
@pytest.mark.parametrize("lower", [True, False])
def test_gradient_matches_central_differences(lower: bool, rhs_ndim: int) -> None:
    av, bv = _triangular_system(lower, rhs_ndim)
    wv = np.random.default_rng(8).normal(size=bv.shape)
    a, b = rd.matrix("a"), (rd.vector("b") if rhs_ndim == 1 else rd.matrix("b"))
    cost = rd.sum(rd.constant(wv) * rd.linalg.solve_triangular(a, b, lower=lower))
    ga, gb = rd.function([a, b], rd.grad(cost, [a, b]))(av, bv)
    tri = np.tril if lower else np.triu

    def value(a_: np.ndarray, b_: np.ndarray) -> float:
        return float(np.sum(wv * np.linalg.solve(tri(a_), b_)))

    np.testing.assert_allclose(ga, central_jacobian(lambda x: value(x, bv), av), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, central_jacobian(lambda x: value(av, x), bv), rtol=1e-6, atol=1e-8)
    assert np.all(ga[np.triu_indices(4, 1) if lower else np.tril_indices(4, -1)] == 0)


@pytest.mark.parametrize("lower", [True, False])
def test_tangent_matches_central_differences(lower: bool) -> None:
    av, bv = _triangular_system(lower, 2)
    rng = np.random.default_rng(9)
    dav, dbv = rng.normal(size=av.shape), rng.normal(size=bv.shape)
    a, b, da, db = rd.matrix("a"), rd.matrix("b"), rd.matrix("da"), rd.matrix("db")
    x = rd.linalg.solve_triangular(a, b, lower=lower)
    got = rd.function([a, b, da, db], rd.Rop(x, [a, b], [da, db]))(av, bv, dav, dbv)
    tri = np.tril if lower else np.triu
    want = central_directional(lambda p, q: np.linalg.solve(tri(p), q), [av, bv], [dav, dbv])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def _gaussian_nll(n: int) -> tuple[rd.Tensor, rd.Tensor, rd.Tensor]:
    A, r = rd.matrix("A", shape=(n, n)), rd.vector("r", shape=(n,))
    L = rd.linalg.cholesky(A @ A.T + rd.constant(float(n) * np.eye(n)))
    alpha = rd.linalg.solve(L.T, rd.linalg.solve(L, r))
    return 0.5 * rd.dot(r, alpha) + rd.sum(rd.log(rd.diag(L))), A, r


def test_solves_with_a_cholesky_factor_become_triangular() -> None:
    nll, A, r = _gaussian_nll(6)
    text = rd.pprint(rd.simplify(nll))
    assert text.count("solve_triangular(") == 2 and "solve(" not in text.replace("solve_triangular(", ""), text
    f = rd.function([A, r], [nll, *rd.grad(nll, [A, r])])
    assert "np.linalg.solve" not in f.source and "rt.solve_triangular" in f.source
    rng = np.random.default_rng(10)
    Av, rv = rng.normal(size=(6, 6)), rng.normal(size=6)

    def value(A_: np.ndarray, r_: np.ndarray) -> float:
        S = A_ @ A_.T + 6.0 * np.eye(6)
        return float(0.5 * r_ @ np.linalg.solve(S, r_) + 0.5 * np.linalg.slogdet(S)[1])

    lv, gA, gr = f(Av, rv)
    np.testing.assert_allclose(lv, value(Av, rv), rtol=1e-12)
    np.testing.assert_allclose(gA, central_jacobian(lambda x: value(x, rv), Av), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gr, central_jacobian(lambda x: value(Av, x), rv), rtol=1e-6, atol=1e-8)


def test_upper_cholesky_factor_too() -> None:
    S, b = rd.matrix("S"), rd.vector("b")
    U = rd.linalg.cholesky(S, lower=False)
    out = rd.simplify(rd.linalg.solve(U, rd.linalg.solve(U.T, b)))  # S = U.T @ U
    text = rd.pprint(out)
    assert text.count("solve_triangular(") == 2 and "solve(" not in text.replace("solve_triangular(", ""), text
    rng = np.random.default_rng(11)
    Mv, bv = rng.normal(size=(5, 5)), rng.normal(size=5)
    Sv = Mv @ Mv.T + 5.0 * np.eye(5)
    got = rd.function([S, b], out, simplify=False)(Sv, bv)
    np.testing.assert_allclose(got, np.linalg.solve(Sv, bv), rtol=1e-10)
