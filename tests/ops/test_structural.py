"""Structural ops as a user calls them: values against numpy, derivatives against central differences,
first with undeclared shapes (``rd.vector("x")``), then with declared ones, in float32 and float64.
"""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.verify import central_directional, central_hessian, central_jacobian

RNG = np.random.default_rng(7)
X = np.array([0.3, -1.2, 2.5, 0.7, -0.4])  # distinct values: no ties for sort
M = np.array([[0.5, -1.1, 2.0, 0.9], [1.7, 0.2, -0.6, 1.3], [-0.85, 2.2, 0.4, -1.9]])


# (name, frontend builder, numpy reference) for a matrix argument
MATRIX_CASES = [
    ("cumsum-axis0", lambda a: rd.cumsum(a, axis=0), lambda a: np.cumsum(a, axis=0)),
    ("cumsum-flat", rd.cumsum, np.cumsum),
    ("cumprod-axis1", lambda a: rd.cumprod(a, axis=-1), lambda a: np.cumprod(a, axis=-1)),
    ("cumprod-flat", rd.cumprod, np.cumprod),
    ("diff", lambda a: rd.diff(a), np.diff),
    ("diff-n2-axis0", lambda a: rd.diff(a, n=2, axis=0), lambda a: np.diff(a, n=2, axis=0)),
    ("flip", rd.flip, np.flip),
    ("flip-axis1", lambda a: rd.flip(a, axis=1), lambda a: np.flip(a, axis=1)),
    ("roll", lambda a: rd.roll(a, 2, axis=1), lambda a: np.roll(a, 2, axis=1)),
    ("roll-flat", lambda a: rd.roll(a, -7), lambda a: np.roll(a, -7)),
    ("roll-axes", lambda a: rd.roll(a, (1, 3), axis=(0, 1)), lambda a: np.roll(a, (1, 3), axis=(0, 1))),
    ("sort", rd.sort, np.sort),
    ("sort-axis0", lambda a: rd.sort(a, axis=0), lambda a: np.sort(a, axis=0)),
    ("sort-flat", lambda a: rd.sort(a, axis=None), lambda a: np.sort(a, axis=None)),
    ("take_along_axis", lambda a: rd.take_along_axis(a, rd.argsort(a, axis=1), axis=1), lambda a: np.sort(a, axis=1)),
    ("kron", lambda a: rd.kron(a, a[:2, :3]), lambda a: np.kron(a, a[:2, :3])),
    ("kron-vector", lambda a: rd.kron(a[0], a), lambda a: np.kron(a[0], a)),
    ("pad", lambda a: rd.pad(a, ((1, 2), (0, 3))), lambda a: np.pad(a, ((1, 2), (0, 3)))),
    ("pad-value", lambda a: rd.pad(a, 1, constant_values=2.5), lambda a: np.pad(a, 1, constant_values=2.5)),
    ("norm-fro", rd.norm, np.linalg.norm),
    ("norm-1", lambda a: rd.norm(a, 1), lambda a: np.linalg.norm(a, 1)),
    ("norm-inf", lambda a: rd.norm(a, np.inf), lambda a: np.linalg.norm(a, np.inf)),
    ("norm--1", lambda a: rd.norm(a, -1), lambda a: np.linalg.norm(a, -1)),
    ("norm-rows", lambda a: rd.norm(a, axis=1), lambda a: np.linalg.norm(a, axis=1)),
    ("norm-rows-1", lambda a: rd.norm(a, 1, axis=1, keepdims=True), lambda a: np.linalg.norm(a, 1, axis=1, keepdims=True)),
    ("norm-cols-inf", lambda a: rd.norm(a, np.inf, axis=0), lambda a: np.linalg.norm(a, np.inf, axis=0)),
    ("norm-cols--inf", lambda a: rd.norm(a, -np.inf, axis=0), lambda a: np.linalg.norm(a, -np.inf, axis=0)),
    ("norm-p3", lambda a: rd.norm(a, 3, axis=1), lambda a: np.linalg.norm(a, 3, axis=1)),
]


