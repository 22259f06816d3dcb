"""Golden tests: the printed simplified gradients of three models, each checked against a hand-derived numpy gradient.

A change in what the engine produces shows up here as a changed string, for review. Each
gradient is built and simplified in a fresh interpreter (printing follows term creation order,
so a shared process would depend on what other tests built first), under two hash seeds, and
evaluated op by op with each op's numpy implementation (not the generated code), so the strings
below are known to compute the right gradient.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = r"""
import json

import numpy as np

import rewritediff as rd
from rewritediff.ops import REGISTRY
from rewritediff.terms import toposort


def evaluate(outputs, env):
    values = {}
    for t in toposort(outputs):
        if t.op in ("input", "shared") and not t.args:
            values[t.uid] = env[t.uid]
        elif t.op == "const" and not t.args:
            values[t.uid] = t.value
        else:
            attrs = {k: (v.value if hasattr(v, "_key") else v) for k, v in t.attrs}
            values[t.uid] = np.asarray(REGISTRY[t.op].impl(*[values[a.uid] for a in t.args], **attrs))
    return [values[t.uid] for t in outputs]


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def logreg():
    X, y, w = rd.matrix("X", shape=(20, 3)), rd.vector("y", shape=(20,)), rd.vector("w", shape=(3,))
    p = rd.sigmoid(X @ w)
    loss = -(y * rd.log(p) + (1.0 - y) * rd.log(1.0 - p)).mean()
    rng = np.random.default_rng(0)
    Xv, yv, wv = rng.normal(size=(20, 3)), (rng.random(20) < 0.5).astype(float), rng.normal(size=3)
    want = [Xv.T @ (1.0 / (1.0 + np.exp(-Xv @ wv)) - yv) / 20]
    return [X, y, w], [rd.grad(loss, w)], [Xv, yv, wv], want


def mlp():
    X, Y = rd.matrix("X", shape=(8, 5)), rd.matrix("Y", shape=(8, 4))
    W1, b1 = rd.matrix("W1", shape=(5, 6)), rd.vector("b1", shape=(6,))
    W2, b2 = rd.matrix("W2", shape=(6, 4)), rd.vector("b2", shape=(4,))
    z = rd.tanh(X @ W1 + b1) @ W2 + b2
    loss = -rd.mean(rd.sum(Y * rd.log_softmax(z, axis=1), axis=1))
    rng = np.random.default_rng(1)
    Xv, Yv = rng.normal(size=(8, 5)), np.eye(4)[rng.integers(0, 4, 8)]
    W1v, b1v, W2v, b2v = rng.normal(size=(5, 6)), rng.normal(size=6), rng.normal(size=(6, 4)), rng.normal(size=4)
    hv = np.tanh(Xv @ W1v + b1v)
    dz = (softmax(hv @ W2v + b2v) - Yv) / 8
    da = (dz @ W2v.T) * (1 - hv**2)
    want = [Xv.T @ da, da.sum(axis=0), hv.T @ dz, dz.sum(axis=0)]
    return [X, Y, W1, b1, W2, b2], list(rd.grad(loss, [W1, b1, W2, b2])), [Xv, Yv, W1v, b1v, W2v, b2v], want


def xent():
    z, Y = rd.matrix("z", shape=(8, 4)), rd.matrix("Y", shape=(8, 4))
    loss = rd.mean(rd.logsumexp(z, axis=1) - rd.sum(Y * z, axis=1))
    rng = np.random.default_rng(2)
    zv, Yv = 3.0 * rng.normal(size=(8, 4)), np.eye(4)[rng.integers(0, 4, 8)]
    return [z, Y], [rd.grad(loss, z)], [zv, Yv], [(softmax(zv) - Yv) / 8]


def hessian():
    # shapes undeclared, as users write them: the formula holds for every n
    X, y, w = rd.matrix("X"), rd.vector("y"), rd.vector("w")
    p = rd.sigmoid(X @ w)
    loss = -(y * rd.log(p) + (1.0 - y) * rd.log(1.0 - p)).mean()
    rng = np.random.default_rng(3)
    Xv, yv, wv = rng.normal(size=(9, 3)), (rng.random(9) < 0.5).astype(float), rng.normal(size=3)
    pv = 1.0 / (1.0 + np.exp(-Xv @ wv))
    return [X, y, w], [rd.hessian(loss, w)], [Xv, yv, wv], [(Xv.T * (pv * (1 - pv))) @ Xv / 9]


