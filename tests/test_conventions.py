"""PyTensor's gradient conventions at kinks, ties, zeros and indices (independent expected values)."""

import numpy as np

import rewritediff as rd


def g(cost, wrt, *vals):
    inputs = wrt if isinstance(wrt, list) else [wrt]
    out = rd.function(inputs, rd.grad(cost, wrt), on_unused_input="ignore")(*vals)
    return [np.asarray(o) for o in out] if isinstance(wrt, list) else np.asarray(out)


def test_max_sends_gradient_to_every_tie():
    x = rd.vector("x")
    np.testing.assert_array_equal(g(rd.max(x), x, np.array([1.0, 3.0, 3.0])), [0.0, 1.0, 1.0])


def test_maximum_tie_goes_to_first_argument():
    a, b = rd.scalar("a"), rd.scalar("b")
    ga, gb = g(rd.maximum(a, b), [a, b], 2.0, 2.0)
    assert (ga, gb) == (1.0, 0.0)
    ga, gb = g(rd.minimum(a, b), [a, b], 2.0, 2.0)
    assert (ga, gb) == (1.0, 0.0)


def test_prod_gradient_is_exact_with_zeros():
    m = rd.matrix("m")
    val = np.array([[1.0, 2, 0], [0, 5, 6], [7, 8, 9], [9, 10, 0]])
    want = np.array([[0.0, 0, 2], [30, 0, 0], [72, 63, 56], [0, 0, 90]])
    np.testing.assert_array_equal(g(rd.prod(m, axis=1).sum(), m, val), want)
    np.testing.assert_array_equal(g(rd.prod(m, axis=1).sum(), m, np.array([[0.0, 2, 0]])), [[0.0, 0, 0]])


def test_clip_passes_gradient_at_bounds():
    x = rd.scalar("x")
    assert g(rd.clip(x, x, x), x, 2.0) == 1.0
    assert g(rd.clip(x, 0.0, 1.0), x, 1.0) == 1.0
    assert g(rd.clip(x, 0.0, 1.0), x, 1.5) == 0.0


def test_switch_masks_the_gradient():
    x = rd.vector("x")
    np.testing.assert_array_equal(g(rd.switch(x > 0.0, x * 3.0, x * 5.0).sum(), x, np.array([1.0, -1.0])), [3.0, 5.0])


def test_advanced_indexing_accumulates_duplicates():
    v = rd.vector("v")
    np.testing.assert_array_equal(g(v[np.array([0, 0, 2])].sum(), v, np.zeros(4)), [2.0, 0.0, 1.0, 0.0])


def test_set_and_inc_subtensor_gradients():
    x, y = rd.vector("x"), rd.vector("y")
    cost = (rd.set_subtensor(x[1:3], y) * np.array([1.0, 2.0, 3.0, 4.0])).sum()
    gx, gy = g(cost, [x, y], np.zeros(4), np.zeros(2))
    np.testing.assert_array_equal(gx, [1.0, 0.0, 0.0, 4.0])
    np.testing.assert_array_equal(gy, [2.0, 3.0])
    cost = (rd.inc_subtensor(x[1:3], y) * np.array([1.0, 2.0, 3.0, 4.0])).sum()
    gx, gy = g(cost, [x, y], np.zeros(4), np.zeros(2))
    np.testing.assert_array_equal(gx, [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(gy, [2.0, 3.0])


def test_set_subtensor_broadcast_value_sums():
    x, s = rd.vector("x"), rd.scalar("s")
    cost = (rd.set_subtensor(x[np.array([0, 3])], s) * np.array([1.0, 2.0, 3.0, 4.0])).sum()
    gx, gs = g(cost, [x, s], np.zeros(4), 0.0)
    np.testing.assert_array_equal(gx, [0.0, 2.0, 3.0, 0.0])
    assert gs == 5.0


def test_stable_gradients_for_large_inputs():
    x = rd.vector("x")
    got = g(rd.log(rd.sum(rd.exp(x))), x, np.array([1000.0, 1000.0, -1000.0]))
    np.testing.assert_allclose(got, [0.5, 0.5, 0.0])
    got = g(rd.logsumexp(x), x, np.array([1000.0, 1000.0, -1000.0]))
    np.testing.assert_allclose(got, [0.5, 0.5, 0.0])
    got = g(rd.log_softmax(x).sum(), x, np.array([1000.0, 0.0]))
    np.testing.assert_allclose(got, [-1.0, 1.0])
    s = rd.scalar("s")
    assert g(rd.log(1.0 + rd.exp(s)), s, 800.0) == 1.0


def test_alloc_of_a_mean_has_gradient_ones():
    x = rd.vector("x")
    n = x.shape[0]
    np.testing.assert_allclose(g(rd.alloc(x.sum() / n, n).sum(), x, np.array([1.0, 2.0, 3.0])), [1.0, 1.0, 1.0])
