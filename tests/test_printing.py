import contextlib
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import rewritediff as rd
from rewritediff.ops import OpDef, register, unregister
from rewritediff.printing import pprint_inline
from rewritediff.terms import toposort


@pytest.fixture
def xyz():
    return rd.vector("x"), rd.vector("y"), rd.vector("z")


# ---- pprint: operators and precedence -------------------------------------------------------
def test_precedence_minimal_parentheses(xyz):
    x, y, z = xyz
    s = x + y
    w = rd.vector("w")  # created after s, so it is the second factor
    assert rd.pprint(s * w) == "(x + y) * w"
    assert rd.pprint((x + y) * z) == "z * (x + y)"  # n-ary mul is sorted by creation
    assert rd.pprint(x - (y - z)) == "x - (y - z)"
    assert rd.pprint((x - y) - z) == "x - y - z"
    assert rd.pprint(-(x**2.0)) == "-x ** 2.0"
    assert rd.pprint((-x) ** 2.0) == "(-x) ** 2.0"
    assert rd.pprint(x ** (y**z)) == "x ** y ** z"
    assert rd.pprint((x**y) ** z) == "(x ** y) ** z"
    assert rd.pprint(x / (y * z)) == "x / (y * z)"
    assert rd.pprint(x * y / z) == "x * y / z"
    assert rd.pprint(-(x + y)) == "-(x + y)"
    assert rd.pprint(rd.exp(x + y) * 2.75) == "exp(x + y) * 2.75"
    assert rd.pprint(x ** (-y)) == "x ** -y"
    assert rd.pprint((x < y) & (y < z)) == "(x < y) & (y < z)"
    assert rd.pprint((x + y) < z) == "x + y < z"
    # sums and products are associative: nesting needs no parentheses
    assert rd.pprint(x + (y + z)) == "x + y + z"
    assert rd.pprint(x * (y * z)) == "x * y * z"
    assert rd.pprint(x + (y - z)) == "x + y - z"
    assert rd.pprint(x * (y / z)) == "x * y / z"
    assert rd.latex(x * (y * z)) == r"x \cdot y \cdot z"


def test_subtraction_and_division_forms(xyz):
    x, y, z = xyz
    assert rd.pprint(x + (-y)) == "x - y"
    assert rd.pprint(-x + y) == "y - x"
    assert rd.pprint(-x - y) == "-x - y"
    assert rd.pprint(x + (-1.0)) == "x - 1.0"
    assert rd.pprint(x * rd.reciprocal(y)) == "x / y"
    assert rd.pprint(x * y ** (-1.0)) == "x / y"
    assert rd.pprint(rd.reciprocal(x)) == "1 / x"
    assert rd.pprint(x + (-(y * z))) == "x - y * z"
    assert rd.pprint(x + (-(y - z))) == "x - (y - z)"


def test_reductions_dimshuffle_constants_products():
    m = rd.matrix("m")
    v = rd.vector("v")
    W = rd.matrix("W")
    assert rd.pprint(rd.sum(m, axis=1)) == "sum(m, axis=1)"
    assert rd.pprint(m.sum()) == "sum(m)"
    assert rd.pprint(rd.mean(m, axis=0, keepdims=True)) == "mean(m, axis=0, keepdims=True)"
    assert rd.pprint(rd.max(rd.tensor3("a"), axis=(0, 2))) == "max(a, axis=(0, 2))"
    assert rd.pprint(m.T) == "m.T"
    assert rd.pprint((m + W).T) == "(m + W).T"
    assert rd.pprint(v.dimshuffle(0, "x")) == "v[:, None]"
    assert rd.pprint(v.dimshuffle("x", 0)) == "v[None]"
    assert rd.pprint(m.dimshuffle(1, "x", 0)) == "dimshuffle(m, 1, 'x', 0)"
    assert rd.pprint(rd.tensor3("a").dimshuffle(2, 0, 1)) == "a.transpose(2, 0, 1)"
    assert rd.pprint(rd.ivector("i") + 37) == "i + 37"
    assert rd.pprint(v * rd.constant(np.array([1.5, 2.5]))) == "v * [1.5, 2.5]"
    assert rd.pprint(m + rd.constant(np.full((3, 4), 0.375))) == "m + full((3, 4), 0.375)"
    a3, b3 = rd.tensor3("a3"), rd.tensor3("b3")
    assert rd.pprint(a3 @ b3) == "a3 @ b3"
    assert rd.pprint(rd.dot(v, W)) == "dot(v, W)"
    assert rd.pprint(rd.tanh(rd.dot(v, W) + v)) == "tanh(v + dot(v, W))"


