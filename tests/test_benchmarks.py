"""The benchmark harness: hand-written closed forms against finite differences, and one tiny end-to-end run (no timing assertions)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from benchmarks import cases as C
from benchmarks import hand
from benchmarks.harness import Options, Row, format_table, rel_error, run_cases
from rewritediff.verify import central_jacobian


def close(a: np.ndarray, b: np.ndarray, tol: float = 1e-6) -> bool:
    """Relative agreement scaled by the larger magnitude."""
    return float(np.max(np.abs(a - b))) <= tol * max(1.0, float(np.max(np.abs(b))))


def test_logreg_grad_and_hessian() -> None:
    """W1 gradient and W5 Hessian closed forms."""
    X, y, w = C.logreg_data(30, 5)
    g = hand.logreg_grad(X, y, w)[0]
    assert close(g, central_jacobian(lambda v: hand.logreg_cost(X, y, v), w))
    H = hand.logreg_hessian(X, y, w)[0]
    assert close(H, central_jacobian(lambda v: hand.logreg_grad(X, y, v)[0], w))
    assert np.allclose(H, H.T)


def test_sparse_logreg_grad() -> None:
    """W14's scipy.sparse closed form against finite differences of W1's cost on the dense matrix."""
    X, y, w = C.sparse_logreg_data(40, 6, 120)
    assert X.format == "csr" and X.nnz <= 120
    g = hand.sparse_logreg_grad(X, y, w)[0]
    assert close(g, central_jacobian(lambda v: hand.logreg_cost(X.toarray(), y, v), w))


def test_mlp_grads() -> None:
    """W2 backpropagation by hand against finite differences for every parameter."""
    X, Y, W1, b1, W2, b2 = C.mlp_data(4, n_in=6, n_hidden=5, n_out=3)
    grads = hand.mlp_grads(X, Y, W1, b1, W2, b2)
    params = [W1, b1, W2, b2]
    for k, g in enumerate(grads):

        def cost(p: np.ndarray, k: int = k) -> float:
            ps = list(params)
            ps[k] = p
            return hand.mlp_cost(X, Y, *ps)

        assert g.shape == params[k].shape
        assert close(g, central_jacobian(cost, params[k]))


def test_mlp_hvp() -> None:
    """W6: H V equals the directional derivative of the W1-gradient along V."""
    X, Y, W1, b1, W2, b2, V = C.mlp_hvp_data(4, n_in=6, n_hidden=5, n_out=3)
    hv = hand.mlp_hvp_w1(X, Y, W1, b1, W2, b2, V)[0]
    eps = 1e-6
    fd = (hand.mlp_grads(X, Y, W1 + eps * V, b1, W2, b2)[0] - hand.mlp_grads(X, Y, W1 - eps * V, b1, W2, b2)[0]) / (2 * eps)
    assert close(hv, fd)


def test_rosenbrock_and_chain() -> None:
    """W3 and W4 closed forms."""
    (x,) = C.vector_data(9, "t")
    assert close(hand.rosenbrock_grad(x)[0], central_jacobian(hand.rosenbrock_cost, x), 1e-5)
    assert close(hand.chain_grad(x)[0], central_jacobian(hand.chain_cost, x))


def test_matrix_calculus() -> None:
    """W7a inv(A).T, W7b A.T X B.T + A X B, W8 (1 - t^2)[:, None] * W."""
    (A,) = C.spd_data(5)
    assert close(hand.logdet_grad(A)[0], central_jacobian(hand.logdet_cost, A))
    A2, X, B = C.trace_data(4)
    assert close(hand.trace_grad(A2, X, B)[0], central_jacobian(lambda v: hand.trace_cost(A2, v, B), X))
    W, x = C.jac_data(6)
    assert close(hand.tanh_jacobian(W, x)[0], central_jacobian(lambda v: np.tanh(W @ v), x))


@pytest.mark.parametrize("depth", [1, 2, 7])
def test_depth_grad(depth: int) -> None:
    """W9's reverse sweep."""
    (x0,) = C.vector_data(5, "depth", -1.0, 1.0)
    assert close(hand.depth_grad(x0, depth)[0], central_jacobian(lambda v: hand.depth_cost(v, depth), x0))


