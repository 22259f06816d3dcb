"""rd.sparse as a user writes it: values against scipy.sparse, gradients against finite
differences (structured gradients: only on the stored entries), R-ops against finite
differences of the function, and the errors a sparse matrix meets where it does not belong."""

import numpy as np
import pytest
import scipy.sparse as sp

import rewritediff as rd
from rewritediff.errors import CallError, RewriteDiffTypeError, ShapeError
from rewritediff.verify import central_directional, central_jacobian, central_partial

EPS = 1e-6


def _matrix(m=6, n=5, density=0.4, fmt="csr", seed=0):
    a = sp.random(m, n, density=density, format=fmt, random_state=seed)
    a.data = np.random.default_rng(seed).normal(size=a.nnz)
    return a


def _as_format(dense, fmt):
    """A dense array as a scipy matrix of format ``fmt`` (its nonzeros stored)."""
    return sp.csr_matrix(dense).asformat(fmt)


def _all_entries(a):
    return [(i, j) for i in range(a.shape[0]) for j in range(a.shape[1])]


def _stored(a):
    c = a.tocoo()
    return list(zip(c.row.tolist(), c.col.tolist()))


# ---- types, constructors, function inputs and outputs ---------------------------------------------
def test_variables_have_format_dtype_and_unknown_shape():
    x = rd.sparse.csr_matrix("X")
    y = rd.sparse.csc_matrix("Y", dtype="float32")
    assert (x.type.format, x.dtype, x.type.shape) == ("csr", "float64", (None, None))
    assert (y.type.format, y.dtype) == ("csc", "float32")
    assert rd.sparse.is_sparse(x) and not rd.sparse.is_sparse(rd.matrix("D"))
    assert x.T.type.format == "csc" and y.T.type.format == "csr"


def test_function_takes_and_returns_scipy_matrices():
    x = rd.sparse.csr_matrix("X")
    f = rd.function([x], [x.T, rd.sparse.dense_from_sparse(x), rd.sparse.csc_from_dense(rd.sparse.todense(x) * 2.0)])
    a = _matrix()
    t, d, c = f(a)
    assert sp.issparse(t) and t.format == "csc"
    np.testing.assert_array_equal(t.toarray(), a.toarray().T)
    assert isinstance(d, np.ndarray)
    np.testing.assert_array_equal(d, a.toarray())
    assert c.format == "csc" and c.nnz == a.nnz
    np.testing.assert_array_equal(c.toarray(), 2 * a.toarray())
    # an output that is the input itself is a copy
    (same,) = rd.function([x], [x])(a)
    assert same is not a and (same != a).nnz == 0


def test_sparse_outputs_never_share_memory_with_inputs():
    x = rd.sparse.csr_matrix("X")
    a = _matrix()
    outs = rd.function([x], [x * 2.0, x.T, rd.sparse.multiply(x, rd.constant(np.ones((6, 5))))])(a)
    for o in outs:
        for arr in (o.data, o.indices, o.indptr):
            for mine in (a.data, a.indices, a.indptr):
                assert not np.shares_memory(arr, mine)


def test_values_on_the_same_pattern_are_read_without_indexing_and_never_shared():
    """sp_values of a matrix on s's own pattern is its stored values; the result is never the input's buffer."""
    x = rd.sparse.csr_matrix("X")
    a = _matrix()
    (v,) = rd.function([x], [rd.apply("sp_values", x, x)])(a)
    np.testing.assert_array_equal(v, a.data)
    assert not np.shares_memory(v, a.data)
    (w,) = rd.function([x], [rd.apply("sp_values", x, x) * 2.0])(a)  # an elementwise op may not write into X.data
    np.testing.assert_array_equal(w, 2 * a.data)
    np.testing.assert_array_equal(a.data, _matrix().data)