def jacobian():
    A, x = rd.matrix("A"), rd.vector("x")
    rng = np.random.default_rng(4)
    Av, xv = rng.normal(size=(4, 3)), rng.normal(size=3)
    return [A, x], [rd.jacobian(rd.tanh(A @ x), x)], [Av, xv], [(1 - np.tanh(Av @ xv) ** 2)[:, None] * Av]


out = {}
for name, case in (("logreg", logreg), ("mlp", mlp), ("xent", xent), ("hessian", hessian), ("jacobian", jacobian)):
    inputs, grads, vals, want = case()
    simple = rd.simplify(grads)
    got = evaluate(simple, {t.uid: v for t, v in zip(inputs, vals)})
    err = max(float(np.max(np.abs(g - w))) for g, w in zip(got, want))
    text = "\n----\n".join(rd.pprint(g) for g in simple)
    out[name] = {"text": text, "err": err, "ops": [rd.count_ops(grads), rd.count_ops(simple)]}
print(json.dumps(out))
"""

# logistic regression written naively: sigma(1 - sigma)(y/sigma - (1 - y)/(1 - sigma)) reduces to y - sigma
LOGREG = """
    dot(-0.05 * (y - sigmoid(dot(X, w))), X)
"""

# a tanh MLP with a log_softmax cross-entropy; gradients wrt W1, b1, W2, b2
MLP = """
    t1 = tanh(b1 + dot(X, W1))
    dot(X.T, (1.0 - sqr(t1)) * dot(Y * -0.125 - exp(log_softmax(b2 + dot(t1, W2), axis=1)) * -0.125 * sum(Y, axis=1, keepdims=True), W2.T))
    ----
    t1 = tanh(b1 + dot(X, W1))
    sum((1.0 - sqr(t1)) * dot(Y * -0.125 - exp(log_softmax(b2 + dot(t1, W2), axis=1)) * -0.125 * sum(Y, axis=1, keepdims=True), W2.T), axis=0)
    ----
    t1 = tanh(b1 + dot(X, W1))
    dot(t1.T, Y * -0.125 - exp(log_softmax(b2 + dot(t1, W2), axis=1)) * -0.125 * sum(Y, axis=1, keepdims=True))
    ----
    sum(Y * -0.125 - exp(log_softmax(b2 + dot(tanh(b1 + dot(X, W1)), W2), axis=1)) * -0.125 * sum(Y, axis=1, keepdims=True), axis=0)
"""

# softmax cross-entropy alone, in logsumexp form; gradient wrt the logits
XENT = """
    -0.125 * Y + softmax(z, axis=1) / 8
"""

# the logistic Hessian with undeclared shapes: X.T * (p * (1 - p)) @ X / n, nothing of y left, one
# product (the signs of the cost, of the log's derivative and of the mean's adjoint cancel)
HESSIAN = """
    t1 = dot(X, w)
    dot(sigmoid(t1) * sigmoid(-t1) * X.T / X.shape[0], X)
"""

# the Jacobian of tanh(A @ x) with undeclared shapes: a row-scaled A, no identity, no loop
JACOBIAN = """
    A * (1.0 - sqr(tanh(dot(A, x))))[:, None]
"""

EXPECTED = {"logreg": LOGREG, "mlp": MLP, "xent": XENT, "hessian": HESSIAN, "jacobian": JACOBIAN}


def _golden(seed: str) -> dict:
    env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, timeout=300, check=True)
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def golden() -> tuple[dict, dict]:
    """The golden script's output under two hash seeds."""
    return _golden("0"), _golden("12345")


def _dedent(text: str) -> str:
    return "\n".join(line[4:] if line.startswith("    ") else line for line in text.strip("\n").split("\n"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_printed_gradient_is_the_golden_one(golden: tuple[dict, dict], name: str) -> None:
    first, _ = golden
    assert first[name]["text"] == _dedent(EXPECTED[name])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden_gradient_matches_hand_derived(golden: tuple[dict, dict], name: str) -> None:
    first, _ = golden
    assert first[name]["err"] < 1e-10
    raw, simplified = first[name]["ops"]
    assert simplified <= raw


def test_golden_output_is_independent_of_the_hash_seed(golden: tuple[dict, dict]) -> None:
    first, second = golden
    assert first == second