def test_unknown_ops_print_generically():
    register(OpDef(name="frobnicate", infer=lambda args, attrs: args[0].type, impl=lambda x, k=1, mode=None: x, attrs={"k": 1, "mode": None}))
    try:
        x = rd.vector("x")
        assert rd.pprint(rd.apply("frobnicate", x - 1.0, k=3, mode="fast")) == "frobnicate(x - 1.0, k=3, mode='fast')"
        assert rd.pprint(rd.apply("frobnicate", x)) == "frobnicate(x)"
    finally:
        unregister("frobnicate")


def _same_type(args, attrs):
    return args[0].type


def test_a_new_op_prints_through_its_notation_fields(xyz):
    """An op's notation lives in its OpDef: a new op prints through its fields, the printers name no op."""
    x, y, z = xyz
    register(
        OpDef(
            name="oplus",
            infer=_same_type,
            impl=np.add,
            arity=2,
            text_form=rd.ops.infix(" <+> ", "additive"),
            latex_form=rd.ops.infix(r" \oplus ", "additive"),
        )
    )
    bang = rd.ops.Form(((0, "atom"), "!"), "power")
    register(OpDef(name="bang", infer=_same_type, impl=np.abs, text_form=bang, latex_form=bang, cheap=True))
    register(OpDef(name="mangle", infer=_same_type, impl=np.abs, latex_name=r"\mathcal{M}"))
    register(OpDef(name="minus", infer=_same_type, impl=np.negative, text_form=rd.ops.prefix("-"), print_kind="negation"))
    try:

        def oplus(a, b):
            return rd.apply("oplus", a, b)

        assert rd.pprint(oplus(oplus(x, y), z)) == "x <+> y <+> z"  # left-associative
        assert rd.pprint(oplus(x, oplus(y, z))) == "x <+> (y <+> z)"
        assert rd.pprint(z * oplus(x, y)) == "z * (x <+> y)"
        assert rd.latex(oplus(x, oplus(y, z))) == r"x \oplus \left(y \oplus z\right)"
        assert rd.pprint(rd.apply("bang", x + y)) == "(x + y)!"
        assert rd.pprint(rd.apply("bang", x) ** 2.0) == "(x!) ** 2.0"
        assert rd.latex(rd.apply("mangle", x)) == r"\mathcal{M}\left(x\right)"
        assert rd.pprint(rd.apply("mangle", x)) == "mangle(x)"  # no text form: a call
        assert rd.pprint(x + rd.apply("minus", y)) == "x - y"  # a negation in a sum is a subtraction
        assert rd.latex(rd.apply("minus", rd.apply("minus", x))) == r"-\left(-x\right)"
        # a cheap wrapper of a leaf is repeated where it is shared, another op is bound to a name
        cheap, dear = rd.apply("bang", x), rd.apply("mangle", x)
        assert rd.pprint(rd.exp(cheap) + rd.log(cheap)) == "exp(x!) + log(x!)"
        assert rd.pprint(rd.exp(dear) + rd.log(dear)) == "t1 = mangle(x)\nexp(t1) + log(t1)"
    finally:
        for name in ("oplus", "bang", "mangle", "minus"):
            unregister(name)


def test_notation_fields_refuse_unknown_levels_and_kinds():
    with pytest.raises(ValueError, match="sideways"):
        rd.ops.Form(("~", (0, "sideways")))
    with pytest.raises(ValueError, match="print_kind"):
        OpDef(name="bogus", infer=_same_type, impl=np.abs, print_kind="hexagonal")


def test_from_sympy_reads_the_op_tables_sympy_column():
    """SymPy function names map to ops through ``OpDef.sympy``: a new op with a SymPy function converts back."""
    x = rd.vector("x")
    xs = sp.Symbol("x")
    assert rd.from_sympy(sp.asin(xs), {xs: x}) is rd.arcsin(x)
    assert rd.from_sympy(sp.ceiling(xs), {xs: x}) is rd.ceil(x)
    assert rd.from_sympy(sp.loggamma(xs), {xs: x}) is rd.apply("gammaln", x)
    assert rd.from_sympy(sp.sec(xs), {xs: x}) is rd.reciprocal(rd.cos(x))
    frob = sp.Function("Frob")
    with pytest.raises(rd.RewriteDiffTypeError, match="Frob"):
        rd.from_sympy(frob(xs), {xs: x})
    register(OpDef(name="frobnicated", infer=_same_type, impl=np.negative, elementwise=True, sympy=frob))
    try:
        assert rd.from_sympy(frob(xs), {xs: x}) is rd.apply("frobnicated", x)
        assert rd.to_sympy(rd.apply("frobnicated", x)) == frob(xs)
    finally:
        unregister("frobnicated")