def test_shape_of_a_sparse_matrix():
    x, w = rd.sparse.csr_matrix("X"), rd.vector("w")
    cost = rd.sparse.sp_sum(x * 2.0) / x.shape[0] + rd.sum(x @ w) / x.shape[1]
    f = rd.function([x, w], [cost, rd.grad(cost, w), x.shape])
    a = _matrix()
    c, g, shp = f(a, W5)
    assert c == pytest.approx(2 * a.sum() / 6 + (a @ W5).sum() / 5)
    np.testing.assert_allclose(g, np.asarray(a.sum(axis=0)).ravel() / 5)
    np.testing.assert_array_equal(shp, [6, 5])


def test_stored_values_ones_and_zeros_like():
    x = rd.sparse.csr_matrix("X")
    a = _matrix()
    cost = rd.sum(rd.sparse.csm_data(x) ** 2)
    data, ones, zeros, g = rd.function([x], [rd.sparse.csm_data(x), rd.sparse.sp_ones_like(x), rd.sparse.sp_zeros_like(x), rd.grad(cost, x)])(a)
    np.testing.assert_array_equal(data, a.data)
    np.testing.assert_array_equal(ones.toarray(), (a.toarray() != 0) * 1.0)
    assert zeros.nnz == 0 and zeros.shape == a.shape and zeros.format == "csr"
    assert sp.issparse(g) and set(_stored(g)) == set(_stored(a))
    np.testing.assert_allclose(g.toarray(), 2 * a.toarray())


def test_constructors_from_parts_and_constants():
    a = _matrix(fmt="csr")
    data = rd.vector("data")
    built = rd.sparse.CSR(data, a.indices, a.indptr, a.shape)
    (v,) = rd.function([data], [built])(a.data)
    assert v.format == "csr"
    np.testing.assert_array_equal(v.toarray(), a.toarray())
    c = a.tocsc()
    built_c = rd.sparse.CSC(c.data, c.indices, c.indptr, c.shape)
    assert built_c.type.shape == c.shape and built_c.type.format == "csc"
    w = rd.vector("w")
    k = rd.sparse.as_sparse(a)
    np.testing.assert_allclose(rd.function([w], k @ w)(np.ones(5)), a @ np.ones(5))
    coo = rd.sparse.as_sparse(a.tocoo())
    assert coo.type.format == "csr"


def test_inputs_are_checked():
    x = rd.sparse.csr_matrix("X")
    f = rd.function([x], rd.sparse.sp_sum(x))
    with pytest.raises(CallError, match="expected a csr matrix.*got csc.*tocsr"):
        f(_matrix(fmt="csc"))
    with pytest.raises(CallError, match="expected a scipy.sparse csr matrix"):
        f(np.ones((2, 2)))
    with pytest.raises(CallError, match="expected float32, got float64"):
        rd.function([y := rd.sparse.csr_matrix("Y", dtype="float32")], rd.sparse.sp_sum(y))(_matrix())
    fixed = rd.sparse.csr_matrix("Z", shape=(6, 5))
    with pytest.raises(CallError, match="expected shape"):
        rd.function([fixed], rd.sparse.sp_sum(fixed))(_matrix(m=4))
    dense = rd.matrix("D")
    with pytest.raises(CallError, match="scipy.sparse matrix for a dense input.*rd.sparse.csr_matrix"):
        rd.function([dense], rd.sum(dense))(_matrix())
    # a safe upcast is taken
    y32 = rd.sparse.csr_matrix("Y")
    assert rd.function([y32], rd.sparse.sp_sum(y32))(_matrix().astype("float32")) == pytest.approx(_matrix().astype("float32").sum(), rel=1e-6)


