"""The engine sees into loops: ``rd.simplify`` (and so ``rd.function``) simplifies a loop's body with
the same rules and cuts a loop to the results read; shown on the printed result, with values
against numpy loops."""

from __future__ import annotations

import numpy as np

import rewritediff as rd

RNG = np.random.default_rng(5)


def test_the_body_is_simplified_with_the_same_rules():
    x, h0, w = rd.vector("x"), rd.scalar("h0"), rd.scalar("w")
    hs = rd.scan(lambda xt, h: rd.log(rd.exp(h * 1.0)) + xt * w, sequences=x, outputs_info=h0, return_updates=False)
    assert rd.pprint(hs) == "scan(h[t] = log(exp(1.0 * h[t-1])) + w * x[t]  for t in 0..x.shape[0], h[-1] = h0)[1:]"
    assert rd.pprint(rd.simplify(hs)) == "scan(h[t] = h[t-1] + w * x[t]  for t in 0..x.shape[0], h[-1] = h0)[1:]"
    xv = RNG.normal(size=5)
    want, h = [], 0.3
    for t in range(5):
        h = h + 0.7 * xv[t]
        want.append(h)
    f = rd.function([x, h0, w], hs)
    np.testing.assert_allclose(f(xv, 0.3, 0.7), want, rtol=1e-12)
    # the step is compiled from the simplified body, with no second run of the engine
    run = f._namespace["_l0_body"]
    assert run.simplified is True and {t.op for t in rd.terms.toposort(run.outputs)} == {"input", "add", "mul"}


def test_rules_that_assume_finite_values_stay_out_of_the_body_when_asked():
    x, h0 = rd.vector("x"), rd.scalar("h0")
    hs = rd.scan(lambda xt, h: h + (xt - xt), sequences=x, outputs_info=h0, return_updates=False)
    assert rd.pprint(rd.simplify(hs)) == "scan(h[t] = h[t-1]  for t in 0..x.shape[0], h[-1] = h0)[1:]"
    assert "x[t] - x[t]" in rd.pprint(rd.simplify(hs, finite_math=False))
    xv = np.array([1.0, np.inf])
    with np.errstate(invalid="ignore"):
        assert np.isnan(rd.function([x, h0], hs, finite_math=False)(xv, 0.0)[1])
    np.testing.assert_array_equal(rd.function([x, h0], hs)(xv, 0.0), [0.0, 0.0])


def test_results_nobody_reads_are_dropped_from_the_printed_loop():
    x, h0, w = rd.vector("x"), rd.scalar("h0"), rd.scalar("w")
    hs, ks, ys = rd.scan(
        lambda xt, h, k: (w * h + xt, k + rd.exp(xt), rd.sin(h) * k), sequences=x, outputs_info=[h0, rd.constant(0.0), None], return_updates=False
    )
    assert "exp(x[t])" in rd.pprint(hs)  # as built: one loop with all three results
    assert rd.pprint(rd.simplify(hs)) == "scan(h[t] = x[t] + w * h[t-1]  for t in 0..x.shape[0], h[-1] = h0)[1:]"
    both = rd.simplify([hs, ys])  # ys reads k: every state stays
    assert all("exp(x[t])" in rd.pprint(t) for t in both)
    xv = RNG.normal(size=4)
    h, k, want_h, want_y = 0.3, 0.0, [], []
    for t in range(4):
        want_y.append(np.sin(h) * k)
        h, k = 0.7 * h + xv[t], k + np.exp(xv[t])
        want_h.append(h)
    got = rd.function([x, h0, w], [hs, ys])(xv, 0.3, 0.7)
    np.testing.assert_allclose(got[0], want_h, rtol=1e-12)
    np.testing.assert_allclose(got[1], want_y, rtol=1e-12)
    # the gradient of the cut loop is that of the whole one
    g = rd.function([x, h0, w], rd.grad(hs.sum(), w))(xv, 0.3, 0.7)
    eps = 1e-6

    def total(wv):
        h, s = 0.3, 0.0
        for t in range(4):
            h = wv * h + xv[t]
            s += h
        return s

    np.testing.assert_allclose(g, (total(0.7 + eps) - total(0.7 - eps)) / (2 * eps), rtol=1e-7)


def test_a_nested_loop_body_is_simplified_too():
    X, h0 = rd.matrix("X"), rd.scalar("h0")

    def outer(row, h):
        inner = rd.scan(lambda v, s: s * 1.0 + rd.log(rd.exp(v * v)), sequences=row, outputs_info=h, return_updates=False)
        return inner[-1]

    hs = rd.scan(outer, sequences=X, outputs_info=h0, return_updates=False)
    assert "log(exp(" in rd.pprint(hs) and "1.0 *" in rd.pprint(hs)
    printed = rd.pprint(rd.simplify(hs))
    assert "log" not in printed and "exp" not in printed and "1.0 *" not in printed
    Xv = RNG.uniform(0.5, 1.5, size=(3, 4))
    h, want = 0.2, []
    for r in Xv:
        for v in r:
            h = h + v * v
        want.append(h)
    np.testing.assert_allclose(rd.function([X, h0], hs)(Xv, 0.2), want, rtol=1e-12)