def test_stability_references() -> None:
    """W10's references: softmax at huge inputs, sigmoid(800) == 1, and both agree with differences where finite."""
    assert np.allclose(hand.logsumexp_grad(np.array([1000.0, 1000.0, -1000.0]))[0], [0.5, 0.5, 0.0])
    assert float(hand.softplus_grad(np.array(800.0))[0]) == 1.0
    x = np.array([0.3, -1.2, 2.0])
    assert close(hand.logsumexp_grad(x)[0], central_jacobian(lambda v: float(np.log(np.sum(np.exp(v)))), x))
    assert close(np.atleast_1d(hand.softplus_grad(np.array(0.7))[0]), central_jacobian(lambda v: float(np.log1p(np.exp(v[0]))), np.array([0.7])))


def test_rel_error() -> None:
    """Scaled max error; inf for non-finite results or shape mismatches."""
    assert rel_error([np.array([1.0, 2.0])], [np.array([1.0, 2.0])]) == 0.0
    assert math.isclose(rel_error([np.array([1.0, 2.2])], [np.array([1.0, 2.0])]), 0.1)
    assert rel_error([np.array([np.nan, 1.0])], [np.array([0.5, 1.0])]) == math.inf
    assert rel_error([np.ones(3)], [np.ones(4)]) == math.inf


def _tiny_cases() -> list[C.Case]:
    ok = C.Case("W4", "W4", "tiny chain", "tiny", lambda: C.vector_data(16, "chain"), hand.chain_grad, C.rd_w4)

    def broken(rd: object, variant: str | None) -> tuple[list, list]:
        raise ValueError("graph construction failed\nsecond line")

    bad = C.Case("Wx", "Wx", "broken", "tiny", lambda: C.vector_data(4, "x"), hand.chain_grad, broken)
    return [ok, bad]


def test_harness_end_to_end(tmp_path: object) -> None:
    """A tiny run: numpy-hand always works, a failing build becomes an error row, the table and JSON are written."""
    rows, notes = run_cases(_tiny_cases(), ["numpy-hand", "rewritediff"], Options(repeat=2, budget_s=0.0, timeout_s=60.0))
    by = {(r.case, r.backend): r for r in rows}
    hand_row = by[("W4", "numpy-hand")]
    assert hand_row.status == "ok" and hand_row.eval_s is not None and hand_row.rel_err == 0.0 and hand_row.finite
    rd_row = by[("W4", "rewritediff")]
    assert rd_row.status in ("ok", "error")
    if rd_row.status == "ok":
        assert rd_row.rel_err is not None and rd_row.rel_err < 1e-10 and rd_row.ratio is not None
    bad = by[("Wx", "rewritediff")]
    assert bad.status == "error" and bad.error == "ValueError: graph construction failed"
    table = format_table(rows)
    assert table.count("\n") == len(rows) + 1 and "| Wx | tiny | rewritediff | error |" in table
    assert isinstance(rows[0], Row) and "numpy-hand" in notes["warm_up_s"]


def test_cli_json(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m benchmarks.run`` on one small workload writes a table and the raw numbers."""
    from benchmarks.run import main

    out = tmp_path / "b.json"  # type: ignore[operator]
    assert main(["--only", "W10b", "--backends", "numpy-hand,rewritediff", "--repeat", "1", "--budget", "0", "--json", str(out), "--quiet"]) == 0
    data = json.loads(out.read_text())
    assert {r["backend"] for r in data["rows"]} == {"numpy-hand", "rewritediff"}
    assert "| W10b |" in capsys.readouterr().out


def test_engine_time_table(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.engine_time import main

    assert main(["--only", "W8,W10", "--runs", "1"]) == 0
    assert main(["--only", "W8", "--runs", "1", "--static", "--naive-hessian"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith(("| W", "| naive"))]
    assert [r.split("|")[1].strip() for r in rows] == ["W8", "W10a", "W10b", "W8", "naive Hessian"]
    for r in rows:
        cells = [float(x) for x in r.split("|")[2:6]]
        assert all(math.isfinite(x) and x > 0 for x in cells)