def test_dense_ops_refuse_sparse_matrices_by_name():
    x = rd.sparse.csr_matrix("X")
    with pytest.raises(RewriteDiffTypeError, match="exp: argument 0 .*is a sparse matrix.*dense arrays only"):
        rd.exp(x)
    with pytest.raises(RewriteDiffTypeError, match="log: argument 0"):
        rd.log(x)
    with pytest.raises(ShapeError, match="sparse multiply: .*a row of its length"):
        x * rd.tensor3("T")
    with pytest.raises(RewriteDiffTypeError, match="dimshuffle: a sparse matrix can only be transposed"):
        x.dimshuffle("x", 0, 1)
    with pytest.raises(RewriteDiffTypeError, match="grad_preserves_dense=False"):
        rd.sparse.true_dot(x, rd.matrix("M"), grad_preserves_dense=False)
    with pytest.raises(RewriteDiffTypeError, match="structured_dot: expected a sparse matrix times a dense one"):
        rd.sparse.structured_dot(rd.matrix("M"), x)
    with pytest.raises(RewriteDiffTypeError, match="dense_from_sparse: expected a sparse matrix"):
        rd.sparse.dense_from_sparse(rd.matrix("M"))
    with pytest.raises(ShapeError, match="sparse dot: shapes"):
        rd.sparse.csr_matrix("S", shape=(3, 4)) @ rd.vector("v", shape=(5,))


# ---- values ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_values_against_scipy(fmt):
    x = rd.sparse.matrix(fmt, "X")
    w, W, V = rd.vector("w"), rd.matrix("W"), rd.matrix("V")
    a = _matrix(fmt=fmt)
    rng = np.random.default_rng(1)
    wv, Wv, Vv = rng.normal(size=5), rng.normal(size=(5, 3)), rng.normal(size=(2, 6))
    outs = [
        x @ w,
        rd.dot(x, W),
        rd.sparse.structured_dot(x, W),
        V @ x,
        rd.dot(rng.normal(size=6), x),
        rd.sparse.sp_sum(x),
        rd.sparse.sp_sum(x, axis=0),
        rd.sparse.sp_sum(x, axis=1, sparse_grad=True),
        x.sum(axis=1),
        rd.sparse.todense(x * 3.0),
        rd.sparse.todense(rd.sparse.multiply(x, rd.constant(np.arange(30.0).reshape(6, 5)))),
        rd.sparse.todense(rd.sparse.true_dot(x, W)),
        rd.sparse.todense(rd.sparse.true_dot(x, x.T)),
        rd.sparse.dot(x, x.T),
        rd.sparse.todense(x + x),
        rd.sparse.todense(x * rd.arange(5) - x),
        x - rd.sparse.todense(x).T.T * 3.0,
        rd.sparse.todense(-x),
    ]
    got = rd.function([x, w, W, V], outs, on_unused_input="ignore")(a, wv, Wv, Vv)
    d = a.toarray()
    v6 = np.random.default_rng(1)
    v6.normal(size=5), v6.normal(size=(5, 3)), v6.normal(size=(2, 6))
    r6 = v6.normal(size=6)
    want = [
        d @ wv,
        d @ Wv,
        d @ Wv,
        Vv @ d,
        r6 @ d,
        d.sum(),
        d.sum(0),
        d.sum(1),
        d.sum(1),
        3 * d,
        d * np.arange(30.0).reshape(6, 5),
        d @ Wv,
        d @ d.T,
        d @ d.T,
        2 * d,
        d * np.arange(5) - d,
        -2 * d,
        -d,
    ]
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)
    assert rd.sparse.true_dot(x, W).type.format == fmt
    assert not rd.sparse.is_sparse(rd.sparse.dot(x, x.T)) and rd.sparse.is_sparse(rd.sparse.true_dot(x, x.T))


