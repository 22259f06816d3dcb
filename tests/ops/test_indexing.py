"""Indexing against numpy: basic, advanced and boolean indexing, set/inc_subtensor, static bound errors."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd

SHAPE = (4, 5, 6)

# each key as a function of a "namespace" giving index arrays, so the same key indexes numpy and terms
KEYS = [
    ("int", lambda a: 1),
    ("negative int", lambda a: -1),
    ("two ints", lambda a: (2, -3)),
    ("slice", lambda a: slice(1, 3)),
    ("negative step", lambda a: slice(None, None, -1)),
    ("negative bounds and step", lambda a: (slice(-1, -4, -2), slice(None, None, 2))),
    ("empty slice", lambda a: slice(3, 1)),
    ("slice past end", lambda a: (slice(2, 99), 0)),
    ("newaxis", lambda a: (None, 1, None)),
    ("ellipsis", lambda a: (Ellipsis, 2)),
    ("ellipsis middle", lambda a: (0, Ellipsis, slice(1, None))),
    ("ellipsis newaxis", lambda a: (None, Ellipsis, None)),
    ("full", lambda a: slice(None)),
    ("empty tuple", lambda a: ()),
    ("adv vector", lambda a: a["i"]),
    ("adv list", lambda a: [0, 3, 3, -1]),
    ("adv second axis", lambda a: (slice(None), a["j"])),
    ("adv pair adjacent", lambda a: (a["i"], a["j"])),
    ("adv separated", lambda a: (a["i"], slice(None), a["k"])),
    ("adv with int separated", lambda a: (0, slice(None), a["k"])),
    ("adv with int adjacent", lambda a: (slice(None), 1, a["k"])),
    ("adv matrix", lambda a: a["m"]),
    ("adv broadcast", lambda a: (a["i"][:, None] if isinstance(a["i"], np.ndarray) else a["i"].dimshuffle(0, "x"), a["j"])),
    ("adv newaxis", lambda a: (a["i"], None, a["j"])),
    ("mask", lambda a: a["mask"]),
    ("mask 2d", lambda a: a["mask2"]),
    ("mask and slice", lambda a: (slice(1, 3), a["mask_mid"])),
    ("scalar index term", lambda a: (a["s"], slice(None, 2))),
]


def index_values(rng: np.random.Generator) -> dict:
    """Index arrays with duplicates and negative entries."""
    return {
        "i": np.array([0, 3, -1, 0]),
        "j": np.array([4, 0, 2, 2]),
        "k": np.array([5, -6, 0, 5], dtype=np.int32),
        "m": np.array([[0, 1], [3, 3]]),
        "mask": np.array([True, False, True, True]),
        "mask2": rng.uniform(size=(4, 5)) > 0.5,
        "mask_mid": np.array([True, False, False, True, True]),
        "s": np.array(2),
    }


def index_terms() -> dict:
    """Symbolic index variables of the same kinds."""
    return {
        "i": rd.vector("i", dtype="int64"),
        "j": rd.vector("j", dtype="int64"),
        "k": rd.vector("k", dtype="int32"),
        "m": rd.matrix("m", dtype="int64"),
        "mask": rd.vector("mask", dtype="bool"),
        "mask2": rd.matrix("mask2", dtype="bool"),
        "mask_mid": rd.vector("mask_mid", dtype="bool"),
        "s": rd.scalar("s", dtype="int64"),
    }


def compile_key(key_fn, static: bool):
    """The term ``x[key]``, its inputs and a function evaluating it."""
    x = rd.tensor("x", shape=SHAPE if static else (None,) * 3)
    syms = index_terms()
    term = x[key_fn(syms)]
    from rewritediff.terms import inputs_of

    used = [x] + [v for v in inputs_of([term]) if v is not x]
    names = {id(v): k for k, v in syms.items()}
    return term, used, names, rd.function(used, term, simplify=False)


@pytest.mark.parametrize(("label", "key_fn"), KEYS, ids=[k[0] for k in KEYS])
@pytest.mark.parametrize("static", [True, False], ids=["static", "unknown"])
def test_subtensor_matches_numpy(rng: np.random.Generator, label: str, key_fn, static: bool) -> None:
    vals = index_values(rng)
    v = rng.normal(size=SHAPE)
    expected = v[key_fn(vals)]
    term, used, names, f = compile_key(key_fn, static)
    assert term.ndim == expected.ndim
    for d_static, d in zip(term.static_shape, expected.shape):
        assert d_static is None or d_static == d
    if static and not any(e[0] in ("adv", "mask") for e in term.attr("idx")):
        assert term.static_shape == expected.shape
    out = f(v, *[vals[names[id(u)]] for u in used[1:]])
    np.testing.assert_array_equal(out, expected)


def test_constant_index_arrays_and_masks_are_typed_statically() -> None:
    x = rd.tensor("x", shape=(4, 5))
    t = x[[0, 2, 2]]
    assert t.static_shape == (3, 5)
    assert t.args[1].op == "const" and t.args[1].dtype == "int64"
    assert x[np.array([True, False, True, True])].static_shape == (3, 5)
    assert x[:, [[1], [2]]].static_shape == (4, 2, 1)


def test_index_encoding() -> None:
    x = rd.tensor("x", shape=(4, 5, 6))
    i = rd.vector("i", dtype="int64")
    t = x[-1, 1:7:1, None, i]
    assert t.op == "subtensor"
    assert t.attr("idx") == (("int", 3), ("slice", 1, None, None), ("none",), ("adv", 0))
    assert t.args == (x, i)
    assert x[..., :] is x[()]
    assert x[1] is x[1, :, ...]


@pytest.mark.parametrize(("label", "key_fn"), KEYS, ids=[k[0] for k in KEYS])
@pytest.mark.parametrize("mode", ["set", "inc"])
def test_set_inc_subtensor_match_numpy(rng: np.random.Generator, label: str, key_fn, mode: str) -> None:
    vals = index_values(rng)
    v = rng.normal(size=SHAPE)
    key = key_fn(vals)
    target_shape = v[key].shape
    y_shape = target_shape[1:] if len(target_shape) > 1 else target_shape  # broadcast y along the first dim
    yv = rng.normal(size=y_shape)
    expected = v.copy()
    if mode == "set":
        expected[key] = yv
    else:
        np.add.at(expected, key, yv)
    x = rd.tensor("x", shape=SHAPE)
    y = rd.tensor("y", shape=(None,) * len(y_shape))
    syms = index_terms()
    sub = x[key_fn(syms)]
    term = rd.set_subtensor(sub, y) if mode == "set" else rd.inc_subtensor(sub, y)
    assert term.op == f"{mode}_subtensor" and term.attr("idx") == sub.attr("idx")
    assert term.type == x.type
    from rewritediff.terms import inputs_of

    used = [x, y] + [u for u in inputs_of([term]) if u is not x and u is not y]
    names = {id(u): k for k, u in syms.items()}
    out = rd.function(used, term, simplify=False)(v, yv, *[vals[names[id(u)]] for u in used[2:]])
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_inc_subtensor_accumulates_duplicates() -> None:
    x = rd.vector("x")
    i = rd.vector("i", dtype="int64")
    f = rd.function([x, i], [rd.inc_subtensor(x[i], 1.0), rd.set_subtensor(x[i], 5.0), x[i].inc(2.0), x[i].set(-1.0)], simplify=False)
    inc, st, inc2, st2 = f(np.zeros(3), np.array([0, 0, 2, 0]))
    np.testing.assert_array_equal(inc, [3.0, 0.0, 1.0])
    np.testing.assert_array_equal(st, [5.0, 0.0, 5.0])
    np.testing.assert_array_equal(inc2, [6.0, 0.0, 2.0])
    np.testing.assert_array_equal(st2, [-1.0, 0.0, -1.0])


def test_set_subtensor_does_not_modify_input() -> None:
    x = rd.vector("x")
    v = np.zeros(3)
    out = rd.function([x], rd.set_subtensor(x[1:], 1.0), simplify=False)(v)
    np.testing.assert_array_equal(out, [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(v, [0.0, 0.0, 0.0])


def test_set_subtensor_int_target_and_python_value() -> None:
    x = rd.vector("x", dtype="int32")
    term = rd.inc_subtensor(x[::2], 3)
    assert term.dtype == "int32"
    out = rd.function([x], term, simplify=False)(np.arange(5, dtype="int32"))
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [3, 1, 5, 3, 7])


def test_static_index_out_of_bounds_names_op_index_and_shape() -> None:
    x = rd.tensor("x", shape=(3, 4))
    with pytest.raises(rd.IndexOutOfBounds, match=r"subtensor: index 3 is out of bounds for axis 0 with size 3 \(shape \(3, 4\)\)"):
        x[3]
    with pytest.raises(rd.IndexOutOfBounds, match=r"subtensor: index -5 is out of bounds for axis 1 with size 4 \(shape \(3, 4\)\)"):
        x[:, -5]
    with pytest.raises(rd.IndexOutOfBounds, match=r"subtensor: index 7 is out of bounds for axis 1 with size 4 \(shape \(3, 4\)\)"):
        x[:, [0, 7]]
    with pytest.raises(rd.IndexOutOfBounds, match=r"subtensor: too many indices for shape \(3, 4\)"):
        x[0, 1, 2]
    with pytest.raises(rd.IndexOutOfBounds, match=r"subtensor: boolean mask of shape \(2,\) does not match dim 0 of shape \(3, 4\)"):
        x[np.array([True, False])]
    with pytest.raises(rd.IndexOutOfBounds, match=r"set_subtensor: index 4 is out of bounds for axis 0 with size 3"):
        rd.apply("set_subtensor", x, rd.scalar("y"), idx=(("int", 4),))
    with pytest.raises(rd.IndexOutOfBounds, match="single ellipsis"):
        x[..., ...]


def test_indexing_type_errors() -> None:
    x = rd.tensor("x", shape=(3, 4))
    with pytest.raises(rd.RewriteDiffTypeError, match="subtensor: index arrays must be integers or booleans, got float64"):
        x[rd.vector("f")]
    with pytest.raises(rd.RewriteDiffTypeError, match="subtensor: slice bounds must be ints, 0-d int terms or None"):
        x[: rd.scalar("n")]
    with pytest.raises(rd.ShapeError, match=r"subtensor: slice step cannot be zero \(indexing shape \(3, 4\)\)"):
        x[::0]
    with pytest.raises(rd.RewriteDiffTypeError, match="set_subtensor: x must be an indexing term"):
        rd.set_subtensor(x, 1.0)
    with pytest.raises(TypeError, match="item assignment"):
        x[0] = 1.0
    with pytest.raises(rd.IndexOutOfBounds, match=r"subtensor: index arrays of shapes \(2,\), \(3,\) cannot be broadcast together"):
        x[[0, 1], [0, 1, 2]]


def test_set_subtensor_shape_and_dtype_errors() -> None:
    x = rd.tensor("x", shape=(3, 4))
    with pytest.raises(rd.ShapeError, match=r"set_subtensor: cannot broadcast y of shape \(3,\) to the indexed shape \(4,\) \(x of shape \(3, 4\)\)"):
        rd.set_subtensor(x[0], rd.tensor("y", shape=(3,)))
    with pytest.raises(rd.ShapeError, match=r"inc_subtensor: cannot broadcast y of shape \(2, 4\) to the indexed shape \(4,\)"):
        rd.inc_subtensor(x[0], rd.tensor("y", shape=(2, 4)))
    xi = rd.tensor("xi", shape=(3,), dtype="int32")
    with pytest.raises(rd.RewriteDiffTypeError, match="set_subtensor: cannot write float64 values into int32 x of shape"):
        rd.set_subtensor(xi[0], rd.scalar("y"))
