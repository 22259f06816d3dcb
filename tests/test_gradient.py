"""The pytensor.gradient API, option by option, against closed forms and finite differences."""

import warnings

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.verify import central_directional, central_jacobian

RNG = np.random.default_rng(0)


def ev(outputs, inputs, *vals):
    return rd.function(inputs, outputs, on_unused_input="ignore")(*vals)


# ---- containers and cost checks -------------------------------------------------------------
def test_container_follows_wrt():
    x, y = rd.vector("x"), rd.vector("y")
    c = (x * y).sum()
    assert isinstance(rd.grad(c, [x, y]), list)
    assert isinstance(rd.grad(c, (x, y)), tuple)
    assert isinstance(rd.grad(c, x), rd.Term)


def test_cost_validation():
    x = rd.vector("x")
    with pytest.raises(TypeError, match="Cost must be a scalar"):
        rd.grad(x * 2.0, x)
    with pytest.raises(ValueError):
        rd.grad(None, x)
    with pytest.raises(ValueError, match="NaN cost"):
        rd.grad(rd.NullType("because")(), x)


def test_unit_seed_and_int_cost():
    i = rd.iscalar("i")
    g = rd.grad(i, i)
    assert g.dtype == "float64"
    assert ev(g, [i], 3) == 1.0
    c = rd.scalar("c")
    assert ev(rd.grad(c, c), [c], 2.0) == 1.0


# ---- values against closed forms -------------------------------------------------------------
def test_logistic_regression_matches_hand_gradient():
    X, y, w = rd.matrix("X"), rd.vector("y"), rd.vector("w")
    lam = 0.1
    cost = rd.mean(rd.log1p(rd.exp(-y * (X @ w)))) + 0.5 * lam * rd.sum(w**2)
    g = rd.grad(cost, w)
    Xv = RNG.normal(size=(50, 4))
    yv = np.sign(RNG.normal(size=50))
    wv = RNG.normal(size=4)
    z = -yv * (Xv @ wv)
    s = 1 / (1 + np.exp(-z))
    expected = Xv.T @ (s * -yv) / 50 + lam * wv
    np.testing.assert_allclose(ev(g, [X, y, w], Xv, yv, wv), expected, rtol=1e-10)


def test_quadratic_form():
    x, A = rd.vector("x"), rd.matrix("A")
    g = rd.grad(rd.dot(x, rd.dot(A, x)), x)
    Av, xv = RNG.normal(size=(3, 3)), RNG.normal(size=3)
    np.testing.assert_allclose(ev(g, [x, A], xv, Av), (Av + Av.T) @ xv)


def test_fan_out_accumulates():
    x = rd.scalar("x")
    g = rd.grad(x * x + x, x)
    assert ev(g, [x], 3.0) == pytest.approx(7.0)


def test_broadcasting_sums_back():
    x, r, c, s = rd.matrix("x"), rd.tensor("r", shape=(1, None)), rd.tensor("c", shape=(None, 1)), rd.scalar("s")
    cost = (x * r * c * s).sum()
    gr, gc, gs = rd.grad(cost, [r, c, s])
    xv, rv, cv, sv = RNG.normal(size=(3, 4)), RNG.normal(size=(1, 4)), RNG.normal(size=(3, 1)), 1.5
    vals = ev([gr, gc, gs], [x, r, c, s], xv, rv, cv, sv)
    np.testing.assert_allclose(vals[0], (xv * cv * sv).sum(0, keepdims=True))
    np.testing.assert_allclose(vals[1], (xv * rv * sv).sum(1, keepdims=True))
    np.testing.assert_allclose(vals[2], (xv * rv * cv).sum())


