import numpy as np
import pytest
from test_random_gradients import user_rules

import rewritediff as rd
from rewritediff.verify import central_directional


def test_quickstart_example():
    x = rd.vector("x")
    W = rd.matrix("W")
    f = rd.function([W, x], rd.tanh(W @ x).sum())
    out = f(np.eye(3), np.ones(3))
    assert isinstance(out, np.float64)
    assert out == pytest.approx(3 * np.tanh(1.0))
    assert "np.tanh" in f.source and "def compiled" in f.source


def test_shared_subterm_computed_once():
    x = rd.vector("x")
    e = rd.exp(x)
    f = rd.function([x], [e + 1.0, e * 2.0], fusion="none")
    assert f.source.count("np.exp") == 1
    a, b = f(np.array([0.0, 1.0]))
    np.testing.assert_allclose(a, np.exp([0.0, 1.0]) + 1)
    np.testing.assert_allclose(b, 2 * np.exp([0.0, 1.0]))


def test_same_graph_reuses_closure():
    x = rd.vector("x")
    f, g = rd.function([x], rd.exp(x)), rd.function([x], rd.exp(x))
    assert f is not g and f._checked is g._checked  # one compiled closure, two settings objects


def test_call_errors():
    x = rd.tensor("x", shape=(3,))
    f = rd.function([x], x * 2.0)
    with pytest.raises(rd.CallError, match="takes 1 argument"):
        f()
    with pytest.raises(rd.CallError, match="ndim"):
        f(np.ones((3, 3)))
    with pytest.raises(rd.CallError, match="shape"):
        f(np.ones(4))


def test_updates_and_shared():
    w = rd.shared(np.array([1.0, 2.0]), "w")
    x = rd.vector("x")
    f = rd.function([x], (w * x).sum(), updates={w: w - 0.5 * x})
    assert f(np.array([1.0, 1.0])) == pytest.approx(3.0)
    np.testing.assert_allclose(rd.get_value(w), [0.5, 1.5])
    assert f(np.array([1.0, 1.0])) == pytest.approx(2.0)


def test_unused_input():
    x, y = rd.vector("x"), rd.vector("y")
    with pytest.raises(rd.RewriteDiffTypeError, match="not used"):
        rd.function([x, y], x * 2.0)
    f = rd.function([x, y], x * 2.0, on_unused_input="ignore")
    np.testing.assert_allclose(f([1.0], [5.0]), [2.0])


def test_nulltype_output_refuses_to_compile():
    with pytest.raises(TypeError):
        rd.function([], rd.NullType("why")())


def test_dead_buffers_are_reused_and_inputs_never_written():
    x = rd.vector("x")
    y = rd.exp(rd.sin(x) * rd.cos(x)) / (1.0 + x**2)
    f = rd.function([x], y, fusion="none")
    assert "out=" in f.source
    xv = np.linspace(-2.0, 2.0, 7)
    before = xv.copy()
    np.testing.assert_allclose(f(xv), np.exp(np.sin(xv) * np.cos(xv)) / (1 + xv**2))
    np.testing.assert_array_equal(xv, before)


def test_no_buffer_reuse_across_broadcasting():
    # the dying argument is smaller than the result: writing into it would be wrong
    r, m = rd.vector("r"), rd.matrix("m")
    y = rd.exp(rd.sin(r)) * m
    f = rd.function([r, m], y)
    rv, mv = np.array([0.1, 0.2, 0.3]), np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(f(rv, mv), np.exp(np.sin(rv)) * mv)


def test_no_buffer_reuse_while_a_view_of_it_lives():
    # -a must not be written into exp(v)'s buffer: a broadcast view of that buffer is used later
    z, v = rd.matrix("z", shape=(3, 2)), rd.vector("v", shape=(3,))
    a = rd.exp(v)
    out = rd.apply("expand_like", a, z, axis=1) * z + rd.apply("expand_like", -a, z, axis=1)
    f = rd.function([z, v], out, simplify=False)
    np.testing.assert_array_equal(f(np.ones((3, 2)), np.zeros(3)), np.zeros((3, 2)))


def test_very_wide_sum_compiles():
    x = rd.vector("x")
    ys = [rd.vector(f"y{i}") for i in range(3000)]
    f = rd.function([x, *ys], rd.add(*[x * y for y in ys]))
    np.testing.assert_allclose(f(np.ones(2), *[np.full(2, 0.5)] * 3000), [1500.0, 1500.0])


