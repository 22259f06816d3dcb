"""Blocked elementwise kernels: results against plain numpy at every size, grouping, fallbacks."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_random_gradients import programs as gradient_programs
from test_random_trees import BINARY, SHAPES, UNARY, broadcastable

import rewritediff as rd
from rewritediff import compiled as function_module
from rewritediff import fusion
from rewritediff.fusion import BLOCK, MAX_MEMBERS, kernel_groups
from rewritediff.ops.infer import shape_keys
from rewritediff.terms import toposort

SIZES = [1, 7, BLOCK, BLOCK + 1, 3 * BLOCK + 17]


def chain(x: rd.Term) -> rd.Term:
    return rd.exp(rd.sin(x) * rd.cos(x)) / (1.0 + x**2)


def chain_np(x: np.ndarray) -> np.ndarray:
    return np.exp(np.sin(x) * np.cos(x)) / (1.0 + x**2)


@pytest.mark.parametrize("n", SIZES)
def test_kernel_matches_numpy_at_every_size(n: int) -> None:
    x = rd.vector("x")
    f = rd.function([x], chain(x), simplify=False)
    assert "_k0(" in f.source and "for i in range(0, n" in f.source
    v = np.random.default_rng(n).standard_normal(n)
    np.testing.assert_allclose(f(v), chain_np(v), rtol=1e-14)


def test_several_outputs_and_two_dims() -> None:
    x, y = rd.matrix("x"), rd.matrix("y")
    a = rd.tanh(x) * y
    f = rd.function([x, y], [a + 1.0, a * rd.exp(y), rd.sum(a)], simplify=False)
    rng = np.random.default_rng(0)
    for shape in [(3, 5), (300, 70)]:
        xv, yv = rng.standard_normal(shape), rng.standard_normal(shape)
        got = f(xv, yv)
        av = np.tanh(xv) * yv
        np.testing.assert_allclose(got[0], av + 1.0, rtol=1e-14)
        np.testing.assert_allclose(got[1], av * np.exp(yv), rtol=1e-14)
        np.testing.assert_allclose(got[2], av.sum(), rtol=1e-12)


def test_non_contiguous_inputs() -> None:
    x, y = rd.matrix("x"), rd.matrix("y")
    f = rd.function([x, y], rd.sin(x) * y + x, simplify=False)
    rng = np.random.default_rng(1)
    xv = rng.standard_normal((400, 300)).T  # Fortran-ordered view
    yv = rng.standard_normal((300, 800))[:, ::2]  # strided view
    np.testing.assert_allclose(f(xv, yv), np.sin(xv) * yv + xv, rtol=1e-14)


def test_runtime_broadcast_falls_back_to_numpy() -> None:
    # dims declared broadcastable (length 1) stretch at run time: the kernel checks and broadcasts
    rng = np.random.default_rng(2)
    for dx, dy, sx, sy in [((None, None), (None, 1), (200, 100), (200, 1)), ((1, None), (None, None), (1, 100), (200, 100))]:
        x, y = rd.tensor("x", shape=dx), rd.tensor("y", shape=dy)
        f = rd.function([x, y], rd.exp(x) * rd.cos(y) + x, simplify=False)
        xv, yv = rng.standard_normal(sx), rng.standard_normal(sy)
        np.testing.assert_allclose(f(xv, yv), np.exp(xv) * np.cos(yv) + xv, rtol=1e-14)
    x, y = rd.matrix("x"), rd.matrix("y")
    f = rd.function([x, y], rd.exp(x) * rd.cos(y) + x, simplify=False)
    with pytest.raises(rd.ShapeError):
        f(np.ones((200, 100)), np.ones((200, 99)))
    with pytest.raises(rd.ShapeError, match="never broadcast"):  # an undeclared length 1 does not stretch
        f(np.ones((200, 100)), np.ones((200, 1)))


def test_lower_ndim_arguments_broadcast_into_row_blocks() -> None:
    X, v, c = rd.matrix("X"), rd.vector("v"), rd.vector("c")
    f = rd.function([X, v, c], rd.tanh(X * v) * rd.exp(v) + c, simplify=False)
    assert "np.broadcast_shapes" in f.source
    rng = np.random.default_rng(7)
    for rows, cols in [(5, 3), (3000, 7), (7, 3000), (2, 40000)]:
        Xv, vv, cv = rng.standard_normal((rows, cols)), rng.standard_normal(cols), rng.standard_normal(cols)
        np.testing.assert_allclose(f(Xv, vv, cv), np.tanh(Xv * vv) * np.exp(vv) + cv, rtol=1e-14)
    # a column of X declared broadcastable, stretched by the vector at run time: plain numpy takes over
    X = rd.tensor("X", shape=(None, 1))
    f = rd.function([X, v, c], rd.tanh(X * v) * rd.exp(v) + c, simplify=False)
    Xv, vv, cv = rng.standard_normal((40000, 1)), rng.standard_normal(3), rng.standard_normal(3)
    np.testing.assert_allclose(f(Xv, vv, cv), np.tanh(Xv * vv) * np.exp(vv) + cv, rtol=1e-14)


def test_bool_members_and_ops_without_ufunc() -> None:
    x = rd.vector("x")
    out = rd.switch(x > 0.0, rd.sigmoid(x), rd.softplus(x)) * x
    f = rd.function([x], out, simplify=False)
    v = np.linspace(-30, 30, 2 * BLOCK + 3)
    sig = 1.0 / (1.0 + np.exp(-v))
    np.testing.assert_allclose(f(v), np.where(v > 0, sig, np.logaddexp(0, v)) * v, rtol=1e-13)


def test_no_kernel_needs_its_own_output() -> None:
    # exp(x) feeds a sum, whose value feeds elementwise work again: two kernels, in order
    x = rd.vector("x")
    e = rd.exp(rd.sin(x))
    out = rd.tanh(e / rd.sum(e) * x) + e
    f = rd.function([x], out, simplify=False)
    v = np.random.default_rng(3).standard_normal(BLOCK * 2 + 5)
    ev = np.exp(np.sin(v))
    np.testing.assert_allclose(f(v), np.tanh(ev / ev.sum() * v) + ev, rtol=1e-13)
    order = toposort([out])
    kernels = kernel_groups(order, [out], shape_keys(order))
    member_sets = [{m.uid for m in k.members} for k in kernels]
    for k, members in zip(kernels, member_sets):
        assert not any(a.uid in members for a in k.inputs)


def test_long_chain_is_split_and_deep_graphs_work() -> None:
    x0 = rd.vector("x0")
    x = x0
    for _ in range(1000):
        x = rd.sin(x) * x + x0
    out = rd.grad(rd.sum(x), x0)
    f = rd.function([x0], out)
    assert f.source.count("def _k") >= 2000 // MAX_MEMBERS
    v = np.random.default_rng(4).uniform(-1, 1, BLOCK + 9)
    g = rd.function([x0], out, fusion="none")
    np.testing.assert_allclose(f(v), g(v), rtol=1e-12)


def rosenbrock(x: rd.Term) -> rd.Term:
    return rd.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_grad(v: np.ndarray) -> np.ndarray:
    r = v[1:] - v[:-1] ** 2
    g = np.zeros_like(v)
    g[1:] += 200.0 * r
    g[:-1] += -400.0 * r * v[:-1] - 2.0 * (1.0 - v[:-1])
    return g


def test_recycled_buffers_never_leak_into_results() -> None:
    x = rd.vector("x")
    f = rd.function([x], rd.grad(rosenbrock(x), x))
    assert "rt.give(_kp0" in f.source and "rt.take(_kp0" in f.source
    rng = np.random.default_rng(8)
    big = 10 * BLOCK  # 1.3 MB per buffer: large enough to be kept
    values = [rng.uniform(-2, 2, n) for n in (big, big, 50, big + 1, big)]
    results = []
    for v in values:
        results.append(f(v))
        if v.size == big:
            assert f.retained_bytes == 2 * (big - 1) * 8  # both scatter values kept for the next call
    for v, r in zip(values, results):  # earlier results are untouched by later calls
        np.testing.assert_allclose(r, rosenbrock_grad(v), rtol=1e-12, atol=1e-9)
    f.release_buffers()
    assert f.retained_bytes == 0
    small = rd.function([x], rd.grad(rosenbrock(x), x) * 2.0)
    small(values[2][:40])
    small(rng.uniform(-2, 2, 3 * BLOCK))  # 0.4 MB buffers: malloc reuses them anyway, none kept
    assert small.retained_bytes == 0


def test_concurrent_calls_agree() -> None:
    from concurrent.futures import ThreadPoolExecutor

    x = rd.vector("x")
    f = rd.function([x], rd.grad(rosenbrock(x), x))
    rng = np.random.default_rng(9)
    values = [rng.uniform(-2, 2, 10 * BLOCK) for _ in range(16)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(f, values))
    for v, r in zip(values, results):
        np.testing.assert_allclose(r, rosenbrock_grad(v), rtol=1e-12, atol=1e-9)


def test_small_static_shapes_are_not_fused() -> None:
    x = rd.vector("x", shape=(100,))
    assert "_k0" not in rd.function([x], chain(x)).source
    y = rd.vector("y", shape=(BLOCK + 1,))
    assert "_k0" in rd.function([y], chain(y)).source


def test_fusion_modes_agree() -> None:
    x = rd.vector("x")
    v = np.random.default_rng(5).standard_normal(BLOCK + 100)
    results = [rd.function([x], rd.grad(rd.sum(chain(x)), x), fusion=mode)(v) for mode in ("kernels", "numexpr", "none")]
    for r in results[1:]:
        np.testing.assert_allclose(results[0], r, rtol=1e-13)
    with pytest.raises(ValueError, match="fusion"):
        rd.function([x], chain(x), fusion="fast")


def test_broadcast_against_a_smaller_argument_gets_a_fresh_buffer() -> None:
    # z (3, 1) + a vector (4,) is (3, 4): z's buffer must not be reused for the result
    x, y, z, s = rd.matrix("x"), rd.vector("y"), rd.tensor("z", shape=(None, 1)), rd.scalar("s")
    f = rd.function([x, y, z, s], z + s + rd.dot(x, y), simplify=False, fusion="none")
    rng = np.random.default_rng(6)
    xv, yv, zv = rng.standard_normal((4, 4)), rng.standard_normal(4), rng.standard_normal((3, 1))
    np.testing.assert_allclose(f(xv, yv, zv, 0.5), (zv + 0.5) + xv @ yv)


def test_a_viewed_buffer_is_not_recycled() -> None:
    x, M = rd.vector("x"), rd.matrix("M")
    a = rd.exp(rd.sin(x)) * x
    f = rd.function([x, M], [rd.dot(M, a), a[1:]], simplify=False)
    assert "_k0" in f.source and "rt.give" not in f.source  # a[1:] shares a's memory
    rng = np.random.default_rng(10)
    v, Mv = rng.standard_normal(2 * BLOCK), rng.standard_normal((3, 2 * BLOCK))
    first = f(v, Mv)
    f(v + 1.0, Mv)
    av = np.exp(np.sin(v)) * v
    np.testing.assert_allclose(first[1], av[1:], rtol=1e-14)
    np.testing.assert_allclose(first[0], Mv @ av, rtol=1e-12)


@st.composite
def elementwise_programs(draw: st.DrawFn) -> tuple:
    """Random chains of elementwise ops (with a few sums between) over broadcasting inputs."""
    unknown = draw(st.booleans())
    inputs = {k: rd.tensor(k, shape=tuple(None if unknown and d != 1 else d for d in s)) for k, s in SHAPES.items()}
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    pool: list[tuple] = [(inputs[k], rng.uniform(-2.0, 2.0, size=s)) for k, s in SHAPES.items()]
    for _ in range(draw(st.integers(2, 12))):
        t, v = pool[draw(st.integers(0, len(pool) - 1))]
        kind = draw(st.sampled_from(["unary", "binary", "binary", "sum"]))
        if kind == "unary":
            fn, ref = draw(st.sampled_from(UNARY))
            pool.append((fn(t), ref(v)))
        elif kind == "binary":
            t2, v2 = draw(st.sampled_from([p for p in pool if broadcastable(v.shape, p[1].shape)]))
            fn, ref = draw(st.sampled_from(BINARY))
            pool.append((fn(t, t2), ref(v, v2)))
        else:
            pool.append((rd.sum(t), np.asarray(np.sum(v))))
    outs = pool[len(SHAPES) :][-draw(st.integers(1, 3)) :]
    return list(inputs.values()), [v for _, v in pool[: len(SHAPES)]], outs


@settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=elementwise_programs())
def test_random_programs_through_tiny_blocks(program: tuple) -> None:
    # blocks of 2 elements: every kernel takes its blocked path, on random broadcasting programs
    inputs, values, outs = program
    with mock.patch.object(fusion, "BLOCK", 2):
        function_module._CACHE.clear()
        f = rd.function(inputs, [t for t, _ in outs], simplify=False, on_unused_input="ignore")
        got = f(*values)
        got_again = f(*values)  # recycled buffers give the same results
    function_module._CACHE.clear()
    for (_, expected), o, o2 in zip(outs, got, got_again):
        assert np.shape(o) == expected.shape
        np.testing.assert_allclose(o, expected, rtol=1e-10, atol=1e-12, err_msg=f.source)
        np.testing.assert_array_equal(o, o2)


def test_products_of_whole_arguments_are_hoisted_out_of_the_loop() -> None:
    X, u, v = rd.matrix("X"), rd.vector("u"), rd.vector("v")
    out = (u * v) * X * (u * rd.exp(v))  # two vectors and a matrix: one pass over X's blocks
    f = rd.function([X, u, v], out)
    assert "q" in f.source.split("for i in range")[0].split("_k0")[1]
    rng = np.random.default_rng(11)
    Xv, uv, vv = rng.standard_normal((60, 1000)), rng.standard_normal(1000), rng.standard_normal(1000)
    np.testing.assert_allclose(f(Xv, uv, vv), uv * vv * Xv * uv * np.exp(vv), rtol=1e-13)


def test_no_kernel_that_writes_out_most_of_its_values() -> None:
    x = rd.vector("x")
    s, c = rd.sin(x), rd.cos(x)
    assert "_k0" not in rd.function([x], [s, c, s * c], simplify=False).source  # 3 ops, 3 results
    assert "_k0" in rd.function([x], [s * c + x], simplify=False).source  # 4 ops, 1 result


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4)])
def test_empty_arrays_through_long_kernels(shape: tuple) -> None:
    x = rd.matrix("x") if len(shape) == 2 else rd.vector("x")
    y = x
    for _ in range(40):  # more ops than PLAIN_PATH_MAX: the kernel has no plain path
        y = rd.sin(y) * x + x
    f = rd.function([x], y, simplify=False)
    assert "_k0" in f.source
    assert f(np.zeros(shape)).shape == shape


@settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=gradient_programs())
def test_random_gradients_through_tiny_blocks(program: tuple) -> None:
    # simplified gradients (sum_to, broadcasts, scatters, n-ary chains) with every kernel blocked
    inputs, values, outs = program
    rng = np.random.default_rng(7)
    us = [rd.constant(rng.normal(size=o.type.shape if None not in o.type.shape else np.shape(v))) for o, v in zip(outs, _forward(inputs, values, outs))]
    grads = rd.grad(sum((o * u).sum() for o, u in zip(outs, us)), inputs, disconnected_inputs="ignore")
    expected = rd.function(inputs, list(grads), fusion="none", on_unused_input="ignore")(*values)
    with mock.patch.object(fusion, "BLOCK", 2):
        function_module._CACHE.clear()
        got = rd.function(inputs, list(grads), on_unused_input="ignore")(*values)
    function_module._CACHE.clear()
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


def _forward(inputs: list, values: list, outs: list) -> list:
    return rd.function(inputs, outs, simplify=False, fusion="none", on_unused_input="ignore")(*values)


def test_full_size_constants_are_sliced_like_inputs() -> None:
    x = rd.matrix("x")
    c = np.random.default_rng(12).standard_normal((300, 70))
    f = rd.function([x], rd.sin(x) * rd.constant(c) + rd.exp(x), simplify=False)
    v = np.random.default_rng(13).standard_normal((300, 70))
    np.testing.assert_allclose(f(v), np.sin(v) * c + np.exp(v), rtol=1e-14)


@settings(max_examples=100, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=elementwise_programs())
def test_random_programs_through_numexpr(program: tuple) -> None:
    inputs, values, outs = program
    f = rd.function(inputs, [t for t, _ in outs], simplify=False, on_unused_input="ignore", fusion="numexpr")
    for (_, expected), o in zip(outs, f(*values)):
        assert np.shape(o) == expected.shape
        np.testing.assert_allclose(o, expected, rtol=1e-10, atol=1e-12, err_msg=f.source)
