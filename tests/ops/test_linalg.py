"""rd.linalg against numpy.linalg: inv, det, slogdet, solve, cholesky, and square/shape errors."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.verify import central_directional, central_partial

# the shipped rules define ops (sym, outer_sym, ... used by the derivatives): load them at collection,
# before the registry fixture of tests/rules takes its snapshot, so it never unregisters them
rd.rules.default_rules()


def spd(rng: np.random.Generator, n: int) -> np.ndarray:
    """A well-conditioned symmetric positive-definite matrix."""
    a = rng.normal(size=(n, n))
    return a @ a.T + n * np.eye(n)


@pytest.mark.parametrize("static", [True, False])
def test_inv_det_slogdet(rng: np.random.Generator, static: bool) -> None:
    a = rd.tensor("a", shape=(4, 4) if static else (None, None))
    v = rng.normal(size=(4, 4))
    sign, logabs = rd.linalg.slogdet(a)
    inv, det = rd.linalg.inv(a), rd.linalg.det(a)
    assert inv.static_shape == ((4, 4) if static else (None, None)) and det.static_shape == ()
    outs = rd.function([a], [inv, det, sign, logabs], simplify=False)(v)
    np.testing.assert_allclose(outs[0], np.linalg.inv(v), rtol=1e-10)
    np.testing.assert_allclose(outs[1], np.linalg.det(v), rtol=1e-10)
    s, la = np.linalg.slogdet(v)
    assert outs[2] == s
    np.testing.assert_allclose(outs[3], la, rtol=1e-12)
    assert rd.linalg.matrix_inverse(a) is inv


@pytest.mark.parametrize("b_shape", [(3,), (3, 2)])
def test_solve(rng: np.random.Generator, b_shape: tuple) -> None:
    a, b = rd.tensor("a", shape=(3, 3)), rd.tensor("b", shape=b_shape)
    va, vb = rng.normal(size=(3, 3)) + 3 * np.eye(3), rng.normal(size=b_shape)
    term = rd.linalg.solve(a, b)
    expected = np.linalg.solve(va, vb)
    assert term.static_shape == expected.shape
    np.testing.assert_allclose(rd.function([a, b], term, simplify=False)(va, vb), expected, rtol=1e-10)


@pytest.mark.parametrize("lower", [True, False])
def test_cholesky(rng: np.random.Generator, lower: bool) -> None:
    a = rd.matrix("a")
    v = spd(rng, 4)
    out = rd.function([a], rd.linalg.cholesky(a, lower=lower), simplify=False)(v)
    low = np.linalg.cholesky(v)
    np.testing.assert_allclose(out, low if lower else low.T, rtol=1e-12)
    np.testing.assert_allclose(out @ out.T if lower else out.T @ out, v, rtol=1e-10)


def test_dtypes() -> None:
    a32 = rd.matrix("a", dtype="float32")
    ai = rd.matrix("ai", dtype="int64")
    assert rd.linalg.inv(a32).dtype == "float32"
    assert rd.linalg.det(ai).dtype == "float64"
    f = rd.function([a32, ai], [rd.linalg.inv(a32), rd.linalg.det(ai)], simplify=False)
    inv, det = f(np.eye(2, dtype="float32") * 2, np.array([[2, 1], [1, 3]]))
    assert inv.dtype == np.float32 and np.asarray(det).dtype == np.float64
    np.testing.assert_allclose(det, 5.0)
    with pytest.raises(rd.RewriteDiffTypeError, match="det: float16 is not supported"):
        rd.linalg.det(rd.matrix("h", dtype="float16"))


def test_square_and_shape_errors_name_op_and_shapes() -> None:
    m = rd.tensor("m", shape=(3, 4))
    v = rd.tensor("v", shape=(3,))
    for fn, name in ((rd.linalg.inv, "matrix_inverse"), (rd.linalg.det, "det"), (rd.linalg.cholesky, "cholesky")):
        with pytest.raises(rd.ShapeError, match=rf"{name}: argument must be a square matrix, got shape \(3, 4\)"):
            fn(m)
        with pytest.raises(rd.ShapeError, match=rf"{name}: argument must be a matrix, got shape \(3,\)"):
            fn(v)
    with pytest.raises(rd.ShapeError, match=r"slogdet_sign: argument must be a square matrix, got shape \(3, 4\)"):
        rd.linalg.slogdet(m)
    a = rd.tensor("a", shape=(3, 3))
    with pytest.raises(rd.ShapeError, match=r"solve: shapes \(3, 3\) and \(4,\) are not aligned"):
        rd.linalg.solve(a, rd.tensor("b", shape=(4,)))
    with pytest.raises(rd.ShapeError, match=r"solve: b must be a vector or a matrix, got shapes \(3, 3\) and \(3, 2, 2\)"):
        rd.linalg.solve(a, rd.tensor("b", shape=(3, 2, 2)))
    with pytest.raises(rd.RewriteDiffTypeError, match="cholesky: lower must be True or False"):
        rd.apply("cholesky", a, lower=1)


# ---- values, gradients and R-ops against numpy/scipy and central differences -------------------------------------
# Each case: a builder over rd terms, the same function written with numpy/scipy (the reference:
# values and central differences come from it, never from the code under test), and its inputs.


def _variable(name: str, shape: tuple, dtype: str, static: bool) -> rd.Tensor:
    """An input as a user writes it: ``rd.matrix("A")`` (no shape), or with its shape declared."""
    make = {1: rd.vector, 2: rd.matrix}[len(shape)]
    return make(name, dtype=dtype, shape=shape) if static else make(name, dtype=dtype)


def check_against_reference(build, ref, values: list[np.ndarray], dtype: str, static: bool, seed: int = 0) -> None:
    """Value, gradient (of a random weighting of the output) and R-op of ``build`` against ``ref``."""
    rng = np.random.default_rng(seed)
    rtol, atol = (1e-7, 1e-9) if dtype == "float64" else (2e-3, 2e-4)
    xs = [_variable(f"x{i}", v.shape, dtype, static) for i, v in enumerate(values)]
    y = build(*xs)
    vals = [v.astype(dtype) for v in values]
    ref64 = [v.astype(dtype).astype(np.float64) for v in values]  # the very inputs, in float64
    want = np.asarray(ref(*ref64))
    got = rd.function(xs, y)(*vals)
    assert np.asarray(got).dtype == np.dtype(dtype)
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale)
    w = rng.normal(size=want.shape)
    cost = rd.sum(rd.constant(w.astype(dtype)) * y)
    grads = rd.function(xs, rd.grad(cost, xs))(*vals)
    for g, fd in zip(grads, [central_partial(lambda *a: np.sum(w * ref(*a)), ref64, k) for k in range(len(ref64))]):
        gs = max(1.0, float(np.max(np.abs(fd))))
        np.testing.assert_allclose(g, fd, rtol=rtol * 100, atol=atol * 100 * gs)
    vs = [rng.normal(size=v.shape) for v in values]
    ts = [_variable(f"v{i}", v.shape, dtype, static) for i, v in enumerate(values)]
    jv = rd.function(xs + ts, rd.Rop(y, xs, ts))(*vals, *[v.astype(dtype) for v in vs])
    fd = central_directional(ref, ref64, vs)
    np.testing.assert_allclose(jv, fd, rtol=rtol * 100, atol=atol * 100 * max(1.0, float(np.max(np.abs(fd)))))


def _tri(lower: bool):
    return np.tril if lower else np.triu


def _cho_solve_ref(lower: bool):
    def ref(c, b):
        t = _tri(lower)(c)
        a = t @ t.T if lower else t.T @ t
        return np.linalg.solve(a, b)

    return ref


def _factor_like(rng: np.random.Generator, n: int) -> np.ndarray:
    """A well-conditioned square matrix with both triangles filled (the op must read only one)."""
    return rng.normal(size=(n, n)) * 0.3 + 2.0 * np.eye(n)


DTYPES = ["float64", "float32"]
STATIC = [False, True]


@pytest.mark.parametrize("static", STATIC)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("b_shape", [(4,), (4, 2)])
@pytest.mark.parametrize("lower", [True, False])
def test_cho_solve(lower: bool, b_shape: tuple, dtype: str, static: bool) -> None:
    rng = np.random.default_rng(1)
    c, b = _factor_like(rng, 4), rng.normal(size=b_shape)
    check_against_reference(lambda c_, b_: rd.linalg.cho_solve((c_, lower), b_), _cho_solve_ref(lower), [c, b], dtype, static)


def test_cho_factor_then_cho_solve_matches_scipy(rng: np.random.Generator) -> None:
    import scipy.linalg

    a, b = rd.matrix("a"), rd.matrix("b")
    av, bv = spd(rng, 5), rng.normal(size=(5, 3))
    for lower in (False, True):
        c_and_lower = rd.linalg.cho_factor(a, lower=lower)
        assert c_and_lower[1] is lower
        got = rd.function([a, b], rd.linalg.cho_solve(c_and_lower, b))(av, bv)
        np.testing.assert_allclose(got, scipy.linalg.cho_solve(scipy.linalg.cho_factor(av, lower=lower), bv), rtol=1e-10)
    assert rd.linalg.cho_factor(a)[1] is False  # SciPy's default: the upper factor
    f = rd.function([a, b], rd.linalg.cho_solve(rd.linalg.cho_factor(a), b))
    assert "_op_cho_solve" in f.source  # SciPy's cho_solve, not an LU solve


@pytest.mark.parametrize("static", STATIC)
@pytest.mark.parametrize("dtype", DTYPES)
def test_logdet_of_spd(dtype: str, static: bool) -> None:
    rng = np.random.default_rng(2)
    s = spd(rng, 4)
    check_against_reference(rd.linalg.logdet, lambda x: np.linalg.slogdet(x)[1], [s], dtype, static)


def test_logdet_of_large_spd_does_not_overflow() -> None:
    a = rd.matrix("a")
    v = np.diag(np.full(400, 1e3))  # det = 1e1200 overflows; its log does not
    np.testing.assert_allclose(rd.function([a], rd.linalg.logdet(a))(v), 400 * np.log(1e3), rtol=1e-12)


@pytest.mark.parametrize("static", STATIC)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_pinv(shape: tuple, dtype: str, static: bool) -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=shape)
    check_against_reference(rd.linalg.pinv, np.linalg.pinv, [a], dtype, static)


@pytest.mark.parametrize("static", STATIC)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [((5, 3), (5,)), ((5, 3), (5, 2)), ((3, 5), (3,)), ((4, 4), (4, 2))])
def test_lstsq(shapes: tuple, dtype: str, static: bool) -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    check_against_reference(lambda a_, b_: rd.linalg.lstsq(a_, b_)[0], lambda a_, b_: np.linalg.lstsq(a_, b_, rcond=None)[0], [a, b], dtype, static)


@pytest.mark.parametrize("shapes", [((5, 3), (5,)), ((6, 3), (6, 2)), ((3, 5), (3,))])
def test_lstsq_returns_numpys_four_results(shapes: tuple) -> None:
    rng = np.random.default_rng(17)
    av, bv = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    a, b = rd.matrix("a"), (rd.vector("b") if len(shapes[1]) == 1 else rd.matrix("b"))
    x, res, rank, s = rd.function([a, b], list(rd.linalg.lstsq(a, b)))(av, bv)
    wx, wres, wrank, ws = np.linalg.lstsq(av, bv, rcond=None)
    np.testing.assert_allclose(x, wx, rtol=1e-10, atol=1e-12)
    assert rank == wrank and np.asarray(rank).dtype == np.int64
    np.testing.assert_allclose(s, ws, rtol=1e-12)
    if wres.size:  # numpy gives them for a full-rank system with more rows than columns
        np.testing.assert_allclose(res, wres, rtol=1e-10)
    else:
        np.testing.assert_allclose(res, np.sum((bv - av @ wx) ** 2, axis=0).reshape(np.shape(res)), atol=1e-20)


def test_lstsq_rank_of_a_rank_deficient_matrix() -> None:
    rng = np.random.default_rng(18)
    av = rng.normal(size=(6, 2)) @ rng.normal(size=(2, 4))  # rank 2
    a, b = rd.matrix("a"), rd.vector("b")
    bv = rng.normal(size=6)
    x, _, rank, _ = rd.function([a, b], list(rd.linalg.lstsq(a, b)))(av, bv)
    assert rank == 2 == np.linalg.lstsq(av, bv, rcond=None)[2]
    np.testing.assert_allclose(x, np.linalg.lstsq(av, bv, rcond=None)[0], rtol=1e-8, atol=1e-10)


def test_new_ops_name_op_and_shapes_on_bad_input() -> None:
    m = rd.tensor("m", shape=(3, 4))
    a = rd.tensor("a", shape=(3, 3))
    v = rd.tensor("v", shape=(3,))
    with pytest.raises(rd.ShapeError, match=r"cho_solve: argument must be a square matrix, got shape \(3, 4\)"):
        rd.linalg.cho_solve((m, True), v)
    with pytest.raises(rd.ShapeError, match=r"cho_solve: shapes \(3, 3\) and \(4,\) are not aligned"):
        rd.linalg.cho_solve((a, True), rd.tensor("b", shape=(4,)))
    with pytest.raises(TypeError, match=r"cho_solve: the first argument must be a pair \(c, lower\)"):
        rd.linalg.cho_solve(a, v)
    with pytest.raises(rd.ShapeError, match=r"cho_solve: b_ndim=2 but b has shape \(3,\)"):
        rd.linalg.cho_solve((a, True), v, b_ndim=2)
    assert rd.linalg.cho_solve((a, True), v, check_finite=False, b_ndim=1) is rd.linalg.cho_solve((a, True), v)
    with pytest.raises(rd.ShapeError, match=r"pinv: argument must be a matrix, got shape \(3,\)"):
        rd.linalg.pinv(v)
    with pytest.raises(rd.ShapeError, match=r"lstsq: shapes \(3, 4\) and \(4,\) are not aligned"):
        rd.linalg.lstsq(m, rd.tensor("b", shape=(4,)))[0]
    with pytest.raises(rd.ShapeError, match=r"lstsq: a must be a matrix, got shape \(3,\)"):
        rd.linalg.lstsq(v, v)
    with pytest.raises(rd.ShapeError, match=r"cholesky: argument must be a square matrix, got shape \(3, 4\)"):
        rd.linalg.logdet(m)


# eigenvectors and singular vectors are defined up to sign: the cases use functions of them that are not
_C4 = np.random.default_rng(5).normal(size=(4, 4))


@pytest.mark.parametrize("static", STATIC)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_values_and_vectors(uplo: str, dtype: str, static: bool) -> None:
    rng = np.random.default_rng(7)
    a = rng.normal(size=(4, 4)) + np.diag([1.0, 3.0, 5.0, 7.0])  # both triangles filled: eigh reads one

    def build(x: rd.Tensor) -> rd.Tensor:
        w, v = rd.linalg.eigh(x, UPLO=uplo)
        return rd.dot(v * w**2, v.T) + rd.constant(_C4.astype(x.dtype)) * v * v + w

    def ref(x: np.ndarray) -> np.ndarray:
        w, v = np.linalg.eigh(x, UPLO=uplo)
        return (v * w**2) @ v.T + _C4 * v * v + w

    check_against_reference(build, ref, [a], dtype, static)


@pytest.mark.parametrize("static", STATIC)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lower", [True, False])
def test_eigvalsh(lower: bool, dtype: str, static: bool) -> None:
    a = np.random.default_rng(8).normal(size=(4, 4))
    check_against_reference(lambda x: rd.linalg.eigvalsh(x, lower=lower), lambda x: np.linalg.eigvalsh(x, UPLO="L" if lower else "U"), [a], dtype, static)


def test_eigh_computes_the_decomposition_once() -> None:
    a = rd.matrix("a")
    w, v = rd.linalg.eigh(a)
    f = rd.function([a], [w, v])
    assert f.source.count("np.linalg.eig") == 1, f.source
    av = spd(np.random.default_rng(9), 4)
    got_w, got_v = f(av)
    want_w, _ = np.linalg.eigh(av)
    np.testing.assert_allclose(got_w, want_w, rtol=1e-12)
    np.testing.assert_allclose(got_v @ np.diag(got_w) @ got_v.T, av, rtol=1e-10, atol=1e-10)
    only_w = rd.function([a], rd.linalg.eigvalsh(a))
    assert "eigvalsh" in only_w.source and "eigh(" not in only_w.source  # no eigenvectors computed when none is used
    # the gradient of the values reads the vectors: still one decomposition
    g = rd.function([a], rd.grad(rd.sum(rd.linalg.eigvalsh(a) ** 2), a))
    assert g.source.count("np.linalg.eig") == 1, g.source


@pytest.mark.parametrize("static", STATIC)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_svd(shape: tuple, dtype: str, static: bool) -> None:
    rng = np.random.default_rng(10)
    a = rng.normal(size=shape)
    k = min(shape)
    cu, cv, cs = rng.normal(size=(shape[0], k)), rng.normal(size=(k, shape[1])), rng.normal(size=shape)

    def build(x: rd.Tensor) -> rd.Tensor:
        u, s, vt = rd.linalg.svd(x, full_matrices=False)
        c = [rd.constant(k.astype(x.dtype)) for k in (cs, cu, cv)]
        return rd.dot(u * s**2, vt) * c[0] + rd.sum(c[1] * u * u) + rd.sum(c[2] * vt * vt) + rd.dot(u, vt)

    def ref(x: np.ndarray) -> np.ndarray:
        u, s, vt = np.linalg.svd(x, full_matrices=False)
        return (u * s**2) @ vt * cs + np.sum(cu * u * u) + np.sum(cv * vt * vt) + u @ vt

    check_against_reference(build, ref, [a], dtype, static)


@pytest.mark.parametrize("static", STATIC)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_singular_values(shape: tuple, dtype: str, static: bool) -> None:
    a = np.random.default_rng(11).normal(size=shape)
    check_against_reference(lambda x: rd.linalg.svd(x, compute_uv=False), lambda x: np.linalg.svd(x, compute_uv=False), [a], dtype, static)


def test_svd_values_and_factors_and_one_call() -> None:
    a = rd.matrix("a")
    u, s, vt = rd.linalg.svd(a, full_matrices=False)
    f = rd.function([a], [u, s, vt])
    assert f.source.count("np.linalg.svd") == 1, f.source
    av = np.random.default_rng(12).normal(size=(5, 3))
    gu, gs, gvt = f(av)
    np.testing.assert_allclose(gs, np.linalg.svd(av, compute_uv=False), rtol=1e-12)
    np.testing.assert_allclose((gu * gs) @ gvt, av, rtol=1e-10, atol=1e-12)
    full = rd.function([a], list(rd.linalg.svd(a)))(av)  # numpy's default: full_matrices=True
    assert [x.shape for x in full] == [(5, 5), (3,), (3, 3)]
    with pytest.raises(rd.NullTypeGradError, match="full_matrices=False"):
        rd.grad(rd.sum(rd.linalg.svd(a)[0]), a)
    with pytest.raises(rd.PushforwardError, match="svd_u"):
        rd.Rop(rd.linalg.svd(a)[0], a, rd.matrix("t"))
    sq = rd.matrix("sq", shape=(3, 3))  # declared square: full and thin are the same, the gradient is there
    assert rd.grad(rd.sum(rd.linalg.svd(sq)[0] ** 2), sq) is not None


def test_decompositions_name_op_and_shapes_on_bad_input() -> None:
    m, v = rd.tensor("m", shape=(3, 4)), rd.tensor("v", shape=(3,))
    with pytest.raises(rd.ShapeError, match=r"eigh_values: argument must be a square matrix, got shape \(3, 4\)"):
        rd.linalg.eigh(m)
    with pytest.raises(rd.ShapeError, match=r"eigh_values: argument must be a matrix, got shape \(3,\)"):
        rd.linalg.eigvalsh(v)
    with pytest.raises(rd.ShapeError, match=r"svd_u: argument must be a matrix, got shape \(3,\)"):
        rd.linalg.svd(v)
    with pytest.raises(ValueError, match="eigh: UPLO must be 'L' or 'U', got 'X'"):
        rd.linalg.eigh(rd.matrix("a"), UPLO="X")
    with pytest.raises(NotImplementedError, match="eigvalsh: the generalized problem"):
        rd.linalg.eigvalsh(rd.matrix("a"), rd.matrix("b"))


# ---- equal eigenvalues: the derivative is NaN-free where the loss does not depend on the eigenvectors chosen --------
def _degenerate(rng: np.random.Generator) -> np.ndarray:
    """A symmetric matrix with eigenvalues 1, 2, 2, 5 (a 2-dimensional eigenspace)."""
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    return q @ np.diag([1.0, 2.0, 2.0, 5.0]) @ q.T


def test_degenerate_eigenvalues_loss_of_values_only() -> None:
    import warnings

    a = rd.matrix("a")
    av = _degenerate(np.random.default_rng(13))
    w = rd.linalg.eigvalsh(a)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = rd.function([a], rd.grad(rd.sum(w**3), a))(av)
    # d sum(w^3) / d s = 3 s^2, lower triangle read: off-diagonal entries count twice
    want = 3 * av @ av
    want = np.tril(2 * want) - np.diag(np.diag(want))
    np.testing.assert_allclose(g, want, rtol=1e-8, atol=1e-8)


def test_degenerate_eigenvalues_spectral_function_is_finite_without_warning() -> None:
    import warnings

    a = rd.matrix("a")
    rng = np.random.default_rng(14)
    av = _degenerate(rng)
    w, v = rd.linalg.eigh(a)
    c = rng.normal(size=(4, 4))
    loss = rd.sum(rd.constant(c) * rd.dot(v * rd.exp(w), v.T))  # <c, expm(a)>: no choice of eigenvectors in it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = rd.function([a], rd.grad(loss, a))(av)
    assert np.all(np.isfinite(g))


def test_degenerate_eigenvalues_loss_of_the_vectors_warns() -> None:
    from rewritediff.ops.linalg import DegenerateDerivativeWarning

    a = rd.matrix("a")
    av = _degenerate(np.random.default_rng(15))
    v = rd.linalg.eigh(a)[1]
    loss = rd.sum(v[:, 1] ** 4)  # depends on which eigenvector of the eigenvalue 2 is column 1
    f = rd.function([a], rd.grad(loss, a))
    with pytest.warns(DegenerateDerivativeWarning, match="eigenvalues equal to rounding"):
        g = f(av)
    assert np.all(np.isfinite(g))
    t = rd.matrix("t")
    with pytest.warns(DegenerateDerivativeWarning):  # the tangent of the vectors is not determined either
        tangent = rd.function([a, t], rd.Rop(v, a, t))(av, np.random.default_rng(16).normal(size=(4, 4)))
    assert np.all(np.isfinite(tangent))


def test_log_abs_det_is_computed_without_forming_det() -> None:
    a = rd.matrix("a")
    y = rd.log(abs(rd.linalg.det(a)))
    v = np.eye(400) * 1e3  # det = 1e1200 overflows to inf
    value, grad = rd.function([a], [y, rd.grad(y, a)])(v)
    np.testing.assert_allclose(value, 400 * np.log(1e3), rtol=1e-12)
    np.testing.assert_allclose(grad, np.eye(400) / 1e3, rtol=1e-12)  # d log|det a| / da = a^-T
    rng = np.random.default_rng(19)
    m = rng.normal(size=(5, 5))
    value, grad = rd.function([a], [y, rd.grad(y, a)])(m)
    np.testing.assert_allclose(value, np.linalg.slogdet(m)[1], rtol=1e-12)
    np.testing.assert_allclose(grad, np.linalg.inv(m).T, rtol=1e-10, atol=1e-12)