def test_scatter_writes_in_place_only_into_dead_buffers_of_its_own():
    x, a = rd.vector("x"), rd.vector("a")
    z = rd.exp(x)
    inc = rd.inc_subtensor(z[1:3], a)
    f = rd.function([x, a], [inc, z * 2.0])  # z lives on: no in-place write into it
    xv, av = np.zeros(4), np.array([1.0, 2.0])
    got_inc, got_z2 = f(xv, av)
    np.testing.assert_array_equal(got_inc, [1.0, 2.0, 3.0, 1.0])
    np.testing.assert_array_equal(got_z2, [2.0, 2.0, 2.0, 2.0])
    g = rd.function([x, a], rd.set_subtensor(x[1:3], a))  # never into an input
    g(xv, av)
    np.testing.assert_array_equal(xv, np.zeros(4))
    h = rd.function([x, a], rd.inc_subtensor(rd.zeros_like(x)[1:3], a) * 3.0)
    assert "inplace=True" in h.source
    np.testing.assert_array_equal(h(xv, av), [0.0, 3.0, 6.0, 0.0])


def test_run_time_shape_errors_name_the_statement_and_shapes():
    x, m = rd.vector("x"), rd.matrix("m")
    f = rd.function([m, x], rd.dot(m, x))
    with pytest.raises(rd.ShapeError, match=r"dot: argument 0 \(m\) has length 3 \(m\.shape\[1\]\) where argument 1 \(x\) has length 4"):
        f(np.ones((2, 3)), np.ones(4))
    # a failure the entry checks cannot foresee names the generated statement and the argument shapes
    i = rd.ivector("i")
    g = rd.function([x, i], x[i])
    with pytest.raises(rd.ShapeError, match=r"x\[i\].*x: \(3,\), i: \(1,\)"):
        g(np.ones(3), np.array([5], dtype=np.int32))


@pytest.mark.parametrize(
    "build",
    [
        lambda x, y: rd.apply("sum_to", x, y),  # sum_to returns its argument when nothing is summed
        lambda x, y: rd.diag(x),  # np.diagonal is a read-only view
        lambda x, y: rd.einsum("ij->ji", x),  # einsum may return a view
        lambda x, y: x.T,
        lambda x, y: x[1:],
        lambda x, y: x.reshape((4,)),
        lambda x, y: rd.zero_grad(x),
    ],
    ids=["sum_to", "diag", "einsum", "transpose", "slice", "reshape", "identity"],
)
def test_outputs_never_share_memory_with_arguments(build) -> None:
    x, y = rd.matrix("x"), rd.matrix("y")
    f = rd.function([x, y], build(x, y), simplify=False, on_unused_input="ignore")
    a = np.arange(4.0).reshape(2, 2)
    out = f(a, np.ones((2, 2)))
    assert not np.shares_memory(out, a)
    assert out.flags.writeable


def test_every_op_declares_its_memory() -> None:
    from rewritediff.ops import REGISTRY

    assert {op.memory for op in REGISTRY.values()} <= {"fresh", "view"}
    # an op whose result may be one of its arguments (emit "{0}") is never declared fresh
    assert all(op.memory == "view" for op in REGISTRY.values() if op.emit == "{0}")


# ---- user ops whose derivative rules read `out` (the op's own value) -----------------------------
FUSIONS = ["kernels", "numexpr", "none"]
# unknown length (a kernel's plain-numpy path), a static length over a block, and unknown and large
USER_OP_CASES = [(None, 7), (20000, 20000), (None, 20000)]
# the ops are elementwise: one central difference along ones gives every element's derivative


@pytest.fixture(scope="module")
def readme_rules(tmp_path_factory):
    """README's ``my.rules``, loaded from a file as a user would, and a numpy op whose rule reads ``out``."""
    path = tmp_path_factory.mktemp("rules") / "my.rules"
    path.write_text("def smooth_abs(x) = sqrt(x * x + 1)\nd smooth_abs(x) = x / out\n")
    with user_rules(path.read_text() + "d lw_expish(x) = 0.5 * out\n", {"lw_expish": lambda a: np.exp(0.5 * a)}):
        yield rd.rules.op_function("smooth_abs"), rd.rules.op_function("lw_expish")


