"""Products against numpy: dot, matmul, tensordot, outer, einsum, trace, diag and their shape errors."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd


def run(inputs: list, term, *values):
    """Compile without simplification and evaluate."""
    return rd.function(inputs, term, simplify=False)(*values)


@pytest.mark.parametrize(
    ("sa", "sb"),
    [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((), (3, 4)), ((2, 3), ())],
    ids=["vv", "mv", "vm", "mm", "scalar-m", "m-scalar"],
)
def test_dot(rng: np.random.Generator, sa: tuple, sb: tuple) -> None:
    a, b = rd.tensor("a", shape=sa), rd.tensor("b", shape=sb)
    va, vb = rng.normal(size=sa), rng.normal(size=sb)
    term = rd.dot(a, b)
    expected = np.dot(va, vb)
    assert term.static_shape == np.shape(expected)
    np.testing.assert_allclose(run([a, b], term, va, vb), expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("sa", "sb"),
    [((2, 3), (3, 4)), ((5, 2, 3), (3, 4)), ((5, 2, 3), (5, 3, 4)), ((1, 2, 3), (6, 3, 4)), ((3,), (5, 3, 4)), ((5, 2, 3), (3,))],
)
def test_matmul_batched(rng: np.random.Generator, sa: tuple, sb: tuple) -> None:
    a, b = rd.tensor("a", shape=sa), rd.tensor("b", shape=sb)
    va, vb = rng.normal(size=sa), rng.normal(size=sb)
    term = a @ b
    expected = va @ vb
    assert term.static_shape == expected.shape
    np.testing.assert_allclose(run([a, b], term, va, vb), expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("sa", "sb", "axes"),
    [
        ((3, 4, 5), (4, 5, 6), 2),
        ((3, 4), (4, 5), 1),
        ((3, 4), (5, 6), 0),
        ((3, 4, 5), (5, 3, 2), ((0, 2), (1, 0))),
        ((3, 4, 5), (6, 4), ([-2], [-1])),
        ((3, 4), (4, 3), ((0, 1), (1, 0))),
        ((4,), (4,), 1),
    ],
)
def test_tensordot(rng: np.random.Generator, sa: tuple, sb: tuple, axes) -> None:
    a, b = rd.tensor("a", shape=sa), rd.tensor("b", shape=sb)
    va, vb = rng.normal(size=sa), rng.normal(size=sb)
    term = rd.tensordot(a, b, axes=axes)
    expected = np.tensordot(va, vb, axes=axes)
    assert term.static_shape == expected.shape
    np.testing.assert_allclose(run([a, b], term, va, vb), expected, rtol=1e-12)


def test_tensordot_unknown_dims(rng: np.random.Generator) -> None:
    a, b = rd.tensor3("a"), rd.matrix("b")
    term = rd.tensordot(a, b, axes=[[2], [0]])
    assert term.static_shape == (None, None, None)
    va, vb = rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 5))
    np.testing.assert_allclose(run([a, b], term, va, vb), np.tensordot(va, vb, axes=[[2], [0]]), rtol=1e-12)


def test_outer(rng: np.random.Generator) -> None:
    x, y = rd.tensor("x", shape=(3,)), rd.matrix("y")
    vx, vy = rng.normal(size=3), rng.normal(size=(2, 2))
    term = rd.outer(x, y)
    assert term.static_shape == (3, None)
    np.testing.assert_allclose(run([x, y], term, vx, vy), np.outer(vx, vy), rtol=1e-12)


@pytest.mark.parametrize(
    ("subscripts", "shapes"),
    [
        ("ij,jk->ik", [(2, 3), (3, 4)]),
        ("ij,jk", [(2, 3), (3, 4)]),
        ("ii->i", [(3, 3)]),
        ("ii", [(3, 3)]),
        ("ij->ji", [(2, 3)]),
        ("i,i->", [(4,), (4,)]),
        ("i,j->ij", [(2,), (3,)]),
        ("bij,bjk->bik", [(5, 2, 3), (5, 3, 4)]),
        ("...ij,...jk->...ik", [(5, 2, 3), (3, 4)]),
        ("...i->...", [(2, 3, 4)]),
        ("i...", [(2, 3, 4)]),
        ("ijk,jil->kl", [(2, 3, 4), (3, 2, 5)]),
        ("i,i,i->", [(3,), (3,), (3,)]),
        (" ij , jk -> ki ", [(2, 3), (3, 4)]),
        ("i,i->i", [(1,), (3,)]),
    ],
)
def test_einsum(rng: np.random.Generator, subscripts: str, shapes: list) -> None:
    xs = [rd.tensor(f"x{i}", shape=s) for i, s in enumerate(shapes)]
    vs = [rng.normal(size=s) for s in shapes]
    term = rd.einsum(subscripts, *xs)
    expected = np.einsum(subscripts, *vs)
    assert term.static_shape == np.shape(expected)
    np.testing.assert_allclose(run(xs, term, *vs), expected, rtol=1e-12)


def test_einsum_implicit_and_explicit_forms_are_one_term() -> None:
    a, b = rd.matrix("a"), rd.matrix("b")
    assert rd.einsum("ij,jk", a, b) is rd.einsum("ij,jk->ik", a, b)


@pytest.mark.parametrize("offset", [0, 1, -1, 3, -5])
def test_trace(rng: np.random.Generator, offset: int) -> None:
    x = rd.tensor("x", shape=(3, 4))
    v = rng.normal(size=(3, 4))
    np.testing.assert_allclose(run([x], rd.trace(x, offset), v), np.trace(v, offset=offset), rtol=1e-12)
    np.testing.assert_allclose(run([x], x.trace(), v), np.trace(v), rtol=1e-12)


def test_trace_int_dtype() -> None:
    x = rd.matrix("x", dtype="int32")
    v = np.arange(9, dtype="int32").reshape(3, 3)
    term = rd.trace(x)
    out = run([x], term, v)
    assert term.dtype == np.trace(v).dtype.name == np.asarray(out).dtype.name
    assert out == np.trace(v)


@pytest.mark.parametrize("k", [0, 1, 2, -1, -3, 7])
@pytest.mark.parametrize("shape", [(4,), (3, 5), (5, 3)])
def test_diag(rng: np.random.Generator, k: int, shape: tuple) -> None:
    x = rd.tensor("x", shape=shape)
    v = rng.normal(size=shape)
    term = rd.diag(x, k)
    expected = np.diag(v, k)
    assert term.static_shape == expected.shape
    np.testing.assert_array_equal(run([x], term, v), expected)
    y = rd.tensor("y", shape=(None,) * len(shape))
    np.testing.assert_array_equal(run([y], rd.diag(y, k), v), expected)
    if len(shape) == 2:
        np.testing.assert_array_equal(run([x], x.diagonal(k), v), np.diagonal(v, k))


def test_dot_shape_mismatch_names_op_and_shapes() -> None:
    with pytest.raises(rd.ShapeError, match=r"dot: shapes \(3, 4\) and \(5,\) are not aligned"):
        rd.dot(rd.tensor("a", shape=(3, 4)), rd.tensor("b", shape=(5,)))
    with pytest.raises(rd.ShapeError, match=r"matmul: shapes \(2, 2, 3\) and \(4, 5\)"):
        rd.tensor("a", shape=(2, 2, 3)) @ rd.tensor("b", shape=(4, 5))
    with pytest.raises(rd.ShapeError, match=r"matmul: .*do not broadcast"):
        rd.tensor("a", shape=(2, 2, 3)) @ rd.tensor("b", shape=(4, 3, 5))


def test_tensordot_errors() -> None:
    a, b = rd.tensor("a", shape=(3, 4)), rd.tensor("b", shape=(5, 6))
    with pytest.raises(rd.ShapeError, match=r"tensordot: shapes \(3, 4\) and \(5, 6\) are not aligned"):
        rd.tensordot(a, b, axes=1)
    with pytest.raises(rd.AxisError, match=r"tensordot: axes=3 is out of range for shapes \(3, 4\) and \(5, 6\)"):
        rd.tensordot(a, b, axes=3)
    with pytest.raises(rd.AxisError, match=r"tensordot: axis 2 is out of range for a of shape \(3, 4\)"):
        rd.tensordot(a, b, axes=([2], [0]))
    with pytest.raises(rd.ShapeError, match="tensordot: axes .* name 2 axes of a but 1 of b"):
        rd.tensordot(a, b, axes=([0, 1], [0]))


def test_outer_trace_diag_errors() -> None:
    m = rd.tensor("m", shape=(2, 3))
    t3 = rd.tensor("t", shape=(2, 3, 4))
    with pytest.raises(rd.ShapeError, match=r"outer: arguments must be vectors, got shapes \(2, 3\) and \(2, 3\)"):
        rd.apply("outer", m, m)
    with pytest.raises(rd.ShapeError, match=r"trace: argument must be a matrix, got shape \(2, 3, 4\)"):
        rd.trace(t3)
    with pytest.raises(rd.ShapeError, match=r"diag: argument must be a vector or a matrix, got shape \(2, 3, 4\)"):
        rd.diag(t3)
    with pytest.raises(rd.RewriteDiffTypeError, match="diag: k must be an int"):
        rd.diag(m, 1.5)


def test_einsum_errors() -> None:
    a, b = rd.tensor("a", shape=(2, 3)), rd.tensor("b", shape=(4, 5))
    with pytest.raises(rd.ShapeError, match=r"einsum: subscript 'j' has lengths 3 and 4 in operands of shapes \(2, 3\), \(4, 5\)"):
        rd.einsum("ij,jk->ik", a, b)
    with pytest.raises(rd.ShapeError, match=r"einsum: operand subscripts 'ijk' do not fit an operand of shape \(2, 3\)"):
        rd.einsum("ijk->i", a)
    with pytest.raises(rd.ShapeError, match=r"einsum: subscripts 'ij' name 1 operand\(s\), got 2"):
        rd.einsum("ij", a, b)
    with pytest.raises(rd.ShapeError, match="einsum: output subscript 'z'"):
        rd.einsum("ij->z", a)
    with pytest.raises(rd.ShapeError, match="einsum: invalid subscript character '1'"):
        rd.einsum("i1", a)