@pytest.mark.parametrize(
    "make_b, bshape, expand",
    [
        (lambda: rd.row("b"), (1, 3), lambda v: v),
        (lambda: rd.tensor("b", broadcastable=(True, False)), (1, 3), lambda v: v),
        (lambda: rd.shape_padleft(rd.vector("b")), (3,), lambda v: v[None, :]),
        (lambda: rd.vector("b").dimshuffle("x", 0), (3,), lambda v: v[None, :]),
        (lambda: rd.col("b"), (4, 1), lambda v: v),
        (lambda: rd.shape_padright(rd.vector("b")), (4,), lambda v: v[:, None]),
    ],
    ids=["row", "broadcastable", "shape_padleft", "dimshuffle", "col", "shape_padright"],
)
def test_gradient_through_a_declared_broadcast(make_b, bshape, expand):
    b, X = make_b(), rd.matrix("X")
    b_in = b if b.op == "input" else b.args[0]
    W = RNG.uniform(0.5, 1.5, size=(4, 3))
    g = rd.grad(rd.sum(rd.tanh(b + X) * W), b_in)
    bv, Xv = RNG.normal(size=bshape), RNG.normal(size=(4, 3))
    got = ev(g, [b_in, X], bv, Xv)
    assert got.shape == bshape
    np.testing.assert_allclose(got, central_jacobian(lambda v: float((np.tanh(expand(v) + Xv) * W).sum()), bv), rtol=1e-7)


def test_undeclared_length_one_dim_is_refused():
    b, X = rd.matrix("b"), rd.matrix("X")
    f = rd.function([b, X], rd.grad(rd.sum(rd.tanh(b + X)), b))
    with pytest.raises(ValueError, match="rd.row"):
        f(np.ones((1, 3)), np.ones((4, 3)))


def test_dtype_preserved_float32():
    x = rd.vector("x", dtype="float32")
    cost = rd.cast(x, "float64").sum() * 2.0
    g = rd.grad(cost, x)
    assert g.dtype == "float32"
    np.testing.assert_allclose(ev(g, [x], np.ones(3, "float32")), 2.0)


def test_int_wrt_gets_real_derivative():
    X = rd.matrix("X", dtype="int32")
    W = rd.vector("W")
    Xf = rd.matrix("Xf")
    g_int = rd.grad(rd.sigmoid(rd.dot(X, W)).sum(), X)
    g_flt = rd.grad(rd.sigmoid(rd.dot(Xf, W)).sum(), Xf)
    assert g_int.dtype == "float64"
    Xv = RNG.integers(-3, 3, size=(4, 3), dtype=np.int32)
    Wv = RNG.normal(size=3)
    np.testing.assert_allclose(ev(g_int, [X, W], Xv, Wv), ev(g_flt, [Xf, W], Xv.astype(float), Wv))


# ---- disconnected inputs ------------------------------------------------------------------------
def test_disconnected_inputs_options():
    x, y = rd.vector("x"), rd.vector("y")
    c = x.sum()
    with pytest.raises(rd.DisconnectedInputError):
        rd.grad(c, y)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        g = rd.grad(c, y, disconnected_inputs="warn")
    assert len(w) == 2
    np.testing.assert_allclose(ev(g, [x, y], [1.0], [1.0, 2.0]), [0.0, 0.0])
    with pytest.raises(ValueError):
        rd.grad(c, y, disconnected_inputs="bogus")
    assert rd.grad(c, y, disconnected_inputs="ignore", return_disconnected="none") is None
    d = rd.grad(c, y, disconnected_inputs="ignore", return_disconnected="Disconnected")
    assert isinstance(d.type, rd.DisconnectedType)


def test_int_disconnected_gets_float_zeros():
    x, i = rd.vector("x"), rd.ivector("i")
    g = rd.grad(x.sum(), i, disconnected_inputs="ignore")
    assert g.dtype == "float64"


def test_shape_only_dependence_is_disconnected():
    x, y = rd.vector("x"), rd.vector("y")
    c = (rd.zeros_like(x) + y).sum()
    with pytest.raises(rd.DisconnectedInputError):
        rd.grad(c, x)


def test_comparison_path_is_connected_zero():
    x = rd.vector("x")
    c = rd.cast(x > 0.0, "float64").sum()
    g = rd.grad(c, x)
    np.testing.assert_allclose(ev(g, [x], [1.0, -1.0]), [0.0, 0.0])


