"""Gradients of random smooth expression DAGs against central finite differences.

Each program is built step by step from smooth ops over inputs of fixed shapes (with and
without static shapes), the cost is a random projection of its outputs, and the compiled
gradient (simplified or not) must agree with finite differences of the compiled forward pass
computed without simplification. This exercises rules, the engine and the lowering (fusion,
stand-ins, buffer reuse) together.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_random_trees import broadcastable

import rewritediff as rd
from rewritediff.ops import REGISTRY, unregister
from rewritediff.rules import default_rules

SHAPES = {"x": (3, 4), "y": (4,), "z": (3, 1), "s": ()}

# user ops whose derivative rules read `out`: a `def` op (lowered as its expansion) and numpy ops
# registered with `define_op` (called through their impl), unary and binary; registered only
# while the tests that draw them run (the registry and the default rules are global)
USER_RULES = """
def rg_softabs(x) = sqrt(x * x + 1)
d rg_softabs(x) = x / out
def rg_hypot1(x, y) = sqrt(x * x + y * y + 1)
d rg_hypot1(x, y) = x / out ; y / out
d rg_expish(x) = 0.5 * out
d rg_gauss(x, y) = -2 * x * out ; -2 * y * out
"""
USER_NUMPY_OPS = {"rg_expish": lambda a: np.exp(0.5 * a), "rg_gauss": lambda a, b: np.exp(-(a * a) - b * b)}
USER_UNARY = [lambda a: rd.apply("rg_softabs", a), lambda a: rd.apply("rg_expish", a)]
USER_BINARY = [lambda a, b: rd.apply("rg_hypot1", a, b), lambda a, b: rd.apply("rg_gauss", a, b)]


@contextlib.contextmanager
def user_rules(text: str, numpy_ops: dict) -> Iterator[list]:
    """Register numpy ops and load rules into the default rule set; remove both on exit."""
    before = set(REGISTRY)
    for name, impl in numpy_ops.items():
        rd.rules.define_op(name, impl, replace=True)
    loaded = rd.rules.load_string(text, filename="user.rules", replace=True)
    try:
        yield loaded
    finally:
        for rule in loaded:
            default_rules().remove(rule)
        for name in [n for n in REGISTRY if n not in before]:
            unregister(name)


@pytest.fixture(scope="module")
def user_ops() -> Iterator[None]:
    """The rg_* ops and their rules, for this module's tests."""
    with user_rules(USER_RULES, USER_NUMPY_OPS):
        yield


UNARY = [
    rd.tanh,
    rd.sin,
    rd.cos,
    rd.sigmoid,
    rd.arctan,
    lambda a: -a,
    rd.sqr,
    lambda a: rd.log(a * a + 1.0),
    lambda a: rd.exp(rd.sin(a)),
    rd.softplus,
]
BINARY = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / (b * b + 1.0),
]
REDUCE = ["sum", "mean", "prod"]


@st.composite
def programs(draw: st.DrawFn, user_ops: bool = False) -> tuple:
    """Inputs, their values, and the output terms of a random smooth program (with the rg_* user ops if asked)."""
    unary, binary = (UNARY + USER_UNARY, BINARY + USER_BINARY) if user_ops else (UNARY, BINARY)
    unknown = draw(st.booleans())
    inputs = {k: rd.tensor(k, shape=tuple(None if unknown and d != 1 else d for d in s)) for k, s in SHAPES.items()}
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    values = {k: rng.uniform(-1.5, 1.5, size=s) for k, s in SHAPES.items()}
    pool: list[tuple] = [(inputs[k], values[k].shape) for k in SHAPES]
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["unary", "binary", "binary", "reduce", "dot", "transpose", "index"]))
        t, shape = pool[draw(st.integers(0, len(pool) - 1))]
        if kind == "unary":
            pool.append((draw(st.sampled_from(unary))(t), shape))
        elif kind == "binary":
            t2, s2 = draw(st.sampled_from([p for p in pool if broadcastable(shape, p[1])]))
            pool.append((draw(st.sampled_from(binary))(t, t2), np.broadcast_shapes(shape, s2)))
        elif kind == "reduce" and len(shape) >= 1:
            axis = draw(st.sampled_from([None, *range(-len(shape), len(shape))]))
            keep = draw(st.booleans())
            term = getattr(rd, draw(st.sampled_from(REDUCE)))(t, axis=axis, keepdims=keep)
            pool.append((term, np.zeros(shape).sum(axis=axis, keepdims=keep).shape))
        elif kind == "dot":
            partners = [p for p in pool if 1 <= len(shape) <= 2 and 1 <= len(p[1]) <= 2 and shape[-1] == (p[1][0] if len(p[1]) == 1 else p[1][-2])]
            if partners:
                t2, s2 = draw(st.sampled_from(partners))
                pool.append((rd.dot(t, t2), np.dot(np.zeros(shape), np.zeros(s2)).shape))
        elif kind == "transpose" and len(shape) == 2:
            pool.append((t.T, shape[::-1]))
        elif kind == "index" and len(shape) >= 1 and shape[0] > 1:
            n = shape[0]
            key = draw(st.sampled_from([slice(1, None), slice(None, -1), slice(None, None, -1), 0, -1, [0, n - 1, 0]]))
            pool.append((t[key], np.zeros(shape)[key].shape))
    outs = [t for t, _ in pool[len(SHAPES) :]][-2:] or [pool[0][0]]
    return list(inputs.values()), [values[k] for k in SHAPES], outs


@pytest.mark.parametrize("simplify", [False, True], ids=["plain", "simplified"])
@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs(user_ops=True), fusion=st.sampled_from(["kernels", "numexpr", "none"]))
def test_random_gradient_matches_finite_differences(user_ops: None, simplify: bool, program: tuple, fusion: str) -> None:
    inputs, values, outs = program
    rng = np.random.default_rng(7)
    forward = rd.function(inputs, outs, simplify=False, on_unused_input="ignore", fusion="none")
    us = [rng.normal(size=np.shape(o)) for o in forward(*values)]
    cost = sum((o * rd.constant(u)).sum() for o, u in zip(outs, us))
    grads = rd.grad(cost, inputs, disconnected_inputs="ignore")
    g = rd.function(inputs, list(grads), simplify=simplify, on_unused_input="ignore", fusion=fusion)
    got = g(*values)
    eps = 1e-6

    def c(vals: list) -> float:
        return float(sum(np.sum(o * u) for o, u in zip(forward(*vals), us)))

    for k, v in enumerate(values):
        num = np.zeros(np.shape(v))
        for idx in np.ndindex(np.shape(v)):
            plus = [a.copy() for a in values]
            minus = [a.copy() for a in values]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            num[idx] = (c(plus) - c(minus)) / (2 * eps)
        np.testing.assert_allclose(got[k], num, rtol=1e-5, atol=1e-6, err_msg=g.source)
