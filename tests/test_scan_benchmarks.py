"""The loop workloads W12 and W13: hand-written references against central differences, and
rewritediff's graphs against the references at small sizes (no timing)."""

from __future__ import annotations

import numpy as np

import rewritediff as rd
from benchmarks import cases as C
from benchmarks import hand


def test_w12_discrete_adjoint_matches_finite_differences():
    theta, u0, obs = C.lv_data(60)
    got = hand.lv_grads(theta, u0, obs)[0]
    eps = 1e-6
    fd = np.zeros(4)
    for i in range(4):
        hi, lo = theta.copy(), theta.copy()
        hi[i] += eps
        lo[i] -= eps
        fd[i] = (hand.lv_cost(hi, u0, obs) - hand.lv_cost(lo, u0, obs)) / (2 * eps)
    np.testing.assert_allclose(got, fd, rtol=1e-6)
    # the integration itself: RK4 keeps the Lotka-Volterra invariant d x - g log x + b y - a log y
    a, b, g, d = C.LV_TRUE
    U = hand.lv_states(np.array(C.LV_TRUE), u0, 500, C.LV_DT)
    inv = d * U[:, 0] - g * np.log(U[:, 0]) + b * U[:, 1] - a * np.log(U[:, 1])
    assert np.ptp(inv) < 1e-6 * abs(inv[0])


def test_w12_rewritediff_gradient_is_a_loop_and_matches_the_adjoint():
    vals = C.lv_data(80)
    ins, outs = C.rd_w12(rd, None)
    f = rd.function(ins, outs)
    assert f.source.count("for _t in range(") == 2  # the integration and its reverse loop
    np.testing.assert_allclose(f(*vals)[0], hand.lv_grads(*vals)[0], rtol=1e-11)


def test_w13_closed_form_matches_finite_differences_and_the_map_has_no_loop():
    X, a = C.lse_map_data(30, 5)
    g = hand.lse_map_grad(X, a)[0]
    eps = 1e-6
    fd = np.array([(hand.lse_map_cost(X, a + eps * e) - hand.lse_map_cost(X, a - eps * e)) / (2 * eps) for e in np.eye(5)])
    np.testing.assert_allclose(g, fd, rtol=1e-7)
    ins, outs = C.rd_w13(rd, None)
    f = rd.function(ins, outs)
    assert "for _t" not in f.source  # the map is vectorized ops: logsumexp over rows, no loop
    np.testing.assert_allclose(f(X, a)[0], g, rtol=1e-12)
    m = rd.map(lambda r: rd.logsumexp(r * ins[1]), ins[0], return_updates=False)
    assert rd.pprint(m) == "logsumexp(X * a, axis=1)"
