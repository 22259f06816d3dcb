"""Jacobians and Hessians through the linear algebra ops with unknown shapes (one batched
expression, no loop over rows), against central differences of numpy/scipy functions; and the
gradient of composite (``def``) ops whose arguments share a subgraph, which those derivatives use."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd

rd.rules.default_rules()  # the def ops of the shipped rules, registered before any registry snapshot


def _spd(x: rd.Tensor) -> rd.Tensor:
    return rd.dot(x, x.T) + 3.0 * rd.eye(x.shape[0])


def _np_spd(x: np.ndarray) -> np.ndarray:
    return x @ x.T + 3.0 * np.eye(x.shape[0])


# name: (rd builder, numpy reference, input shape); vectors and singular vectors enter squared (sign-free)
CASES = {
    "cho_solve": (lambda a: rd.linalg.cho_solve((rd.linalg.cholesky(_spd(a)), True), a[:, 0]), lambda a: np.linalg.solve(_np_spd(a), a[:, 0]), (3, 3)),
    "cho_solve_matrix": (lambda a: rd.linalg.cho_solve(rd.linalg.cho_factor(_spd(a)), a), lambda a: np.linalg.solve(_np_spd(a), a), (3, 3)),
    "logdet": (lambda a: rd.linalg.logdet(_spd(a)) * rd.ones(1), lambda a: np.linalg.slogdet(_np_spd(a))[1] * np.ones(1), (3, 3)),
    "pinv": (rd.linalg.pinv, np.linalg.pinv, (4, 3)),
    "lstsq": (lambda a: rd.linalg.lstsq(a, a[:, 0] + 1.0)[0], lambda a: np.linalg.lstsq(a, a[:, 0] + 1.0, rcond=None)[0], (4, 3)),
    "eigvalsh": (lambda a: rd.linalg.eigvalsh(_spd(a)), lambda a: np.linalg.eigvalsh(_np_spd(a)), (3, 3)),
    "eigh_vectors": (lambda a: rd.linalg.eigh(_spd(a))[1] ** 2, lambda a: np.linalg.eigh(_np_spd(a))[1] ** 2, (3, 3)),
    "svd_values": (lambda a: rd.linalg.svd(a, compute_uv=False), lambda a: np.linalg.svd(a, compute_uv=False), (4, 3)),
    "svd_u": (lambda a: rd.linalg.svd(a, full_matrices=False)[0] ** 2, lambda a: np.linalg.svd(a, full_matrices=False)[0] ** 2, (4, 3)),
    "svd_vt": (lambda a: rd.linalg.svd(a, full_matrices=False)[2] ** 2, lambda a: np.linalg.svd(a, full_matrices=False)[2] ** 2, (3, 4)),
}


def _input(shape: tuple) -> np.ndarray:
    return np.random.default_rng(21).normal(size=shape) + 2.0 * np.eye(*shape)


@pytest.mark.parametrize("name", sorted(CASES))
def test_jacobian_with_unknown_shapes(name: str) -> None:
    build, ref, shape = CASES[name]
    a = rd.matrix("a")  # no static shape: the Jacobian is one batched expression or nothing
    av = _input(shape)
    got = rd.function([a], rd.jacobian(build(a), a))(av)
    h = 1e-6
    want = np.zeros(np.shape(ref(av)) + shape)
    for i in np.ndindex(shape):
        p, m = av.copy(), av.copy()
        p[i] += h
        m[i] -= h
        want[(...,) + i] = (ref(p) - ref(m)) / (2 * h)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(CASES))
def test_hessian_with_unknown_shapes(name: str) -> None:
    build, ref, shape = CASES[name]
    rng = np.random.default_rng(22)
    w = rng.normal(size=np.shape(ref(_input(shape))))
    # logdet's second derivative goes through diag, which has no batching rule: its shape is
    # declared, and the Hessian is one pullback per row
    a = rd.matrix("a", shape=shape if name == "logdet" else (None, None))
    av = _input(shape)
    hess = rd.function([a], rd.hessian(rd.sum(rd.constant(w) * build(a) ** 2), a))(av)

    def f(x: np.ndarray) -> float:
        return float(np.sum(w * ref(x) ** 2))

    # u^T H v by central second differences (polarization), for a few random directions
    h = 1e-4
    for _ in range(3):
        u, v = rng.normal(size=shape), rng.normal(size=shape)
        want = (f(av + h * (u + v)) - f(av + h * (u - v)) - f(av - h * (u - v)) + f(av - h * (u + v))) / (4 * h * h)
        got = float(np.tensordot(u, np.tensordot(hess, v, axes=2), axes=2))
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_gradient_of_a_def_op_whose_arguments_share_a_subgraph() -> None:
    rd.rules.load_string("def twoargs(u, v) = u * exp(v) + dot(u, v)")
    a = rd.matrix("a", shape=(3, 3))
    av = np.random.default_rng(23).normal(size=(3, 3)) * 0.5
    for build, ref in (
        (lambda x: rd.apply("twoargs", x, x), lambda x: x * np.exp(x) + x @ x),  # the same argument twice
        (lambda x: rd.apply("twoargs", x, rd.sin(x)), lambda x: x * np.exp(np.sin(x)) + x @ np.sin(x)),  # one built from the other
    ):
        g = rd.function([a], rd.grad(rd.sum(build(a)), a))(av)
        h = 1e-6
        want = np.zeros_like(av)
        for i in np.ndindex(av.shape):
            p, m = av.copy(), av.copy()
            p[i] += h
            m[i] -= h
            want[i] = (np.sum(ref(p)) - np.sum(ref(m))) / (2 * h)
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)