# (how the op is made, the cost's elementwise factor from the fixture's ops, its numpy reference, a seed offset)
USER_OP_COSTS = [
    ("def", lambda ops, x: ops[0](x), lambda a: np.sqrt(a * a + 1), 0),
    ("define_op", lambda ops, x: ops[1](x) * x, lambda a: np.exp(0.5 * a) * a, 1),
]


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("static,n", USER_OP_CASES)
@pytest.mark.parametrize("kind, build, ref, seed", USER_OP_COSTS, ids=[c[0] for c in USER_OP_COSTS])
def test_user_op_rule_with_out_compiles_in_every_fusion_mode(readme_rules, kind: str, build, ref, seed: int, fusion: str, static, n: int) -> None:
    x = rd.tensor("x", shape=(static,))
    rng = np.random.default_rng(n + seed)
    xv, u = rng.uniform(-3, 3, n), rng.normal(size=n)
    g = rd.grad((build(readme_rules, x) * rd.constant(u)).sum(), x)
    f = rd.function([x], g, fusion=fusion)
    np.testing.assert_allclose(f(xv), central_directional(ref, [xv], [np.ones(n)]) * u, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("static,n", USER_OP_CASES)
def test_def_op_gradient_next_to_its_value_is_the_closed_form(readme_rules, fusion: str, static, n: int) -> None:
    smooth_abs, _ = readme_rules
    x = rd.tensor("x", shape=(static,))
    rng = np.random.default_rng(n)
    xv, u = rng.uniform(-3, 3, n), rng.normal(size=n)
    g = rd.grad((smooth_abs(x) * rd.constant(u)).sum(), x)
    h = rd.function([x], [g, smooth_abs(x)], fusion=fusion)
    got, val = h(xv)
    np.testing.assert_allclose(got, xv / np.sqrt(xv * xv + 1) * u, rtol=1e-12)
    np.testing.assert_allclose(val, np.sqrt(xv * xv + 1), rtol=1e-14)


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("static,n", USER_OP_CASES)
def test_rop_through_user_ops_with_out(readme_rules, fusion: str, static, n: int) -> None:
    smooth_abs, expish = readme_rules
    x, v = rd.tensor("x", shape=(static,)), rd.tensor("v", shape=(static,))
    rng = np.random.default_rng(n + 2)
    xv, vv = rng.uniform(-3, 3, n), rng.normal(size=n)
    f = rd.function([x, v], rd.Rop(smooth_abs(x) * 2.0 + expish(x), x, v), fusion=fusion)
    ref = lambda a: 2.0 * np.sqrt(a * a + 1) + np.exp(0.5 * a)  # noqa: E731
    np.testing.assert_allclose(f(xv, vv), central_directional(ref, [xv], [np.ones(n)]) * vv, rtol=1e-6, atol=1e-8)


def test_def_ops_are_lowered_as_their_expansion(readme_rules) -> None:
    smooth_abs, expish = readme_rules
    x = rd.vector("x")
    f = rd.function([x], rd.grad((smooth_abs(x) + expish(x)).sum(), x))
    assert "_op_smooth_abs" not in f.source and "np.sqrt" in f.source  # no per-call rebuild of the expansion
    assert "_op_lw_expish(" in f.source  # a numpy-implemented op is called, outside any kernel
    assert not any("_op_" in line for line in f.source.split("def compiled")[0].splitlines())


# ---- casting call arguments (PyTensor's rules; allow_input_downcast) -----------------------------
def test_lossy_downcast_is_refused_naming_input_and_dtypes() -> None:
    x = rd.tensor("x", shape=(None,), dtype="float32")
    f = rd.function([x], x * 2)
    with pytest.raises(rd.CallError, match=r"argument 0 \(x\): expected float32, got float64 data.*allow_input_downcast=True"):
        f(np.array([1e300]))
    with pytest.raises(rd.CallError, match=r"\(x\): expected float32, got float64 data.*allow_input_downcast"):
        f(np.array([0.5]))  # an ndarray is judged by its dtype alone, as PyTensor does
    with pytest.raises(rd.CallError, match=r"\(x\): expected float32, got int64 data"):
        f(np.arange(3))  # float32 cannot hold every int64
    with pytest.raises(rd.CallError, match=r"float64 data \[0\.1\] that float32 cannot hold exactly \(it would become \[0\.1000000014"):
        f([0.1])
    with pytest.raises(rd.CallError, match=r"float64 data \[1e\+300\] that float32 cannot hold exactly \(it would become \[inf\]\)"):
        f([1e300])
    with pytest.raises(rd.CallError, match=r"int64 data \[1073741825\]"):
        f([2**30 + 1])


def test_casts_that_lose_nothing_are_made() -> None:
    x = rd.tensor("x", shape=(None,), dtype="float32")
    f = rd.function([x], x * 2)
    for data, want in [
        ([0.5, 1.0], [1.0, 2.0]),  # Python floats float32 holds exactly
        ([1, 2], [2.0, 4.0]),  # Python ints
        (np.array([1, 2], dtype=np.int8), [2.0, 4.0]),  # a dtype float32 holds whole
        (np.array([True, False]), [2.0, 0.0]),
        (np.array([3.0], dtype=np.float32), [6.0]),
    ]:
        out = f(data)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, want)
    assert np.isnan(f([np.nan])).all()
    y = rd.vector("y")  # float64 holds int64 and float32 data
    g = rd.function([y], y + 0.0)
    np.testing.assert_array_equal(g(np.array([2**53, 1])), [2.0**53, 1.0])
    np.testing.assert_array_equal(g(np.array([0.1], dtype=np.float32)), [np.float64(np.float32(0.1))])
    s = rd.scalar("s", dtype="float32")
    h = rd.function([s], s * 2)
    assert h(0.5) == 1.0 and h(3) == 6.0 and h(np.float64(0.25)) == 0.5
    with pytest.raises(rd.CallError, match=r"\(s\): expected float32, got float64 data 0\.1 "):
        h(0.1)
    with pytest.raises(rd.CallError, match=r"\(s\): expected float32, got float64 data"):
        h(np.array(0.5))  # a 0-d ndarray: judged by its dtype
    i = rd.ivector("i")
    k = rd.function([i], i * 2)
    assert k([1.0, 2.0]).dtype == np.int32
    np.testing.assert_array_equal(k([1.0, 2.0]), [2, 4])
    with pytest.raises(rd.CallError, match=r"\(i\): expected int32, got float64 data \[1\.5\] that int32 cannot hold exactly"):
        k([1.5])
    with pytest.raises(rd.CallError, match=r"\(i\): expected int32, got int64 data"):
        k(np.array([3]))
    with pytest.raises(rd.CallError, match=r"\(i\): expected int32, got int64 data \[1099511627776\]"):
        k([2**40])


