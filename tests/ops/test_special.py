"""softmax, log_softmax and logsumexp against direct numpy formulas, including extreme inputs."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd


def ref_logsumexp(v: np.ndarray, axis, keepdims: bool = False) -> np.ndarray:
    """log(sum(exp(v))) in extended precision (inputs here are moderate)."""
    return np.log(np.sum(np.exp(v.astype(np.longdouble)), axis=axis, keepdims=keepdims)).astype(np.float64)


AXES = [None, 0, 1, -1, (0, 2), (2, 0, 1)]


@pytest.mark.parametrize("axis", AXES, ids=[repr(a) for a in AXES])
def test_softmax_and_log_softmax(rng: np.random.Generator, axis) -> None:
    x = rd.tensor("x", shape=(2, 3, 4))
    v = rng.normal(scale=3.0, size=(2, 3, 4))
    sm, lsm = rd.function([x], [rd.softmax(x, axis=axis), rd.log_softmax(x, axis=axis)], simplify=False)(v)
    e = np.exp(v)
    np.testing.assert_allclose(sm, e / e.sum(axis=axis, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(lsm, v - np.log(e.sum(axis=axis, keepdims=True)), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("axis", AXES, ids=[repr(a) for a in AXES])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp(rng: np.random.Generator, axis, keepdims: bool) -> None:
    x = rd.tensor("x", shape=(2, 3, 4))
    v = rng.normal(scale=3.0, size=(2, 3, 4))
    term = rd.logsumexp(x, axis=axis, keepdims=keepdims)
    expected = ref_logsumexp(v, axis, keepdims)
    assert term.static_shape == np.shape(expected)
    np.testing.assert_allclose(rd.function([x], term, simplify=False)(v), expected, rtol=1e-12)


def test_stable_for_large_inputs() -> None:
    x = rd.vector("x")
    v = np.array([1000.0, 1000.0, -1000.0])
    sm, lsm, lse = rd.function([x], [rd.softmax(x), rd.log_softmax(x), rd.logsumexp(x)], simplify=False)(v)
    np.testing.assert_allclose(sm, [0.5, 0.5, 0.0])
    np.testing.assert_allclose(lsm[:2], [-np.log(2.0)] * 2)
    assert np.isfinite(lsm).all()
    np.testing.assert_allclose(lse, 1000.0 + np.log(2.0))


def test_logsumexp_of_minus_inf_row() -> None:
    x = rd.matrix("x")
    v = np.array([[-np.inf, -np.inf], [0.0, 0.0]])
    out = rd.function([x], rd.logsumexp(x, axis=1), simplify=False)(v)
    assert out[0] == -np.inf
    np.testing.assert_allclose(out[1], np.log(2.0))


def test_default_axis_is_all_axes_and_dtypes() -> None:
    x = rd.matrix("x", dtype="float32")
    assert rd.softmax(x) is rd.softmax(x, axis=(0, 1))
    assert rd.softmax(x).dtype == "float32"
    assert rd.logsumexp(rd.ivector("i")).dtype == "float64"
    out = rd.function([x], rd.softmax(x), simplify=False)(np.ones((2, 2), "float32"))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.full((2, 2), 0.25))


def test_axis_errors_name_op() -> None:
    x = rd.matrix("x")
    with pytest.raises(rd.AxisError, match="softmax: axis 2 is out of range for an argument of ndim 2"):
        rd.softmax(x, axis=2)
    with pytest.raises(rd.AxisError, match="log_softmax: axis -3"):
        rd.log_softmax(x, axis=-3)
    with pytest.raises(rd.AxisError, match="logsumexp: repeated axis"):
        rd.logsumexp(x, axis=(0, 0))