# ---- gradients ---------------------------------------------------------------------------------------
def _check_grad(build, a, dense_inputs, structured):
    """grad of a scalar cost wrt a sparse X (and dense inputs) against central differences."""
    x = rd.sparse.matrix(a.format, "X")
    ds = [rd.tensor(f"d{i}", shape=(None,) * np.ndim(v)) for i, v in enumerate(dense_inputs)]
    cost = build(x, *ds)
    grads = rd.grad(cost, [x, *ds])
    f = rd.function([x, *ds], cost)
    got = rd.function([x, *ds], grads)(a, *dense_inputs)
    gx = got[0]
    # differences over X's dense form, each step passed as a scipy matrix of X's format (an unstored entry may be stepped)
    fd = central_jacobian(lambda m: f(_as_format(m, a.format), *dense_inputs), a.toarray(), EPS)
    if structured:
        assert sp.issparse(gx) and gx.format == a.format, "a structured gradient is a sparse matrix on X's pattern"
        assert set(_stored(gx)) <= set(_stored(a))
        entries = _stored(a)
        gd = gx.toarray()
    else:
        assert isinstance(gx, np.ndarray) and gx.shape == a.shape, "an ordinary gradient is dense"
        entries = _all_entries(a)
        gd = gx
    for i, j in entries:
        assert gd[i, j] == pytest.approx(fd[i, j], rel=1e-5, abs=1e-6), (i, j)
    for k, v in enumerate(dense_inputs):
        g = got[k + 1]
        assert isinstance(g, np.ndarray) and g.shape == np.shape(v), "the gradient wrt a dense input is dense"
        assert g == pytest.approx(central_partial(lambda *d: f(a, *d), dense_inputs, k, EPS), rel=1e-5, abs=1e-6), f"dense input {k}"


RNG = np.random.default_rng(7)
W5 = RNG.normal(size=5)
M53 = RNG.normal(size=(5, 3))
M26 = RNG.normal(size=(2, 6))
M65 = RNG.normal(size=(6, 5))

