"""Newton's method on L2-regularised logistic regression, with the gradient and Hessian from rewritediff.

The Hessian comes from ``rd.hessian`` (the weight vector has a static shape, so it is a plain
matrix); each step solves ``H p = g``. The problem is strictly convex, so Newton converges in a
handful of steps. The result is compared with the same iteration written by hand in numpy.
"""

from __future__ import annotations

import numpy as np

import rewritediff as rd


def data(n: int = 200, d: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic features and 0/1 labels from a noisy linear model."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X @ rng.normal(size=d) + 0.5 * rng.normal(size=n) > 0).astype(float)
    return X, y


def newton(X_data: np.ndarray, y_data: np.ndarray, lam: float = 0.1, steps: int = 20) -> tuple[np.ndarray, list[float]]:
    """Minimise the regularised loss by Newton steps; the weights and the gradient norm after each step."""
    n, d = X_data.shape
    X = rd.matrix("X", shape=(n, d))
    y = rd.vector("y", shape=(n,))
    w = rd.vector("w", shape=(d,))
    z = X @ w
    loss = (rd.softplus(z) - y * z).mean() + 0.5 * lam * (w * w).sum()
    g = rd.grad(loss, w)
    H = rd.hessian(loss, w)
    f = rd.function([X, y, w], [loss, g, H])

    w_val = np.zeros(d)
    norms = []
    for i in range(steps):
        loss_val, g_val, H_val = f(X_data, y_data, w_val)
        norms.append(float(np.linalg.norm(g_val)))
        print(f"step {i}  loss {loss_val:.10f}  |grad| {norms[-1]:.2e}")
        if norms[-1] < 1e-12:
            break
        w_val = w_val - np.linalg.solve(H_val, g_val)
    return w_val, norms


def newton_numpy(X: np.ndarray, y: np.ndarray, lam: float = 0.1, steps: int = 20) -> np.ndarray:
    """The same iteration with the gradient and Hessian derived by hand."""
    n, d = X.shape
    w = np.zeros(d)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(X @ w)))
        g = X.T @ (p - y) / n + lam * w
        H = (X.T * (p * (1 - p))) @ X / n + lam * np.eye(d)
        w = w - np.linalg.solve(H, g)
    return w


if __name__ == "__main__":
    X_data, y_data = data()
    w, norms = newton(X_data, y_data)
    ref = newton_numpy(X_data, y_data)
    print(f"Newton steps: {len(norms) - 1}, final |grad| {norms[-1]:.2e}")
    print(f"max |w - w_numpy| = {np.max(np.abs(w - ref)):.2e}")
