"""The backend= switch itself: errors at build time, generated source, options, numpy unchanged."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.backends import BackendNotInstalled, UnsupportedOpError


def _logreg():
    X, y, w = rd.matrix("X"), rd.vector("y"), rd.vector("w")
    cost = rd.mean(rd.softplus(-y * rd.dot(X, w)))
    return [X, y, w], rd.grad(cost, w)


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)  # import jax now raises ImportError
    inputs, g = _logreg()
    with pytest.raises(BackendNotInstalled, match=r"pip install rewritediff\[jax\]"):
        rd.function(inputs, g, backend="jax")


def test_missing_dask_names_its_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.array", None)
    inputs, g = _logreg()
    with pytest.raises(BackendNotInstalled, match=r"pip install rewritediff\[dask\]"):
        rd.function(inputs, g, backend="dask")


def test_unknown_backend_and_stray_options_are_refused():
    inputs, g = _logreg()
    with pytest.raises(ValueError, match="backend must be one of 'numpy', 'jax', 'dask', 'array_api', got 'torch'"):
        rd.function(inputs, g, backend="torch")
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['chunks'\] for the numpy backend"):
        rd.function(inputs, g, chunks=10)
    with pytest.raises(TypeError, match="array_api backend takes no option"):
        rd.function(inputs, g, backend="array_api", compute=True)


def test_unsupported_op_is_refused_at_build_time_naming_op_and_backend():
    a = rd.matrix("a")
    with pytest.raises(UnsupportedOpError, match=r"op 'diag' is not supported by the 'array_api' backend"):
        rd.function([a], rd.diag(a), backend="array_api")
    with pytest.raises(UnsupportedOpError, match=r"op 'einsum' is not supported by the 'array_api' backend"):
        rd.function([a], rd.einsum("ij,jk->ik", a, a), backend="array_api")


def test_updates_are_numpy_and_jax_only():
    x = rd.vector("x")
    s = rd.shared(np.zeros(3), name="s")
    with pytest.raises(rd.RewriteDiffTypeError, match="updates of shared variables are supported by the numpy and jax backends, not 'array_api'"):
        rd.function([x], x.sum(), updates={s: s + x}, backend="array_api")


def test_array_api_source_names_only_standard_functions():
    inputs, g = _logreg()
    f = rd.function(inputs, g, backend="array_api")
    assert f.source.startswith("def compiled(xp, X, y, w):")
    assert "xp.matmul(" in f.source and "np." not in f.source and "rt." not in f.source
    X = np.array([[1.0, 2.0], [0.5, -1.0], [-2.0, 0.25]])
    y = np.array([1.0, -1.0, 1.0])
    w = np.array([0.3, -0.2])
    # closed form: grad = -(1/n) X^T (y * sigmoid(-y * Xw))
    z = -y * (X @ w)
    want = -(X.T @ (y / (1.0 + np.exp(-z)))) / len(y)
    np.testing.assert_allclose(f(X, y, w), want, rtol=1e-12)


def test_array_api_reads_shared_values_at_call_time():
    x = rd.vector("x")
    s = rd.shared(np.array([1.0, 2.0]), name="s")
    f = rd.function([x], (x * s).sum(), backend="array_api")
    assert float(f(np.array([1.0, 1.0]))) == 3.0
    s.tag["value"] = np.array([10.0, 20.0])
    assert float(f(np.array([1.0, 1.0]))) == 30.0


def test_wrong_argument_shape_is_a_call_error():
    x = rd.vector("x", shape=(3,))
    f = rd.function([x], rd.exp(x).sum(), backend="array_api")
    with pytest.raises(rd.CallError, match=r"expected shape"):
        f(np.ones(4))
    with pytest.raises(rd.CallError, match=r"expected ndim 1"):
        f(np.ones((3, 1)))


def test_composite_ops_lower_through_their_expansion():
    x = rd.matrix("x", shape=(3, 3))
    c = rd.linalg.cholesky(rd.dot(x, x.T) + rd.constant(3.0 * np.eye(3)))
    g = rd.grad(c.sum(), x)
    val = np.array([[1.0, 0.2, -0.3], [0.1, 0.7, 0.4], [-0.5, 0.3, 0.9]])
    np.testing.assert_allclose(rd.function([x], g, backend="array_api")(val), rd.function([x], g)(val), rtol=1e-12)


def test_long_sums_and_products_are_calls_not_deep_infix_chains():
    xs = [rd.vector(f"v{i}") for i in range(40)]
    f = rd.function(xs, [rd.add(*xs), rd.mul(*xs)], simplify=False, backend="array_api")
    assert "ax.add_n(xp, " in f.source and "ax.mul_n(xp, " in f.source
    vals = [np.full(2, 1.0 + i / 40) for i in range(40)]
    s, p = f(*vals)
    np.testing.assert_allclose(s, np.full(2, sum(1.0 + i / 40 for i in range(40))), rtol=1e-14)
    np.testing.assert_allclose(p, np.full(2, np.prod([1.0 + i / 40 for i in range(40)])), rtol=1e-13)