# ---- consider_constant, known_grads -------------------------------------------------------------
def test_consider_constant():
    x, y = rd.scalar("x"), rd.scalar("y")
    assert ev(rd.grad(x + y, x, consider_constant=[x]), [x, y], 1.0, 2.0) == 1.0
    z = x * 3.0
    c = z * y
    with pytest.raises(rd.DisconnectedInputError):
        rd.grad(c, x, consider_constant=[z])
    with pytest.raises(TypeError):
        rd.grad(c, x, consider_constant=3)
    with pytest.raises(TypeError):
        rd.grad(c, x, consider_constant=[3])


def test_known_grads_override():
    x = rd.vector("x")
    y = 2.0 * x
    cost = (y**2).sum()
    g = rd.grad(cost, x, known_grads={y: rd.ones_like(y)})
    np.testing.assert_allclose(ev(g, [x], [1.0, 3.0]), [2.0, 2.0])
    g2 = rd.grad(None, x, known_grads={y: rd.ones_like(y)})
    np.testing.assert_allclose(ev(g2, [x], [1.0, 3.0]), [2.0, 2.0])
    with pytest.raises(TypeError):
        rd.grad(None, x, known_grads={y: 1.0})
    with pytest.raises(TypeError):
        rd.grad(None, x, known_grads={y: rd.ivector("i")})


def test_known_grads_null_and_disconnected_cost():
    c = rd.iscalar("c")
    with pytest.raises(rd.NullTypeGradError):
        rd.grad(c, c, known_grads={c: rd.NullType()()})
    x = rd.scalar("x")
    with pytest.raises(rd.DisconnectedInputError):
        rd.grad(x * 2.0, x, known_grads={x * 2.0: rd.DisconnectedType()()})


def test_add_names():
    x, A = rd.vector("x"), rd.matrix("A")
    f = rd.dot(x, rd.dot(A, x))
    f.name = "f"
    assert rd.grad(f, x).name == "(df/dx)"
    f2 = rd.dot(x, rd.dot(A, x)) * 2.0
    assert rd.grad(f2, x, add_names=False).name is None


# ---- gradient-only ops ------------------------------------------------------------------------------
def test_zero_grad():
    x = rd.scalar("x")
    assert ev(rd.grad(x * rd.zero_grad(x), x), [x], 3.0) == pytest.approx(3.0)
    assert ev(rd.grad(x * rd.zero_grad(rd.exp(x)), x), [x], 1.0) == pytest.approx(np.e)
    assert ev(rd.grad(rd.zero_grad(x), x), [x], 1.0) == 0.0
    assert ev(rd.grad(x**2 * rd.zero_grad(x), x), [x], 3.0) == pytest.approx(18.0)
    v = rd.vector("v")
    np.testing.assert_allclose(ev(rd.Rop(rd.zero_grad(v), v, v * 0.0 + 1.0), [v], [1.0, 2.0]), [0.0, 0.0])


def test_disconnected_grad():
    x, a, b = rd.scalar("x"), rd.scalar("a"), rd.scalar("b")
    assert ev(rd.grad(x * rd.disconnected_grad(x), x), [x], 3.0) == pytest.approx(3.0)
    with pytest.raises(rd.DisconnectedInputError):
        rd.grad(rd.disconnected_grad(x), x)
    c = a + rd.disconnected_grad(b)
    assert ev(rd.grad(c, a), [a, b], 1.0, 2.0) == 1.0
    with pytest.raises(rd.DisconnectedInputError):
        rd.grad(c, b)


