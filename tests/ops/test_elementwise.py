"""Elementwise ops against numpy: values, broadcasting, dtypes and construction errors."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd

# name, numpy reference, input domain ("any", "pos", "unit" = (-1, 1), "ge1")
UNARY = [
    ("neg", np.negative, "any"),
    ("reciprocal", lambda x: 1.0 / x, "pos"),
    ("sqr", np.square, "any"),
    ("exp", np.exp, "any"),
    ("log", np.log, "pos"),
    ("log1p", np.log1p, "pos"),
    ("expm1", np.expm1, "any"),
    ("sqrt", np.sqrt, "pos"),
    ("sin", np.sin, "any"),
    ("cos", np.cos, "any"),
    ("tan", np.tan, "unit"),
    ("tanh", np.tanh, "any"),
    ("arcsin", np.arcsin, "unit"),
    ("arccos", np.arccos, "unit"),
    ("arctan", np.arctan, "any"),
    ("sinh", np.sinh, "any"),
    ("cosh", np.cosh, "any"),
    ("sigmoid", lambda x: 1.0 / (1.0 + np.exp(-x)), "any"),
    ("softplus", lambda x: np.log(1.0 + np.exp(x)), "any"),
    ("abs", np.abs, "any"),
    ("sign", np.sign, "any"),
    ("floor", np.floor, "any"),
    ("ceil", np.ceil, "any"),
    ("round", np.round, "any"),
    ("not_", np.logical_not, "any"),
]

BINARY = [
    ("add", np.add, "any"),
    ("sub", np.subtract, "any"),
    ("mul", np.multiply, "any"),
    ("true_div", np.true_divide, "pos"),
    ("pow", np.power, "pos"),
    ("maximum", np.maximum, "any"),
    ("minimum", np.minimum, "any"),
    ("lt", np.less, "any"),
    ("gt", np.greater, "any"),
    ("le", np.less_equal, "any"),
    ("ge", np.greater_equal, "any"),
    ("eq", np.equal, "any"),
    ("neq", np.not_equal, "any"),
    ("and_", np.logical_and, "any"),
    ("or_", np.logical_or, "any"),
]


def sample(rng: np.random.Generator, shape: tuple, domain: str, dtype: str = "float64") -> np.ndarray:
    """Random values in a domain where the op is defined."""
    if domain == "pos":
        v = rng.uniform(0.5, 3.0, size=shape)
    elif domain == "unit":
        v = rng.uniform(-0.9, 0.9, size=shape)
    else:
        v = rng.uniform(-3.0, 3.0, size=shape)
        if shape:
            v.flat[0] = 0.0  # a tie and a zero for sign/comparisons
    return np.asarray(v, dtype=dtype)


@pytest.mark.parametrize(("name", "ref", "domain"), UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_unary_matches_numpy(rng: np.random.Generator, name: str, ref, domain: str, dtype: str) -> None:
    x = rd.tensor("x", shape=(None, 3), dtype=dtype)
    f = rd.function([x], getattr(rd, name)(x), simplify=False)
    v = sample(rng, (4, 3), domain, dtype)
    out = f(v)
    expected = ref(v)
    assert np.asarray(out).dtype == np.asarray(expected).dtype
    np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize(("name", "ref", "domain"), BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize(
    ("sx", "sy"),
    [((4, 3), (4, 3)), ((4, 3), (1, 3)), ((4, 3), (4, 1)), ((4, 3), ()), ((3,), (4, 3)), ((4, 1), (1, 3))],
    ids=["same", "row", "column", "scalar", "vector-matrix", "outer"],
)
def test_binary_broadcasting_matches_numpy(rng: np.random.Generator, name: str, ref, domain: str, sx: tuple, sy: tuple) -> None:
    x = rd.tensor("x", shape=sx)
    y = rd.tensor("y", shape=sy)
    term = getattr(rd, name)(x, y)
    vx, vy = sample(rng, sx, domain), sample(rng, sy, domain)
    expected = ref(vx, vy)
    assert term.static_shape == expected.shape
    out = rd.function([x, y], term, simplify=False)(vx, vy)
    assert np.asarray(out).dtype == expected.dtype
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_unknown_dims_broadcast_at_run_time(rng: np.random.Generator) -> None:
    x = rd.matrix("x")
    y = rd.vector("y")
    z = x * y + 1.0
    assert z.static_shape == (None, None)
    vx, vy = rng.normal(size=(2, 5)), rng.normal(size=5)
    np.testing.assert_allclose(rd.function([x, y], z, simplify=False)(vx, vy), vx * vy + 1.0)


def test_nary_add_mul_and_python_scalars(rng: np.random.Generator) -> None:
    x, y, z = rd.vector("x"), rd.vector("y"), rd.vector("z")
    vals = [rng.normal(size=3) for _ in range(3)]
    f = rd.function([x, y, z], [rd.add(x, y, z, 2.0), rd.mul(x, y, z, 0.5), 3.0 - x, 2.0 / (y * y + 1.0), x**2], simplify=False)
    a, m, s, d, p = f(*vals)
    vx, vy, vz = vals
    np.testing.assert_allclose(a, vx + vy + vz + 2.0)
    np.testing.assert_allclose(m, vx * vy * vz * 0.5)
    np.testing.assert_allclose(s, 3.0 - vx)
    np.testing.assert_allclose(d, 2.0 / (vy * vy + 1.0))
    np.testing.assert_allclose(p, vx**2)


def test_switch_clip_cast(rng: np.random.Generator) -> None:
    x = rd.vector("x")
    v = rng.normal(size=6)
    f = rd.function([x], [rd.switch(x > 0, x, -2.0 * x), rd.clip(x, -0.5, 0.5), rd.cast(x, "int32"), rd.cast(x, "float32")], simplify=False)
    sw, cl, ci, cf = f(v)
    np.testing.assert_allclose(sw, np.where(v > 0, v, -2.0 * v))
    np.testing.assert_allclose(cl, np.clip(v, -0.5, 0.5))
    assert ci.dtype == np.int32 and np.array_equal(ci, v.astype(np.int32))
    assert cf.dtype == np.float32


def test_weak_python_scalars_keep_dtype() -> None:
    x = rd.vector("x", dtype="float32")
    assert (x + 1.0).dtype == "float32"
    assert (x * 2).dtype == "float32"
    i = rd.vector("i", dtype="int32")
    assert (i + 1).dtype == "int32"
    assert (i + 1.5).dtype == "float64"
    assert (i / i).dtype == "float64"


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "float64"])
def test_inferred_dtype_is_the_computed_dtype(rng: np.random.Generator, dtype: str) -> None:
    x = rd.vector("x", dtype=dtype)
    y = rd.vector("y", dtype="float32")
    terms = [rd.exp(x), rd.sqrt(rd.abs(x)), x + y, x * x, rd.sigmoid(x), rd.maximum(x, y), x > y]
    v = np.arange(1, 4).astype(dtype)
    outs = rd.function([x, y], terms, simplify=False)(v, np.ones(3, "float32"))
    for t, o in zip(terms, outs):
        assert np.asarray(o).dtype.name == t.dtype, t


def test_broadcast_mismatch_names_op_and_shapes() -> None:
    x = rd.tensor("x", shape=(3, 4))
    y = rd.tensor("y", shape=(5,))
    with pytest.raises(rd.ShapeError, match=r"add: shapes \(3, 4\), \(5,\)"):
        x + y
    with pytest.raises(rd.ShapeError, match=r"maximum: shapes \(2,\), \(3,\)"):
        rd.maximum(rd.tensor("a", shape=(2,)), rd.tensor("b", shape=(3,)))


def test_unknown_dtype_is_rejected() -> None:
    with pytest.raises(rd.RewriteDiffTypeError, match="dtype"):
        rd.vector("x", dtype="complex64")
    with pytest.raises(rd.RewriteDiffTypeError, match="dtype"):
        rd.cast(rd.vector("x"), "notadtype")


def test_wrong_arity_names_op() -> None:
    x = rd.vector("x")
    with pytest.raises(rd.ArityError, match="exp: takes 1 argument"):
        rd.apply("exp", x, x)
    with pytest.raises(rd.ArityError, match="sub: takes 2"):
        rd.apply("sub", x)


def test_call_errors_count_and_ndim() -> None:
    x = rd.matrix("x")
    f = rd.function([x], rd.exp(x), simplify=False)
    with pytest.raises(rd.CallError, match="takes 1 argument"):
        f(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(rd.CallError, match=r"expected ndim 2.*got ndim 1 \(shape \(3,\)\)"):
        f(np.ones(3))
    i = rd.ivector("i")
    g = rd.function([i], i * 2, simplify=False)
    with pytest.raises(rd.CallError, match="expected int32, got float64"):
        g(np.array([0.5, 1.5]))


def test_sigmoid_of_a_large_array_keeps_the_exact_tails() -> None:
    """Above EXPIT_FROM elements sigmoid is scipy.special.expit: the same values within a few ulps, tails exact."""
    from rewritediff import runtime as rt

    x = np.concatenate([np.linspace(-50.0, 50.0, rt.EXPIT_FROM + 1), [-800.0, -40.0, 800.0, np.inf, -np.inf]])
    big = rt.sigmoid(x)
    small = np.concatenate([rt.sigmoid(part) for part in np.array_split(x, 4)])
    assert small.size == big.size and all(p.size <= rt.EXPIT_FROM for p in np.array_split(x, 4))
    np.testing.assert_allclose(big, small, rtol=2e-15, atol=0)  # a few ulps: two roundings of the same formula
    np.testing.assert_allclose(big[-5:], [0.0, 1 / (1 + np.exp(40.0)), 1.0, 1.0, 0.0], rtol=1e-15, atol=0)
    assert rt.sigmoid(x.astype(np.float32)).dtype == np.float32


def test_sigmoid_scalar_path_agrees_with_the_array_path() -> None:
    from rewritediff import runtime as rt

    values = [-800.0, -40.0, -1.5, -1e-300, 0.0, 2.0, 40.0, 800.0, np.inf, -np.inf]
    arr = rt.sigmoid(np.array(values))
    exact = [0.0, 1 / (1 + np.exp(40.0)), 1 / (1 + np.exp(1.5)), 0.5, 0.5, 1 / (1 + np.exp(-2.0)), 1.0, 1.0, 1.0, 0.0]
    np.testing.assert_allclose(arr, exact, rtol=1e-15)
    for v, a in zip(values, arr):
        assert rt.sigmoid(np.array(v)) == a
    assert np.isnan(rt.sigmoid(np.array(np.nan)))
