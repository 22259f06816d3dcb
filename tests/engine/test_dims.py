"""Symbolic dims of slices, products and dimshuffles; flattening of nested n-ary nodes; W3-style gradients."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.engine.analysis import PREDICATES, ClassRef
from rewritediff.engine.egraph import EGraph
from rewritediff.ops.dims import slice_dim

from .helpers import evaluate


def _same_shape(a: rd.Term, b: rd.Term) -> bool:
    eg = EGraph()
    ca, cb = eg.add_term(a), eg.add_term(b)
    eg.rebuild()
    return PREDICATES["same_shape"](eg, ClassRef(ca), ClassRef(cb))


def test_slices_with_the_same_clipped_offset_have_the_same_length() -> None:
    x = rd.vector("x")
    assert _same_shape(x[1:], x[:-1])
    assert _same_shape(x[1:] * 2.0 - x[:-1], x[:-1])
    assert _same_shape(x[2:], x[1:-1]) and _same_shape(x[1:][1:], x[:-2])
    assert not _same_shape(x[1:], x[2:])
    assert not _same_shape(x[1:], x)
    assert not _same_shape(x[::2], x[1::2])
    assert _same_shape(x[-3:], x[:3])
    assert not _same_shape(x[-3:], x[:2])


@pytest.mark.parametrize("bounds", [(1, None), (None, -1), (2, None), (1, -1), (None, -3), (3, -2), (-3, None), (None, 3), (0, None)])
def test_slice_tokens_are_exact_for_every_length(bounds: tuple) -> None:
    start, stop = bounds
    tok = slice_dim(("d", 0, 0), start, stop, None)
    assert tok is not None
    for n in range(0, 8):
        want = len(range(n)[start:stop])
        if tok == ("d", 0, 0):
            got = n
        elif tok[0] == "off":
            got = max(0, n - tok[2])
        else:
            got = min(n, tok[2])
        assert got == want, (bounds, n)


def test_product_and_dimshuffle_dims() -> None:
    A, B, v = rd.matrix("A"), rd.matrix("B"), rd.vector("v")
    assert _same_shape(rd.dot(A, B).T, rd.dot(B.T, A.T))
    assert _same_shape(rd.dot(A, v), A[:, 0])
    assert not _same_shape(rd.dot(A, B), A)


def test_rosenbrock_gradient_simplifies_and_keeps_its_value() -> None:
    x = rd.vector("x")
    cost = rd.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    g = rd.grad(cost, x)
    out = rd.simplify(g)
    assert rd.count_ops(out) <= 13
    assert "sum_to" not in rd.pprint(out) and "expand_like" not in rd.pprint(out)
    for n in (2, 3, 7):
        xv = np.linspace(-1.0, 1.5, n)
        np.testing.assert_allclose(evaluate(out, {x: xv}), evaluate(g, {x: xv}), rtol=1e-12, atol=1e-12)


def test_nested_products_are_flattened_and_constants_folded() -> None:
    x, y = rd.vector("x"), rd.vector("y")
    e = rd.sum_to(x * 2.0, x) * (y * 3.0)
    out = rd.simplify(e)
    assert rd.count_ops(out) == 1 and out.op == "mul"
    v = {x: np.array([1.0, 2.0]), y: np.array([3.0, -1.0])}
    np.testing.assert_allclose(evaluate(out, v), evaluate(e, v))


def test_naive_logistic_gradient_reduces_to_sigmoid_minus_label() -> None:
    X, y, w = rd.matrix("X", shape=(6, 2)), rd.vector("y", shape=(6,)), rd.vector("w", shape=(2,))
    p = rd.sigmoid(X @ w)
    loss = -(y * rd.log(p) + (1.0 - y) * rd.log(1.0 - p)).mean()
    g = rd.grad(loss, w)
    out = rd.simplify(g)
    assert rd.count_ops(out) <= 6
    rng = np.random.default_rng(3)
    Xv, yv, wv = 30.0 * rng.normal(size=(6, 2)), np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0]), rng.normal(size=2)
    want = Xv.T @ (1.0 / (1.0 + np.exp(-Xv @ wv)) - yv) / 6
    np.testing.assert_allclose(evaluate(out, {X: Xv, y: yv, w: wv}), want, rtol=1e-10, atol=1e-12)


def test_division_is_not_cancelled_by_a_possibly_zero_factor() -> None:
    x, y, z = rd.vector("x", shape=(3,)), rd.vector("y", shape=(3,)), rd.vector("z", shape=(3,))
    out = rd.simplify(x * (y / x - z))
    assert "/" in rd.pprint(out)
