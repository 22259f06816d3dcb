"""Every script in examples/ runs and shows what it claims (each in its own process)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def outputs() -> dict[str, str]:
    """Run every example at once (in parallel); name -> stdout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = {
        path.stem: subprocess.Popen([sys.executable, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        for path in sorted(EXAMPLES.glob("*.py"))
    }
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"examples/{name}.py failed:\n{stderr}"
        out[name] = stdout
    return out


def test_every_example_is_tested(outputs):
    assert set(outputs) == {"logistic_regression", "mlp_training", "user_op", "newton_step"}


def test_logistic_regression_learns(outputs):
    out = outputs["logistic_regression"]
    m = re.search(r"max \|analytic - finite differences\| = (\S+)", out)
    assert m and float(m.group(1)) < 1e-5
    m = re.search(r"loss (\S+) -> (\S+), training accuracy (\S+)", out)
    assert m
    first, final, accuracy = map(float, m.groups())
    assert final < 0.5 * first
    assert accuracy > 0.9


def test_mlp_loss_decreases(outputs):
    losses = [float(v) for v in re.findall(r"^step +\d+ +loss (\S+)$", outputs["mlp_training"], re.M)]
    assert len(losses) >= 4
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert losses[-1] < 0.25 * losses[0]


def test_user_op_rules_check_and_gradient(outputs):
    out = outputs["user_op"]
    assert "SymPy check of the new d rules: 0 problem(s)" in out
    assert "tanh(x)" in out
    m = re.search(r"max \|rd.grad - by hand\| = (\S+)", out)
    assert m and float(m.group(1)) < 1e-12


def test_newton_converges_to_the_numpy_solution(outputs):
    out = outputs["newton_step"]
    m = re.search(r"Newton steps: (\d+), final \|grad\| (\S+)", out)
    assert m and int(m.group(1)) <= 10 and float(m.group(2)) < 1e-10
    m = re.search(r"max \|w - w_numpy\| = (\S+)", out)
    assert m and float(m.group(1)) < 1e-8