def test_maps_of_products_of_vectors_are_vectorized_with_their_gradients():
    X, Y, w, M = rd.matrix("X"), rd.matrix("Y"), rd.vector("w"), rd.matrix("M")
    Xv, Yv, wv, Mv = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 3)), RNG.normal(size=3), RNG.normal(size=(3, 3))
    maps = {  # the step's product of vectors, and the whole map in numpy
        "row . row": (rd.map(lambda r, s: r @ s, [X, Y], return_updates=False), lambda A: np.einsum("ij,ij->i", A, Yv)),
        "dot(row, row)": (rd.map(lambda r, s: rd.dot(r, s), [X, Y], return_updates=False), lambda A: np.einsum("ij,ij->i", A, Yv)),
        "row . w": (rd.map(lambda r: r @ w, X, return_updates=False), lambda A: A @ wv),
        "w . row": (rd.map(lambda r: w @ r, X, return_updates=False), lambda A: A @ wv),
        "M . row": (rd.map(lambda r: M @ r, X, return_updates=False), lambda A: A @ Mv.T),
        "row . M": (rd.map(lambda r: r @ M, X, return_updates=False), lambda A: A @ Mv),
    }
    for what, (m, ref) in maps.items():
        cost = (rd.sin(m) * m).sum()
        f = rd.function([X, Y, w, M], [m, rd.grad(cost, X)], on_unused_input="ignore")
        assert "for _t" not in f.source, what
        got, gX = f(Xv, Yv, wv, Mv)
        np.testing.assert_allclose(got, ref(Xv), rtol=1e-12, err_msg=what)
        eps = 1e-6
        fd = np.zeros_like(Xv)
        for i in np.ndindex(Xv.shape):
            hi, lo = Xv.copy(), Xv.copy()
            hi[i] += eps
            lo[i] -= eps
            fd[i] = ((np.sin(ref(hi)) * ref(hi)).sum() - (np.sin(ref(lo)) * ref(lo)).sum()) / (2 * eps)
        np.testing.assert_allclose(gX, fd, rtol=1e-6, atol=1e-8, err_msg=what)


def test_a_loop_cut_to_a_result_with_no_recurrence_becomes_tensor_ops():
    X, h0 = rd.matrix("X"), rd.vector("h0")
    hs, ys = rd.scan(lambda x, h: (h + x, rd.exp(x) * 2.0), sequences=X, outputs_info=[h0, None], return_updates=False)
    assert rd.pprint(ys).startswith("scan(")  # as built: one loop for both results
    assert rd.pprint(rd.simplify(ys)) == "2.0 * exp(X)"  # ys reads no state: a map, vectorized
    assert all(t.startswith("out") and "scan(" in t for t in rd.pprint(rd.simplify([hs, ys])).split("\n"))
    f = rd.function([X], ys)
    assert "for _t" not in f.source
    Xv = RNG.normal(size=(4, 3))
    np.testing.assert_allclose(f(Xv), 2.0 * np.exp(Xv), rtol=1e-12)
    # n_steps that may exceed the rows of an undeclared sequence: the loop stays (it checks them)
    x = rd.vector("x")
    ks, zs = rd.scan(lambda a, k: (k + a, a * 3.0), sequences=x, outputs_info=[rd.constant(0.0), None], n_steps=2, return_updates=False)
    assert rd.pprint(rd.simplify(zs)) == "scan(y0[t] = 3.0 * x[t]  for t in 0..2)"
    np.testing.assert_allclose(rd.function([x], zs)(np.arange(5.0)), [0.0, 3.0])


def test_a_fold_written_as_a_scan_and_read_at_its_end_becomes_a_sum_or_a_product():
    x, X, w = rd.vector("x"), rd.matrix("X"), rd.vector("w")
    s = rd.scan(lambda a, acc: acc + a**2, sequences=x, outputs_info=rd.constant(0.0), return_updates=False)
    assert rd.pprint(rd.simplify(s[-1])) == "sum(sqr(x))"
    p = rd.scan(lambda row, acc: acc * rd.exp((row * w).sum()), sequences=X, outputs_info=rd.constant(1.0), return_updates=False)[-1]
    assert rd.pprint(rd.simplify(p)) == "prod(exp(sum(X * w, axis=1)))"
    f = rd.function([x, X, w], [s[-1], p])
    assert "for _t" not in f.source
    xv, Xv, wv = RNG.normal(size=4), RNG.normal(size=(4, 2)), RNG.normal(size=2)
    got = f(xv, Xv, wv)
    np.testing.assert_allclose(got, [np.sum(xv**2), np.exp((Xv @ wv).sum())], rtol=1e-12)
    # every state read: the loop stays
    both = rd.simplify([s[-1], s.sum()])
    assert all("scan(" in rd.pprint(t) for t in both)
    np.testing.assert_allclose(rd.function([x], both)(xv), [np.sum(xv**2), np.cumsum(xv**2).sum()], rtol=1e-12)