def test_allow_input_downcast_casts_anything_numeric() -> None:
    x = rd.tensor("x", shape=(None,), dtype="float32")
    f = rd.function([x], x * 2, allow_input_downcast=True)
    assert f is not rd.function([x], x * 2)
    out = f(np.array([1e300, 0.1, 3.0]))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([np.inf, 0.1, 3.0], dtype=np.float32) * 2)
    np.testing.assert_array_equal(f([0.1]), [np.float32(0.1) * 2])
    i = rd.ivector("i")
    np.testing.assert_array_equal(rd.function([i], i + 0, allow_input_downcast=True)(np.array([1.7, -2.0])), [1, -2])
    with pytest.raises(rd.CallError, match=r"\(x\): expected float32, got <U1 data|\(x\): expected float32, got str"):
        f(np.array(["a"]))


# ---- on_unused_input is judged on the graph the caller gave -------------------------------------
def test_unused_inputs_are_judged_before_simplification() -> None:
    x, y = rd.scalar("x"), rd.scalar("y")
    assert rd.function([x, y], (x - x) + y)(3.0, 4.0) == 4.0  # x - x simplifies away: x was still given
    assert rd.function([x], x * 0.0)(2.0) == 0.0
    with pytest.raises(rd.RewriteDiffTypeError, match=r"input\(s\) \[x\] are not used"):
        rd.function([x, y], y * 2.0)
    with pytest.warns(UserWarning, match="not used"):
        rd.function([x, y], y * 3.0, on_unused_input="warn")


def test_gradient_that_is_a_constant_keeps_its_inputs() -> None:
    x, v, w = rd.scalar("x"), rd.vector("v"), rd.vector("w")
    assert rd.function([x], rd.grad(2 * x, x))(5.0) == 2.0
    np.testing.assert_array_equal(rd.function([v, w], rd.grad(rd.dot(v, w), v))(np.ones(2), np.array([3.0, 4.0])), [3.0, 4.0])
