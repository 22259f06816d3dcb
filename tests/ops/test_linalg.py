"""rd.linalg against numpy.linalg: inv, det, slogdet, solve, cholesky, and square/shape errors."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd


def spd(rng: np.random.Generator, n: int) -> np.ndarray:
    """A well-conditioned symmetric positive-definite matrix."""
    a = rng.normal(size=(n, n))
    return a @ a.T + n * np.eye(n)


@pytest.mark.parametrize("static", [True, False])
def test_inv_det_slogdet(rng: np.random.Generator, static: bool) -> None:
    a = rd.tensor("a", shape=(4, 4) if static else (None, None))
    v = rng.normal(size=(4, 4))
    sign, logabs = rd.linalg.slogdet(a)
    inv, det = rd.linalg.inv(a), rd.linalg.det(a)
    assert inv.static_shape == ((4, 4) if static else (None, None)) and det.static_shape == ()
    outs = rd.function([a], [inv, det, sign, logabs], simplify=False)(v)
    np.testing.assert_allclose(outs[0], np.linalg.inv(v), rtol=1e-10)
    np.testing.assert_allclose(outs[1], np.linalg.det(v), rtol=1e-10)
    s, la = np.linalg.slogdet(v)
    assert outs[2] == s
    np.testing.assert_allclose(outs[3], la, rtol=1e-12)
    assert rd.linalg.matrix_inverse(a) is inv


@pytest.mark.parametrize("b_shape", [(3,), (3, 2)])
def test_solve(rng: np.random.Generator, b_shape: tuple) -> None:
    a, b = rd.tensor("a", shape=(3, 3)), rd.tensor("b", shape=b_shape)
    va, vb = rng.normal(size=(3, 3)) + 3 * np.eye(3), rng.normal(size=b_shape)
    term = rd.linalg.solve(a, b)
    expected = np.linalg.solve(va, vb)
    assert term.static_shape == expected.shape
    np.testing.assert_allclose(rd.function([a, b], term, simplify=False)(va, vb), expected, rtol=1e-10)


@pytest.mark.parametrize("lower", [True, False])
def test_cholesky(rng: np.random.Generator, lower: bool) -> None:
    a = rd.matrix("a")
    v = spd(rng, 4)
    out = rd.function([a], rd.linalg.cholesky(a, lower=lower), simplify=False)(v)
    low = np.linalg.cholesky(v)
    np.testing.assert_allclose(out, low if lower else low.T, rtol=1e-12)
    np.testing.assert_allclose(out @ out.T if lower else out.T @ out, v, rtol=1e-10)


def test_dtypes() -> None:
    a32 = rd.matrix("a", dtype="float32")
    ai = rd.matrix("ai", dtype="int64")
    assert rd.linalg.inv(a32).dtype == "float32"
    assert rd.linalg.det(ai).dtype == "float64"
    f = rd.function([a32, ai], [rd.linalg.inv(a32), rd.linalg.det(ai)], simplify=False)
    inv, det = f(np.eye(2, dtype="float32") * 2, np.array([[2, 1], [1, 3]]))
    assert inv.dtype == np.float32 and np.asarray(det).dtype == np.float64
    np.testing.assert_allclose(det, 5.0)
    with pytest.raises(rd.RewriteDiffTypeError, match="det: float16 is not supported"):
        rd.linalg.det(rd.matrix("h", dtype="float16"))


def test_square_and_shape_errors_name_op_and_shapes() -> None:
    m = rd.tensor("m", shape=(3, 4))
    v = rd.tensor("v", shape=(3,))
    for fn, name in ((rd.linalg.inv, "matrix_inverse"), (rd.linalg.det, "det"), (rd.linalg.cholesky, "cholesky")):
        with pytest.raises(rd.ShapeError, match=rf"{name}: argument must be a square matrix, got shape \(3, 4\)"):
            fn(m)
        with pytest.raises(rd.ShapeError, match=rf"{name}: argument must be a matrix, got shape \(3,\)"):
            fn(v)
    with pytest.raises(rd.ShapeError, match=r"slogdet_sign: argument must be a square matrix, got shape \(3, 4\)"):
        rd.linalg.slogdet(m)
    a = rd.tensor("a", shape=(3, 3))
    with pytest.raises(rd.ShapeError, match=r"solve: shapes \(3, 3\) and \(4,\) are not aligned"):
        rd.linalg.solve(a, rd.tensor("b", shape=(4,)))
    with pytest.raises(rd.ShapeError, match=r"solve: b must be a vector or a matrix, got shapes \(3, 3\) and \(3, 2, 2\)"):
        rd.linalg.solve(a, rd.tensor("b", shape=(3, 2, 2)))
    with pytest.raises(rd.RewriteDiffTypeError, match="cholesky: lower must be True or False"):
        rd.apply("cholesky", a, lower=1)
