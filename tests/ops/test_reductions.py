"""Reductions against numpy: every axis form, keepdims, ddof, dtypes and axis errors."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd

REDUCTIONS = [
    ("sum", np.sum),
    ("prod", np.prod),
    ("max", np.max),
    ("min", np.min),
    ("mean", np.mean),
    ("var", np.var),
    ("std", np.std),
    ("all", np.all),
    ("any", np.any),
]
AXES = [None, 0, 1, -1, (0, 2), (-1, 0), (0, 1, 2), ()]


@pytest.mark.parametrize(("name", "ref"), REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@pytest.mark.parametrize("axis", AXES, ids=[repr(a) for a in AXES])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_matches_numpy(rng: np.random.Generator, name: str, ref, axis, keepdims: bool) -> None:
    x = rd.tensor("x", shape=(2, 3, 4))
    v = rng.uniform(-1.0, 1.0, size=(2, 3, 4))
    if name in ("all", "any"):
        v = v > -0.5
        x = rd.tensor("x", shape=(2, 3, 4), dtype="bool")
    term = getattr(rd, name)(x, axis=axis, keepdims=keepdims)
    expected = np.asarray(ref(v, axis=axis, keepdims=keepdims))
    assert term.static_shape == expected.shape
    out = rd.function([x], term, simplify=False)(v)
    assert np.asarray(out).dtype == expected.dtype
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_negative_and_positive_axis_are_one_term() -> None:
    x = rd.matrix("x")
    assert x.sum(-1) is x.sum(1)
    assert x.max(axis=(1, 0)) is x.max()


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("ddof", [0, 1, 2])
@pytest.mark.parametrize("axis", [None, 0, -1])
def test_var_std_ddof(rng: np.random.Generator, name: str, ddof: int, axis) -> None:
    x = rd.matrix("x")
    v = rng.normal(size=(5, 4))
    out = rd.function([x], getattr(x, name)(axis=axis, ddof=ddof), simplify=False)(v)
    np.testing.assert_allclose(out, getattr(np, name)(v, axis=axis, ddof=ddof), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int32", "uint32", "int64", "float32"])
@pytest.mark.parametrize("name", ["sum", "prod", "mean", "max", "var"])
def test_reduction_dtypes_follow_numpy(name: str, dtype: str) -> None:
    x = rd.vector("x", dtype=dtype)
    v = np.array([1, 0, 1, 1], dtype=dtype)
    term = getattr(rd, name)(x)
    expected = np.asarray(getattr(np, name)(v))
    assert term.dtype == expected.dtype.name
    out = rd.function([x], term, simplify=False)(v)
    assert np.asarray(out).dtype == expected.dtype
    np.testing.assert_allclose(out, expected)


def test_mean_of_ints_is_float(rng: np.random.Generator) -> None:
    x = rd.matrix("x", dtype="int32")
    v = rng.integers(-5, 5, size=(3, 4)).astype("int32")
    out = rd.function([x], x.mean(axis=0), simplify=False)(v)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, v.mean(axis=0))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [None, 0, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin(rng: np.random.Generator, name: str, axis, keepdims: bool) -> None:
    x = rd.tensor("x", shape=(3, 5))
    v = rng.normal(size=(3, 5))
    term = getattr(x, name)(axis=axis, keepdims=keepdims)
    expected = getattr(np, name)(v, axis=axis, keepdims=keepdims)
    assert term.static_shape == np.shape(expected)
    out = rd.function([x], term, simplify=False)(v)
    assert np.array_equal(out, expected) and np.asarray(out).dtype == np.int64


def test_axis_out_of_range_names_op_and_ndim() -> None:
    x = rd.tensor("x", shape=(2, 3))
    with pytest.raises(rd.AxisError, match="sum: axis 2 is out of range for an argument of ndim 2"):
        x.sum(axis=2)
    with pytest.raises(rd.AxisError, match="mean: axis -3"):
        x.mean(axis=(0, -3))
    with pytest.raises(rd.AxisError, match="max: repeated axis"):
        x.max(axis=(1, -1))
    with pytest.raises(rd.AxisError, match="argmax: takes a single axis"):
        x.argmax(axis=(0, 1))
    with pytest.raises(rd.RewriteDiffTypeError, match="prod: axis must be an int"):
        x.prod(axis=(0.5,))
