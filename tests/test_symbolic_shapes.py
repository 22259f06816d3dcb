"""Shapes known only at run time: gradients simplify as with static shapes, Jacobians and Hessians
are one tensor expression, lengths (``x.shape[0]``) size constructors, and the broadcasting
contract (an undeclared dim never stretches from length 1) is checked on entry."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.ops.batching import NoBatchRule
from rewritediff.verify import central_jacobian, central_partial

RNG = np.random.default_rng(7)
BOOKKEEPING = ("sum_to", "expand_like", "broadcast_like", "count(")


def _logreg(X, y, w):
    p = rd.sigmoid(X @ w)
    return -(y * rd.log(p) + (1 - y) * rd.log(1 - p)).mean()


def _shapes(static: bool, *shape: int) -> tuple:
    return shape if static else tuple(None for _ in shape)


def _quickstart(static: bool):
    X = rd.matrix("X", shape=_shapes(static, 4, 3))
    y, w = rd.vector("y", shape=_shapes(static, 4)), rd.vector("w", shape=_shapes(static, 3))
    return rd.simplify(rd.grad(_logreg(X, y, w), w))


def _mlp(static: bool):
    X, Y = rd.matrix("X", shape=_shapes(static, 5, 4)), rd.matrix("Y", shape=_shapes(static, 5, 3))
    W1, b1 = rd.matrix("W1", shape=_shapes(static, 4, 6)), rd.vector("b1", shape=_shapes(static, 6))
    W2, b2 = rd.matrix("W2", shape=_shapes(static, 6, 3)), rd.vector("b2", shape=_shapes(static, 3))
    z = rd.tanh(X @ W1 + b1) @ W2 + b2
    cost = -rd.mean(rd.sum(Y * rd.log_softmax(z, axis=1), axis=1))
    return rd.simplify(list(rd.grad(cost, [W1, b1, W2, b2])))


def _tanh_jacobian(static: bool):
    W, x = rd.matrix("W", shape=_shapes(static, 5, 5)), rd.vector("x", shape=_shapes(static, 5))
    return rd.simplify(rd.jacobian(rd.tanh(W @ x), x))


@pytest.mark.parametrize("build", [_quickstart, _mlp, _tanh_jacobian], ids=["quickstart", "mlp", "jacobian"])
def test_unknown_shapes_simplify_as_static_ones(build) -> None:
    unknown, static = build(False), build(True)
    text = rd.pprint(unknown)
    assert not [w for w in BOOKKEEPING if w in text], text
    assert rd.count_ops(unknown) == rd.count_ops(static), (text, rd.pprint(static))


def test_quickstart_mean_is_a_run_time_length() -> None:
    text = rd.pprint(_quickstart(False))
    assert "X.shape[0]" in text and "3" not in text and "0.25" not in text


def test_hessian_of_undeclared_shapes_against_finite_differences() -> None:
    X, y, w = rd.matrix("X"), rd.vector("y"), rd.vector("w")
    H = rd.hessian(_logreg(X, y, w), w)
    f = rd.function([X, y, w], H)
    Xv, yv, wv = RNG.standard_normal((7, 3)), (RNG.random(7) > 0.5).astype(float), RNG.standard_normal(3)
    p = 1 / (1 + np.exp(-Xv @ wv))
    closed = (Xv.T * (p * (1 - p))) @ Xv / len(yv)  # the logistic Hessian
    np.testing.assert_allclose(f(Xv, yv, wv), closed, rtol=1e-10, atol=1e-12)
    # another size through the same compiled function
    Xv, yv = RNG.standard_normal((11, 3)), (RNG.random(11) > 0.5).astype(float)
    p = 1 / (1 + np.exp(-Xv @ wv))
    np.testing.assert_allclose(f(Xv, yv, wv), (Xv.T * (p * (1 - p))) @ Xv / 11, rtol=1e-10, atol=1e-12)


def test_jacobian_of_undeclared_shapes_is_a_tensor_expression() -> None:
    A, x = rd.matrix("A"), rd.vector("x")
    J = rd.jacobian(rd.tanh(A @ x), x)
    f = rd.function([A, x], J)
    Av, xv = RNG.standard_normal((4, 3)), RNG.standard_normal(3)
    expected = (1 - np.tanh(Av @ xv) ** 2)[:, None] * Av
    np.testing.assert_allclose(f(Av, xv), expected, rtol=1e-12)
    assert "stack" not in rd.pprint(rd.simplify(J))


def test_jacobian_any_rank_has_pytensor_shape() -> None:
    M, W = rd.matrix("M"), rd.matrix("W")
    J = rd.jacobian(rd.sin(M @ W), W)
    Mv, Wv = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    got = rd.function([M, W], J)(Mv, Wv)
    assert got.shape == (2, 4, 3, 4)
    np.testing.assert_allclose(got, central_jacobian(lambda w: np.sin(Mv @ w), Wv), rtol=1e-6, atol=1e-8)


def test_hessian_wrt_a_matrix() -> None:
    W = rd.matrix("W")
    H = rd.hessian(rd.sum(rd.exp(W) * W.sum()), W)
    Wv = RNG.standard_normal((2, 3)) * 0.5
    got = rd.function([W], H)(Wv)
    assert got.shape == (2, 3, 2, 3)

    def grad(w):
        return np.exp(w) * w.sum() + np.exp(w).sum()

    np.testing.assert_allclose(got, central_jacobian(grad, Wv), rtol=1e-6, atol=1e-7)


def test_integer_label_cross_entropy_with_arange_of_a_length() -> None:
    z, t = rd.matrix("z"), rd.ivector("t") if hasattr(rd, "ivector") else rd.vector("t", dtype="int64")
    loss = -rd.log_softmax(z, axis=1)[rd.arange(z.shape[0]), t].mean()
    f = rd.function([z, t], [loss, rd.grad(loss, z)])
    zv, tv = RNG.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    value, g = f(zv, tv.astype(t.dtype))
    sm = np.exp(zv - zv.max(axis=1, keepdims=True))
    sm /= sm.sum(axis=1, keepdims=True)
    onehot = np.eye(4)[tv]
    np.testing.assert_allclose(value, -np.mean(np.log(sm[np.arange(5), tv])), rtol=1e-12)
    np.testing.assert_allclose(g, (sm - onehot) / 5, rtol=1e-10, atol=1e-14)


def test_constructors_take_run_time_lengths() -> None:
    x = rd.matrix("x")
    n, m = x.shape[0], x.shape[1]
    f = rd.function([x], [rd.eye(n), rd.eye(n, m), rd.arange(n), rd.arange(1, m, 2), rd.zeros((n, m)) + x])
    xv = RNG.standard_normal((3, 5))
    e, r, a, b, z = f(xv)
    np.testing.assert_array_equal(e, np.eye(3))
    np.testing.assert_array_equal(r, np.eye(3, 5))
    np.testing.assert_array_equal(a, np.arange(3))
    np.testing.assert_array_equal(b, np.arange(1, 5, 2))
    np.testing.assert_array_equal(z, xv)


# ---- the broadcasting contract: a length 1 where an undeclared dim would need stretching -------------
def _raises_broadcast(inputs, output, *values) -> str:
    f = rd.function(inputs, output)
    with pytest.raises(rd.BroadcastError) as info:
        f(*values)
    return str(info.value)


def test_elementwise_refuses_run_time_broadcasting() -> None:
    X, b = rd.matrix("X"), rd.vector("b")
    msg = _raises_broadcast([X, b], X + b, np.ones((3, 4)), np.ones(1))
    assert "add" in msg and "broadcast" in msg
    # the same graph with b declared broadcastable runs, and its gradient sums over the batch
    X, b = rd.matrix("X"), rd.vector("b", shape=(1,))
    g = rd.function([X, b], rd.grad(rd.sum((X + b) ** 2), b))(np.ones((3, 4)), np.ones(1))
    np.testing.assert_allclose(g, [2 * 2 * 12])


def test_contraction_refuses_mismatched_lengths() -> None:
    A, x = rd.matrix("A"), rd.vector("x")
    msg = _raises_broadcast([A, x], rd.tanh(A @ x), np.ones((3, 4)), np.ones(1))
    assert "dot" in msg or "matmul" in msg


def test_reduction_with_keepdims_broadcasts_only_its_declared_dim() -> None:
    X, Y = rd.matrix("X"), rd.matrix("Y")
    centred = X - Y.mean(axis=1, keepdims=True)  # the kept dim is declared 1: this broadcasts
    f = rd.function([X, Y], centred)
    Xv, Yv = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 2))
    np.testing.assert_allclose(f(Xv, Yv), Xv - Yv.mean(axis=1, keepdims=True))
    # but the rows are aligned dims of unknown length: a single row of Y does not stretch
    _raises_broadcast([X, Y], centred, Xv, Yv[:1])


def test_indexing_result_does_not_stretch() -> None:
    x, i, y = rd.vector("x"), rd.vector("i", dtype="int64"), rd.vector("y")
    _raises_broadcast([x, i, y], x[i] * y, np.ones(5), np.array([2]), np.ones(3))


def test_hvp_checks_the_tangent_shape_on_entry() -> None:
    W, V, x = rd.matrix("W"), rd.matrix("V"), rd.vector("x")
    hv = rd.hessian_vector_product(rd.sum(rd.tanh(W @ x)), W, V)
    f = rd.function([W, V, x], hv)
    with pytest.raises(rd.ShapeError):
        f(np.ones((3, 4)), np.ones((4, 3)), np.ones(4))


# ---- Jacobians of undeclared shapes over every op of the derivative table ------------------------------
def _coverage_cases() -> list:
    """The derivative table's cases (one per op and form), loaded from its test module."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).with_name("test_derivative_coverage.py")
    spec = importlib.util.spec_from_file_location("_coverage_table", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, mod.CASES


_COVERAGE, _CASES = _coverage_cases()
# gradient helpers whose second argument gives a shape along an axis of the first: no batched form yet
WITHOUT_BATCH_RULE = {"join_part", "join_embed", "unrepeat", "untile", "diag", "diag_embed_like", "einsum_grad"}
# sparse ops whose batched result would be a batch of sparse matrices (structured gradients), and
# sparse times a batch of matrices (a batch of vectors has its rule)
WITHOUT_BATCH_RULE |= {"sp_with_data", "sp_fill", "sp_sampled_dot", "sp_dot"}
# SciPy's cho_solve takes one matrix, and eigh's pair divisor one vector of eigenvalues: no stacks yet
WITHOUT_BATCH_RULE |= {"cho_solve", "gap_div"}


@pytest.mark.parametrize(("op", "shapes", "build", "domain", "rtol", "eps"), _CASES)
def test_jacobian_with_undeclared_shapes(op, shapes, build, domain, rtol, eps) -> None:
    rng = np.random.default_rng(99)
    domains = domain if isinstance(domain, list) else [domain] * len(shapes)
    # every dim of unknown length, except those the case broadcasts (declared 1, as the contract asks)
    xs_t = [rd.tensor(f"x{i}", shape=tuple(1 if d == 1 else None for d in s)) for i, s in enumerate(shapes)]
    try:
        y = build(*xs_t)
    except (TypeError, rd.RewriteDiffError) as exc:
        pytest.skip(f"the case's builder needs static shapes: {exc}")
    xs = [_COVERAGE._sample(d, s, rng) for d, s in zip(domains, shapes)]
    f = rd.function(xs_t, y)
    if not np.issubdtype(np.asarray(f(*xs)).dtype, np.floating):
        pytest.skip("integer-valued result")
    try:
        Js = rd.jacobian(y, xs_t, disconnected_inputs="ignore")
    except NoBatchRule as exc:  # only a helper known to lack a batching rule may stop it, with a clear error
        assert any(f"jacobian: {op} has no batching rule" in str(exc) for op in WITHOUT_BATCH_RULE), str(exc)
        return
    except rd.NullTypeGradError as exc:  # svd(a) of full_matrices=True: square only, which unknown dims do not prove
        if "full_matrices=False" not in str(exc):
            raise
        pytest.skip(str(exc))
    got = rd.function(xs_t, list(Js), on_unused_input="ignore")(*xs)
    for k, J in enumerate(got):
        fd = central_partial(lambda *a: np.asarray(f(*a), dtype=float), xs, k, eps)
        np.testing.assert_allclose(J, fd, rtol=rtol * 10, atol=1e-5, err_msg=f"Jacobian wrt argument {k} of {op}")


def test_hessian_of_a_squared_sum_simplifies_and_is_right() -> None:
    A, x = rd.matrix("A"), rd.vector("x")
    H = rd.simplify(rd.hessian(rd.sum(A @ x) ** 2, x))  # merging classes during n-ary flattening once lost a class
    Av, xv = RNG.standard_normal((3, 4)), RNG.standard_normal(4)
    c = Av.sum(axis=0)
    np.testing.assert_allclose(rd.function([A, x], H)(Av, xv), 2 * np.outer(c, c), rtol=1e-12, atol=1e-12)


def test_slices_with_run_time_bounds() -> None:
    x = rd.vector("x")
    n = x.shape[0]
    y = x[: n - 1] * x[1:n]
    assert rd.pprint(y) == "x[:x.shape[0] - 1] * x[1:x.shape[0]]"
    f = rd.function([x], [y, rd.grad(rd.sum(y**2), x), rd.jacobian(y, x)])
    xv = RNG.standard_normal(6)
    value, g, J = f(xv)
    np.testing.assert_allclose(value, xv[:-1] * xv[1:])
    np.testing.assert_allclose(g, central_jacobian(lambda v: np.sum((v[:-1] * v[1:]) ** 2), xv), rtol=1e-6)
    np.testing.assert_allclose(J, central_jacobian(lambda v: v[:-1] * v[1:], xv), rtol=1e-6, atol=1e-9)


def test_reshape_with_run_time_lengths() -> None:
    x = rd.tensor3("x")
    r = rd.reshape(x, (x.shape[0], -1))
    g = rd.grad(rd.sum(rd.sin(r) * r), x)
    f = rd.function([x], [r, g])
    xv = RNG.standard_normal((2, 3, 4))
    rv, gv = f(xv)
    np.testing.assert_allclose(rv, xv.reshape(2, 12))
    np.testing.assert_allclose(gv, np.cos(xv) * xv + np.sin(xv), rtol=1e-12)
    with pytest.raises(rd.RewriteDiffTypeError, match="reshape: a shape entry"):
        rd.reshape(x, (x.shape[0] * 1.5, -1))


def test_specify_shape_with_a_run_time_length() -> None:
    x, y = rd.vector("x"), rd.vector("y")
    z = rd.specify_shape(x, (y.shape[0],)) * y
    f = rd.function([x, y], [z, rd.grad(rd.sum(rd.sin(z)), x)])
    xv, yv = RNG.standard_normal(4), RNG.standard_normal(4)
    value, g = f(xv, yv)
    np.testing.assert_allclose(value, xv * yv)
    np.testing.assert_allclose(g, yv * np.cos(xv * yv), rtol=1e-12)
    with pytest.raises(rd.ShapeError):
        f(xv[:3], yv)


def test_constructors_take_a_whole_shape_term() -> None:
    X, Y = rd.matrix("X"), rd.tensor3("Y")
    f = rd.function([X, Y], [rd.zeros(X.shape), rd.full(X.shape, 2.0), rd.reshape(Y, X.shape)])
    Xv, Yv = RNG.standard_normal((2, 3)), RNG.standard_normal((1, 2, 3))
    z, full, r = f(Xv, Yv)
    np.testing.assert_array_equal(z, np.zeros((2, 3)))
    np.testing.assert_array_equal(full, np.full((2, 3), 2.0))
    np.testing.assert_array_equal(r, Yv.reshape(2, 3))


def test_pullback_without_its_forward_node_still_checks_the_contract() -> None:
    x, y, u = rd.vector("x"), rd.vector("y"), rd.vector("u")
    (gx,) = rd.Lop(x * y, [x], u)  # u * y: the product x * y is not in this graph
    f = rd.function([x, y, u], gx)
    np.testing.assert_allclose(f(np.ones(3), np.arange(3.0), np.ones(3)), [0.0, 1.0, 2.0])
    with pytest.raises(rd.BroadcastError, match=r"equal shapes required: .*x\.shape\[0\]"):
        f(np.ones(1), np.arange(3.0), np.ones(3))  # x of length 1 would have broadcast: its gradient is a sum


def test_undeclared_shapes_reuse_buffers_as_static_ones() -> None:
    def mlp_grads(static: bool):
        X, Y = rd.matrix("X", shape=_shapes(static, 64, 30)), rd.matrix("Y", shape=_shapes(static, 64, 5))
        W1, b1 = rd.matrix("W1", shape=_shapes(static, 30, 40)), rd.vector("b1", shape=_shapes(static, 40))
        W2, b2 = rd.matrix("W2", shape=_shapes(static, 40, 5)), rd.vector("b2", shape=_shapes(static, 5))
        z = rd.tanh(X @ W1 + b1) @ W2 + b2
        cost = -rd.mean(rd.sum(Y * rd.log_softmax(z, axis=1), axis=1))
        return rd.function([X, Y, W1, b1, W2, b2], list(rd.grad(cost, [W1, b1, W2, b2])), fusion="none")

    unknown, static = mlp_grads(False), mlp_grads(True)
    # an elementwise result has its aligned argument's shape (the contract), so it may be written in place
    assert unknown.source.count("out=") == static.source.count("out=") > 0
    data = [RNG.standard_normal(s) for s in ((64, 30), (64, 5), (30, 40), (40,), (40, 5), (5,))]
    for a, b in zip(unknown(*data), static(*data)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