def test_grad_clip_scale_undefined():
    x = rd.scalar("x")
    assert ev(rd.grad(rd.grad_clip(x, -1, 1) ** 2, x), [x], 2.0) == pytest.approx(1.0)
    assert ev(rd.grad(rd.grad_scale(x, 2) ** 2, x), [x], 2.0) == pytest.approx(8.0)
    assert ev(rd.grad(rd.grad_scale(rd.grad_scale(x, 2), 3) ** 2, x), [x], 2.0) == pytest.approx(24.0)
    assert ev(rd.grad(rd.grad_scale(rd.sin(x), -1), x), [x], 0.5) == pytest.approx(-np.cos(0.5))
    with pytest.raises(ValueError):
        rd.grad_clip(x, 1, -1)
    with pytest.raises(rd.NullTypeGradError):
        rd.grad(rd.undefined_grad(x) * 2.0, x)
    g = rd.grad(rd.undefined_grad(x) * 2.0, x, null_gradients="return")
    assert isinstance(g.type, rd.NullType)
    with pytest.raises(TypeError):
        rd.function([x], g)


def test_grad_not_implemented_and_undefined():
    x = rd.scalar("x")
    n = rd.grad_not_implemented("MyOp", 0, x, "sorry")
    assert "not implemented" in n.type.why_null and "MyOp" in n.type.why_null
    u = rd.grad_undefined("MyOp", 0, x)
    assert "undefined" in u.type.why_null
    with pytest.raises(TypeError):
        rd.function([], n)


# ---- Lop / Rop -------------------------------------------------------------------------------------------
def test_lop_rop_match_jacobian():
    x = rd.vector("x")
    W = rd.matrix("W")
    y = rd.tanh(rd.dot(W, x))
    u, v = rd.vector("u"), rd.vector("v")
    Wv, xv = RNG.normal(size=(3, 4)), RNG.normal(size=4)
    uv, vv = RNG.normal(size=3), RNG.normal(size=4)
    J = (1 - np.tanh(Wv @ xv) ** 2)[:, None] * Wv
    np.testing.assert_allclose(ev(rd.Rop(y, x, v), [W, x, v], Wv, xv, vv), J @ vv)
    np.testing.assert_allclose(ev(rd.Lop(y, x, u), [W, x, u], Wv, xv, uv), uv @ J)


def test_rop_lop_outputs_feeding_outputs():
    x = rd.vector("x")
    y = rd.exp(x)
    v, u1, u2 = rd.vector("v"), rd.vector("u1"), rd.vector("u2")
    xv, vv, a, b = np.array([0.1, 0.2]), np.array([1.0, 2.0]), np.array([1.0, -1.0]), np.array([0.5, 0.25])
    r = ev(rd.Rop([y, 2.0 * y], x, v), [x, v], xv, vv)
    np.testing.assert_allclose(r[0], np.exp(xv) * vv)
    np.testing.assert_allclose(r[1], 2 * np.exp(xv) * vv)
    lo = ev(rd.Lop([y, 2.0 * y], x, [u1, u2]), [x, u1, u2], xv, a, b)
    np.testing.assert_allclose(lo, (a + 2 * b) * np.exp(xv))


def test_rop_prod_works():
    x, v = rd.vector("x"), rd.vector("v")
    r = rd.Rop(rd.prod(x), x, v)
    xv, vv = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    expected = sum(vv[i] * np.prod(np.delete(xv, i)) for i in range(3))
    assert ev(r, [x, v], xv, vv) == pytest.approx(expected)


def test_rop_validation_and_containers():
    x, m = rd.vector("x"), rd.matrix("m")
    with pytest.raises(ValueError):
        rd.Rop(x * 2.0, [x], [])
    with pytest.raises(ValueError):
        rd.Rop(rd.constant(0.0), [m], [x])
    v = rd.vector("v")
    assert isinstance(rd.Rop([x * 2.0, x * 3.0], x, v), list)
    assert isinstance(rd.Rop((x * 2.0, x * 3.0), x, v), tuple)
    y = rd.vector("y")
    with pytest.raises(rd.DisconnectedInputError):
        rd.Rop(x * 2.0, y, v)


