"""``rd.scan(..., checkpoint=k)``: the reverse pass keeps one state in k and runs each chunk forward
again; its gradients are those of every state stored (against ``checkpoint=None`` and central
differences of numpy references), for less memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.verify import central_partial

RNG = np.random.default_rng(23)


def _elman_np(X, h0, W, U, b):
    h, hs = h0, []
    for t in range(X.shape[0]):
        h = np.tanh(h @ W + X[t] @ U + b)
        hs.append(h)
    return np.array(hs)


def _elman(k):
    X, h0, W, U, b = rd.tensor3("X"), rd.matrix("h0"), rd.matrix("W"), rd.matrix("U"), rd.vector("b")
    hs = rd.scan(lambda x, h: rd.tanh(h @ W + x @ U + b), sequences=X, outputs_info=h0, return_updates=False, checkpoint=k)
    return [X, h0, W, U, b], hs


def _elman_values(T=10):
    return [RNG.normal(size=(T, 3, 2)), RNG.normal(size=(3, 4)), 0.5 * RNG.normal(size=(4, 4)), RNG.normal(size=(2, 4)), RNG.normal(size=4)]


@pytest.mark.parametrize("k", [2, 3, 4, 10, 25])
@pytest.mark.parametrize("loss", ["last", "every"])
def test_checkpointed_gradients_equal_those_of_every_state_stored_and_finite_differences(k, loss):
    vals = _elman_values()

    def cost(hs):
        return (hs[-1] ** 2).sum() if loss == "last" else (hs[-1] ** 2).sum() + (rd.sin(hs) * hs).sum()

    def ref(*v):
        out = _elman_np(*v)
        return (out[-1] ** 2).sum() + (0 if loss == "last" else (np.sin(out) * out).sum())

    ins, hs = _elman(k)
    got = rd.function(ins, rd.grad(cost(hs), ins))(*vals)
    ins0, hs0 = _elman(None)
    want = rd.function(ins0, rd.grad(cost(hs0), ins0))(*vals)
    for i, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(g, central_partial(ref, vals, i), rtol=1e-6, atol=1e-7, err_msg=f"gradient w.r.t. {ins[i]}")


def test_the_gradient_runs_the_chunked_loop_only():
    ins, hs = _elman(4)
    f = rd.function(ins, rd.grad(0.5 * (hs[-1] ** 2).sum(), ins[2:]))
    # one forward loop over the chunks (it stores their boundaries) and one reverse loop over
    # them; the loop of every step (the value of hs) is not run, and no other loop either
    assert f.source.count("for _t in range(") == 2
    kept = [v for name, v in f._namespace.items() if name.endswith("_body")]
    assert sorted(b.name for b in kept) == ["checkpoints", "grad_of_checkpoints"]
    # the forward loop's step is itself a loop of at most 4 steps that returns its last state
    inner = [t for t in rd.terms.toposort(list(kept[0].outputs)) if t.op == "scan"]
    assert inner and all(t.attr("body").name == "chunk" for t in inner)


def test_the_reverse_pass_holds_about_one_state_in_k():
    T = 1600
    vals = [RNG.normal(size=(T, 16, 4)), RNG.normal(size=(16, 32)), 0.2 * RNG.normal(size=(32, 32)), RNG.normal(size=(4, 32)), RNG.normal(size=32)]
    state_mb = (T + 1) * 16 * 32 * 8 / 2**20
    peaks = {}
    for k in (None, 20):
        ins, hs = _elman(k)
        f = rd.function(ins, rd.grad(0.5 * (hs[-1] ** 2).sum(), ins[2:]))
        f(*vals)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            f(*vals)
            peaks[k] = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()
    assert peaks[None] > state_mb  # every state stored
    assert peaks[20] < state_mb / 8  # 81 boundaries and one chunk of 20 states at a time


def test_taps_outputs_not_fed_back_non_sequences_and_sequence_adjoints():
    x, z0, w, W = rd.vector("x"), rd.vector("z0"), rd.scalar("w"), rd.matrix("W")

    def step(xm1, x0, xp2, ym3, ym1, Wn):
        y = w * ym3 + rd.sin(ym1) + xm1 * x0 + xp2 + rd.sum(Wn) * 0.1
        return y, rd.cos(y) * x0

    def np_loop(xv, z0v, wv, Wv):
        buf, side = list(z0v[:3]), []
        for t in range(len(xv) - 3):
            i = t + 1
            y = wv * buf[-3] + np.sin(buf[-1]) + xv[i - 1] * xv[i] + xv[i + 2] + Wv.sum() * 0.1
            buf.append(y)
            side.append(np.cos(y) * xv[i])
        return np.array(buf[3:]), np.array(side)

    def ref(*v):
        ys, side = np_loop(*v)
        return (ys**2).sum() + (side * np.arange(len(side))).sum()

    ins = [x, z0, w, W]
    vals = [RNG.normal(size=12), RNG.normal(size=3), np.array(0.6), RNG.normal(size=(2, 2))]
    grads = {}
    for k in (None, 4):
        ys, side = rd.scan(
            step,
            sequences=dict(input=x, taps=[-1, 0, 2]),
            outputs_info=[dict(initial=z0, taps=[-3, -1]), None],
            non_sequences=W,
            return_updates=False,
            checkpoint=k,
        )
        cost = (ys**2).sum() + (side * rd.arange(side.shape[0])).sum()
        f = rd.function(ins, [cost, *rd.grad(cost, ins)])
        out = f(*vals)
        np.testing.assert_allclose(out[0], ref(*vals), rtol=1e-12)
        grads[k] = out[1:]
    for i, (g, g0) in enumerate(zip(grads[4], grads[None])):
        np.testing.assert_allclose(g, g0, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(g, central_partial(ref, vals, i), rtol=1e-6, atol=1e-7)


def test_go_backwards_symbolic_n_steps_and_a_hessian_vector_product():
    x, h0, a = rd.vector("x"), rd.scalar("h0"), rd.scalar("a")
    xv = RNG.normal(size=7)
    out = {}
    for k in (None, 3):
        ys = rd.scan(lambda xt, h: rd.tanh(a * h + xt), sequences=x, outputs_info=h0, go_backwards=True, return_updates=False, checkpoint=k)
        cost = (ys[-1] ** 2) + ys.sum()
        v = rd.scalar("v")
        hv = rd.hessian_vector_product(cost, a, v)
        out[k] = rd.function([x, h0, a, v], [*rd.grad(cost, [x, h0, a]), hv])(xv, 0.2, 0.7, 1.3)
    for g, g0 in zip(out[3], out[None]):
        np.testing.assert_allclose(g, g0, rtol=1e-11, atol=1e-12)

    def ref(xv, h0v, av):
        h, hs = h0v, []
        for t in range(len(xv) - 1, -1, -1):
            h = np.tanh(av * h + xv[t])
            hs.append(h)
        return hs[-1] ** 2 + sum(hs)

    np.testing.assert_allclose(out[3][2], central_partial(ref, [xv, np.array(0.2), np.array(0.7)], 2), rtol=1e-7)
    # n_steps from a run-time scalar, no sequence: 0, 1 and several chunks
    n, s0, c = rd.iscalar("n"), rd.scalar("s0"), rd.scalar("c")
    for k in (None, 4):
        ss = rd.scan(lambda s: rd.sin(c * s) + s, outputs_info=s0, n_steps=n, return_updates=False, checkpoint=k)
        out[k] = [rd.function([n, s0, c], rd.grad(ss[-1], c))(m, 0.3, 0.9) for m in (1, 4, 9)]
    np.testing.assert_allclose(out[4], out[None], rtol=1e-12)


def test_a_value_read_only_at_its_last_state_keeps_one_state():
    ins, hs = _elman(None)
    f = rd.function(ins, (hs[-1] ** 2).sum())
    assert "np.empty((1 + " not in f.source  # no buffer of every state: the loop carries its last one
    vals = _elman_values()
    np.testing.assert_allclose(f(*vals), (_elman_np(*vals)[-1] ** 2).sum(), rtol=1e-12)
    g = rd.function(ins, [hs[-1], hs.sum()])  # read whole: every state is kept
    assert "np.empty((1 + " in g.source
    np.testing.assert_allclose(g(*vals)[0], _elman_np(*vals)[-1], rtol=1e-12)


def test_checkpoint_errors():
    x, h0 = rd.vector("x"), rd.scalar("h0")
    with pytest.raises(ValueError, match="checkpoint must be None or a positive number of steps, got 0"):
        rd.scan(lambda xt, h: h + xt, sequences=x, outputs_info=h0, checkpoint=0)
    with pytest.raises(ValueError, match="checkpoint=5 with truncate_gradient=3"):
        rd.scan(lambda xt, h: h + xt, sequences=x, outputs_info=h0, checkpoint=5, truncate_gradient=3)
    with pytest.raises(ValueError, match=r"checkpoint=5 with until\(...\)"):
        rd.scan(lambda xt, h: (h + xt, rd.until(h > 2)), sequences=x, outputs_info=h0, checkpoint=5)


def test_a_loop_in_the_step_and_updates_of_shared_variables():
    X, h0, c = rd.matrix("X"), rd.scalar("h0"), rd.scalar("c")

    def outer(row, h):
        inner = rd.scan(lambda v, s: rd.sin(c * s) + v, sequences=row, outputs_info=h, return_updates=False)
        return inner[-1]

    def ref(Xv, h0v, cv):
        h, total = h0v, 0.0
        for row in Xv:
            for v in row:
                h = np.sin(cv * h) + v
            total += h**2
        return total

    vals = [RNG.normal(size=(7, 3)), np.array(0.2), np.array(0.8)]
    hs = rd.scan(outer, sequences=X, outputs_info=h0, return_updates=False, checkpoint=3)
    cost = (hs**2).sum()
    got = rd.function([X, h0, c], [cost, *rd.grad(cost, [X, h0, c])])(*vals)
    np.testing.assert_allclose(got[0], ref(*vals), rtol=1e-12)
    for i in range(3):
        np.testing.assert_allclose(got[1 + i], central_partial(ref, vals, i), rtol=1e-6, atol=1e-8)
    # a step that updates a shared variable: the update and the gradient are those of checkpoint=None
    v = rd.vector("v")
    s = rd.shared(np.array(0.0), name="s")
    out, upd = rd.scan(lambda x, h: (h * 0.5 + x * s, {s: s + 1.0}), sequences=v, outputs_info=rd.constant(0.0), checkpoint=2)
    values, grad = rd.function([v], [out, rd.grad(out.sum(), v)], updates=upd)(np.arange(5.0))
    h, want = 0.0, []
    for t in range(5):
        h = 0.5 * h + t * t  # s is t at step t
        want.append(h)
    np.testing.assert_allclose(values, want, rtol=1e-12)
    np.testing.assert_allclose(grad, [t * sum(0.5**j for j in range(5 - t)) for t in range(5)], rtol=1e-12)
    assert s.get_value() == 5.0
