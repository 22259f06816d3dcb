"""The ``rewritediff`` command, run in-process through ``main([...])``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rewritediff.cli import CliError, main, parse_var

ROOT = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str) -> str:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    return lines[0]


# ---- grad ------------------------------------------------------------------------------------------
def test_grad_prints_simplified_gradient(capsys):
    code, out, err = run(capsys, "grad", "sum(tanh(W @ x))", "--wrt", "W", "--var", "W:matrix", "--var", "x:vector")
    assert code == 0, err
    assert out.startswith("# gradient of sum(tanh(W @ x)) with respect to W")
    assert "tanh(dot(W, x))" in out or "tanh(t1)" in out
    assert "sum(tanh" not in out.split("\n", 1)[1]


def test_grad_eval_passes_on_a_correct_case(capsys):
    code, out, err = run(capsys, "grad", "sum(log(1 + exp(A @ x)))", "--wrt", "A,x", "--var", "A:matrix:4,3", "--var", "x:vector", "--eval")
    assert code == 0, err
    assert "# out0 = d/dA, out1 = d/dx" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("# check against finite differences") and last.endswith(": ok")


def test_grad_source_latex_and_dot(capsys, tmp_path):
    dot = tmp_path / "g.dot"
    code, out, err = run(capsys, "grad", "x * sin(x)", "--wrt", "x", "--var", "x", "--source", "--latex", "--dot", str(dot))
    assert code == 0, err
    assert "def compiled(x):" in out
    assert "\\sin" in out
    assert dot.read_text().startswith("digraph")


def test_grad_trace_and_no_simplify(capsys):
    code, out, _ = run(capsys, "grad", "sum(log(sigmoid(x)))", "--wrt", "x", "--var", "x:vector", "--trace")
    assert code == 0
    assert "# rules that fired" in out or "# no simplification rule" in out
    code, out, _ = run(capsys, "grad", "x * x", "--wrt", "x", "--var", "x", "--no-simplify")
    assert code == 0


def test_grad_of_attrs_and_function_forms(capsys):
    code, out, err = run(capsys, "grad", "sum(mean(W){axis=0} * dot(W, x)) - 2 ** x[0]", "--wrt", "x", "--var", "W:matrix:3,3", "--var", "x:vector", "--eval")
    assert code == 0, err
    assert out.strip().endswith(": ok")
    code, out, err = run(capsys, "grad", "sum(mean(W){axis=0} * dot(W, x))", "--wrt", "W", "--var", "W:matrix:3,3", "--var", "x:vector", "--eval")
    assert code == 0, err
    assert out.strip().endswith(": ok")


def test_grad_needs_scalar(capsys):
    code, _, err = run(capsys, "grad", "tanh(x)", "--wrt", "x", "--var", "x:vector")
    line = assert_one_line_error(code, err)
    assert "scalar" in line and "jacobian" in line


# ---- rop, jacobian, hessian ---------------------------------------------------------------------------
def test_rop(capsys):
    code, out, err = run(capsys, "rop", "tanh(W @ x)", "--wrt", "x", "--var", "W:matrix:2,3", "--var", "x:vector", "--eval")
    assert code == 0, err
    assert "dx" in out
    assert out.strip().endswith(": ok")


def test_jacobian_keeps_unknown_dims(capsys):
    code, out, err = run(capsys, "jacobian", "exp(x) * y", "--wrt", "x", "--var", "x,y:vector", "--eval", "--source")
    assert code == 0, err
    assert "def compiled(x, y):" in out
    assert "unknown dims taken" not in out
    assert out.strip().endswith(": ok")


def test_hessian(capsys):
    code, out, err = run(capsys, "hessian", "sum(x * x * x) + sum(A @ x)", "--wrt", "x", "--var", "A:matrix:2,3", "--var", "x:vector", "--eval")
    assert code == 0, err
    assert out.strip().endswith(": ok")
    code, out, err = run(capsys, "hessian", "sum(A * A * A)", "--wrt", "A", "--var", "A:matrix", "--eval")
    assert code == 0, err  # with respect to a matrix: shape A.shape + A.shape
    assert out.strip().endswith(": ok")


# ---- simplify ---------------------------------------------------------------------------------------
def test_simplify_trace_names_rules_with_file_line(capsys):
    code, out, err = run(capsys, "simplify", "log(exp(x)) * 1", "--var", "x:vector", "--trace")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[1] == "x"
    assert any("rewritediff/rules/simplify.rules:" in line and "log(exp(x)) => x" in line for line in lines)


# ---- errors -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expr", "needle"),
    [
        ("__import__('os')", "<expr>:1:1: unknown op '__import__'"),
        ("sum(x", "<expr>:1:5: syntax error: unexpected end of input"),
        ("sum(tanh(W @ z))", "<expr>:1:14: unknown name 'z' (declare it with --var z:KIND"),
        ("x @ W", "<expr>:1:1: dot: shapes"),
        ("sum(x){axs=0}", "unknown attribute 'axs'"),
        ("sum(x, x)", "sum: takes 1 argument"),
        ("x + 'a'", "<expr>:1:5: a string"),
        ("x.sum()", "<expr>:1:2: syntax error"),
        ("sum(x) if x", "syntax error"),
    ],
)
def test_errors_are_one_line_with_position(capsys, expr, needle):
    code, out, err = run(capsys, "grad", expr, "--wrt", "x", "--var", "x:vector:3", "--var", "W:matrix:4,4")
    line = assert_one_line_error(code, err)
    assert needle in line
    assert out == ""


def test_import_is_a_parse_error_not_code(capsys, tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "simplify", f"__import__('os').system('touch {marker}')")
    assert_one_line_error(code, err)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["grad", "x", "--wrt", "y", "--var", "x"], "--wrt y: unknown name 'y'"),
        (["grad", "x", "--wrt", "x", "--var", "x:vectr"], "unknown kind 'vectr' (did you mean vector?)"),
        (["grad", "x", "--wrt", "x", "--var", "x:matrix:3"], "needs 2 dim(s)"),
        (["grad", "x", "--wrt", "x", "--var", "x:vector:a"], "SHAPE must be"),
        (["grad", "sum(y)", "--wrt", "x", "--var", "x", "--var", "y:vector"], "does not depend on x"),
        (["rules", "list", "tanhh"], "unknown op 'tanhh' (did you mean tanh"),
        (["rules", "check", "/nonexistent/file.rules"], "no such file"),
    ],
)
def test_usage_errors(capsys, argv, needle):
    code, _, err = run(capsys, *argv)
    assert needle in assert_one_line_error(code, err)


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(CliError):
        main(["grad", "q", "--wrt", "x", "--var", "x", "--debug"])


def test_parse_var():
    (v,) = parse_var("W:matrix:3,?")
    assert (v.name, v.kind, v.shape) == ("W", "matrix", (3, None))
    assert [v.name for v in parse_var("a,b")] == ["a", "b"]
    with pytest.raises(CliError):
        parse_var("x:vector:3:4")


# ---- rules ------------------------------------------------------------------------------------------
def test_rules_list_op(capsys):
    code, out, _ = run(capsys, "rules", "list", "tanh")
    assert code == 0
    assert "rewritediff/rules/elementwise.rules:" in out and "d tanh(x) =" in out
    code, out, _ = run(capsys, "rules", "list", "--kind", "def")
    assert code == 0 and all(": def " in line for line in out.strip().splitlines())


def test_rules_check_reports_wrong_partial_with_line(capsys, tmp_path):
    path = tmp_path / "mine.rules"
    path.write_text("def cli_logcosh(x) = log(cosh(x))\n\n# wrong on purpose: should be tanh(x)\nd cli_logcosh(x) = sinh(x)\n")
    code, out, _ = run(capsys, "rules", "check", str(path))
    assert code == 1
    assert f"{path}:4:1: d cli_logcosh" in out
    path.write_text("def cli_logcosh(x) = log(cosh(x))\nd cli_logcosh(x) = tanh(x)\n")
    code, out, _ = run(capsys, "rules", "check", str(path))
    assert code == 0, out
    assert "no problems" in out


def test_rules_check_reports_load_errors_with_line(capsys, tmp_path):
    path = tmp_path / "bad.rules"
    path.write_text("# a comment\nd cli_nosuchop(x) = x\n")
    code, out, _ = run(capsys, "rules", "check", str(path))
    assert code == 1
    assert f"{path}:2:" in out and "unknown op 'cli_nosuchop'" in out


# ---- demo -------------------------------------------------------------------------------------------
def test_demo(capsys):
    code, out, err = run(capsys, "demo")
    assert code == 0, err
    assert "def compiled(X, y, w):" in out
    # the naive loss's gradient simplifies to its closed form, for every number of rows
    assert "dot((sigmoid(dot(X, w)) - y) / X.shape[0], X)" in out
    assert out.strip().endswith(": ok")


def test_help_and_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "rewritediff", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0
    for cmd in ("grad", "rop", "jacobian", "hessian", "simplify", "rules", "demo"):
        assert cmd in proc.stdout


# ---- deep expressions -------------------------------------------------------------------------------
def test_expression_nested_10000_deep_parses_and_differentiates():
    import numpy as np

    import rewritediff as rd
    from rewritediff.cli import build_expression, declare

    depth = 10_000
    variables = declare(["x"])
    expr = build_expression("tanh(" * depth + "x" + ")" * depth, variables)
    g = rd.function([variables["x"]], rd.grad(expr, variables["x"]), simplify=False)
    x0, deriv = 0.7, 1.0
    for _ in range(depth):  # d tanh^n(x) = prod (1 - tanh(t_k)^2) along the chain
        t = np.tanh(x0)
        deriv *= 1 - t * t
        x0 = t
    assert np.isclose(float(g(0.7)), deriv, rtol=1e-9)
    parens = build_expression("(" * depth + "x" + ")" * depth, variables)
    assert parens is variables["x"]


def test_expression_sum_of_10000_terms():
    import numpy as np

    import rewritediff as rd
    from rewritediff.cli import build_expression, declare

    n = 10_000
    variables = declare(["x:vector"])
    expr = build_expression("sum(" + " + ".join(f"{k % 7} * x" for k in range(n)) + ")", variables)
    g = rd.function([variables["x"]], rd.grad(expr, variables["x"]), simplify=False)
    expected = sum(k % 7 for k in range(n))
    assert np.allclose(g(np.ones(4)), np.full(4, expected))


def test_command_on_a_1000_deep_expression(capsys):
    code, out, err = run(capsys, "grad", "sin(" * 1000 + "x" + ")" * 1000, "--wrt", "x", "--var", "x", "--eval")
    assert code == 0, err
    assert out.strip().endswith(": ok")


@pytest.mark.parametrize("order", ["expr_first", "expr_last"])
def test_expression_starting_with_minus_is_not_an_option(capsys, order):
    opts = ["--wrt", "x", "--var", "x:vector", "--eval"]
    argv = ["grad", "-sum(x*x)", *opts] if order == "expr_first" else ["grad", *opts, "-sum(x*x)"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert out.startswith("# gradient of -sum(x*x) with respect to x")
    assert out.strip().endswith(": ok")


def test_scalar_expression_starting_with_minus(capsys):
    code, out, err = run(capsys, "grad", "-x*x", "--wrt", "x", "--var", "x", "--eval")
    assert code == 0, err
    assert out.startswith("# gradient of -x*x with respect to x")
    assert out.strip().endswith(": ok")


def test_minus_arguments_that_are_options_stay_options(capsys):
    code, _, err = run(capsys, "grad", "-x", "--wrt", "x", "--var", "x", "--no-such-option")
    assert code == 2 and "unrecognized arguments: --no-such-option" in err
    code, out, _ = run(capsys, "grad", "-h")
    assert code == 0 and "usage:" in out


# ---- indexing ---------------------------------------------------------------------------------------
ROSENBROCK = "sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)"


def rosenbrock_grad(x):
    import numpy as np

    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


def test_rosenbrock_is_typed_and_differentiated(capsys):
    import numpy as np

    import rewritediff as rd
    from rewritediff.cli import build_expression, declare

    code, out, err = run(capsys, "grad", ROSENBROCK, "--wrt", "x", "--var", "x:vector", "--eval", "--dim", "6")
    assert code == 0, err
    assert out.strip().endswith(": ok")
    variables = declare(["x:vector"])
    x = variables["x"]
    g = rd.function([x], rd.grad(build_expression(ROSENBROCK, variables), x))
    x0 = np.random.default_rng(1).normal(size=7)
    assert np.allclose(g(x0), rosenbrock_grad(x0), rtol=1e-10, atol=1e-10)


def test_integer_indices_and_advanced_indexing():
    import numpy as np

    import rewritediff as rd
    from rewritediff.cli import build_expression, declare

    variables = declare(["X:matrix", "x:vector", "i,j:iscalar", "idx:ivector"])
    assert variables["idx"].dtype == "int64"
    expr = build_expression("X[i, j] * X[0, 1] + sum(x[idx] ** 2) + sum(X[..., 0]) + sum(x[None, ::2])", variables)
    v = variables
    f = rd.function([v["X"], v["x"], v["i"], v["j"], v["idx"]], rd.grad(expr, [v["X"], v["x"]]))
    X0, x0, idx = np.arange(12.0).reshape(3, 4), np.arange(5.0) + 1, np.array([4, 1, 4])
    gX, gx = f(X0, x0, np.int64(2), np.int64(3), idx)
    eX = np.zeros_like(X0)
    eX[2, 3] += X0[0, 1]
    eX[0, 1] += X0[2, 3]
    eX[:, 0] += 1
    ex = np.zeros_like(x0)
    np.add.at(ex, idx, 2 * x0[idx])
    ex[::2] += 1
    assert np.allclose(gX, eX) and np.allclose(gx, ex)


def test_indexing_eval_with_integer_variables(capsys):
    code, out, err = run(
        capsys,
        "grad",
        "X[i, j] ** 2 + sum(x[idx] ** 3)",
        "--wrt",
        "X,x",
        "--var",
        "X:matrix",
        "--var",
        "x:vector",
        "--var",
        "i,j:iscalar",
        "--var",
        "idx:ivector",
        "--eval",
    )
    assert code == 0, err
    assert out.strip().endswith(": ok")


@pytest.mark.parametrize(
    ("expr", "needle"),
    [
        ("sum(x[1.5:])", "<expr>:1:7: slice bounds must be integer literals"),
        ("sum(x[x])", "<expr>:1:7: an index tensor must be integer or boolean"),
        ("sum(x[1:2, 3])", "too many indices"),
        ("sum(x[1:2)", "<expr>:1:10: syntax error: unexpected ')' (expected one of: ':'"),
        ("sum(x[1:])[0]", "<expr>:1:11: subtensor"),
    ],
)
def test_indexing_errors(capsys, expr, needle):
    code, out, err = run(capsys, "grad", expr, "--wrt", "x", "--var", "x:vector")
    assert needle in assert_one_line_error(code, err)


def test_wrt_an_integer_variable_is_an_error(capsys):
    code, _, err = run(capsys, "grad", "sum(x[idx])", "--wrt", "idx", "--var", "x:vector", "--var", "idx:ivector")
    assert "idx is an integer variable" in assert_one_line_error(code, err)


# ---- user rule files --------------------------------------------------------------------------------
MY_RULES = "def cli_smooth_abs(x) = sqrt(x * x + 1)\nd cli_smooth_abs(x) = x / out\n"


def test_rules_files_are_loaded_for_the_command_only(capsys, tmp_path, monkeypatch):
    from rewritediff.ops import REGISTRY
    from rewritediff.rules import default_rules

    (tmp_path / "my.rules").write_text(MY_RULES)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "grad", "cli_smooth_abs(x)", "--rules", "my.rules", "--eval", "--source")
    assert code == 0, err
    assert out.splitlines()[1] == "x / cli_smooth_abs(x)"  # the rule's `x / out`, not the expansion's derivative
    assert out.strip().endswith(": ok")
    assert "cli_smooth_abs" not in REGISTRY
    assert not default_rules().rules_for("cli_smooth_abs")
    code, _, err = run(capsys, "grad", "cli_smooth_abs(x)")
    assert "unknown op 'cli_smooth_abs'" in assert_one_line_error(code, err)


def test_rules_files_repeat_and_report_errors_with_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.rules").write_text("def cli_sq(x) = x * x\n")
    (tmp_path / "b.rules").write_text("# derivative of a.rules' op\nd cli_sq(x) = 2 * x\n")
    code, out, err = run(capsys, "grad", "sum(cli_sq(x))", "--var", "x:vector", "--rules", "a.rules", "--rules", "b.rules", "--eval")
    assert code == 0, err
    assert out.strip().endswith(": ok")
    code, _, err = run(capsys, "grad", "sum(cli_sq(x))", "--var", "x:vector", "--rules", "b.rules")
    assert "--rules b.rules: b.rules:2:3: unknown op 'cli_sq'" in assert_one_line_error(code, err)
    code, _, err = run(capsys, "grad", "x", "--rules", "missing.rules")
    assert "--rules missing.rules: no such file" in assert_one_line_error(code, err)


def test_undeclared_names_are_scalars_without_var_and_wrt_defaults_to_all(capsys):
    code, out, err = run(capsys, "grad", "x * y ** 2", "--eval")
    assert code == 0, err
    assert out.splitlines()[0] == "# gradient of x * y ** 2 with respect to x, y"
    assert out.strip().endswith(": ok")
    code, out, err = run(capsys, "grad", "sum(x[idx])", "--var", "x:vector", "--var", "idx:ivector")
    assert code == 0, err
    assert "with respect to x\n" in out  # integer variables are not differentiated


# ---- constants in printed results -------------------------------------------------------------------
def test_identity_prints_as_eye(capsys):
    code, out, err = run(capsys, "grad", "sum(x * eye(){n=3} * 2)", "--var", "x:matrix:3,3", "--eval")
    assert code == 0, err
    assert out.splitlines()[1] == "2.0 * eye(3)"
    assert out.strip().endswith(": ok")


def test_constant_values_under_debug(capsys):
    expr = "sum(x * arange(){start=1.0, stop=6.0})"
    code, out, err = run(capsys, "grad", expr, "--var", "x:vector")
    assert code == 0, err
    assert out.splitlines()[1] == "const(5)"
    code, out, err = run(capsys, "grad", expr, "--var", "x:vector", "--debug")
    assert code == 0, err
    assert out.splitlines()[1] == "array([1.0, 2.0, 3.0, 4.0, 5.0])"


# ---- symbolic dims ----------------------------------------------------------------------------------
LOGISTIC = "-mean(y*log(sigmoid(X@w)) + (1-y)*log(1-sigmoid(X@w)))"
A_SUBSTITUTED_THREE = re.compile(r"(?<![\w.])3(\.0*)?(?![\w.])")  # 3 or 3.0 as a number, not t3 or X.shape[0]


def formula(out: str) -> str:
    """The printed result without the header and check lines."""
    return "\n".join(line for line in out.splitlines() if not line.startswith("#"))


def test_grad_keeps_dims_symbolic(capsys):
    code, out, err = run(capsys, "grad", LOGISTIC, "--var", "X:matrix", "--var", "y:vector", "--var", "w:vector")
    assert code == 0, err
    assert "with respect to X, y, w" in out
    assert "X.shape[0]" in out
    assert not A_SUBSTITUTED_THREE.search(formula(out)), out


@pytest.mark.parametrize("command", ["jacobian", "hessian"])
def test_jacobian_and_hessian_keep_dims_symbolic(capsys, command):
    expr = LOGISTIC if command == "hessian" else "sigmoid(X @ w) * mean(y)"
    code, out, err = run(
        capsys, command, expr, "--wrt", "w" if command == "hessian" else "y,w", "--var", "X:matrix", "--var", "y:vector", "--var", "w:vector", "--eval"
    )
    assert code == 0, err
    assert not A_SUBSTITUTED_THREE.search(formula(out)), out
    assert "X.shape[0]" in out if command == "hessian" else "y.shape[0]" in out
    assert out.strip().endswith(": ok")


def test_dim_only_sizes_the_evaluation(capsys):
    outs = []
    for dim in ("2", "5"):
        code, out, err = run(capsys, "hessian", LOGISTIC, "--wrt", "w", "--var", "X:matrix", "--var", "y:vector", "--var", "w:vector", "--eval", "--dim", dim)
        assert code == 0, err
        assert out.strip().endswith(": ok")
        outs.append(formula(out))
    assert outs[0] == outs[1]
    assert "X.shape[0]" in outs[0]


def test_a_failing_simplifier_prints_the_unsimplified_result(capsys, monkeypatch):
    import rewritediff as rd

    def broken(terms):
        raise KeyError(7)

    monkeypatch.setattr(rd, "explain", broken)
    code, out, err = run(capsys, "grad", "sum(x * x)", "--var", "x:vector", "--eval")
    assert code == 0, err
    assert out.startswith("# simplification failed (KeyError: 7)")
    assert out.strip().endswith(": ok")


def test_rules_check_reports_wrong_rewrite_and_vjp(capsys, tmp_path):
    path = tmp_path / "bad.rules"
    path.write_text("rule sin(x) * sin(x) => x\n")
    code, out, _ = run(capsys, "rules", "check", str(path))
    assert code == 1 and "bad.rules:1:1" in out
    path.write_text("def myexp2(x) = exp(x)\nvjp myexp2(x) [g] = g * out * 2\n")
    code, out, _ = run(capsys, "rules", "check", str(path))
    assert code == 1 and "bad.rules:2:1" in out