def test_rop_without_forward_derivative_raises_value_error_naming_the_op():
    x, v = rd.vector("x"), rd.vector("v")
    for f, op in ((rd.argmax(x), "argmax"), (rd.undefined_grad(x) * 2.0 + x, "undefined_grad")):
        with pytest.raises(ValueError, match=op) as info:
            rd.Rop(f, x, v)
        assert isinstance(info.value, rd.NullTypeGradError) and isinstance(info.value, rd.PushforwardError)
        with pytest.raises(ValueError, match=op):
            rd.pushforward(f, x, v)
    from rewritediff.ops import unregister

    rd.rules.define_op("cube_no_rules", lambda a: a**3)
    try:
        with pytest.raises(ValueError, match="cube_no_rules"):
            rd.Rop(rd.apply("cube_no_rules", x) + x, x, v)
    finally:
        unregister("cube_no_rules")
    with pytest.raises(rd.NullTypeGradError) as info:  # grad keeps PyTensor's TypeError
        rd.grad(rd.undefined_grad(x).sum(), x)
    assert not isinstance(info.value, ValueError)


def test_rop_with_a_tangent_made_by_type_call():
    X = rd.matrix("X")
    V = X.type("V")
    assert V.type == X.type and V is not X and V.name == "V"
    y = rd.tanh(X).sum(axis=0)
    Xv, Vv = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2))
    got = ev(rd.Rop(y, X, V), [X, V], Xv, Vv)
    np.testing.assert_allclose(got, central_directional(lambda v: np.tanh(v).sum(0), [Xv], [Vv]), rtol=1e-7)


def test_max_and_argmax():
    X = rd.matrix("X")
    Xv = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 6.5]])
    for axis in (0, 1, None):
        m, a = rd.max_and_argmax(X, axis=axis)
        assert a.dtype.startswith("int")
        got_m, got_a = ev([m, a], [X], Xv)
        np.testing.assert_array_equal(got_m, np.max(Xv, axis=axis))
        np.testing.assert_array_equal(got_a, np.argmax(Xv, axis=axis))
    m, a = rd.max_and_argmax(X, axis=1)
    w = np.array([0.5, -2.0])
    g = ev(rd.grad((m * w).sum(), X), [X], Xv)
    np.testing.assert_allclose(g, [[0, 0.5, 0], [-2.0, 0, 0]])


def test_scalar_lop_keeps_type():
    x, g = rd.scalar("x"), rd.scalar("g")
    assert ev(rd.Lop(x**2, x, g), [x, g], 3.0, 1.5) == pytest.approx(2 * 3 * 1.5)


# ---- jacobian / hessian ---------------------------------------------------------------------------------
def test_jacobian_vector_and_containers():
    x, z = rd.vector("x", shape=(3,)), rd.vector("z", shape=(3,))
    J = rd.jacobian(2.0 * x, x)
    np.testing.assert_allclose(ev(J, [x], np.ones(3)), 2 * np.eye(3))
    Jx, Jz = rd.jacobian(x * z, [x, z])
    xv, zv = RNG.normal(size=3), RNG.normal(size=3)
    vals = ev([Jx, Jz], [x, z], xv, zv)
    np.testing.assert_allclose(vals[0], np.diag(zv))
    np.testing.assert_allclose(vals[1], np.diag(xv))
    assert isinstance(rd.jacobian(x * z, (x, z)), tuple)


def test_jacobian_matrix_shape():
    x = rd.matrix("x", shape=(4, 4))
    J = rd.jacobian(2.0 * x.sum(0), x)
    val = ev(J, [x], np.ones((4, 4)))
    assert val.shape == (4, 4, 4)
    for i in range(4):
        np.testing.assert_allclose(val[i, :, i], 2.0)
    s = rd.scalar("s")
    Js = rd.jacobian(rd.exp(s), s)
    assert ev(Js, [s], 0.0) == pytest.approx(1.0)