@pytest.mark.parametrize("declared", [False, True], ids=["undeclared", "declared"])
@pytest.mark.parametrize("name, build, ref", MATRIX_CASES, ids=[c[0] for c in MATRIX_CASES])
def test_value_and_gradient_against_numpy(name, build, ref, declared):
    a = rd.tensor("a", shape=M.shape) if declared else rd.matrix("a")
    y = build(a)
    f = rd.function([a], y)
    np.testing.assert_allclose(f(M), ref(M), rtol=1e-12, atol=1e-12)
    w = RNG.normal(size=np.shape(ref(M)))
    g = rd.function([a], rd.grad(rd.sum(y * w), a))(M)
    np.testing.assert_allclose(g, central_jacobian(lambda v: float(np.sum(ref(v) * w)), M), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, build, ref", MATRIX_CASES, ids=[c[0] for c in MATRIX_CASES])
def test_dtype_is_kept(name, build, ref, dtype):
    a = rd.matrix("a", dtype=dtype)
    y = build(a)
    assert y.dtype == dtype
    got = rd.function([a], y)(M.astype(dtype))
    assert got.dtype == dtype
    np.testing.assert_allclose(got, ref(M.astype(dtype)), rtol=1e-5, atol=1e-5)
    g = rd.function([a], rd.grad(rd.sum(y), a))(M.astype(dtype))
    assert g.dtype == dtype


# (name, frontend builder, numpy reference) for a vector argument of undeclared length
VECTOR_CASES = [
    ("cumsum", rd.cumsum, np.cumsum),
    ("cumprod", rd.cumprod, np.cumprod),
    ("sort", rd.sort, np.sort),
    ("flip-roll-1", lambda t: rd.roll(rd.flip(t), 1), lambda t: np.roll(np.flip(t), 1)),
    ("flip-roll-2", lambda t: rd.roll(rd.flip(t), 2), lambda t: np.roll(np.flip(t), 2)),
    ("diff-pad", lambda t: rd.pad(rd.diff(t), (2, 1)), lambda t: np.pad(np.diff(t), (2, 1))),
]


@pytest.mark.parametrize("name, build, ref", VECTOR_CASES, ids=[c[0] for c in VECTOR_CASES])
def test_rop_agrees_with_finite_differences(name, build, ref):
    x, v = rd.vector("x"), rd.vector("v")
    dv = RNG.normal(size=X.shape)
    got = rd.function([x, v], rd.Rop(build(x), x, v), on_unused_input="ignore")(X, dv)
    np.testing.assert_allclose(got, central_directional(ref, [X], [dv]), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name, build, ref", VECTOR_CASES, ids=[c[0] for c in VECTOR_CASES])
def test_jacobian_with_unknown_sizes(name, build, ref):
    x = rd.vector("x")
    jac = rd.function([x], rd.jacobian(build(x), x))(X)
    np.testing.assert_allclose(jac, central_jacobian(ref, X), rtol=1e-6, atol=1e-8)


def test_integer_inputs_accumulate_as_numpy():
    i = rd.vector("i", dtype="int8")
    data = np.array([100, 100, 100], dtype=np.int8)
    assert rd.cumsum(i).dtype == "int64"
    np.testing.assert_array_equal(rd.function([i], rd.cumsum(i))(data), np.cumsum(data, dtype=np.int64))
    np.testing.assert_array_equal(rd.function([i], rd.cumprod(i))(data), np.cumprod(data, dtype=np.int64))


def test_cumsum_gradient_is_a_reversed_cumsum():
    x = rd.vector("x")
    g = rd.function([x], rd.grad(rd.sum(rd.cumsum(x)), x))(X)
    np.testing.assert_array_equal(g, np.arange(len(X), 0, -1.0))


def test_sort_gradient_follows_the_permutation():
    x = rd.vector("x")
    w = np.arange(1.0, 6.0)
    g = rd.function([x], rd.grad(rd.sum(rd.sort(x) * w), x))(X)
    want = np.empty_like(w)
    want[np.argsort(X)] = w
    np.testing.assert_array_equal(g, want)


def test_argsort_and_searchsorted_carry_zero_gradient():
    x = rd.vector("x")
    cost = rd.sum(rd.cast(rd.argsort(x), "float64")) + rd.sum(rd.cast(rd.searchsorted(rd.sort(x), x * 2.0, side="right"), "float64"))
    np.testing.assert_array_equal(rd.function([x], rd.grad(cost, x))(X), np.zeros_like(X))
    got = rd.function([x], rd.searchsorted(rd.sort(x), x * 2.0, side="right"))(X)
    np.testing.assert_array_equal(got, np.searchsorted(np.sort(X), X * 2.0, side="right"))
    sorter = rd.argsort(x)
    np.testing.assert_array_equal(rd.function([x], rd.searchsorted(x, x, sorter=sorter))(X), np.searchsorted(X, X, sorter=np.argsort(X)))


def test_take_along_axis_broadcasts_and_repeats():
    a = rd.matrix("a")
    idx = np.array([[0, 2, 2, 1]])
    y = rd.take_along_axis(a, rd.constant(idx), axis=0)
    np.testing.assert_array_equal(rd.function([a], y)(M), np.take_along_axis(M, idx, axis=0))
    w = RNG.normal(size=(1, 4))
    g = rd.function([a], rd.grad(rd.sum(y * w), a))(M)
    np.testing.assert_allclose(g, central_jacobian(lambda v: float(np.sum(np.take_along_axis(v, idx, axis=0) * w)), M), atol=1e-8)
    col = rd.tensor("c", shape=(3, 1))
    rep = np.array([[0, 0, 1, 2], [2, 2, 2, 0], [1, 1, 0, 0]])
    y = rd.take_along_axis(col, rd.constant(rep), axis=0)
    cv = M[:, :1]
    np.testing.assert_array_equal(rd.function([col], y)(cv), np.take_along_axis(cv, rep, axis=0))
    g = rd.function([col], rd.grad(rd.sum(y), col))(cv)
    np.testing.assert_array_equal(g, np.bincount(rep.ravel(), minlength=3).reshape(3, 1).astype(float))


POWER_BASE = np.array([[2.0, 1.0, 0.0], [0.5, 3.0, 0.2], [0.1, 0.0, 1.5]])


@pytest.mark.parametrize("n", [0, 1, 2, 5, -1, -3])
def test_matrix_power_against_numpy(n):
    a, s = rd.matrix("a"), POWER_BASE
    y = rd.matrix_power(a, n)
    np.testing.assert_allclose(rd.function([a], y)(s), np.linalg.matrix_power(s, n), rtol=1e-10)
    if n == 0:  # the identity, as PyTensor's: it does not depend on the matrix
        with pytest.raises(rd.DisconnectedInputError):
            rd.grad(rd.sum(y), a)
        return
    g = rd.function([a], rd.grad(rd.sum(y), a))(s)
    np.testing.assert_allclose(g, central_jacobian(lambda v: float(np.sum(np.linalg.matrix_power(v, n))), s), rtol=1e-5, atol=1e-7)


def test_matrix_power_of_a_stack():
    s = POWER_BASE
    stack = rd.tensor3("t")
    sv = np.stack([s, s.T])
    np.testing.assert_allclose(rd.function([stack], rd.matrix_power(stack, 3))(sv), np.linalg.matrix_power(sv, 3), rtol=1e-10)
    np.testing.assert_allclose(rd.function([stack], rd.matrix_power(stack, 0))(sv), np.linalg.matrix_power(sv, 0))


@pytest.mark.parametrize("ord", [None, 1, 2, np.inf, -np.inf, 0, 3, 0.5])
def test_vector_norms_against_numpy(ord):
    x = rd.vector("x")
    y = rd.norm(x, ord)
    np.testing.assert_allclose(rd.function([x], y)(X), np.linalg.norm(X, ord), rtol=1e-12)
    if ord != 0:  # the count of nonzeros: piecewise constant
        g = rd.function([x], rd.grad(y, x))(X)
        np.testing.assert_allclose(g, central_jacobian(lambda v: float(np.linalg.norm(v, ord)), X), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("ord", ["nuc", 2, -2])
def test_matrix_norms_from_singular_values_against_numpy(ord):
    a = rd.matrix("a")
    m = np.random.default_rng(5).normal(size=(4, 3))
    for axis, keepdims in ((None, False), ((1, 0), True)):
        y = rd.norm(a, ord, axis=axis, keepdims=keepdims)
        np.testing.assert_allclose(rd.function([a], y)(m), np.linalg.norm(m, ord, axis=axis, keepdims=keepdims), rtol=1e-12)
    g = rd.function([a], rd.grad(rd.norm(a, ord), a))(m)
    np.testing.assert_allclose(g, central_jacobian(lambda v: float(np.linalg.norm(v, ord)), m), rtol=1e-6, atol=1e-8)


def test_hessian_and_sort_jacobian_with_unknown_sizes():
    x = rd.vector("x")
    h = rd.function([x], rd.hessian(rd.sum(rd.cumprod(x)), x))(X)
    np.testing.assert_allclose(h, central_hessian(lambda v: float(np.sum(np.cumprod(v))), X), rtol=1e-4, atol=1e-5)
    a = rd.matrix("a")
    jac = rd.function([a], rd.jacobian(rd.take_along_axis(a, rd.argsort(a, axis=1), axis=1).sum(axis=0), a))(M)
    np.testing.assert_allclose(jac, _sort_jacobian(M), atol=1e-12)


def _sort_jacobian(m):
    """d sum(sort(m, axis=1), axis=0)[k] / d m[i, j] = 1 where m[i, j] is the k-th of its row."""
    out = np.zeros((m.shape[1],) + m.shape)
    for i, row in enumerate(np.argsort(m, axis=1)):
        for k, j in enumerate(row):
            out[k, i, j] = 1.0
    return out


def _prod_hessian(x):
    """The Hessian of prod: d2 prod / dx_i dx_j = the product of the elements other than i and j (0 on the diagonal)."""
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                h[i, j] = np.prod([x[k] for k in range(n) if k not in (i, j)])
    return h


@pytest.mark.parametrize(
    "x",
    [X, np.array([0.3, 0.0, 2.5, 0.7]), np.array([0.0, 1.5, 0.0, -2.0]), np.array([0.0, 0.0, 0.0, 3.0])],
    ids=["no-zero", "one-zero", "two-zeros", "three-zeros"],
)
def test_prod_second_derivative_exact_with_zeros(x):
    v = rd.vector("v")
    h = rd.function([v], rd.hessian(rd.prod(v), v))(x)
    np.testing.assert_allclose(h, _prod_hessian(x), rtol=1e-12, atol=0)
    p = rd.vector("p")
    dv = np.arange(1.0, len(x) + 1)
    hvp = rd.function([v, p], rd.hessian_vector_product(rd.prod(v), v, p))(x, dv)
    np.testing.assert_allclose(hvp, _prod_hessian(x) @ dv, rtol=1e-12, atol=1e-15)
    # forward over reverse: the R-op of the gradient
    rop = rd.function([v, p], rd.Rop(rd.grad(rd.prod(v), v), v, p))(x, dv)
    np.testing.assert_allclose(rop, _prod_hessian(x) @ dv, rtol=1e-12, atol=1e-15)


def test_prod_hessian_along_an_axis():
    a = rd.matrix("a")
    m = M.copy()
    m[1, 2] = 0.0
    h = rd.function([a], rd.hessian(rd.sum(rd.prod(a, axis=1) * np.array([1.0, 2.0, 3.0])), a))(m)
    want = np.zeros(m.shape + m.shape)
    for r, scale in enumerate([1.0, 2.0, 3.0]):
        want[r, :, r, :] = scale * _prod_hessian(m[r])
    np.testing.assert_allclose(h, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda x: rd.cumsum(x, axis=2), r"cumsum: axis 2 is out of range"),
        (lambda x: rd.sort(x, axis=-3), r"sort: axis -3 is out of range"),
        (lambda x: rd.roll(x, 1.5, axis=0), r"roll: shift must be a static int"),
        (lambda x: rd.roll(x, 1.5), r"roll: with axis=None the shift must be a static int"),
        (lambda x: rd.roll(x, (1, 2, 3), axis=(0, 1)), r"roll: 3 shifts for 2 axes"),
        (lambda x: rd.flip(x, axis=5), r"flip: axis 5 is out of range"),
        (lambda x: rd.pad(x, ((1, 2), (0, 1), (3, 3))), r"pad: pad widths of shape \(3, 2\) for an array of shape \(\?, \?\)"),
        (lambda x: rd.pad(x, 1.5), r"pad: pad widths must be static ints"),
        (lambda x: rd.pad(x, -1), r"pad: negative pad widths"),
        (lambda x: rd.pad(x, 1, mode="reflect"), r"pad: only mode='constant'"),
        (lambda x: rd.diff(x, n=-1), r"diff: order n must be non-negative"),
        (lambda x: rd.diff(x, axis=3), r"diff: axis 3 is out of range"),
        (lambda x: rd.take_along_axis(x, rd.constant(np.array([0, 1])), axis=0), r"take_along_axis: indices must have the array's ndim"),
        (lambda x: rd.take_along_axis(x, x, axis=0), r"take_along_axis: indices must be integers"),
        (lambda x: rd.searchsorted(x, x), r"searchsorted: the sorted array must be a vector"),
        (lambda x: rd.searchsorted(x[0], x, side="middle"), r"searchsorted: side must be 'left' or 'right'"),
        (lambda x: rd.matrix_power(x, 2.0), r"matrix_power: n must be a static int"),
        (lambda x: rd.matrix_power(x[0], 2), r"matrix_power: needs a square matrix"),
        (lambda x: rd.norm(rd.stack([x, x]), "nuc", axis=(1, 2)), r"norm: ord 'nuc' \(from singular values\) takes a matrix"),
        (lambda x: rd.norm(x, "fro", axis=0), r"norm: ord 'fro' is a matrix norm"),
        (lambda x: rd.norm(x, axis=(0, 0)), r"norm: repeated axis"),
    ],
)
def test_bad_input_names_the_op(build, match):
    x = rd.matrix("x")
    with pytest.raises(rd.RewriteDiffError, match=match):
        build(x)


# ---- second derivatives of einsum (and tensordot) -----------------------------------------------------
B = np.array([[0.4, -0.3, 1.1, 0.6], [-0.9, 0.8, 0.2, -0.5], [0.7, 0.1, -1.3, 0.3]])
V = np.array([0.6, -1.4, 0.9])
S = np.array([[0.9, -0.2, 0.4], [0.3, 1.2, -0.7], [-0.5, 0.8, 1.1]])
EINSUM_CASES = [
    ("ij,jk->ik", lambda a, b, v: rd.sum(rd.einsum("ij,jk->ik", a, b) ** 2), lambda a: np.sum(np.einsum("ij,jk->ik", a, B) ** 2)),
    ("ii->", lambda a, b, v: rd.einsum("ii->", a) ** 3, lambda a: np.einsum("ii->", a) ** 3),
    ("ii->i", lambda a, b, v: rd.sum(rd.exp(rd.einsum("ii->i", a))), lambda a: np.sum(np.exp(np.einsum("ii->i", a)))),
    ("ij,j->", lambda a, b, v: rd.einsum("ij,j->", a, v) ** 2, lambda a: np.einsum("ij,j->", a, V) ** 2),
    ("ij,ij->i", lambda a, b, v: rd.sum(rd.einsum("ij,ij->i", a, a) ** 2), lambda a: np.sum(np.einsum("ij,ij->i", a, a) ** 2)),
    ("ij,k->i", lambda a, b, v: rd.sum(rd.sin(rd.einsum("ij,k->i", a, v))), lambda a: np.sum(np.sin(np.einsum("ij,k->i", a, V)))),
    ("tensordot", lambda a, b, v: rd.sum(rd.tensordot(a, a, axes=1) ** 2), lambda a: np.sum(np.tensordot(a, a, axes=1) ** 2)),
]


@pytest.mark.parametrize("declared", [False, True], ids=["undeclared", "declared"])
@pytest.mark.parametrize("name, build, ref", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum_second_derivatives(name, build, ref, declared):
    a = rd.tensor("a", shape=S.shape) if declared else rd.matrix("a")
    b, v = rd.matrix("b"), rd.vector("v")
    cost = build(a, b, v)
    want = central_hessian(ref, S).reshape(S.size, S.size)
    h = rd.function([a, b, v], rd.hessian(cost, a), on_unused_input="ignore")(S, B, V)
    np.testing.assert_allclose(h.reshape(9, 9), want, rtol=1e-5, atol=5e-5)
    p = rd.matrix("p")
    pv = RNG.normal(size=S.shape)
    hvp = rd.function([a, b, v, p], rd.hessian_vector_product(cost, a, p), on_unused_input="ignore")(S, B, V, pv)
    np.testing.assert_allclose(hvp.ravel(), want @ pv.ravel(), rtol=1e-5, atol=5e-5)
    rop = rd.function([a, b, v, p], rd.Rop(rd.grad(cost, a), a, p), on_unused_input="ignore")(S, B, V, pv)
    np.testing.assert_allclose(rop.ravel(), want @ pv.ravel(), rtol=1e-5, atol=5e-5)


def test_def_op_gradient_counts_each_path_once():
    """A composite op differentiated through its expansion: an argument that depends on another
    (``f(x, exp(x))``), or one given twice (``f(x, x)``), contributes once per path."""
    from rewritediff.ops import unregister
    from rewritediff.rules import RuleSet

    RuleSet().load_string("def pathmul(x, y) = x * y")  # registers the op; no derivative rule for it
    try:
        x = rd.scalar("x")
        grad_dep = rd.function([x], rd.grad(rd.apply("pathmul", x, rd.exp(x)), x))(0.5)
        assert grad_dep == pytest.approx(np.exp(0.5) * 1.5, rel=1e-14)
        grad_twice = rd.function([x], rd.grad(rd.apply("pathmul", x, x), x))(0.5)
        assert grad_twice == pytest.approx(1.0, rel=1e-14)
    finally:
        unregister("pathmul")


def test_numpy_functions_and_methods_on_terms():
    x = rd.vector("x")
    for got, want in [
        (np.cumsum(x), np.cumsum(X)),
        (np.cumprod(x), np.cumprod(X)),
        (np.sort(x), np.sort(X)),
        (np.argsort(x), np.argsort(X)),
        (np.flip(x), np.flip(X)),
        (np.roll(x, 2), np.roll(X, 2)),
        (np.diff(x, 2), np.diff(X, 2)),
        (np.kron(x, x), np.kron(X, X)),
        (np.pad(x, (1, 2)), np.pad(X, (1, 2))),
        (x.cumsum(), X.cumsum()),
        (x.sort(), np.sort(X)),
        (x.argsort(), X.argsort()),
        (x.sort().searchsorted(x, side="right"), np.sort(X).searchsorted(X, side="right")),
    ]:
        assert isinstance(got, rd.Term)
        np.testing.assert_array_equal(rd.function([x], got)(X), want)
    with pytest.raises(rd.RewriteDiffTypeError, match="numpy.linalg.norm cannot be applied"):
        np.linalg.norm(x)


def test_a_flip_undone_simplifies_away():
    x = rd.vector("x")
    assert rd.simplify(rd.flip(rd.flip(x)) * 2.0) is rd.simplify(x * 2.0)


def test_sort_kinds_are_stable_and_pad_value_gets_its_gradient():
    x = rd.vector("x")
    ties = np.array([2.0, 1.0, 2.0, 1.0, 0.5])
    for kind in (None, "quicksort", "mergesort", "heapsort", "stable"):
        np.testing.assert_array_equal(rd.function([x], rd.argsort(x, kind=kind))(ties), np.argsort(ties, kind="stable"))
        np.testing.assert_array_equal(rd.function([x], np.sort(x, kind=kind))(ties), np.sort(ties))
    with pytest.raises(rd.RewriteDiffTypeError, match="sort: order="):
        rd.sort(x, order="f")
    c = rd.scalar("c")
    y = rd.pad(x, (2, 1), constant_values=c)
    np.testing.assert_array_equal(rd.function([x, c], y)(X, 4.0), np.pad(X, (2, 1), constant_values=4.0))
    gx, gc = rd.function([x, c], rd.grad(rd.sum(y * y), [x, c]))(X, 4.0)
    np.testing.assert_allclose(gx, 2 * X)
    assert gc == pytest.approx(3 * 2 * 4.0)


def test_sort_derivatives_on_jax_match_numpy():
    pytest.importorskip("jax")
    x = rd.vector("x")
    for y in [rd.jacobian(rd.sort(x), x), rd.hessian(rd.sum(rd.sort(x) ** 3), x), rd.grad(rd.sum(rd.take_along_axis(x, rd.argsort(-x), 0) * X), x)]:
        got = np.asarray(rd.function([x], y, backend="jax")(X))
        np.testing.assert_allclose(got, rd.function([x], y)(X), rtol=1e-12)


def test_diff_prepend_append_as_numpy():
    a, c = rd.matrix("a"), rd.scalar("c")
    y = rd.diff(a, axis=0, prepend=c, append=M[:1] * 2.0)
    np.testing.assert_allclose(rd.function([a, c], y)(M, 0.5), np.diff(M, axis=0, prepend=0.5, append=M[:1] * 2.0))
    gc = rd.function([a, c], rd.grad(rd.sum(y * y), c))(M, 0.5)
    assert gc == pytest.approx(float(np.sum(-2 * np.diff(M, axis=0, prepend=0.5, append=M[:1] * 2.0)[0])))
    np.testing.assert_allclose(rd.function([a], rd.diff(a, 2, prepend=1.0))(M), np.diff(M, 2, prepend=1.0))
    with pytest.raises(rd.ShapeError, match="diff: prepend/append of shape"):
        rd.diff(a, prepend=np.ones(3))


@pytest.mark.parametrize(
    "x",
    [
        np.array([0.5, -1.2, 0.0, 0.8, -0.3, 1.5]),
        np.array([0.5, 0.0, 2.0, 0.0, -0.3, 1.5]),
        np.array([0.0, 0.0, 2.0, 0.8, 0.0, 0.0]),
        np.array([0.5, -1.2, 2.0, 0.8, -0.3, 0.0]),
        np.array([0.0, 1.3, 0.0, 0.8, 0.0, 2.0]),
    ],
    ids=["one-zero", "two-zeros", "leading-zeros", "last-zero", "three-zeros"],
)
def test_cumprod_derivatives_exact_with_zeros(x):
    v, p = rd.vector("v"), rd.vector("p")
    w = np.array([0.7, -1.3, 0.4, 2.0, -0.6, 1.1])
    ref = lambda t: float(np.sum(np.cumprod(t) * w))  # noqa: E731 - a polynomial: its central differences are exact to rounding
    g = rd.function([v], rd.grad(rd.sum(rd.cumprod(v) * w), v))(x)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, central_jacobian(ref, x), atol=1e-8)
    dv = np.arange(1.0, 7.0)
    rop = rd.function([v, p], rd.Rop(rd.cumprod(v), v, p))(x, dv)
    np.testing.assert_allclose(rop, central_directional(np.cumprod, [x], [dv]), atol=1e-8)
    h = rd.function([v], rd.hessian(rd.sum(rd.cumprod(v) * w), v))(x)
    np.testing.assert_allclose(h, central_hessian(ref, x), atol=1e-6)
    a = rd.matrix("a")
    m = np.stack([x, x[::-1], np.abs(x) + 0.5])
    ga = rd.function([a], rd.grad(rd.sum(rd.cumprod(a, axis=1) * w), a))(m)
    np.testing.assert_allclose(ga, central_jacobian(lambda t: float(np.sum(np.cumprod(t, axis=1) * w)), m), atol=1e-8)
