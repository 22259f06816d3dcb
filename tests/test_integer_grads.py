"""Gradients through integer-valued parts of a graph (PyTensor's convention): the gradient with
respect to an integer is the real-valued derivative, as if the integer were real, and is always
of a float dtype; index arguments are disconnected; integer-valued paths carry zero."""

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.verify import central_jacobian

RNG = np.random.default_rng(7)


def test_index_by_an_integer_input():
    x, t = rd.vector("x"), rd.iscalar("t")
    cost = rd.exp(x[t]) * x.sum()
    gx, gt = rd.grad(cost, [x, t], disconnected_inputs="ignore")
    assert gt.type.is_float
    xv = RNG.normal(size=4)
    f = rd.function([x, t], [gx, gt])
    got_x, got_t = f(xv, 2)
    np.testing.assert_allclose(got_x, central_jacobian(lambda v: np.exp(v[2]) * v.sum(), xv), rtol=1e-7)
    np.testing.assert_array_equal(got_t, 0.0)
    assert got_t.dtype == np.float64
    with pytest.raises(rd.DisconnectedInputError):
        rd.grad(cost, t)  # an index is disconnected, as in PyTensor


def test_integer_data_indexed_gets_the_real_derivative():
    i = rd.ivector("i")
    w = np.array([0.5, -1.0, 2.0])
    idx = np.array([0, 0, 2])
    cost = (rd.cast(i[idx], "float64") ** 2 * w).sum()
    cost_direct = ((i[idx] * 1.0) ** 2 * w).sum()
    iv = np.array([3, -2, 5, 1], dtype="int32")

    def ref(v):
        return float((v[idx] ** 2 * w).sum())

    for c in (cost, cost_direct):
        g = rd.grad(c, i)
        assert g.type.is_float
        got = rd.function([i], g)(iv)
        assert got.dtype.kind == "f"
        np.testing.assert_allclose(got, central_jacobian(ref, iv), rtol=1e-7)


@pytest.mark.parametrize(
    "build, ref",
    [
        (lambda i: i[1:] * 1.5, lambda v: v[1:] * 1.5),
        (lambda i: rd.inc_subtensor(i[:2], i[1:3]) * 1.5, lambda v: np.concatenate([v[:2] + v[1:3], v[2:]]) * 1.5),
        (lambda i: rd.set_subtensor(i[:1], 7) * 1.5, lambda v: np.concatenate([[7.0], v[1:]]) * 1.5),
        (lambda i: rd.concatenate([i, i[::-1]]) * 0.5, lambda v: np.concatenate([v, v[::-1]]) * 0.5),
        (lambda i: (i * i) * 0.25, lambda v: v * v * 0.25),
        (lambda i: i.dimshuffle("x", 0) * 2.0, lambda v: v[None, :] * 2.0),
    ],
    ids=["slice", "inc_subtensor", "set_subtensor", "join", "mul", "dimshuffle"],
)
def test_integer_valued_nodes_differentiate_as_real(build, ref):
    i = rd.ivector("i")
    y = build(i)
    u = RNG.uniform(0.5, 1.5, size=ref(np.zeros(3)).shape)
    g = rd.grad((y * u).sum(), i)
    iv = np.array([2, -1, 4], dtype="int32")
    got = rd.function([i], g)(iv)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, central_jacobian(lambda v: float((ref(v) * u).sum()), iv), rtol=1e-7, atol=1e-9)


def test_integer_cast_path_is_connected_zero():
    x = rd.vector("x")
    cost = (x * rd.cast(3.0 * x, "int32")).sum()
    xv = np.array([0.31, 1.26, -0.74])  # away from the jumps of the cast
    got = rd.function([x], rd.grad(cost, x))(xv)
    np.testing.assert_allclose(got, central_jacobian(lambda v: float((v * np.trunc(3.0 * v)).sum()), xv), rtol=1e-7)


def test_known_grads_on_integer_intermediates():
    """Each layer of known gradients reproduces the full gradient (PyTensor's test_known_grads)."""
    coeffs, t, x = rd.vector("coeffs"), rd.iscalar("t"), rd.scalar("x")
    full_range = rd.arange(10)
    ct = coeffs[t]
    p = x ** full_range[t]
    y = ct * p
    cost = rd.sqr(y)
    inputs = [coeffs, t, x]
    cv, tv, xv = RNG.normal(size=10), 3, 1.3
    full = rd.function(inputs, rd.grad(cost, inputs, disconnected_inputs="ignore"))(cv, tv, xv)
    np.testing.assert_allclose(full[0], central_jacobian(lambda c: (c[3] * xv**3) ** 2, cv), rtol=1e-6)
    np.testing.assert_allclose(full[2], central_jacobian(lambda s: (cv[3] * s**3) ** 2, np.array(xv)), rtol=1e-6)
    assert full[1] == 0.0
    for layer in ([cost], [y], [ct, p], [ct, x, full_range[t]], [coeffs, t, full_range, x]):
        first = rd.grad(cost, layer, disconnected_inputs="ignore")
        assert all(g.type.is_float for g in first)
        known = dict(zip(layer, first))
        g = rd.grad(None, inputs, known_grads=known, disconnected_inputs="ignore")
        got = rd.function(inputs, g)(cv, tv, xv)
        for a, b in zip(got, full):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_known_grads_given_for_an_integer_variable():
    i = rd.ivector("i")
    j = i[1:] * 2
    gj = rd.vector("gj")
    g = rd.grad(None, i, known_grads={j: gj})
    got = rd.function([i, gj], g)(np.array([1, 2, 3], dtype="int32"), np.array([0.5, -1.0]))
    np.testing.assert_allclose(got, [0.0, 1.0, -2.0])
    assert got.dtype == np.float64


def test_disconnected_integer_wrt_gets_float_zeros():
    x, i = rd.vector("x"), rd.ivector("i")
    g = rd.grad((x * x).sum(), i, disconnected_inputs="ignore")
    got = rd.function([i], g)(np.array([1, 2], dtype="int32"))
    assert got.dtype.kind == "f"
    np.testing.assert_array_equal(got, [0.0, 0.0])