GRAD_CASES = [
    ("dot-vector", lambda x, w: rd.sum(rd.tanh(x @ w)), [W5], False),
    ("dot-matrix", lambda x, w: rd.sum(rd.sin(rd.sparse.dot(x, w))), [M53], False),
    ("dense-dot-sparse", lambda x, v: rd.sum(rd.tanh(v @ x)), [M26], False),
    ("structured_dot-vector", lambda x, w: rd.sum(rd.tanh(rd.sparse.structured_dot(x, w))), [W5], True),
    ("structured_dot-matrix", lambda x, w: rd.sum(rd.sin(rd.sparse.structured_dot(x, w))), [M53], True),
    ("true_dot", lambda x, w: rd.sum(rd.sin(rd.sparse.todense(rd.sparse.true_dot(x, w), sparse_grad=False))), [M53], False),
    ("transpose", lambda x, w: rd.sum(rd.tanh(x.T @ w)), [RNG.normal(size=6)], False),
    ("dot-sparse-sparse", lambda x: rd.sum(rd.sin(rd.sparse.dot(x, x.T))), [], False),
    ("multiply-dense", lambda x, m: rd.sparse.sp_sum(rd.sparse.multiply(x, m) * 2.0) ** 2, [M65], False),
    ("multiply-scalar", lambda x, c: rd.sparse.sp_sum(x * c, axis=1).dot(rd.arange(6) * 1.0), [np.array(1.5)], False),
    ("multiply-row", lambda x, v: rd.sum(rd.sin(rd.sparse.sp_sum(x * v, axis=1))), [W5], False),
    ("sub-neg", lambda x, v: rd.sum(rd.sin(rd.sparse.todense(-x - x * 2.0, sparse_grad=False))) + rd.sum(rd.sin(x @ v)), [W5], False),
    ("sp_sum", lambda x: rd.sparse.sp_sum(x) ** 2, [], False),
    ("sp_sum-axis0", lambda x: rd.sum(rd.sin(rd.sparse.sp_sum(x, axis=0))), [], False),
    ("sp_sum-structured", lambda x: rd.sum(rd.sin(rd.sparse.sp_sum(x, axis=1, sparse_grad=True))), [], True),
    ("sp_sum-structured-all", lambda x: rd.sparse.sp_sum(x, sparse_grad=True) ** 3, [], True),
    ("dense_from_sparse", lambda x: rd.sum(rd.sin(rd.sparse.dense_from_sparse(x))), [], True),
    ("dense_from_sparse-ordinary", lambda x: rd.sum(rd.sin(rd.sparse.dense_from_sparse(x, sparse_grad=False))), [], False),
]


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("name, build, dense, structured", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradients_against_finite_differences(name, build, dense, structured, fmt):
    _check_grad(build, _matrix(fmt=fmt), dense, structured)


def test_float32_matrix_gets_a_float32_structured_gradient():
    a = _matrix().astype("float32")
    x = rd.sparse.csr_matrix("X", dtype="float32")
    cost = rd.sum(rd.tanh(rd.sparse.structured_dot(x, rd.constant(W5))))
    g = rd.function([x], rd.grad(cost, x))(a)
    assert sp.issparse(g) and g.dtype == np.float32 and set(_stored(g)) <= set(_stored(a))
    d = a.toarray().astype(float)
    want = (1 - np.tanh(d @ W5) ** 2)[:, None] * W5[None, :] * (d != 0)
    np.testing.assert_allclose(g.toarray(), want, rtol=1e-5, atol=1e-6)


def test_hessian_vector_product_through_a_sparse_product():
    a = _matrix()
    x, w, p = rd.sparse.csr_matrix("X"), rd.vector("w"), rd.vector("p")
    cost = rd.sum(rd.softplus(x @ w))
    hv = rd.function([x, w, p], rd.hessian_vector_product(cost, w, p))(a, W5, np.arange(5.0))
    d = a.toarray()
    s = 1 / (1 + np.exp(-(d @ W5)))
    np.testing.assert_allclose(hv, d.T @ ((s * (1 - s)) * (d @ np.arange(5.0))), rtol=1e-10)


def test_hessian_of_a_sparse_logistic_regression_with_undeclared_shapes():
    """rd.hessian vectorizes the pullback: a sparse matrix times a batch of vectors is one sparse product."""
    a = _matrix(m=30, n=5, density=0.5)
    rng = np.random.default_rng(2)
    yv, wv = rng.choice([-1.0, 1.0], 30), 0.3 * rng.normal(size=5)
    x, y, w = rd.sparse.csr_matrix("X"), rd.vector("y"), rd.vector("w")
    H = rd.function([x, y, w], rd.hessian(rd.mean(rd.softplus(-y * (x @ w))), w))(a, yv, wv)
    d = a.toarray()
    s = 1 / (1 + np.exp(yv * (d @ wv)))
    np.testing.assert_allclose(H, d.T @ (d * (s * (1 - s))[:, None]) / 30, rtol=1e-10)


def test_gradient_of_stored_values():
    """CSR(data, ...) is differentiable in its values: the gradient is the cotangent at the stored positions."""
    a = _matrix()
    data = rd.vector("data")
    w = rd.constant(W5)
    cost = rd.sum(rd.tanh(rd.sparse.CSR(data, a.indices, a.indptr, a.shape) @ w))
    g = rd.function([data], rd.grad(cost, data))(a.data)
    f = rd.function([data], cost)
    assert g == pytest.approx(central_jacobian(f, a.data, EPS), rel=1e-6)


def test_gradient_through_two_uses_of_x():
    """A dense (ordinary) and a structured gradient of the same X add up to a dense one."""
    a = _matrix()
    x = rd.sparse.csr_matrix("X")
    cost = rd.sum(rd.tanh(x @ rd.constant(W5))) + rd.sparse.sp_sum(x, sparse_grad=True) ** 2
    g = rd.function([x], rd.grad(cost, x))(a)
    assert isinstance(g, np.ndarray)
    f = rd.function([x], cost)
    fd = central_jacobian(lambda m: f(_as_format(m, a.format)), a.toarray(), EPS)
    for i, j in _stored(a):  # the structured term's gradient lives on the stored entries alone
        assert g[i, j] == pytest.approx(fd[i, j], rel=1e-5), (i, j)


# ---- R-ops -------------------------------------------------------------------------------------------
ROP_CASES = [
    ("dot", lambda x, w: rd.tanh(x @ w), (5,)),
    ("structured_dot", lambda x, w: rd.sparse.structured_dot(x, w), (5, 3)),
    ("dense-dot-sparse", lambda x, v: v @ x, (2, 6)),
    ("transpose", lambda x, v: rd.sparse.todense(x.T) * v, (5, 6)),
    ("multiply", lambda x, m: rd.sparse.todense(rd.sparse.multiply(x, m)), (6, 5)),
    ("multiply-scalar", lambda x, c: rd.sparse.sp_sum(x * c, axis=0), ()),
    ("sp_sum", lambda x, v: rd.sparse.sp_sum(x, axis=1) * rd.sum(v), (3,)),
    ("multiply-row", lambda x, v: rd.sparse.todense(x * v), (5,)),
    ("true_dot", lambda x, m: rd.sparse.todense(rd.sparse.true_dot(x, m)), (5, 3)),
    ("true_dot-sparse", lambda x, v: rd.sparse.todense(rd.sparse.true_dot(x, x.T)) * rd.sum(v), (2,)),
    ("dot-sparse-sparse", lambda x, v: rd.sparse.dot(x.T, x) * rd.sum(v), (2,)),
    ("add", lambda x, v: rd.sparse.todense(x + x * 2.0) * rd.sum(v), (2,)),
    ("from_dense", lambda x, m: rd.sparse.todense(rd.sparse.csc_from_dense(m * 2.0)) + rd.sparse.todense(x), (6, 5)),
]


@pytest.mark.parametrize("name, build, shape", ROP_CASES, ids=[c[0] for c in ROP_CASES])
def test_rop_against_finite_differences(name, build, shape):
    rng = np.random.default_rng(3)
    a = _matrix()
    x = rd.sparse.csr_matrix("X")
    d = rd.tensor("d", shape=(None,) * len(shape))
    y = build(x, d)
    vx = rd.sparse.csr_matrix("VX")
    vd = rd.tensor("vd", shape=(None,) * len(shape))
    r = rd.Rop(y, [x, d], [vx, vd])
    dv = rng.normal(size=shape)
    tx = a.copy()
    tx.data = rng.normal(size=a.nnz)
    tdv = rng.normal(size=shape)
    got = rd.function([x, d, vx, vd], r, on_unused_input="ignore")(a, dv, tx, tdv)
    f = rd.function([x, d], y)
    np.testing.assert_allclose(got, central_directional(f, [a, dv], [tx, tdv], EPS), rtol=1e-6, atol=1e-7)


def test_rop_of_csr_constructor():
    a = _matrix()
    data, t = rd.vector("data"), rd.vector("t")
    y = rd.sparse.todense(rd.sparse.CSR(data, a.indices, a.indptr, a.shape)) @ rd.constant(W5)
    r = rd.function([data, t], rd.Rop(y, data, t))(a.data, np.arange(a.nnz) * 1.0)
    tangent = sp.csr_matrix((np.arange(a.nnz) * 1.0, a.indices, a.indptr), shape=a.shape)
    np.testing.assert_allclose(r, tangent @ W5, rtol=1e-12)


# ---- lowering ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("fusion", ["kernels", "numexpr", "none"])
def test_gradient_of_a_sparse_logistic_regression_never_densifies_x(fusion):
    x = rd.sparse.csr_matrix("X")
    w, y = rd.vector("w"), rd.vector("y")
    cost = rd.mean(rd.softplus(-y * (x @ w)))
    f = rd.function([x, w, y], rd.grad(cost, w), fusion=fusion)
    assert "toarray" not in f.source and "todense" not in f.source
    a = _matrix(m=50, n=8, density=0.3)
    rng = np.random.default_rng(0)
    wv, yv = rng.normal(size=8), rng.choice([-1.0, 1.0], 50)
    p = 1 / (1 + np.exp(yv * (a @ wv)))
    np.testing.assert_allclose(f(a, wv, yv), a.T @ (-yv * p) / 50, rtol=1e-12)


@pytest.mark.parametrize("backend", ["jax", "dask", "array_api"])
def test_other_backends_refuse_sparse_ops(backend):
    if backend != "array_api":
        pytest.importorskip(backend)
    x = rd.sparse.csr_matrix("X")
    w = rd.vector("w")
    with pytest.raises(Exception, match=r"sp_dot"):
        rd.function([x, w], x @ w, backend=backend)
