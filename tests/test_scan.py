"""Symbolic loops (``rd.scan``): values against numpy loops and unrolled graphs, derivatives against
central differences of numpy references, Rop against Lop by the dot-product test, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.errors import RewriteDiffTypeError, ShapeError
from rewritediff.verify import central_directional, central_jacobian, central_partial

RNG = np.random.default_rng(11)


def _check_grads(cost: rd.Term, inputs: list, values: list[np.ndarray], reference, tol: float = 1e-6) -> None:
    """The gradient of ``cost`` w.r.t. every input against central differences of the numpy ``reference``."""
    f = rd.function(inputs, cost)
    np.testing.assert_allclose(f(*values), reference(*values), rtol=1e-10, atol=1e-12)
    grads = rd.function(inputs, rd.grad(cost, inputs))(*values)
    for k, g in enumerate(grads):
        np.testing.assert_allclose(g, central_partial(reference, values, k), rtol=tol, atol=tol, err_msg=f"gradient w.r.t. {inputs[k]}")


# ---- the Elman RNN --------------------------------------------------------------------------------------
def _elman_np(X, h0, W, U, b):
    h = h0
    hs = []
    for t in range(X.shape[0]):
        h = np.tanh(h @ W + X[t] @ U + b)
        hs.append(h)
    return np.array(hs)


def _elman_rd(X, h0, W, U, b):
    return rd.scan(lambda x, h: rd.tanh(h @ W + x @ U + b), sequences=X, outputs_info=h0, return_updates=False)


def _elman_values(T=6, B=3, D=2, H=4):
    return [RNG.normal(size=(T, B, D)), RNG.normal(size=(B, H)), 0.5 * RNG.normal(size=(H, H)), RNG.normal(size=(D, H)), RNG.normal(size=H)]


def test_elman_forward_matches_numpy_and_the_source_shows_one_loop():
    X, h0, W, U = rd.tensor3("X"), rd.matrix("h0"), rd.matrix("W"), rd.matrix("U")
    b = rd.vector("b")
    hs, updates = rd.scan(lambda x, h: rd.tanh(h @ W + x @ U + b), sequences=X, outputs_info=h0)
    assert updates == {}
    f = rd.function([X, h0, W, U, b], hs)
    vals = _elman_values()
    np.testing.assert_allclose(f(*vals), _elman_np(*vals), rtol=1e-12)
    assert f.source.count("for _t in range(") == 1
    assert "np.empty(" in f.source  # the states are preallocated and written row by row


def test_elman_gradient_matches_finite_differences():
    X, h0, W, U = rd.tensor3("X"), rd.matrix("h0"), rd.matrix("W"), rd.matrix("U")
    b = rd.vector("b")
    hs = _elman_rd(X, h0, W, U, b)
    cost = (hs[-1] ** 2).sum() + 0.5 * hs.sum()

    def ref(*v):
        out = _elman_np(*v)
        return (out[-1] ** 2).sum() + 0.5 * out.sum()

    _check_grads(cost, [X, h0, W, U, b], _elman_values(), ref)


def test_elman_gradient_matches_the_unrolled_graph():
    X, h0, W, U = rd.tensor3("X", shape=(5, 2, 3)), rd.matrix("h0"), rd.matrix("W"), rd.matrix("U")
    b = rd.vector("b")
    cost = (_elman_rd(X, h0, W, U, b)[-1] ** 3).sum()
    h = h0
    for t in range(5):
        h = rd.tanh(h @ W + X[t] @ U + b)
    unrolled = (h**3).sum()
    ins = [X, h0, W, U, b]
    vals = _elman_values(T=5, B=2, D=3, H=4)
    got = rd.function(ins, rd.grad(cost, ins))(*vals)
    want = rd.function(ins, rd.grad(unrolled, ins))(*vals)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-13)


def test_gradient_reads_the_stored_states_and_computes_only_the_adjoints_asked_for():
    X, h0, W, U = rd.tensor3("X"), rd.matrix("h0"), rd.matrix("W"), rd.matrix("U")
    b = rd.vector("b")
    cost = 0.5 * rd.sum(_elman_rd(X, h0, W, U, b)[-1] ** 2)
    f = rd.function([X, h0, W, U, b], rd.grad(cost, [W, U, b]))
    assert "set_subtensor" not in f.source  # no adjoint of X is scattered: nobody asked for it
    # the loss reads the last state only: the reverse loop starts from its adjoint, no buffer of zeros
    assert "inc_subtensor" not in f.source
    reverse = [t for t in rd.terms.toposort(f.outputs) if t.op == "scan" and t.attr("body").name == "grad"][0].attr("body")
    ops = [t.op for t in rd.terms.toposort(reverse.outputs)]
    assert "tanh" not in ops  # the step's result is read from the stored states, not computed again


def test_the_w11_hand_reference_matches_finite_differences():
    from benchmarks import hand
    from benchmarks.cases import rd_w11, rnn_data

    vals = rnn_data(T=4, batch=3, hidden=5, inputs=2)
    got = hand.rnn_grads(*vals)
    for k, pos in enumerate((2, 3, 4)):
        np.testing.assert_allclose(got[k], central_partial(hand.rnn_cost, vals, pos), rtol=1e-6, atol=1e-9)
    ins, outs = rd_w11(rd, None)
    for g, w in zip(rd.function(ins, outs)(*vals), got):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def test_symbolic_length_same_function_runs_any_length():
    x = rd.vector("x")
    a = rd.scalar("a")
    ys = rd.scan(lambda xt, y: a * y + xt, sequences=x, outputs_info=rd.constant(0.0), return_updates=False)
    f = rd.function([x, a], [ys, rd.grad(ys.sum(), a)])
    for T in (1, 4, 9):
        xv = RNG.normal(size=T)

        def ref(xv, av):
            y, out = 0.0, []
            for t in range(len(xv)):
                y = av * y + xv[t]
                out.append(y)
            return np.array(out)

        ys_v, ga = f(xv, 0.7)
        np.testing.assert_allclose(ys_v, ref(xv, 0.7), rtol=1e-12)
        np.testing.assert_allclose(ga, central_partial(lambda xv, av: ref(xv, float(av)).sum(), [xv, np.array(0.7)], 1), rtol=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_random_steps_match_the_unrolled_graph(seed):
    """Random step functions of a sequence row, two states and a non-sequence: values and gradients as unrolled."""
    rng = np.random.default_rng(100 + seed)
    unary = [rd.tanh, rd.sin, rd.sigmoid, lambda v: v * v, lambda v: -v, rd.exp]

    def program():
        """A random straight-line program over 4 inputs, drawn once so every step applies the same one."""
        code, size = [], 4
        for _ in range(int(rng.integers(3, 7))):
            if rng.random() < 0.4:
                code.append(("u", int(rng.integers(len(unary))), int(rng.integers(size))))
            else:
                code.append(("b", int(rng.integers(3)), *(int(i) for i in rng.integers(size, size=2))))
            size += 1
        return code, int(rng.integers(size))

    def run(prog, terms):
        code, extra = prog
        pool = list(terms)
        for op in code:
            if op[0] == "u":
                pool.append(unary[op[1]](pool[op[2]] * 0.5))
            else:
                a, b = pool[op[2]], pool[op[3]]
                pool.append([a + b, a * b, a - b][op[1]])
        return pool[-1] * 0.5 + pool[extra] * 0.25

    p1, p2 = program(), program()

    def step(xt, h, k, w):
        return rd.tanh(run(p1, [xt, h, k, w])), rd.sin(run(p2, [xt, h, k, w]))

    x, h0, k0, w = rd.matrix("x", shape=(4, 3)), rd.vector("h0"), rd.vector("k0"), rd.vector("w")
    hs, ks = rd.scan(step, sequences=x, outputs_info=[h0, k0], non_sequences=w, return_updates=False)
    h, k, hu, ku = h0, k0, [], []
    for t in range(4):
        h, k = step(x[t], h, k, w)
        hu.append(h)
        ku.append(k)
    ins = [x, h0, k0, w]
    cost_scan = (hs * hs).sum() + ks[-1].sum()
    cost_unrolled = (rd.stack(hu) ** 2).sum() + ku[-1].sum()
    vals = [rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)]
    got = rd.function(ins, [cost_scan, *rd.grad(cost_scan, ins, disconnected_inputs="ignore")], on_unused_input="ignore")(*vals)
    want = rd.function(ins, [cost_unrolled, *rd.grad(cost_unrolled, ins, disconnected_inputs="ignore")], on_unused_input="ignore")(*vals)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    # forward mode: the tangent loop against the pullback (dot-product test) and a second derivative
    tans = [i.type(f"d{i.name}") for i in ins]
    tv = [rng.normal(size=v.shape) for v in vals]
    jv = rd.function(ins + tans, rd.Rop([hs, ks], ins, tans, disconnected_outputs="ignore"), on_unused_input="ignore")(*vals, *tv)
    us = [rng.normal(size=(4, 3)), rng.normal(size=(4, 3))]
    uh, uk = rd.matrix("uh"), rd.matrix("uk")
    vj = rd.function([*ins, uh, uk], rd.Lop([hs, ks], ins, [uh, uk], disconnected_inputs="ignore"), on_unused_input="ignore")(*vals, *us)
    np.testing.assert_allclose(sum(np.sum(a * u) for a, u in zip(jv, us)), sum(np.sum(g * t) for g, t in zip(vj, tv)), rtol=1e-9)
    hvp = rd.function(ins + [tans[3]], rd.hessian_vector_product(cost_scan, w, tans[3], disconnected_inputs="ignore"), on_unused_input="ignore")
    hvp_u = rd.function(ins + [tans[3]], rd.hessian_vector_product(cost_unrolled, w, tans[3], disconnected_inputs="ignore"), on_unused_input="ignore")
    np.testing.assert_allclose(hvp(*vals, tv[3]), hvp_u(*vals, tv[3]), rtol=1e-9, atol=1e-11)


# ---- taps -------------------------------------------------------------------------------------------------
def _taps_np(x, z0, w):
    # sequence taps [-1, 0, 2] and state taps [-3, -1]: y[t] = w * y[t-3] + sin(y[t-1]) + x[t-1] * x[t] + x[t+2]
    n = len(x) - 3
    buf = list(z0[:3])
    for t in range(n):
        i = t + 1  # the current element of x, as PyTensor counts from the lowest tap
        buf.append(w * buf[-3] + np.sin(buf[-1]) + x[i - 1] * x[i] + x[i + 2])
    return np.array(buf[3:])


def test_taps_of_sequences_and_outputs_values_and_gradients():
    x, z0, w = rd.vector("x"), rd.vector("z0"), rd.scalar("w")
    ys = rd.scan(
        lambda xm1, x0, xp2, ym3, ym1: w * ym3 + rd.sin(ym1) + xm1 * x0 + xp2,
        sequences=dict(input=x, taps=[-1, 0, 2]),
        outputs_info=dict(initial=z0, taps=[-3, -1]),
        return_updates=False,
    )
    vals = [RNG.normal(size=9), RNG.normal(size=4), np.array(0.8)]  # z0 has one row more than the taps need
    f = rd.function([x, z0, w], ys)
    np.testing.assert_allclose(f(*vals), _taps_np(*vals), rtol=1e-12)
    cost = (ys * ys).sum()
    _check_grads(cost, [x, z0, w], vals, lambda *v: (_taps_np(*v) ** 2).sum())


@pytest.mark.parametrize("backwards", [False, True])
def test_taps_gradients_match_the_unrolled_graph(backwards):
    x, z0, w = rd.vector("x", shape=(9,)), rd.vector("z0"), rd.scalar("w")
    W = rd.matrix("W")

    def step(xm1, x0, xp2, ym3, ym1, Wn):
        return w * ym3 + rd.sin(ym1) + xm1 * x0 + xp2 + rd.sum(Wn) * 0.1

    ys = rd.scan(
        step,
        sequences=dict(input=x, taps=[-1, 0, 2]),
        outputs_info=dict(initial=z0, taps=[-3, -1]),
        non_sequences=W,
        go_backwards=backwards,
        return_updates=False,
    )
    xs = x[::-1] if backwards else x
    buf = [z0[0], z0[1], z0[2]]
    for t in range(6):
        buf.append(step(xs[t], xs[t + 1], xs[t + 3], buf[-3], buf[-1], W))
    unrolled = rd.stack(buf[3:])
    ins = [x, z0, w, W]
    vals = [RNG.normal(size=9), RNG.normal(size=3), np.array(0.8), RNG.normal(size=(2, 2))]
    f = rd.function(ins, [ys, *rd.grad((ys**2).sum(), ins)])
    g = rd.function(ins, [unrolled, *rd.grad((unrolled**2).sum(), ins)])
    for a, b in zip(f(*vals), g(*vals)):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


def test_positive_taps_only_and_several_taps_of_a_state_vector():
    x = rd.matrix("x")
    h0 = rd.matrix("h0")
    W = rd.matrix("W")

    def step(x1, x3, hm2, hm1):
        return rd.tanh(hm1 @ W + hm2 * x1 + x3)

    hs = rd.scan(step, sequences=dict(input=x, taps=[1, 3]), outputs_info=dict(initial=h0, taps=[-2, -1]), return_updates=False)

    def ref(xv, h0v, Wv):
        buf = [h0v[0], h0v[1]]
        for t in range(len(xv) - 3):
            buf.append(np.tanh(buf[-1] @ Wv + buf[-2] * xv[t + 1] + xv[t + 3]))
        return np.array(buf[2:])

    vals = [RNG.normal(size=(7, 3)), RNG.normal(size=(2, 3)), 0.4 * RNG.normal(size=(3, 3))]
    np.testing.assert_allclose(rd.function([x, h0, W], hs)(*vals), ref(*vals), rtol=1e-12)
    _check_grads((hs**2).sum(), [x, h0, W], vals, lambda *v: (ref(*v) ** 2).sum())


# ---- go_backwards, n_steps, outputs not fed back --------------------------------------------------------
def test_go_backwards_iterates_from_the_end_and_outputs_in_iteration_order():
    u, x0, win, w = rd.vector("u"), rd.scalar("x0"), rd.scalar("win"), rd.scalar("w")
    out = rd.scan(lambda ut, xt: ut * win + xt * w, sequences=u, outputs_info=x0, go_backwards=True, return_updates=False)

    def ref(uv, x0v, winv, wv):
        o, x = [], x0v
        for s in range(len(uv)):
            x = uv[len(uv) - 1 - s] * winv + x * wv
            o.append(x)
        return np.array(o)

    vals = [RNG.normal(size=4), np.array(0.3), np.array(1.2), np.array(0.9)]
    np.testing.assert_allclose(rd.function([u, x0, win, w], out)(*vals), ref(*vals), rtol=1e-12)
    _check_grads((out**2).sum(), [u, x0, win, w], vals, lambda *v: (ref(*v) ** 2).sum())


def test_symbolic_n_steps_without_sequences():
    n = rd.iscalar("n")
    A = rd.matrix("A")
    v0 = rd.vector("v0")
    vs = rd.scan(lambda v: rd.tanh(A @ v), outputs_info=v0, n_steps=n, return_updates=False)
    f = rd.function([n, A, v0], [vs, rd.grad(vs[-1].sum(), A)])
    Av, v0v = 0.5 * RNG.normal(size=(3, 3)), RNG.normal(size=3)

    def ref(Av, v0v, k):
        v, out = v0v, []
        for _ in range(k):
            v = np.tanh(Av @ v)
            out.append(v)
        return np.array(out)

    for k in (1, 5):
        got, gA = f(k, Av, v0v)
        np.testing.assert_allclose(got, ref(Av, v0v, k), rtol=1e-12)
        np.testing.assert_allclose(gA, central_partial(lambda a, v: ref(a, v, k)[-1].sum(), [Av, v0v], 0), rtol=1e-6, atol=1e-8)
    assert rd.function([n, A, v0], vs)(0, Av, v0v).shape == (0, 3)


def test_n_steps_shorter_than_the_sequence_uses_its_first_rows():
    x = rd.vector("x")
    ys = rd.scan(lambda xt, s: s + xt, sequences=x, outputs_info=rd.constant(0.0), n_steps=3, return_updates=False)
    np.testing.assert_allclose(rd.function([x], ys)(np.arange(1.0, 7.0)), [1.0, 3.0, 6.0])


def test_outputs_not_fed_back_mixed_with_states():
    x, h0, w = rd.vector("x"), rd.scalar("h0"), rd.scalar("w")
    hs, sq = rd.scan(lambda xt, h: (w * h + xt, (w * h) ** 2), sequences=x, outputs_info=[h0, None], return_updates=False)

    def ref(xv, h0v, wv):
        h, hs_, sq_ = h0v, [], []
        for t in range(len(xv)):
            sq_.append((wv * h) ** 2)
            h = wv * h + xv[t]
            hs_.append(h)
        return np.array(hs_), np.array(sq_)

    vals = [RNG.normal(size=5), np.array(0.4), np.array(0.7)]
    got = rd.function([x, h0, w], [hs, sq])(*vals)
    for g, r in zip(got, ref(*vals)):
        np.testing.assert_allclose(g, r, rtol=1e-12)
    _check_grads(hs.sum() + 3 * sq.sum(), [x, h0, w], vals, lambda *v: ref(*v)[0].sum() + 3 * ref(*v)[1].sum())


def test_free_variables_and_non_sequences_are_the_same_loop():
    x, W = rd.matrix("x"), rd.matrix("W")
    h0 = rd.vector("h0")
    WT = W.T
    a = rd.scan(lambda xt, h, Wn: rd.tanh(Wn.T @ h + xt), sequences=x, outputs_info=h0, non_sequences=W, strict=True, return_updates=False)
    b = rd.scan(lambda xt, h: rd.tanh(WT @ h + xt), sequences=x, outputs_info=h0, return_updates=False)
    vals = [RNG.normal(size=(4, 3)), 0.5 * RNG.normal(size=(3, 3)), RNG.normal(size=3)]
    fa = rd.function([x, W, h0], [a, rd.grad(a.sum(), W)])
    fb = rd.function([x, W, h0], [b, rd.grad(b.sum(), W)])
    for p, q in zip(fa(*vals), fb(*vals)):
        np.testing.assert_allclose(p, q, rtol=1e-12)
    # W.T does not depend on the step: it is computed once, outside the loop (also when W is a non-sequence)
    for loop in (a, b):
        body = loop.args[0].attr("body")
        assert all(t.op != "dimshuffle" for t in rd.terms.toposort(body.outputs))
    assert "c0 = W.T" in rd.pprint(a)


# ---- map, reduce, foldl, foldr -----------------------------------------------------------------------------
def test_map_reduce_foldl_foldr():
    x = rd.vector("x")
    y = rd.vector("y")
    xv, yv = RNG.normal(size=5), RNG.normal(size=5)
    m, upd = rd.map(lambda a, b: a * b + rd.sin(a), [x, y])
    assert upd == {}
    np.testing.assert_allclose(rd.function([x, y], m)(xv, yv), xv * yv + np.sin(xv), rtol=1e-12)
    r = rd.reduce(lambda a, acc: acc * 0.5 + a, x, rd.constant(0.0), return_updates=False)
    fl = rd.foldl(lambda a, acc: acc * 0.5 + a, x, rd.constant(0.0), return_updates=False)
    fr = rd.foldr(lambda a, acc: acc * 0.5 + a, x, rd.constant(0.0), return_updates=False)

    def fold(seq):
        acc = 0.0
        for a in seq:
            acc = acc * 0.5 + a
        return acc

    got = rd.function([x], [r, fl, fr])(xv)
    np.testing.assert_allclose(got, [fold(xv), fold(xv), fold(xv[::-1])], rtol=1e-12)
    g = rd.function([x], rd.grad(fr, x))(xv)
    np.testing.assert_allclose(g, central_partial(lambda v: fold(v[::-1]), [xv], 0), rtol=1e-7)
    gm = rd.function([x, y], rd.grad((m**2).sum(), [x, y]))(xv, yv)
    np.testing.assert_allclose(gm[0], 2 * (xv * yv + np.sin(xv)) * (yv + np.cos(xv)), rtol=1e-12)
    np.testing.assert_allclose(gm[1], 2 * (xv * yv + np.sin(xv)) * xv, rtol=1e-12)


def test_a_map_with_no_recurrence_is_vectorized_ops_with_no_loop():
    X, W = rd.matrix("X"), rd.matrix("W")
    m = rd.map(lambda r: rd.tanh(r @ W), X, return_updates=False)
    assert rd.pprint(m) == "tanh(dot(X, W))"
    f = rd.function([X, W], [m, rd.grad(m.sum(), W)])
    assert "for _t" not in f.source
    Xv, Wv = RNG.normal(size=(5, 3)), RNG.normal(size=(3, 2))
    got, gW = f(Xv, Wv)
    np.testing.assert_allclose(got, np.tanh(Xv @ Wv), rtol=1e-12)
    np.testing.assert_allclose(gW, central_partial(lambda a, b: np.tanh(a @ b).sum(), [Xv, Wv], 1), rtol=1e-6)
    # a row-by-vector product: the map is a matrix-vector product, its gradient a column sum
    w = rd.vector("w")
    mv = rd.map(lambda r: r @ w, X, return_updates=False)
    gw = rd.function([X, w], rd.grad(mv.sum(), w))(Xv, wv := RNG.normal(size=3))
    np.testing.assert_allclose(gw, Xv.sum(axis=0), rtol=1e-12)
    assert wv.shape == (3,)
    # sequences of different lengths: the first rows of each, as many as the shortest has
    x, y = rd.vector("x"), rd.vector("y")
    xy = rd.map(lambda a, b: a * b, [x, y], return_updates=False)
    assert "for _t" not in rd.function([x, y], xy).source
    np.testing.assert_allclose(rd.function([x, y], xy)(np.arange(4.0), np.arange(3.0)), [0.0, 1.0, 4.0])


def test_a_fold_over_add_or_mul_is_a_sum_or_a_product():
    x, X, w = rd.vector("x"), rd.matrix("X"), rd.vector("w")
    s = rd.reduce(lambda a, acc: acc + a**2, x, rd.constant(0.0), return_updates=False)
    assert rd.pprint(s) == "0.0 + sum(x ** 2.0)"
    p = rd.foldr(lambda a, acc: acc * rd.exp(a), x, rd.constant(1.0), return_updates=False)
    assert rd.pprint(p) == "1.0 * prod(exp(x[::-1]))"
    r = rd.foldl(lambda row, acc: acc + rd.tanh((row * w).sum()), X, rd.constant(0.5), return_updates=False)
    assert rd.pprint(r) == "0.5 + sum(tanh(sum(X * w, axis=1)))"
    f = rd.function([x, X, w], [s, p, r, *rd.grad(s + p + r, [x, w])])
    assert "for _t" not in f.source
    xv, Xv, wv = RNG.normal(size=4), RNG.normal(size=(4, 3)), RNG.normal(size=3)
    got = f(xv, Xv, wv)
    np.testing.assert_allclose(got[:3], [np.sum(xv**2), np.exp(xv.sum()), 0.5 + np.tanh(Xv @ wv).sum()], rtol=1e-12)

    def total(xv, Xv, wv):
        return np.sum(xv**2) + np.exp(xv.sum()) + 0.5 + np.tanh(Xv @ wv).sum()

    np.testing.assert_allclose(got[3], central_partial(total, [xv, Xv, wv], 0), rtol=1e-7)
    np.testing.assert_allclose(got[4], central_partial(total, [xv, Xv, wv], 2), rtol=1e-7)
    # a fold whose step scales its accumulator is a recurrence: it stays a loop
    kept = rd.reduce(lambda a, acc: acc * 0.5 + a, x, rd.constant(0.0), return_updates=False)
    assert "for _t" in rd.function([x], kept).source


def test_updates_of_shared_variables_from_the_step():
    v = rd.vector("v")
    s = rd.shared(np.array(0.0), name="s")
    out, upd = rd.scan(lambda x: (x * s, {s: s + 1.0}), sequences=v)
    assert list(upd) == [s]
    f = rd.function([v], out, updates=upd)
    np.testing.assert_allclose(f(np.array([1.0, 2.0, 3.0])), [0.0, 2.0, 6.0])  # the step reads the value of the step before
    assert rd.get_value(s) == 3.0
    np.testing.assert_allclose(f(np.array([1.0, 2.0, 3.0])), [3.0, 8.0, 15.0])
    assert rd.get_value(s) == 6.0
    with pytest.raises(ValueError, match="return_updates=False but the step function updates"):
        rd.scan(lambda x: (x * s, {s: s + 1.0}), sequences=v, return_updates=False)
    with pytest.raises(RewriteDiffTypeError, match="not a shared variable"):
        rd.scan(lambda x: (x, {v: v}), sequences=v)


def test_return_conventions():
    x = rd.vector("x")
    out = rd.scan(lambda a: 2 * a, sequences=x, return_list=True, return_updates=False)
    assert isinstance(out, list) and len(out) == 1
    outs, upd = rd.scan(lambda a: (a, a * a), sequences=[x])
    assert isinstance(outs, list) and len(outs) == 2 and upd == {}


# ---- until ----
def test_until_stops_the_loop_and_derivatives_follow_the_steps_taken():
    x0, a, n = rd.scalar("x0"), rd.scalar("a"), rd.iscalar("n")
    xs = rd.scan(lambda x: (a * x, rd.until(a * x < 1.0)), outputs_info=x0, n_steps=n, return_updates=False)
    assert rd.pprint(xs) == "scan(x[t] = a * x[t-1]  until a * x[t-1] < 1.0  for t in 0..cast(n, dtype='int64'), x[-1] = x0)[1:]"
    f = rd.function([x0, a, n], [xs, *rd.grad(xs.sum(), [x0, a])])

    def ref(x0v, av, nv):
        out, x = [], x0v
        for _ in range(nv):
            x = av * x
            out.append(x)
            if x < 1.0:
                break
        return np.array(out)

    for nv in (100, 2):
        got = f(10.0, 0.5, nv)
        np.testing.assert_allclose(got[0], ref(10.0, 0.5, nv), rtol=1e-12)
        for k in (0, 1):
            want = central_partial(lambda p, q: ref(float(p), float(q), nv).sum(), [np.array(10.0), np.array(0.5)], k, h=1e-7)
            np.testing.assert_allclose(got[1 + k], want, rtol=1e-6)
    dx0 = rd.scalar("dx0")
    np.testing.assert_allclose(rd.function([x0, a, n, dx0], rd.Rop(xs, x0, dx0))(10.0, 0.5, 100, 1.0), [0.5, 0.25, 0.125, 0.0625])


def test_until_with_a_sequence_and_an_output_not_fed_back():
    v = rd.vector("v")
    s, c = rd.scan(lambda vt, acc: (acc + vt, vt * 2, rd.until(acc + vt > 3)), sequences=v, outputs_info=[rd.constant(0.0), None], return_updates=False)
    got = rd.function([v], [s, c, rd.grad(s.sum() + c.sum(), v)])(np.array([1.0, 1.5, 2.0, 5.0]))
    np.testing.assert_allclose(got[0], [1.0, 2.5, 4.5])
    np.testing.assert_allclose(got[1], [2.0, 3.0, 4.0])
    np.testing.assert_allclose(got[2], [5.0, 4.0, 3.0, 0.0])  # d/dv of sum(cumsum(v[:3])) + 2 * sum(v[:3])


# ---- checkpoints ----
@pytest.mark.parametrize("every", [1, 3, 4, 10])
def test_scan_checkpoints_outputs_every_nth_state_and_the_same_gradient(every):
    X, h0, W, U = rd.tensor3("X"), rd.matrix("h0"), rd.matrix("W"), rd.matrix("U")

    def step(x, h):
        return rd.tanh(h @ W + x @ U)

    hs = rd.scan(step, sequences=X, outputs_info=h0, return_updates=False)
    hc, upd = rd.scan_checkpoints(step, sequences=X, outputs_info=h0, save_every_N=every)
    assert upd == {}
    ins = [X, h0, W, U]
    vals = [RNG.normal(size=(10, 2, 3)), RNG.normal(size=(2, 4)), 0.4 * RNG.normal(size=(4, 4)), RNG.normal(size=(3, 4))]
    f = rd.function(ins, [hs, hc, *rd.grad((hs[-1] ** 2).sum(), ins), *rd.grad((hc[-1] ** 2).sum(), ins)])
    got = f(*vals)
    ends = [min(k * every, 10) - 1 for k in range(1, -(-10 // every) + 1)]  # the last step of each chunk
    np.testing.assert_allclose(got[1], got[0][ends], rtol=1e-12)
    for a, b in zip(got[2:6], got[6:10]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    # the reverse pass stores chunk boundaries: the loops it runs never hold more than `every` states
    g = rd.function(ins, rd.grad((hc[-1] ** 2).sum(), ins))
    assert g.source.count("for _t in range(") == 2  # forward and reverse outer loops; the chunks run inside their bodies


# ---- truncate_gradient ---------------------------------------------------------------------------------------
def test_truncate_gradient_takes_only_the_last_steps_back():
    x, h0, w = rd.vector("x"), rd.scalar("h0"), rd.scalar("w")
    hs = rd.scan(lambda xt, h: rd.tanh(w * h + xt), sequences=x, outputs_info=h0, truncate_gradient=3, return_updates=False)
    gx, gh0, gw = rd.function([x, h0, w], rd.grad(hs.sum(), [x, h0, w]))(xv := RNG.normal(size=7), 0.3, 0.8)
    # truncated BPTT by hand: the adjoint flows back through the last 3 steps only
    T, k = len(xv), 3
    hv = [0.3]
    for t in range(T):
        hv.append(np.tanh(0.8 * hv[-1] + xv[t]))
    a = 0.0
    ex, ew = np.zeros(T), 0.0
    for t in range(T - 1, T - 1 - k, -1):
        a = a + 1.0
        d = a * (1 - hv[t + 1] ** 2)
        ex[t] = d
        ew += d * hv[t]
        a = d * 0.8
    np.testing.assert_allclose(gx, ex, rtol=1e-12)
    np.testing.assert_allclose(gw, ew, rtol=1e-12)
    np.testing.assert_allclose(gh0, a, rtol=1e-12)  # the adjoint reached after k steps back, as PyTensor returns


# ---- forward mode, second derivatives ---------------------------------------------------------------------
def test_rop_agrees_with_lop_by_the_dot_product_test_and_with_finite_differences():
    X, h0, W, U = rd.tensor3("X"), rd.matrix("h0"), rd.matrix("W"), rd.matrix("U")
    b = rd.vector("b")
    hs = _elman_rd(X, h0, W, U, b)
    ins = [X, h0, W, U, b]
    vals = _elman_values()
    tans = [i.type(f"d{i.name}") for i in ins]
    tv = [RNG.normal(size=v.shape) for v in vals]
    u = rd.tensor3("u")
    uv = RNG.normal(size=(6, 3, 4))
    jv = rd.function(ins + tans, rd.Rop(hs, ins, tans))(*vals, *tv)
    vj = rd.function([*ins, u], rd.Lop(hs, ins, u))(*vals, uv)
    np.testing.assert_allclose(np.sum(jv * uv), sum(np.sum(g * t) for g, t in zip(vj, tv)), rtol=1e-10)
    np.testing.assert_allclose(jv, central_directional(_elman_np, vals, tv), rtol=1e-6, atol=1e-8)
    assert "for _t in range(" in rd.function(ins + tans, rd.Rop(hs, ins, tans)).source


def test_hessian_vector_product_through_a_scan():
    x, h0, w = rd.vector("x"), rd.scalar("h0"), rd.vector("w")
    p = rd.vector("p")
    hs = rd.scan(lambda xt, h: rd.tanh(h * w.sum() + xt * w[0]), sequences=x, outputs_info=h0, return_updates=False)
    cost = (hs**2).sum()
    hvp = rd.function([x, h0, w, p], rd.hessian_vector_product(cost, w, p))

    def grad_w(xv, h0v, wv):
        return rd.function([x, h0, w], rd.grad(cost, w))(xv, h0v, wv)

    xv, wv, pv = RNG.normal(size=5), RNG.normal(size=2) * 0.5, RNG.normal(size=2)
    want = central_directional(lambda v: grad_w(xv, 0.2, v), [wv], [pv])
    np.testing.assert_allclose(hvp(xv, 0.2, wv, pv), want, rtol=1e-6, atol=1e-9)


def test_jacobian_through_a_scan_with_static_shapes():
    x = rd.vector("x", shape=(4,))
    w = rd.scalar("w")
    ys = rd.scan(lambda xt, y: rd.sin(w * y) + xt, sequences=x, outputs_info=rd.constant(0.1), return_updates=False)
    J = rd.function([x, w], rd.jacobian(ys, x))(xv := RNG.normal(size=4), 0.7)

    def ref(v):
        y, out = 0.1, []
        for t in range(4):
            y = np.sin(0.7 * y) + v[t]
            out.append(y)
        return np.array(out)

    np.testing.assert_allclose(J, central_jacobian(ref, xv), rtol=1e-6, atol=1e-9)


def test_jacobian_and_hessian_with_run_time_shapes_batch_the_loop():
    x, h0, W = rd.matrix("x"), rd.vector("h0"), rd.matrix("W")
    hs = rd.scan(lambda xt, h: rd.tanh(W @ h + xt), sequences=x, outputs_info=h0, return_updates=False)
    J = rd.jacobian(hs[-1], W)
    H = rd.hessian((hs[-1] ** 2).sum(), h0)
    f = rd.function([x, h0, W], [J, H])
    assert f.source.count("for _t in range(") >= 2  # one loop over a batch of cotangents, not one per row
    vals = [RNG.normal(size=(4, 3)), RNG.normal(size=3), 0.5 * RNG.normal(size=(3, 3))]

    def last(xv, h0v, Wv):
        h = h0v
        for t in range(len(xv)):
            h = np.tanh(Wv @ h + xv[t])
        return h

    Jv, Hv = f(*vals)
    np.testing.assert_allclose(Jv, central_partial(last, vals, 2), rtol=1e-6, atol=1e-9)
    grad_h0 = rd.function([x, h0, W], rd.grad((hs[-1] ** 2).sum(), h0))
    np.testing.assert_allclose(Hv, central_partial(grad_h0, vals, 1), rtol=1e-6, atol=1e-8)


def test_nested_scans_values_and_gradient():
    X = rd.matrix("X")
    w = rd.scalar("w")

    def row_sum(r):
        return rd.scan(lambda a, s: s * w + a, sequences=r, outputs_info=rd.constant(0.0), return_updates=False)[-1]

    out = rd.scan(lambda r, acc: acc + rd.tanh(row_sum(r)), sequences=X, outputs_info=rd.constant(0.0), return_updates=False)

    def ref(Xv, wv):
        acc, res = 0.0, []
        for r in Xv:
            s = 0.0
            for a in r:
                s = s * wv + a
            acc = acc + np.tanh(s)
            res.append(acc)
        return np.array(res)

    vals = [RNG.normal(size=(3, 4)), np.array(0.6)]
    np.testing.assert_allclose(rd.function([X, w], out)(*vals), ref(*vals), rtol=1e-12)
    _check_grads(out[-1], [X, w], vals, lambda *v: ref(*v)[-1])


def test_scans_nested_three_deep():
    X = rd.tensor3("X")
    w = rd.scalar("w")

    def inner(v):
        return rd.scan(lambda a, s: rd.sin(s * w + a), sequences=v, outputs_info=rd.constant(0.0), return_updates=False)[-1]

    def middle(M):
        return rd.scan(lambda r, s: s + inner(r), sequences=M, outputs_info=rd.constant(0.0), return_updates=False)[-1]

    out = rd.scan(lambda M, s: s * 0.5 + middle(M), sequences=X, outputs_info=rd.constant(0.0), return_updates=False)

    def ref(Xv, wv):
        res, s3 = [], 0.0
        for M in Xv:
            s2 = 0.0
            for r in M:
                s1 = 0.0
                for a in r:
                    s1 = np.sin(s1 * wv + a)
                s2 = s2 + s1
            s3 = s3 * 0.5 + s2
            res.append(s3)
        return np.array(res)

    vals = [RNG.normal(size=(2, 3, 4)), np.array(0.7)]
    np.testing.assert_allclose(rd.function([X, w], out)(*vals), ref(*vals), rtol=1e-12)
    _check_grads(out.sum(), [X, w], vals, lambda *v: ref(*v).sum())


def test_integer_states_carry_no_gradient_and_rop_of_several_outputs():
    x, h0, w = rd.vector("x"), rd.scalar("h0"), rd.scalar("w")
    k0 = rd.constant(np.int64(0))
    hs, ks, ys = rd.scan(
        lambda xt, h, k: (w * h + xt * rd.cast(k, "float64"), k + 1, rd.sin(h) * w), sequences=x, outputs_info=[h0, k0, None], return_updates=False
    )

    def ref(xv, h0v, wv):
        h, out_h, out_y = h0v, [], []
        for t in range(len(xv)):
            out_y.append(np.sin(h) * wv)
            h = wv * h + xv[t] * t
            out_h.append(h)
        return np.array(out_h), np.array(out_y)

    vals = [RNG.normal(size=5), np.array(0.4), np.array(0.9)]
    got = rd.function([x, h0, w], [hs, ks, ys])(*vals)
    np.testing.assert_allclose(got[0], ref(*vals)[0], rtol=1e-12)
    np.testing.assert_array_equal(got[1], np.arange(1, 6))
    np.testing.assert_allclose(got[2], ref(*vals)[1], rtol=1e-12)
    _check_grads(hs.sum() + ys.sum(), [x, h0, w], vals, lambda *v: ref(*v)[0].sum() + ref(*v)[1].sum())
    dx, dh0, dw = rd.vector("dx"), rd.scalar("dh0"), rd.scalar("dw")
    jv = rd.function([x, h0, w, dx, dh0, dw], rd.Rop([hs, ys], [x, h0, w], [dx, dh0, dw]))
    tv = [RNG.normal(size=5), np.array(0.3), np.array(-0.2)]
    for j, got_t in enumerate(jv(*vals, *tv)):
        np.testing.assert_allclose(got_t, central_directional(lambda *v, j=j: ref(*v)[j], vals, tv), rtol=1e-6, atol=1e-9)


def test_rop_with_taps_and_go_backwards_agrees_with_lop():
    x, z0, w = rd.vector("x"), rd.vector("z0"), rd.scalar("w")
    ys = rd.scan(
        lambda xm1, x0, xp2, ym3, ym1: w * ym3 + rd.sin(ym1) + xm1 * x0 + xp2,
        sequences=dict(input=x, taps=[-1, 0, 2]),
        outputs_info=dict(initial=z0, taps=[-3, -1]),
        go_backwards=True,
        return_updates=False,
    )
    ins = [x, z0, w]
    tans = [i.type(f"d{i.name}") for i in ins]
    u = rd.vector("u")
    vals = [RNG.normal(size=9), RNG.normal(size=3), np.array(0.8)]
    tv = [RNG.normal(size=v.shape) for v in vals]
    uv = RNG.normal(size=6)
    jv = rd.function(ins + tans, rd.Rop(ys, ins, tans))(*vals, *tv)
    vj = rd.function([*ins, u], rd.Lop(ys, ins, u))(*vals, uv)
    np.testing.assert_allclose(np.sum(jv * uv), sum(np.sum(g * t) for g, t in zip(vj, tv)), rtol=1e-10)
    # go_backwards reverses the sequence, then the taps apply (PyTensor's order)
    for k in range(3):
        want = central_partial(lambda *v: np.sum(_taps_np(v[0][::-1], v[1], v[2]) * uv), vals, k)
        np.testing.assert_allclose(vj[k], want, rtol=1e-6, atol=1e-9)


def test_the_body_is_compiled_with_the_functions_options():
    x, h0 = rd.vector("x"), rd.scalar("h0")
    ys = rd.scan(lambda xt, h: h * 0.0 + xt, sequences=x, outputs_info=h0, return_updates=False)
    xv = np.array([1.0, 2.0])
    np.testing.assert_array_equal(rd.function([x, h0], ys)(xv, np.nan), [1.0, 2.0])  # h * 0 is 0 for finite h
    assert np.isnan(rd.function([x, h0], ys, finite_math=False)(xv, np.nan)).all()  # NaN propagates, as numpy


def test_results_nobody_reads_are_not_computed():
    x, h0, w = rd.vector("x"), rd.scalar("h0"), rd.scalar("w")
    k0 = rd.constant(0.0)
    hs, ks, ys = rd.scan(lambda xt, h, k: (w * h + xt, k + rd.exp(xt), rd.sin(h) * k), sequences=x, outputs_info=[h0, k0, None], return_updates=False)
    f = rd.function([x, h0, w], hs)
    run = f._namespace["_l0_body"]  # the loop as run: one state, one result, no exp
    assert len(run.outputs) == 1 and run.n_states == 1 and f.source.count("np.empty(") == 1
    assert all(t.op != "exp" for t in rd.terms.toposort(run.outputs))
    xv = RNG.normal(size=4)
    h, want = 0.3, []
    for t in range(4):
        h = 0.7 * h + xv[t]
        want.append(h)
    np.testing.assert_allclose(f(xv, 0.3, 0.7), want, rtol=1e-12)
    g = rd.function([x, h0, w], ys)  # ys reads h and k: both states are computed
    k, h, want = 0.0, 0.3, []
    for t in range(4):
        want.append(np.sin(h) * k)
        h, k = 0.7 * h + xv[t], k + np.exp(xv[t])
    np.testing.assert_allclose(g(xv, 0.3, 0.7), want, rtol=1e-12)


def test_long_sequences_run_without_recursion():
    x = rd.vector("x")
    ys = rd.scan(lambda xt, s: 0.5 * s + xt, sequences=x, outputs_info=rd.constant(0.0), return_updates=False)
    f = rd.function([x], [ys[-1], rd.grad(ys[-1], x)])
    last, g = f(np.ones(100_000))
    assert last == pytest.approx(2.0)
    np.testing.assert_allclose(g[-3:], [0.25, 0.5, 1.0])


def test_pprint_shows_a_scan_as_its_recurrence():
    x, h0, W, U = rd.matrix("x"), rd.vector("h0"), rd.matrix("W"), rd.matrix("U")
    hs = rd.scan(lambda xt, h: rd.tanh(W @ h + U @ xt), sequences=x, outputs_info=h0, return_updates=False)
    assert rd.pprint(hs) == "scan(h[t] = tanh(dot(W, h[t-1]) + dot(U, x[t]))  for t in 0..x.shape[0], h[-1] = h0)[1:]"
    assert (
        rd.latex(hs)
        == r"\text{scan(h[t] = tanh(dot(W, h[t-1]) + dot(U, x[t]))  for t in 0..}\operatorname{shape\_i}\left(x\right)\text{, h[-1] = }h_{0}\text{)}\left[1:\right]"
    )
    ys = rd.scan(
        lambda a, b, y3, y1: y1 + a * y3 * b,
        sequences=dict(input=x, taps=[0, 2]),
        outputs_info=dict(initial=rd.matrix("y0"), taps=[-3, -1]),
        return_updates=False,
    )
    assert rd.pprint(ys) == "scan(y[t] = y[t-1] + x[t+2] * x[t] * y[t-3]  for t in 0..x.shape[0] - 2, y[-3:] = y0[:3])[3:]"


def test_generated_code_and_printing_do_not_depend_on_the_hash_seed():
    import os
    import pathlib
    import subprocess
    import sys

    script = (
        "import rewritediff as rd\n"
        "x, z0, w = rd.vector('x'), rd.vector('z0'), rd.scalar('w')\n"
        "ys = rd.scan(lambda a, b, y3, y1: w * y3 + rd.sin(y1) * a + b, sequences=dict(input=x, taps=[0, 1]),"
        " outputs_info=dict(initial=z0, taps=[-3, -1]), return_updates=False)\n"
        "g = rd.grad((ys ** 2).sum(), [x, z0, w])\n"
        "print(rd.pprint(g)); print(rd.function([x, z0, w], g).source)\n"
    )
    root = str(pathlib.Path(__file__).resolve().parents[1])
    outs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": root}
        outs.add(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout)
    assert len(outs) == 1


# ---- errors -----------------------------------------------------------------------------------------------------
def test_error_when_the_state_changes_dtype_or_shape():
    x = rd.vector("x")
    h0 = rd.vector("h0")
    with pytest.raises(RewriteDiffTypeError, match=r"output 0 of the step function has dtype float32 but its initial state"):
        rd.scan(lambda xt, h: rd.cast(h, "float32"), sequences=x, outputs_info=h0)
    with pytest.raises(ShapeError, match=r"output 0 .* has shape float64\[\?,\?\] but its initial state"):
        rd.scan(lambda xt, h: rd.outer(h, h), sequences=x, outputs_info=h0)
    # a shape that changes only at run time: the step and the output are named
    ys = rd.scan(lambda xt, h: rd.concatenate([h, h])[:2], sequences=x, outputs_info=h0, return_updates=False)
    f = rd.function([x, h0], ys)
    with pytest.raises(ShapeError, match=r"output 0 of the step function has shape \(2,\) at step 0, its state has shape \(3,\)"):
        f(np.ones(4), np.ones(3))


def test_error_for_wrong_taps():
    x = rd.vector("x")
    z = rd.vector("z")
    with pytest.raises(ValueError, match="must be negative"):
        rd.scan(lambda a, b: b, sequences=x, outputs_info=dict(initial=z, taps=[1]))
    with pytest.raises(ValueError, match="must be different"):
        rd.scan(lambda a, b, c: b, sequences=x, outputs_info=dict(initial=z, taps=[-1, -1]))
    with pytest.raises(ValueError, match="repeats a tap"):
        rd.scan(lambda a, b: a, sequences=dict(input=x, taps=[0, 0]))
    with pytest.raises(ValueError, match="taps .* but no initial state"):
        rd.scan(lambda a, b: a, sequences=x, outputs_info=dict(taps=[-1]))
    with pytest.raises(ShapeError, match="needs at least 3 rows; it has 2"):
        rd.scan(lambda a, b, c: b, sequences=x, outputs_info=dict(initial=rd.vector("z2", shape=(2,)), taps=[-3, -1]))
    with pytest.raises(ValueError, match="returned 1 output.* outputs_info describes 2"):
        rd.scan(lambda a, b, c: b, sequences=x, outputs_info=[z, z])


def test_error_when_n_steps_disagrees_with_the_sequences():
    x = rd.vector("x")
    n = rd.iscalar("n")
    ys = rd.scan(lambda a, a1, s: s + a * a1, sequences=dict(input=x, taps=[0, 1]), outputs_info=rd.constant(0.0), n_steps=n, name="acc", return_updates=False)
    f = rd.function([x, n], ys)
    assert f(np.ones(5), 4).shape == (4,)
    with pytest.raises(ShapeError, match=r"scan 'acc': n_steps is 5 but sequences\[0\] \(x\) has 5 rows, 4 steps"):
        f(np.ones(5), 5)
    with pytest.raises(ShapeError, match="n_steps is -1"):
        f(np.ones(5), -1)
    with pytest.raises(ShapeError, match="n_steps is 6 but sequences"):
        rd.scan(lambda a, s: s + a, sequences=rd.vector("y", shape=(4,)), outputs_info=rd.constant(0.0), n_steps=6)
    m = rd.scan(lambda a: 2 * a, sequences=x, n_steps=n, return_updates=False)  # a map, kept a loop: n may exceed x's rows
    np.testing.assert_allclose(rd.function([x, n], m)(np.arange(4.0), 2), [0.0, 2.0])
    with pytest.raises(ShapeError, match=r"n_steps is 5 but sequences\[0\] \(x\) has 4 rows"):
        rd.function([x, n], m)(np.arange(4.0), 5)
    with pytest.raises(ValueError, match="give n_steps or at least one sequence"):
        rd.scan(lambda s: s, outputs_info=rd.constant(0.0))
    with pytest.raises(ValueError, match="n_steps must be an integer"):
        rd.scan(lambda s: s, outputs_info=rd.constant(0.0), n_steps=rd.scalar("m"))
    with pytest.raises(RewriteDiffTypeError, match="strict=True but the step function reads"):
        w = rd.scalar("w")
        rd.scan(lambda a: a * w, sequences=x, strict=True)
