"""numpy operands on either side of a term build a term (numpy hands the operation over), and
numpy's ufuncs and functions applied to a term build the rd term or refuse clearly."""

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.verify import central_jacobian

RNG = np.random.default_rng(11)


def check_grad(cost, x, xv, f_np):
    """The compiled gradient of ``cost`` at xv against central differences of the numpy function."""
    assert isinstance(cost, rd.Term) and cost.ndim == 0
    g = rd.function([x], rd.grad(cost, x))(xv)
    np.testing.assert_allclose(g, central_jacobian(f_np, xv), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(rd.function([x], cost)(xv), f_np(xv), rtol=1e-12)


def test_array_on_the_left_of_mul_builds_a_term():
    x = rd.vector("x")
    c = np.array([0.5, -2.0, 3.0])
    y = c * x
    assert isinstance(y, rd.Term)
    assert y.type == rd.TensorType("float64", (3,))
    xv = RNG.normal(size=3)
    check_grad((c * rd.sin(x)).sum(), x, xv, lambda v: float((c * np.sin(v)).sum()))


@pytest.mark.parametrize(
    "build, ref",
    [
        (lambda c, x: c + x, lambda c, v: c + v),
        (lambda c, x: c - x, lambda c, v: c - v),
        (lambda c, x: c / x, lambda c, v: c / v),
        (lambda c, x: c**x, lambda c, v: c**v),
        (lambda c, x: np.maximum(c, x), lambda c, v: np.maximum(c, v)),
    ],
    ids=["add", "sub", "div", "pow", "maximum"],
)
def test_every_binary_operator_with_an_array_on_the_left(build, ref):
    x = rd.vector("x")
    c = np.array([1.5, 2.0, 0.7])
    y = build(c, x)
    assert isinstance(y, rd.Term)
    xv = np.array([0.3, 1.1, -0.4]) + 0.05
    w = np.array([1.0, -2.0, 0.5])
    check_grad((y * w).sum(), x, xv, lambda v: float((ref(c, v) * w).sum()))


def test_list_on_the_left_builds_a_term():
    x = rd.vector("x")
    y = [1.0, 2.0, 3.0] * x
    assert isinstance(y, rd.Term) and y.static_shape == (3,)
    z = [1.0, 2.0, 3.0] - x
    assert isinstance(z, rd.Term)
    xv = RNG.normal(size=3)
    check_grad((y * z).sum(), x, xv, lambda v: float((np.array([1.0, 2, 3]) * v * (np.array([1.0, 2, 3]) - v)).sum()))


def test_onehot_matmul_weights():
    W = rd.matrix("W")
    onehot = np.eye(4)[[0, 2, 2]]
    h = onehot @ W
    assert isinstance(h, rd.Term)
    assert h.static_shape == (3, None)
    Wv = RNG.normal(size=(4, 5))
    check_grad(rd.sum(rd.tanh(h)), W, Wv, lambda v: float(np.tanh(onehot @ v).sum()))
    h2 = np.dot(onehot, W)
    assert isinstance(h2, rd.Term)
    np.testing.assert_allclose(rd.function([W], h2)(Wv), onehot @ Wv)


def test_numpy_scalar_on_the_left():
    x = rd.vector("x")
    for s in (np.float64(2.0), np.float32(2.0), np.int64(2)):
        y = s**x
        assert isinstance(y, rd.Term)
        xv = RNG.normal(size=3)
        check_grad(y.sum(), x, xv, lambda v: float((2.0**v).sum()))
    assert isinstance(np.float64(3.0) * x, rd.Term)
    assert isinstance(np.float64(3.0) - x, rd.Term)


def test_ufuncs_build_the_rd_ops():
    x = rd.vector("x")
    assert np.exp(x) is rd.exp(x)
    assert np.log1p(x) is rd.log1p(x)
    assert np.tanh(x) is rd.tanh(x)
    assert np.sqrt(x) is rd.sqrt(x)
    assert np.negative(x) is -x
    xv = np.abs(RNG.normal(size=4)) + 0.5
    cost = np.sum(np.exp(x) * np.sin(x) + np.sqrt(x))
    assert isinstance(cost, rd.Term)
    check_grad(cost, x, xv, lambda v: float((np.exp(v) * np.sin(v) + np.sqrt(v)).sum()))


def test_comparisons_with_an_array_on_the_left():
    x = rd.vector("x")
    m = np.array([0.0, 1.0]) < x
    assert isinstance(m, rd.Term) and m.dtype == "bool"
    np.testing.assert_array_equal(rd.function([x], m)(np.array([0.5, 0.5])), [True, False])


def test_ufunc_without_counterpart_raises_a_clear_type_error():
    x = rd.vector("x")
    with pytest.raises(TypeError, match="log2"):
        np.log2(x)
    with pytest.raises(TypeError, match="add.reduce"):
        np.add.reduce(x)
    with pytest.raises(TypeError, match="out"):
        np.exp(x, out=np.zeros(3))
    with pytest.raises(TypeError, match="numpy.linalg.inv"):
        np.linalg.inv(rd.matrix("A"))
    with pytest.raises(TypeError, match="object array"):
        np.add(np.array([x, x], dtype=object), x)


def test_numpy_functions_on_terms():
    x, A = rd.vector("x"), rd.matrix("A")
    assert np.sum(x) is rd.sum(x)
    assert np.clip(x, 0.0, 1.0) is rd.clip(x, 0.0, 1.0)
    assert np.mean(A, axis=0) is rd.mean(A, axis=0)
    assert isinstance(np.where(x > 0, x, 0.0), rd.Term)
    xv = RNG.normal(size=3)
    check_grad(np.sum(np.where(x > 0, x, 0.0) ** 2), x, xv, lambda v: float((np.where(v > 0, v, 0.0) ** 2).sum()))


def test_float32_term_with_array_on_the_left():
    x = rd.vector("x", dtype="float32")
    y = np.array([1.0, 2.0], dtype="float32") * x
    assert y.dtype == "float32"


def test_numpy_ufuncs_of_the_special_functions() -> None:
    x, y = rd.vector("x"), rd.vector("y")
    assert np.logaddexp(x, y) is rd.logaddexp(x, y)
    assert np.isnan(x) is rd.isnan(x) and np.isinf(x) is rd.isinf(x)
