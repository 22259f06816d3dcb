"""Logistic regression: a readable gradient, its generated code, and gradient descent with it.

The loss is written naively (``log(sigmoid(z))``); the simplifier rewrites it into the stable
``softplus`` form. Prints the simplified gradient, checks it against finite differences, then
trains on synthetic data and prints the loss and the training accuracy.
"""

from __future__ import annotations

import numpy as np

import rewritediff as rd


def main(steps: int = 300, lr: float = 1.0) -> tuple[float, float, float]:
    """Train; the initial loss, the final loss and the final training accuracy."""
    rng = np.random.default_rng(0)
    X_data = rng.normal(size=(500, 3))
    y_data = (X_data @ np.array([2.0, -1.0, 0.5]) + 0.3 * rng.normal(size=500) > 0).astype(float)

    X = rd.matrix("X")
    y = rd.vector("y")
    w = rd.vector("w")
    b = rd.scalar("b")
    p = rd.sigmoid(X @ w + b)
    loss = -(y * rd.log(p) + (1 - y) * rd.log(1 - p)).mean()
    gw, gb = rd.grad(loss, [w, b])

    print("gradient with respect to w:")
    print(rd.pprint(rd.simplify(gw)))

    f = rd.function([X, y, w, b], [loss, gw, gb])
    cost = rd.function([X, y, w, b], loss)
    w0, b0 = np.zeros(3), np.zeros(())
    num = rd.numeric_grad(lambda w_, b_: cost(X_data, y_data, w_, b_), [w0, b0])
    _, g_w, g_b = f(X_data, y_data, w0, b0)
    err = max(np.max(np.abs(g_w - num.gf[0])), float(np.abs(g_b - num.gf[1])))
    print(f"max |analytic - finite differences| = {err:.1e}")

    w_val, b_val = w0, b0
    first = None
    for i in range(steps):
        loss_val, g_w, g_b = f(X_data, y_data, w_val, b_val)
        first = float(loss_val) if first is None else first
        w_val, b_val = w_val - lr * g_w, b_val - lr * g_b
        if i % 100 == 0:
            print(f"step {i:3d}  loss {float(loss_val):.4f}")
    final = float(cost(X_data, y_data, w_val, b_val))
    accuracy = float(np.mean(((X_data @ w_val + b_val) > 0) == (y_data > 0.5)))
    print(f"loss {first:.4f} -> {final:.4f}, training accuracy {accuracy:.3f}")
    return first, final, accuracy


if __name__ == "__main__":
    main()