def test_unnamed_and_duplicate_names():
    a, b = rd.vector("x"), rd.vector("x")
    assert rd.pprint(a + b) == f"x#{a.uid} + x#{b.uid}"
    u = rd.vector()
    assert rd.pprint(rd.exp(u)) == f"exp(<input#{u.uid}>)"


def test_disconnected_and_null_types_print():
    assert rd.pprint(rd.disconnected_type()) == "<disconnected>"
    assert rd.pprint(rd.DisconnectedType()("gx")) == "<disconnected: gx>"
    g = rd.NullType("no derivative for round")("gr")
    assert rd.pprint(g) == "<null gr: no derivative for round>"
    x = rd.vector("x")
    assert rd.pprint([x / 2.0, rd.disconnected_type()]) == "out0 = x / 2.0\nout1 = <disconnected>"
    assert "disconnected" in rd.latex(rd.disconnected_type())
    assert "<disconnected>" in rd.dot_graph([x, rd.disconnected_type()])


# ---- pprint: let-bindings ----------------------------------------------------------------
def _bindings(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"t\d+ = ", line)]


def test_shared_subterm_bound_once(xyz):
    x, y, _ = xyz
    e = rd.exp(x + y)
    out = e * e + rd.sin(e)
    assert rd.pprint(out) == "t1 = exp(x + y)\nt1 * t1 + sin(t1)"
    assert pprint_inline(out) == "exp(x + y) * exp(x + y) + sin(exp(x + y))"


def test_trivial_shared_subterms_are_repeated(xyz):
    x, y, _ = xyz
    nx = -x
    assert rd.pprint(nx * nx + nx) == "-x * -x - x"
    t = x.dimshuffle(0, "x")
    assert _bindings(rd.pprint(t * t + t)) == []


def test_outputs_of_a_list(xyz):
    x, y, _ = xyz
    e = rd.exp(x + y)
    assert rd.pprint([e, e - 1.0]) == "t1 = exp(x + y)\nout0 = t1\nout1 = t1 - 1.0"
    assert rd.pprint([x, y / 2.0]) == "out0 = x\nout1 = y / 2.0"


def test_binding_names_avoid_leaf_names():
    t1 = rd.vector("t1")
    e = rd.log(t1 - 1.0)
    assert rd.pprint(e * e) == "_t1 = log(t1 - 1.0)\n_t1 * _t1"


def test_mlp_backprop_prints_compactly():
    x, y = rd.matrix("x"), rd.matrix("y")
    W1, b1, W2, b2 = rd.matrix("W1"), rd.vector("b1"), rd.matrix("W2"), rd.vector("b2")
    h = rd.tanh(rd.dot(x, W1) + b1)
    o = rd.sigmoid(rd.dot(h, W2) + b2)
    # the backward pass written out by hand: h and o are each used several times
    d_o = (o - y) * o * (1.0 - o)
    d_h = rd.dot(d_o, W2.T) * (1.0 - rd.sqr(h))
    outs = [rd.dot(x.T, d_h), d_h.sum(axis=0), rd.dot(h.T, d_o), d_o.sum(axis=0)]
    text = rd.pprint(outs)
    assert text == (
        "t1 = tanh(b1 + dot(x, W1))\n"
        "t2 = sigmoid(b2 + dot(t1, W2))\n"
        "t3 = t2 * (t2 - y) * (1.0 - t2)\n"
        "t4 = dot(t3, W2.T) * (1.0 - sqr(t1))\n"
        "out0 = dot(x.T, t4)\n"
        "out1 = sum(t4, axis=0)\n"
        "out2 = dot(t1.T, t3)\n"
        "out3 = sum(t3, axis=0)"
    )
    assert len(_bindings(text)) == 4


def test_binding_count_in_a_ladder():
    x = rd.vector("x")
    t = x
    for _ in range(50):
        t = rd.sin(t) * rd.cos(t)  # t is used twice at every step
    text = rd.pprint(t)
    assert len(_bindings(text)) == 49
    assert text.splitlines()[0] == "t1 = sin(x) * cos(x)"
    assert text.splitlines()[-1] == "sin(t49) * cos(t49)"