def test_hessian():
    x = rd.vector("x", shape=(3,))
    H = rd.hessian((x**2).sum(), x)
    np.testing.assert_allclose(ev(H, [x], np.ones(3)), 2 * np.eye(3))
    with pytest.raises(ValueError):
        rd.hessian(x * 2.0, x)
    with pytest.raises(ValueError):
        rd.hessian((x**2).sum(), rd.matrix("m"))
    A = rd.matrix("A", shape=(3, 3))
    Ha = rd.hessian(rd.dot(x, rd.dot(A, x)), x)
    Av = RNG.normal(size=(3, 3))
    np.testing.assert_allclose(ev(Ha, [x, A], np.ones(3), Av), Av + Av.T)


def test_hessian_vector_product_checks_the_vector_shape():
    X, W, V = rd.matrix("X"), rd.matrix("W"), rd.matrix("V")
    hv = rd.hessian_vector_product(rd.sum(rd.tanh(X @ W)), W, V)
    assert "expand_like" not in str(rd.simplify(hv))  # V has W's shape: no broadcast bookkeeping
    f = rd.function([X, W, V], hv)
    Xv, Wv, Vv = RNG.normal(size=(5, 3)), RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2))
    t = np.tanh(Xv @ Wv)
    expected = Xv.T @ (-2.0 * t * (1 - t**2) * (Xv @ Vv))  # d/de of X^T (1 - tanh(X (W + e V))^2)
    np.testing.assert_allclose(f(Xv, Wv, Vv), expected, rtol=1e-12)
    with pytest.raises(rd.ShapeError, match="equal shapes required: argument 0 \\(V\\)"):
        f(Xv, Wv, RNG.normal(size=(2, 3)))
    with pytest.raises(ValueError, match="2 vector"):
        rd.hessian_vector_product(rd.sum(W), [W], [V, V])


def test_hessian_vector_product():
    x, p = rd.vector("x"), rd.vector("p")
    y = rd.vector("y")
    px, py = rd.vector("px"), rd.vector("py")
    hx, hy = rd.hessian_vector_product((x**2).sum() - (y**2).sum(), [x, y], [px, py])
    vals = ev([hx, hy], [x, y, px, py], [1.0, 2.0], [3.0], [0.5, 1.5], [2.0])
    np.testing.assert_allclose(vals[0], [1.0, 3.0])
    np.testing.assert_allclose(vals[1], [-4.0])
    # Rosenbrock against a closed-form Hessian-vector product
    xr = rd.vector("xr")
    f = (100 * (xr[1:] - xr[:-1] ** 2) ** 2 + (1 - xr[:-1]) ** 2).sum() if hasattr(rd, "set_subtensor") else None
    if f is not None:
        hv = rd.hessian_vector_product(f, xr, p)
        xv = RNG.normal(size=5)
        pv = RNG.normal(size=5)
        n = 5
        H = np.zeros((n, n))
        for i in range(n - 1):
            H[i, i] += 1200 * xv[i] ** 2 - 400 * xv[i + 1] + 2
            H[i, i + 1] += -400 * xv[i]
            H[i + 1, i] += -400 * xv[i]
            H[i + 1, i + 1] += 200
        np.testing.assert_allclose(ev(hv, [xr, p], xv, pv), H @ pv, rtol=1e-10)


# ---- verify_grad / numeric_grad -----------------------------------------------------------------------
def test_verify_grad_passes_and_catches():
    rd.verify_grad(lambda a: rd.tanh(a) * a, [RNG.normal(size=(3,))], rng=np.random.default_rng(1))
    with pytest.raises(rd.GradientError) as info:
        rd.verify_grad(lambda a: rd.grad_scale(a, 2.0) ** 2, [np.array([1.0, 2.0])], rng=np.random.default_rng(1))
    err = info.value
    assert err.arg == 0 and err.abs_tol == 1e-4 and err.rel_tol == 1e-4
    assert str(err).startswith("GradientError: numeric gradient and analytic gradient exceed tolerance:")
    with pytest.raises(TypeError):
        rd.verify_grad(lambda a: a, np.array([1.0]))
    with pytest.raises(TypeError):
        rd.verify_grad(lambda a: a, [np.array([1, 2])])
    with pytest.raises(NotImplementedError):
        rd.verify_grad(lambda a: [a, a], [np.array([1.0])])


