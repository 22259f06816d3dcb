"""Train a two-layer perceptron by plain gradient descent with compiled gradients.

The parameters are shared variables; one compiled function computes the loss and updates them in
place (``rd.function(..., updates=...)``), so the training loop only feeds data. Synthetic data: a
noisy nonlinear function of 4 inputs. Prints the loss every 100 steps.
"""

from __future__ import annotations

import numpy as np

import rewritediff as rd


def train(steps: int = 400, lr: float = 0.2, seed: int = 0) -> list[float]:
    """Train on synthetic data; the loss after each step."""
    rng = np.random.default_rng(seed)
    X_data = rng.normal(size=(256, 4))
    y_data = np.sin(X_data @ np.array([1.0, -2.0, 0.5, 1.5])) + 0.05 * rng.normal(size=256)

    hidden = 16
    W1 = rd.shared(rng.normal(scale=0.5, size=(4, hidden)), name="W1")
    b1 = rd.shared(np.zeros(hidden), name="b1")
    W2 = rd.shared(rng.normal(scale=0.5, size=hidden), name="W2")
    b2 = rd.shared(np.zeros(()), name="b2")
    params = [W1, b1, W2, b2]

    X = rd.matrix("X")
    y = rd.vector("y")
    h = rd.tanh(X @ W1 + b1)
    pred = h @ W2 + b2
    loss = ((pred - y) ** 2).mean()

    grads = rd.grad(loss, params)
    step = rd.function([X, y], loss, updates=[(p, p - lr * g) for p, g in zip(params, grads)])

    losses = []
    for i in range(steps):
        losses.append(float(step(X_data, y_data)))
        if i % 100 == 0 or i == steps - 1:
            print(f"step {i:4d}  loss {losses[-1]:.4f}")
    return losses


if __name__ == "__main__":
    losses = train()
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}")
