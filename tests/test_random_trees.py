"""Random well-typed expression DAGs, compiled and compared with an independent numpy evaluation.

A program is built step by step (no recursion): each step applies one op to nodes already
in the pool and computes the same thing directly with numpy, so the expected value never
comes from the library.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewritediff as rd


@pytest.fixture(scope="module", autouse=True)
def _collect_garbage():
    """Free the cyclic garbage hypothesis leaves behind (terms live in a weak intern table)."""
    yield
    gc.collect()


SHAPES = {"x": (3, 4), "y": (4,), "z": (3, 1), "s": (), "w": (4, 3)}

# unary ops on bounded-or-safe domains: (frontend builder, numpy reference)
UNARY = [
    (rd.tanh, np.tanh),
    (rd.sin, np.sin),
    (rd.cos, np.cos),
    (rd.sigmoid, lambda a: 1.0 / (1.0 + np.exp(-a))),
    (rd.arctan, np.arctan),
    (lambda a: -a, np.negative),
    (rd.abs, np.abs),
    (lambda a: rd.log(rd.abs(a) + 1.0), lambda a: np.log(np.abs(a) + 1.0)),
    (lambda a: rd.sqrt(rd.abs(a)), lambda a: np.sqrt(np.abs(a))),
    (lambda a: rd.exp(-rd.abs(a)), lambda a: np.exp(-np.abs(a))),
    (rd.sqr, np.square),
]

BINARY = [
    (lambda a, b: a + b, np.add),
    (lambda a, b: a - b, np.subtract),
    (lambda a, b: a * b, np.multiply),
    (rd.maximum, np.maximum),
    (lambda a, b: a / (rd.abs(b) + 1.0), lambda a, b: a / (np.abs(b) + 1.0)),
]

REDUCE = [("sum", np.sum), ("mean", np.mean), ("max", np.max), ("min", np.min), ("prod", np.prod)]


def broadcastable(s1: tuple, s2: tuple) -> bool:
    """Whether numpy broadcasts the two shapes."""
    try:
        np.broadcast_shapes(s1, s2)
    except ValueError:
        return False
    return True


@st.composite
def programs(draw: st.DrawFn) -> tuple:
    """Inputs, output terms and their numpy values for a random program of 1 to 10 steps."""
    unknown = draw(st.booleans())
    inputs = {k: rd.tensor(k, shape=tuple(None if unknown and d != 1 else d for d in s)) for k, s in SHAPES.items()}
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    values = {k: rng.uniform(-2.0, 2.0, size=s) for k, s in SHAPES.items()}
    pool: list[tuple] = [(inputs[k], values[k]) for k in SHAPES]
    for _ in range(draw(st.integers(1, 10))):
        kind = draw(st.sampled_from(["unary", "binary", "reduce", "dot", "dimshuffle", "index"]))
        t, v = pool[draw(st.integers(0, len(pool) - 1))]
        if kind == "unary":
            fn, ref = draw(st.sampled_from(UNARY))
            pool.append((fn(t), ref(v)))
        elif kind == "binary":
            partners = [p for p in pool if broadcastable(v.shape, p[1].shape)]
            t2, v2 = draw(st.sampled_from(partners))
            fn, ref = draw(st.sampled_from(BINARY))
            pool.append((fn(t, t2), ref(v, v2)))
        elif kind == "reduce":
            name, ref = draw(st.sampled_from(REDUCE))
            keepdims = draw(st.booleans())
            if v.ndim == 0:
                axis = None
            else:
                axes = draw(st.lists(st.integers(-v.ndim, v.ndim - 1), max_size=v.ndim, unique_by=lambda a: a % v.ndim))
                axis = None if not axes else (axes[0] if len(axes) == 1 else tuple(axes))
            pool.append((getattr(rd, name)(t, axis=axis, keepdims=keepdims), np.asarray(ref(v, axis=axis, keepdims=keepdims))))
        elif kind == "dot":
            partners = [p for p in pool if 1 <= v.ndim <= 2 and 1 <= p[1].ndim <= 2 and v.shape[-1] == (p[1].shape[0] if p[1].ndim == 1 else p[1].shape[-2])]
            if partners:
                t2, v2 = draw(st.sampled_from(partners))
                pool.append((rd.dot(t, t2), np.asarray(np.dot(v, v2))))
        elif kind == "dimshuffle":
            if v.ndim == 2:
                pool.append((t.T, v.T))
            elif v.ndim == 1:
                pool.append((t.dimshuffle("x", 0), v[None, :]))
            else:
                pool.append((t.dimshuffle("x"), v.reshape(1)))
        elif v.ndim >= 1 and v.shape[0] > 0:
            n = v.shape[0]
            choice = draw(st.sampled_from(["int", "slice", "array"]))
            if choice == "int":
                key: object = draw(st.integers(-n, n - 1))
            elif choice == "slice":
                key = slice(draw(st.integers(-n, n)), draw(st.none() | st.integers(-n, n)), draw(st.sampled_from([1, 2, -1])))
            else:
                key = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=5))
            if np.asarray(v[key]).size:  # keep every node non-empty so max/min stay defined
                pool.append((t[key], np.asarray(v[key])))
    n_out = draw(st.integers(1, 3))
    outs = pool[len(pool) - n_out :]
    return [inputs[k] for k in SHAPES], [values[k] for k in SHAPES], outs


@pytest.mark.parametrize("simplify", [False, True], ids=["plain", "simplified"])
@settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs())
def test_random_program_matches_numpy(simplify: bool, program: tuple) -> None:
    inputs, values, outs = program
    terms = [t for t, _ in outs]
    for t, v in outs:
        assert t.ndim == v.ndim
        assert all(d is None or d == e for d, e in zip(t.static_shape, v.shape)), (t, t.static_shape, v.shape)
    f = rd.function(inputs, terms, simplify=simplify, on_unused_input="ignore")
    got = f(*values)
    for (t, expected), o in zip(outs, got):
        assert np.shape(o) == expected.shape
        np.testing.assert_allclose(o, expected, rtol=1e-10, atol=1e-12, err_msg=f.source)