def test_verify_grad_tolerance_rule():
    # a 2x-wrong gradient passes when rel_tol is loose and fails when it is tight
    f = lambda a: rd.grad_scale(a, 2.0) ** 2  # noqa: E731
    rd.verify_grad(f, [np.array([1.0, 2.0])], abs_tol=1e-12, rel_tol=0.5, rng=np.random.default_rng(0))
    with pytest.raises(rd.GradientError):
        rd.verify_grad(f, [np.array([1.0, 2.0])], abs_tol=1e-12, rel_tol=0.2, rng=np.random.default_rng(0))
    with pytest.raises(rd.GradientError) as info:
        rd.verify_grad(lambda a, b: rd.grad_scale(a, 2.0) * b, [np.array([1.0], "float32"), np.array([1.0])], rng=np.random.default_rng(0))
    assert info.value.abs_tol == 1e-2


def test_numeric_grad():
    ng = rd.numeric_grad(lambda a: (a**2).sum(), np.array([1.0, 2.0]), eps=0.5)
    np.testing.assert_allclose(ng.gf, [2.5, 4.5])
    ng2 = rd.numeric_grad(lambda a, b: (a * b).sum(), [np.array([1.0, 2.0]), np.array([3.0, 4.0])])
    assert isinstance(ng2.gf, list) and ng2.gf[0].shape == (2,)
    a, r = rd.numeric_grad.abs_rel_err(np.array([1.0]), np.array([3.0]))
    assert a[0] == 2.0 and r[0] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        ng2.abs_rel_errors([np.zeros(2)])
    with pytest.raises(ValueError):
        ng2.abs_rel_errors([np.zeros(3), np.zeros(2)])
    arg, pos, ae, re = ng2.max_err([np.array([3.0, 4.0]), np.array([1.0, 9.0])], 1e-4, 1e-4)
    assert (arg, pos) == (1, 1)


# ---- subgraph_grad ----------------------------------------------------------------------------------------
def test_subgraph_grad_two_layer_mlp():
    x, t = rd.vector("x"), rd.vector("t")
    w1 = rd.shared(RNG.normal(size=(4, 3)), "w1")
    w2 = rd.shared(RNG.normal(size=(3, 2)), "w2")
    a1 = rd.tanh(rd.dot(x, w1))
    a2 = rd.tanh(rd.dot(a1, w2))
    cost2 = ((a2 - t) ** 2).sum()
    cost2.name = "cost2"
    cost1 = (a1**2).sum()
    full = rd.grad(cost1 + cost2, [w2, w1])
    g2, next_g = rd.subgraph_grad(wrt=[w2], end=[a1], cost=cost2)
    g1, _ = rd.subgraph_grad(wrt=[w1], end=[x], start=dict(zip([a1], next_g)), cost=cost1)
    xv, tv = RNG.normal(size=4), RNG.normal(size=2)
    got = ev([g2[0], g1[0]], [x, t], xv, tv)
    want = ev(list(full), [x, t], xv, tv)
    np.testing.assert_allclose(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1])
    with pytest.raises(ValueError):
        rd.subgraph_grad(wrt=[w1], end=[x])
    with pytest.raises(TypeError):
        rd.subgraph_grad(wrt=[w1], end=x, cost=cost1)


# ---- higher order ------------------------------------------------------------------------------------------
def test_grad_of_grad():
    x = rd.scalar("x")
    g = rd.grad(rd.sin(x) * x, x)
    gg = rd.grad(g, x)
    xv = 0.7
    assert ev(gg, [x], xv) == pytest.approx(2 * np.cos(xv) - xv * np.sin(xv))


def test_rop_of_grad_is_hvp():
    x, v = rd.vector("x"), rd.vector("v")
    c = (rd.exp(x) * x).sum()
    hv = rd.Rop(rd.grad(c, x), x, v)
    xv, vv = np.array([0.1, 0.5]), np.array([1.0, -2.0])
    np.testing.assert_allclose(ev(hv, [x, v], xv, vv), (2 * np.exp(xv) + xv * np.exp(xv)) * vv)


