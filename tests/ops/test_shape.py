"""Shape ops and constructors against numpy: dimshuffle, reshape, flatten, join, stack, split,
repeat, tile, alloc, arange, eye, zeros/ones/full, broadcasting helpers and shape queries."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd


def run(inputs: list, term, *values):
    """Compile without simplification and evaluate."""
    return rd.function(inputs, term, simplify=False)(*values)


def test_dimshuffle_transpose_expand_squeeze(rng: np.random.Generator) -> None:
    x = rd.tensor("x", shape=(2, 1, 3))
    v = rng.normal(size=(2, 1, 3))
    cases = [
        (x.dimshuffle(2, "x", 0), np.transpose(v[:, 0, :])[:, None, :]),
        (x.T, v.T),
        (x.transpose(1, 2, 0), np.transpose(v, (1, 2, 0))),
        (rd.expand_dims(x, -1), v[..., None]),
        (rd.squeeze(x), v[:, 0, :]),
        (x.squeeze(axis=1), np.squeeze(v, axis=1)),
        (x.dimshuffle(2, 0), np.transpose(v[:, 0, :])),
    ]
    for term, expected in cases:
        assert term.static_shape == expected.shape
        np.testing.assert_array_equal(run([x], term, v), expected)


def test_dimshuffle_permutation_dropping_trailing_dims(rng: np.random.Generator) -> None:
    y = rd.tensor("y", shape=(2, 3, 1))
    w = rng.normal(size=(2, 3, 1))
    for term, expected in ((y.dimshuffle(1, 0), w[:, :, 0].T), (y.dimshuffle(0, 1), w[:, :, 0])):
        assert term.static_shape == expected.shape
        np.testing.assert_array_equal(run([y], term, w), expected)


@pytest.mark.parametrize(("shape", "target"), [((2, 3, 4), (6, 4)), ((2, 3, 4), (-1,)), ((2, 3, 4), (4, -1)), ((6,), (1, 2, 3)), ((), (1,))])
def test_reshape(rng: np.random.Generator, shape: tuple, target: tuple) -> None:
    x = rd.tensor("x", shape=shape)
    v = rng.normal(size=shape)
    term = x.reshape(target)
    expected = v.reshape(target)
    assert term.static_shape == expected.shape
    np.testing.assert_array_equal(run([x], term, v), expected)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_flatten(rng: np.random.Generator, ndim: int) -> None:
    x = rd.tensor("x", shape=(2, 3, 4))
    v = rng.normal(size=(2, 3, 4))
    expected = v.reshape(v.shape[: ndim - 1] + (-1,))
    term = x.flatten(ndim)
    assert term.static_shape == expected.shape
    np.testing.assert_array_equal(run([x], term, v), expected)
    y = rd.tensor3("y")
    np.testing.assert_array_equal(run([y], rd.flatten(y), v), v.ravel())
    np.testing.assert_array_equal(run([x], x.ravel(), v), v.ravel())


def test_flatten_of_scalar_and_errors() -> None:
    s = rd.scalar("s")
    np.testing.assert_array_equal(run([s], rd.flatten(s), 2.0), np.array([2.0]))
    with pytest.raises(rd.ShapeError, match="flatten: ndim=4 is out of range for an argument of ndim 3"):
        rd.flatten(rd.tensor3("t"), 4)


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_join_concatenate(rng: np.random.Generator, axis: int) -> None:
    shapes = [(2, 3), (2, 3), (2, 3)]
    shapes = [tuple(d + i if k == axis % 2 else d for k, d in enumerate(s)) for i, s in enumerate(shapes)]
    xs = [rd.tensor(f"x{i}", shape=s) for i, s in enumerate(shapes)]
    vs = [rng.normal(size=s) for s in shapes]
    expected = np.concatenate(vs, axis=axis)
    for term in (rd.join(axis, *xs), rd.concatenate(xs, axis=axis)):
        assert term.static_shape == expected.shape
        np.testing.assert_array_equal(run(xs, term, *vs), expected)


def test_join_unknown_dims_and_dtype_promotion(rng: np.random.Generator) -> None:
    a = rd.matrix("a", dtype="float32")
    b = rd.tensor("b", shape=(None, 3), dtype="int32")
    term = rd.concatenate([a, b], axis=0)
    assert term.static_shape == (None, 3) and term.dtype == "float64"
    va, vb = rng.normal(size=(2, 3)).astype("float32"), rng.integers(0, 5, size=(4, 3)).astype("int32")
    out = run([a, b], term, va, vb)
    expected = np.concatenate([va, vb])
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_stack(rng: np.random.Generator, axis: int) -> None:
    xs = [rd.tensor(f"x{i}", shape=(2, 3)) for i in range(4)]
    vs = [rng.normal(size=(2, 3)) for _ in range(4)]
    term = rd.stack(xs, axis=axis)
    expected = np.stack(vs, axis=axis)
    assert term.static_shape == expected.shape
    np.testing.assert_array_equal(run(xs, term, *vs), expected)


def test_stack_of_scalars_and_python_numbers() -> None:
    a, b = rd.scalar("a"), rd.scalar("b")
    out = run([a, b], rd.stack([a, b, 3.0]), 1.0, 2.0)
    np.testing.assert_array_equal(out, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(run([a, b], rd.as_tensor([a, b]), 4.0, 5.0), [4.0, 5.0])


@pytest.mark.parametrize(("sizes", "axis"), [([1, 2, 3], 0), ([4, 0, 1], 1), ([2, 3], -1)])
def test_split(rng: np.random.Generator, sizes: list, axis: int) -> None:
    shape = [6, 5]
    shape[axis] = sum(sizes)
    x = rd.tensor("x", shape=tuple(shape))
    v = rng.normal(size=shape)
    pieces = rd.split(x, sizes, len(sizes), axis=axis)
    expected = np.split(v, np.cumsum(sizes)[:-1], axis=axis)
    outs = run([x], pieces, v)
    assert len(outs) == len(expected)
    for p, o, e in zip(pieces, outs, expected):
        assert p.static_shape == e.shape and p.op == "subtensor"
        np.testing.assert_array_equal(o, e)


def test_split_errors() -> None:
    x = rd.tensor("x", shape=(5, 2))
    with pytest.raises(rd.ShapeError, match=r"split: sizes \[1, 2\] sum to 3, but axis 0 of shape \(5, 2\) has length 5"):
        rd.split(x, [1, 2], 2)
    with pytest.raises(rd.ShapeError, match="split: n_splits=3 but 2 sizes"):
        rd.split(x, [1, 4], 3)
    with pytest.raises(rd.AxisError, match=r"split: axis 2 is out of range for an argument of shape \(5, 2\)"):
        rd.split(x, [1, 1], 2, axis=2)


@pytest.mark.parametrize(("repeats", "axis"), [(2, None), (3, 0), (2, 1), (2, -1), ((1, 0, 2), 1), ((2, 1), 0), (0, 0)])
def test_repeat(rng: np.random.Generator, repeats, axis) -> None:
    x = rd.tensor("x", shape=(2, 3))
    v = rng.normal(size=(2, 3))
    term = rd.repeat(x, repeats, axis=axis)
    expected = np.repeat(v, repeats, axis=axis)
    assert term.static_shape == expected.shape
    np.testing.assert_array_equal(run([x], term, v), expected)
    np.testing.assert_array_equal(run([x], x.repeat(repeats, axis=axis), v), expected)


def test_repeat_errors() -> None:
    x = rd.tensor("x", shape=(2, 3))
    with pytest.raises(rd.ShapeError, match=r"repeat: 2 repeats for an axis of length 3 \(shape \(2, 3\), axis 1\)"):
        rd.repeat(x, (1, 2), axis=1)
    with pytest.raises(rd.AxisError, match=r"repeat: axis 2 is out of range .*\(2, 3\)"):
        rd.repeat(x, 2, axis=2)
    with pytest.raises(rd.ShapeError, match="repeat: negative repeats"):
        rd.repeat(x, -1, axis=0)


@pytest.mark.parametrize("reps", [2, (2,), (2, 3), (1, 2, 2), (3, 1, 1, 2), (0, 1)])
def test_tile(rng: np.random.Generator, reps) -> None:
    x = rd.tensor("x", shape=(2, 3))
    v = rng.normal(size=(2, 3))
    term = rd.tile(x, reps)
    expected = np.tile(v, reps)
    assert term.static_shape == expected.shape
    np.testing.assert_array_equal(run([x], term, v), expected)


def test_alloc_static_and_symbolic_dims(rng: np.random.Generator) -> None:
    v = rd.vector("v")
    n = rd.iscalar("n")
    t1 = rd.alloc(v, 2, 3)
    t2 = rd.alloc(v, n, 3)
    t3 = rd.alloc(2.5, n)
    assert t1.static_shape == (2, 3) and t2.static_shape == (None, 3) and t3.static_shape == (None,)
    vv = rng.normal(size=3)
    o1, o2, o3 = run([v, n], [t1, t2, t3], vv, 4)
    np.testing.assert_array_equal(o1, np.broadcast_to(vv, (2, 3)))
    np.testing.assert_array_equal(o2, np.broadcast_to(vv, (4, 3)))
    np.testing.assert_array_equal(o3, np.full(4, 2.5))
    assert o1.flags.writeable


def test_alloc_errors() -> None:
    v = rd.tensor("v", shape=(3,))
    with pytest.raises(rd.ShapeError, match=r"alloc: cannot broadcast a value of shape \(3,\) to \(2, 4\)"):
        rd.alloc(v, 2, 4)
    with pytest.raises(rd.ShapeError, match=r"alloc: cannot broadcast a value of shape \(3,\) to \(\)"):
        rd.alloc(v)
    with pytest.raises(rd.RewriteDiffTypeError, match="alloc: symbolic dims must be int scalars"):
        rd.alloc(v, rd.scalar("f"), 3)


@pytest.mark.parametrize(("shape", "dtype"), [((2, 3), None), (4, "int32"), ((), "float32"), ((0, 2), "bool")])
def test_zeros_ones_full(shape, dtype) -> None:
    for term, expected in (
        (rd.zeros(shape, dtype), np.zeros(shape, dtype or "float64")),
        (rd.ones(shape, dtype), np.ones(shape, dtype or "float64")),
        (rd.full(shape, 7, dtype), np.full(shape, 7, dtype or "int64")),
    ):
        assert term.static_shape == expected.shape and term.dtype == expected.dtype.name
        out = np.asarray(run([], term))
        assert out.dtype == expected.dtype
        np.testing.assert_array_equal(out, expected)


def test_zeros_with_symbolic_dim() -> None:
    n = rd.iscalar("n")
    out = run([n], rd.zeros((n, 2)), 3)
    np.testing.assert_array_equal(out, np.zeros((3, 2)))


@pytest.mark.parametrize(
    ("args", "dtype"),
    [
        ((5,), None),
        ((2, 9, 3), None),
        ((5, 1, -1), None),
        ((0.0, 1.0, 0.25), None),
        ((1, 2.5, 0.5), None),
        ((3, 1), None),
        ((0, 5), "float32"),
        ((-2, 2), "int8"),
    ],
)
def test_arange(args: tuple, dtype) -> None:
    term = rd.arange(*args, dtype=dtype)
    expected = np.arange(*args, dtype=dtype)
    assert term.static_shape == expected.shape and term.dtype == expected.dtype.name
    out = run([], term)
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)


def test_arange_errors() -> None:
    with pytest.raises(rd.ShapeError, match="arange: step must not be 0"):
        rd.arange(0, 5, 0)
    with pytest.raises(rd.RewriteDiffTypeError, match="arange: stop must be a number or a 0-d term"):
        rd.arange(0, rd.vector("n"))
    with pytest.raises(rd.RewriteDiffTypeError, match="arange: stop must be a number or a 0-d numeric term"):
        rd.arange(0, "5")


@pytest.mark.parametrize(("n", "m", "k"), [(3, None, 0), (3, 4, 1), (4, 2, -1), (2, 2, 5)])
def test_eye_identity(n: int, m, k: int) -> None:
    term = rd.eye(n, m, k)
    expected = np.eye(n, m, k)
    assert term.static_shape == expected.shape
    np.testing.assert_array_equal(run([], term), expected)
    np.testing.assert_array_equal(run([], rd.identity(n, "int32")), np.identity(n, "int32"))


def test_broadcast_to_and_helpers(rng: np.random.Generator) -> None:
    x = rd.tensor("x", shape=(3, 1))
    g = rd.matrix("g")
    v, vg = rng.normal(size=(3, 1)), rng.normal(size=(3, 4))
    b, s, z, o, f = run([x, g], [rd.broadcast_to(x, (2, 3, 4)), rd.sum_to(g, x), rd.zeros_like(g), rd.ones_like(x, "int32"), rd.fill(g, 2.0)], v, vg)
    np.testing.assert_array_equal(b, np.broadcast_to(v, (2, 3, 4)))
    np.testing.assert_allclose(s, vg.sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(z, np.zeros((3, 4)))
    assert o.dtype == np.int32 and o.shape == (3, 1)
    np.testing.assert_array_equal(f, np.full((3, 4), 2.0))


def test_shape_queries(rng: np.random.Generator) -> None:
    x = rd.matrix("x")
    v = rng.normal(size=(3, 5))
    s0 = x.shape[0]
    s1 = x.shape[-1]
    assert s0.op == "shape_i" and s0.attr("i") == 0
    assert s1.op == "shape_i" and s1.attr("i") == 1
    sh, a, b = run([x], [x.shape, s0, s1], v)
    np.testing.assert_array_equal(sh, [3, 5])
    assert a == 3 and b == 5
    with pytest.raises(rd.IndexOutOfBounds, match=r"subtensor: index 2 is out of bounds for axis 0 with size 2 \(shape \(2,\)\)"):
        x.shape[2]


def test_specify_shape(rng: np.random.Generator) -> None:
    x = rd.matrix("x")
    term = rd.specify_shape(x, (None, 3))
    assert term.static_shape == (None, 3)
    f = rd.function([x], term, simplify=False)
    np.testing.assert_array_equal(f(np.ones((2, 3))), np.ones((2, 3)))
    with pytest.raises(rd.ShapeError, match="specify_shape"):
        f(np.ones((2, 4)))


def test_join_and_stack_errors() -> None:
    a, b = rd.tensor("a", shape=(2, 3)), rd.tensor("b", shape=(4, 5))
    with pytest.raises(rd.ShapeError, match=r"join: shapes \(2, 3\), \(4, 5\) differ off the join axis 0"):
        rd.concatenate([a, b])
    with pytest.raises(rd.ShapeError, match=r"join: arguments must have the same ndim, got shapes \(2, 3\), \(3,\)"):
        rd.join(0, a, rd.tensor("c", shape=(3,)))
    with pytest.raises(rd.AxisError, match=r"join: axis 2 is out of range for arguments of ndim 2 \(shapes \(2, 3\), \(4, 5\)\)"):
        rd.join(2, a, b)
    with pytest.raises(rd.ShapeError, match=r"stack: arguments must have the same shape, got shapes \(2, 3\), \(4, 5\)"):
        rd.stack([a, b])
    with pytest.raises(rd.AxisError, match=r"stack: axis 3 is out of range for arguments of ndim 2 \(shapes \(2, 3\), \(2, 3\)\)"):
        rd.stack([a, a], axis=3)


def test_reshape_and_dimshuffle_errors() -> None:
    x = rd.tensor("x", shape=(2, 3))
    with pytest.raises(rd.ShapeError, match=r"reshape: cannot reshape \(2, 3\) \(size 6\) to \(4, 2\)"):
        x.reshape((4, 2))
    with pytest.raises(rd.ShapeError, match=r"dimshuffle: pattern \(1,\) drops dim 0 of shape \(2, 3\)"):
        x.dimshuffle(1)
    with pytest.raises(rd.ShapeError, match=r"broadcast_to: shapes \(2, 3\), \(3, 3\) do not broadcast"):
        rd.broadcast_to(x, (3, 3))