def test_pprint_is_deterministic_across_hash_seeds():
    prog = (
        "import rewritediff as rd\n"
        "x = rd.vector('x'); W = rd.matrix('W'); b = rd.vector('b')\n"
        "h = rd.tanh(rd.dot(W, x) + b); y = h * h + rd.sigmoid(h) * rd.exp(h)\n"
        "print(rd.pprint([y.sum(), y.max(), h])); print(rd.latex([y.sum(), h])); print(rd.dot_graph(y))\n"
    )
    outs = set()
    for seed in ("0", "7"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.add(subprocess.run([sys.executable, "-c", prog], env=env, capture_output=True, text=True, check=True).stdout)
    assert len(outs) == 1


# ---- depth -----------------------------------------------------------------------------------
def test_deep_chain_prints_without_recursion():
    x = rd.vector("x")
    y = x
    for _ in range(10000):
        y = rd.sin(y) + 1.0
    text = rd.pprint(y)
    assert text.count("sin(") == 10000
    assert text.count("(") == text.count(")")
    short = repr(y)
    assert len(short) <= 2003 and short.endswith("...")
    assert rd.latex(y).count(r"\sin") == 10000
    dot = rd.dot_graph(y)
    assert len(re.findall(r"^  n\d+ \[", dot, flags=re.M)) == len(toposort([y]))


def test_inline_cap():
    x = rd.vector("a_rather_long_variable_name")
    y = x
    for _ in range(200):
        y = rd.exp(y)
    text = pprint_inline(y, cap=100)
    assert text == ("exp(" * 200 + "a_rather_long_variable_name")[:100] + "..."


# ---- LaTeX ---------------------------------------------------------------------------------------
def test_latex_by_hand(xyz):
    x, y, z = xyz
    W1 = rd.matrix("W1")
    m = rd.matrix("m")
    assert rd.latex(rd.true_div(x, y - 1.0)) == r"\frac{x}{y - 1}"
    assert rd.latex(rd.exp(-x)) == r"\exp\left(-x\right)"
    assert rd.latex(rd.log(x) * z) == r"z \cdot \log\left(x\right)"
    assert rd.latex(rd.tanh(x) ** 2.0) == r"\tanh\left(x\right)^{2}"
    assert rd.latex(rd.sigmoid(rd.dot(W1, x))) == r"\sigma\left(W_{1} \, x\right)"
    assert rd.latex(rd.sum(m, axis=1)) == r"\sum_{\mathrm{axis}=1} m"
    assert rd.latex(rd.sum(rd.sqr(x))) == r"\sum x^{2}"
    assert rd.latex(m.T) == "m^{T}"
    assert rd.latex((m + W1).T) == r"\left(W_{1} + m\right)^{T}"
    assert rd.latex(rd.sqrt(x + y)) == r"\sqrt{x + y}"
    assert rd.latex(rd.abs(x)) == r"\left|x\right|"
    assert rd.latex(x - (y - z)) == r"x - \left(y - z\right)"
    assert rd.latex(x * rd.reciprocal(y)) == r"\frac{x}{y}"
    assert rd.latex(rd.scalar("alpha") * rd.scalar("loss")) == r"\alpha \cdot \mathrm{loss}"
    assert rd.latex(rd.true_div(x, 1e-8)) == r"\frac{x}{1 \cdot 10^{-8}}"


def test_latex_shared_subterms_and_jupyter(xyz):
    x, y, _ = xyz
    e = rd.exp(x + y)
    text = rd.latex(e * e)
    assert text == "\\begin{aligned}\nt_{1} &= \\exp\\left(x + y\\right) \\\\\n& t_{1} \\cdot t_{1}\n\\end{aligned}"
    assert (x + y)._repr_latex_() == "$$x + y$$"


# ---- SymPy ---------------------------------------------------------------------------------------
def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


CASES = [
    (lambda x, y: rd.sigmoid(x * y) + rd.log1p(rd.exp(x)), lambda a, b: _sigmoid(a * b) + np.log1p(np.exp(a))),
    (lambda x, y: rd.sqrt(rd.sqr(y) + 1.0) / rd.cosh(x) - rd.tanh(y), lambda a, b: np.sqrt(b * b + 1.0) / np.cosh(a) - np.tanh(b)),
    (lambda x, y: rd.maximum(x, y) ** 2.0 + rd.minimum(x, -y), lambda a, b: np.maximum(a, b) ** 2 + np.minimum(a, -b)),
    (lambda x, y: rd.switch(x > y, x, -y) + rd.abs(x) * rd.clip(y, -0.5, 0.5), lambda a, b: np.where(a > b, a, -b) + np.abs(a) * np.clip(b, -0.5, 0.5)),
    (lambda x, y: rd.sin(x) * rd.cos(y) - rd.arctan(x / y) + rd.expm1(y), lambda a, b: np.sin(a) * np.cos(b) - np.arctan(a / b) + np.expm1(b)),
    (lambda x, y: rd.softplus(x) - 2.0 * rd.reciprocal(y) + rd.exp(-rd.sqr(x)), lambda a, b: np.logaddexp(0, a) - 2.0 / b + np.exp(-a * a)),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_sympy_round_trip_numerically(case):
    build, ref = CASES[case]
    x, y = rd.scalar("x"), rd.scalar("y")
    term = build(x, y)
    expr = rd.to_sympy(term)
    xs, ys = sp.Symbol("x"), sp.Symbol("y")
    assert expr.free_symbols <= {xs, ys}
    f_sym = sp.lambdify((xs, ys), expr, "numpy")
    back = rd.from_sympy(expr, {xs: x, ys: y})
    f_back = rd.function([x, y], back, on_unused_input="ignore")
    rng = np.random.default_rng(case)
    for a, b in rng.uniform(-2.0, 2.0, size=(8, 2)):
        want = ref(a, b)
        np.testing.assert_allclose(float(f_sym(a, b)), want, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(float(f_back(a, b)), want, rtol=1e-9, atol=1e-12)


def test_from_sympy_hand_written_expressions():
    x, y = rd.scalar("x"), rd.scalar("y")
    xs, ys = sp.symbols("x y")
    expr = 2 / xs - 3 * xs * ys / (xs + 1) ** 2 + sp.pi * sp.cot(ys) - xs ** sp.Rational(3, 2) + sp.asinh(ys) + sp.Max(xs, ys, 1)
    term = rd.from_sympy(expr, {"x": x, "y": y})
    f = rd.function([x, y], term)
    for a, b in [(0.7, 1.3), (2.0, 0.4), (1.5, -0.9)]:
        want = 2 / a - 3 * a * b / (a + 1) ** 2 + np.pi / np.tan(b) - a**1.5 + np.arcsinh(b) + max(a, b, 1.0)
        np.testing.assert_allclose(float(f(a, b)), want, rtol=1e-12)
    assert rd.from_sympy(-xs, {xs: x}) is rd.neg(x)
    assert rd.pprint(rd.from_sympy(1 / xs, {xs: x})) == "1 / x"
    assert float(rd.from_sympy(sp.Integer(3)).value) == 3.0


def test_from_sympy_piecewise_and_relations():
    x, y = rd.scalar("x"), rd.scalar("y")
    xs, ys = sp.symbols("x y")
    expr = sp.Piecewise((xs, (xs > ys) & (xs > 0)), (ys**2, xs < -1), (0, True))
    f = rd.function([x, y], rd.from_sympy(expr, {xs: x, ys: y}))
    for a, b in [(1.0, 0.5), (-0.5, 2.0), (-2.0, 3.0), (0.5, 1.0)]:
        want = a if (a > b and a > 0) else (b * b if a < -1 else 0.0)
        assert float(f(a, b)) == pytest.approx(want)


def test_to_sympy_names_and_errors():
    x, y = rd.scalar("x"), rd.scalar("y")
    assert rd.to_sympy(x * y + 1.0) == sp.Symbol("x") * sp.Symbol("y") + 1
    a = sp.Symbol("alpha")
    assert rd.to_sympy(rd.exp(x), symbols={x: a}) == sp.exp(a)
    with pytest.raises(rd.RewriteDiffTypeError, match="'sum'"):
        rd.to_sympy(rd.sum(rd.vector("v")))
    with pytest.raises(rd.RewriteDiffTypeError, match="'dot'"):
        rd.to_sympy(rd.dot(rd.vector("u"), rd.vector("w")))
    with pytest.raises(rd.RewriteDiffTypeError, match="symbol 'z'"):
        rd.from_sympy(sp.Symbol("z") + 1, {})
    with pytest.raises(rd.RewriteDiffTypeError, match="zeta"):
        rd.from_sympy(sp.zeta(sp.Symbol("x")), {"x": x})


# ---- Graphviz ---------------------------------------------------------------------------------------
def test_dot_graph_one_node_per_distinct_term(xyz):
    x, y, _ = xyz
    e = rd.exp(x + y)
    out = e * e + rd.sin(e)
    dot = rd.dot_graph(out)
    nodes = re.findall(r"^  n(\d+) \[", dot, flags=re.M)
    distinct = toposort([out])
    assert sorted(int(n) for n in nodes) == sorted(t.uid for t in distinct)
    edges = re.findall(r"^  n\d+ -> n\d+ \[label=\"(\d+)\"\]", dot, flags=re.M)
    assert len(edges) == sum(len(t.args) for t in distinct)
    assert f'n{e.uid} [label="exp\\nfloat64[?]", shape=box]' in dot
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")


def test_dot_graph_writes_files(tmp_path):
    x = rd.vector("x")
    dot = rd.dot_graph([rd.exp(x), rd.matrix("m").sum(axis=0)], path=tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text() == dot
    assert "axis=0" in dot and "out1" in dot
    with pytest.warns(UserWarning, match="DOT text") if not _have_renderer() else contextlib.nullcontext():
        rd.dot_graph(rd.exp(x), path=tmp_path / "g.svg")
    assert (tmp_path / "g.svg").exists() or (tmp_path / "g.dot").exists()


def _have_renderer() -> bool:
    import shutil

    try:
        import graphviz  # noqa: F401

        return True
    except ImportError:
        return shutil.which("dot") is not None


def test_pprint_accepts_function_and_rejects_junk():
    x = rd.vector("x")
    f = rd.function([x], [x + 1.0], simplify=False)
    assert rd.pprint(f).startswith("out0 = ")
    with pytest.raises(rd.RewriteDiffTypeError):
        rd.pprint(3)


# ---- constants print by structure ---------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (np.eye(3), "m + eye(3)"),
        (np.eye(3, 4, k=1), "m + eye(3, 4, k=1)"),
        (2.5 * np.eye(3), "m + 2.5 * eye(3)"),
        (-np.eye(3), "m + -eye(3)"),
        (np.zeros((3, 3)), "m + zeros((3, 3))"),
        (np.ones((4, 4)), "m + ones((4, 4))"),
        (np.full((2, 5), 0.5), "m + full((2, 5), 0.5)"),
        (np.zeros((2, 2), dtype=np.int64), "m + zeros((2, 2), dtype=int64)"),
        (np.arange(12.0).reshape(3, 4), "m + const((3, 4))"),
    ],
)
def test_matrix_constants_print_by_structure(value, text):
    assert rd.pprint(rd.matrix("m") + rd.constant(value)) == text


def test_vector_constants_print_by_structure():
    v = rd.vector("v")
    assert rd.pprint(v + rd.constant(np.zeros(3))) == "v + zeros(3)"
    assert rd.pprint(v + rd.constant(np.ones(7))) == "v + ones(7)"
    assert rd.pprint(v + rd.constant(np.arange(6))) == "v + arange(6)"
    assert rd.pprint(v + rd.constant(np.array([1.5, 2.5]))) == "v + [1.5, 2.5]"
    assert rd.pprint(v + rd.constant(np.linspace(0.0, 1.0, 9))) == "v + const(9)"


def test_scaled_identity_is_parenthesised_as_a_product():
    m = rd.matrix("m")
    assert rd.pprint(m / rd.constant(2.0 * np.eye(3))) == "m / (2.0 * eye(3))"
    assert rd.pprint(rd.constant(2.0 * np.eye(3)) ** m) == "(2.0 * eye(3)) ** m"


def test_constant_values_on_request():
    m = rd.matrix("m")
    c = rd.constant(np.array([[0.5, 1.0], [2.0, 4.0]]))
    assert rd.pprint(m @ c) == "dot(m, const((2, 2)))"
    assert rd.pprint(m @ c, constants=True) == "dot(m, array([[0.5, 1.0], [2.0, 4.0]]))"
    assert rd.pprint(m + rd.constant(np.eye(2)), constants=True) == "m + eye(2)"


def test_constants_in_latex():
    m = rd.matrix("m")
    assert rd.latex(m + rd.constant(np.eye(3))) == r"m + \mathrm{eye}\left(3\right)"
    assert rd.latex(m + rd.constant(np.arange(12.0).reshape(3, 4))) == r"m + \mathrm{const}\left(3 \times 4\right)"


def test_identity_of_a_simplified_gradient_prints_as_eye():
    x = rd.matrix("x")
    g = rd.simplify(rd.grad(rd.sum(x * rd.eye(3) * 2.0), x))
    assert rd.pprint(g) == "2.0 * eye(3)"