def test_deep_chain_gradient_no_recursion():
    x0 = rd.vector("x0")
    x = x0
    for _ in range(3000):
        x = rd.sin(x) * x + x0
    g = rd.grad(x.sum(), x0)
    assert g.ndim == 1


def test_mlp_softmax_cross_entropy_matches_hand_backprop():
    X, Y = rd.matrix("X"), rd.matrix("Y")
    W1, b1, W2, b2 = rd.matrix("W1"), rd.vector("b1"), rd.matrix("W2"), rd.vector("b2")
    h = rd.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    cost = -rd.mean(rd.sum(Y * rd.log_softmax(z, axis=1), axis=1))
    grads = rd.grad(cost, [W1, b1, W2, b2])
    rng = np.random.default_rng(3)
    n = 16
    Xv = rng.normal(size=(n, 784))
    Yv = np.eye(10)[rng.integers(0, 10, n)]
    W1v, b1v = rng.normal(size=(784, 256)) * 0.05, rng.normal(size=256) * 0.1
    W2v, b2v = rng.normal(size=(256, 10)) * 0.1, rng.normal(size=10) * 0.1
    got = ev(list(grads), [X, Y, W1, b1, W2, b2], Xv, Yv, W1v, b1v, W2v, b2v)
    # backpropagation by hand
    hv = np.tanh(Xv @ W1v + b1v)
    zv = hv @ W2v + b2v
    p = np.exp(zv - zv.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dz = (p - Yv) / n
    da = (dz @ W2v.T) * (1 - hv**2)
    for g, want in zip(got, [Xv.T @ da, da.sum(0), hv.T @ dz, dz.sum(0)]):
        np.testing.assert_allclose(g, want, rtol=1e-9, atol=1e-12)


def test_logistic_hessian_with_unknown_rows_is_closed_form():
    X, y, w = rd.matrix("X"), rd.vector("y"), rd.vector("w", shape=(4,))
    cost = rd.mean(rd.log1p(rd.exp(-y * (X @ w)))) + 0.05 * rd.sum(w**2)
    H = rd.hessian(cost, w)
    Xv, yv, wv = RNG.normal(size=(9, 4)), np.sign(RNG.normal(size=9)), RNG.normal(size=4)
    s = 1 / (1 + np.exp(yv * (Xv @ wv)))  # sigmoid(-y Xw)
    want = Xv.T @ (Xv * (s * (1 - s))[:, None]) / 9 + 0.1 * np.eye(4)
    np.testing.assert_allclose(ev(H, [X, y, w], Xv, yv, wv), want, rtol=1e-10, atol=1e-12)
    assert rd.count_ops(rd.simplify(H)) < rd.count_ops(H) // 2 + 5


def test_jacobian_through_an_op_without_batching_rule_falls_back_to_rows():
    x = rd.vector("x", shape=(4,))
    y = x[np.array([3, 0, 0])] * x[1:].sum()  # advanced indexing has no batching rule
    J = rd.jacobian(y, x)
    xv = RNG.normal(size=4)
    np.testing.assert_allclose(ev(J, [x], xv), central_jacobian(rd.function([x], y), xv), rtol=1e-6, atol=1e-8)


def test_trace_gradient_simplifies_to_closed_form_for_square_shapes():
    A, X, B = rd.matrix("A", shape=(4, 4)), rd.matrix("X", shape=(4, 3)), rd.matrix("B", shape=(3, 3))
    g = rd.grad(rd.trace(A @ X @ B @ X.T), X)
    s = rd.simplify(g)
    assert not any(t.op in ("eye_like", "eye") for t in rd.terms.toposort([s]))
    Av, Xv, Bv = RNG.normal(size=(4, 4)), RNG.normal(size=(4, 3)), RNG.normal(size=(3, 3))
    np.testing.assert_allclose(ev(g, [A, X, B], Av, Xv, Bv), Av.T @ Xv @ Bv.T + Av @ Xv @ Bv)
