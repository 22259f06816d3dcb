"""Hand-written numpy gradients (closed forms) for the workloads: the practical limit every backend is compared with.

Every function takes plain arrays and returns a list of arrays (one per requested derivative),
in the order the workload lists its outputs.
"""

from __future__ import annotations

import numpy as np

LAM = 0.1  # the L2 weight of the logistic-regression cost (W1, W5)


def sigmoid(m: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow for large |m|."""
    return 0.5 * (1.0 + np.tanh(0.5 * m))


def softmax_rows(z: np.ndarray) -> np.ndarray:
    """Softmax along the last axis with max subtraction."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ---- costs (used by the finite-difference tests) -----------------------------------------------------
def logreg_cost(X: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float = LAM) -> float:
    """W1's cost: mean(log1p(exp(-y * (X @ w)))) + 0.5*lam*sum(w**2)."""
    return float(np.mean(np.logaddexp(0.0, -y * (X @ w))) + 0.5 * lam * np.sum(w**2))


def mlp_cost(X: np.ndarray, Y: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray) -> float:
    """W2's cost: softmax cross-entropy of a tanh MLP, averaged over the batch."""
    z = np.tanh(X @ W1 + b1) @ W2 + b2
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return float(np.mean(lse - (Y * z).sum(axis=1)))


def rosenbrock_cost(x: np.ndarray) -> float:
    """W3's cost: the extended Rosenbrock function."""
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def chain_cost(x: np.ndarray) -> float:
    """W4's cost: sum(exp(sin(x)*cos(x)) / (1 + x**2))."""
    return float(np.sum(np.exp(np.sin(x) * np.cos(x)) / (1.0 + x**2)))


def logdet_cost(A: np.ndarray) -> float:
    """W7a's cost: log(det(A))."""
    return float(np.log(np.linalg.det(A)))


def trace_cost(A: np.ndarray, X: np.ndarray, B: np.ndarray) -> float:
    """W7b's cost: trace(A @ X @ B @ X.T)."""
    return float(np.trace(A @ X @ B @ X.T))


def depth_forward(x0: np.ndarray, depth: int) -> list[np.ndarray]:
    """W9's iterates x_0..x_D of x_{k+1} = sin(x_k)*x_k + x_0."""
    xs = [x0]
    x = x0
    for _ in range(depth):
        x = np.sin(x) * x + x0
        xs.append(x)
    return xs


def depth_cost(x0: np.ndarray, depth: int) -> float:
    """W9's cost: sum(x_D)."""
    return float(np.sum(depth_forward(x0, depth)[-1]))


# ---- gradients -----------------------------------------------------------------------------------------
def logreg_grad(X: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float = LAM) -> list[np.ndarray]:
    """W1: d/dw = X.T @ (-y * sigmoid(m)) / n + lam*w with m = -y * (X @ w)."""
    m = -y * (X @ w)
    return [(-y * sigmoid(m)) @ X / X.shape[0] + lam * w]


def sparse_logreg_grad(X: object, y: np.ndarray, w: np.ndarray, lam: float = LAM) -> list[np.ndarray]:
    """W14: W1's gradient with X a scipy.sparse CSR matrix: X.T @ (-y * sigmoid(m)) / n + lam*w, m = -y * (X @ w) (X.T is CSC, no copy)."""
    m = -y * (X @ w)
    return [X.T @ (-y * sigmoid(m)) / X.shape[0] + lam * w]


def logreg_hessian(X: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float = LAM) -> list[np.ndarray]:
    """W5: X.T @ (X * (y**2 * s*(1-s))[:, None]) / n + lam*I with s = sigmoid(-y * (X @ w))."""
    s = sigmoid(-y * (X @ w))
    c = y * y * s * (1.0 - s) / X.shape[0]
    return [X.T @ (X * c[:, None]) + lam * np.eye(X.shape[1])]


def mlp_grads(X: np.ndarray, Y: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray) -> list[np.ndarray]:
    """W2: backpropagation by hand; returns [dW1, db1, dW2, db2]."""
    h = np.tanh(X @ W1 + b1)
    dz = (softmax_rows(h @ W2 + b2) - Y) / X.shape[0]
    da = (dz @ W2.T) * (1.0 - h * h)
    return [X.T @ da, da.sum(axis=0), h.T @ dz, dz.sum(axis=0)]


def mlp_hvp_w1(X: np.ndarray, Y: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, V: np.ndarray) -> list[np.ndarray]:
    """W6: the Hessian of W2's cost wrt W1 applied to V (forward-mode through the backward pass)."""
    n = X.shape[0]
    h = np.tanh(X @ W1 + b1)
    dh_da = 1.0 - h * h
    h_dot = dh_da * (X @ V)
    p = softmax_rows(h @ W2 + b2)
    z_dot = h_dot @ W2
    p_dot = p * (z_dot - (p * z_dot).sum(axis=1, keepdims=True))
    dh = ((p - Y) / n) @ W2.T
    dh_dot = (p_dot / n) @ W2.T
    da_dot = dh_dot * dh_da - 2.0 * dh * h * h_dot
    return [X.T @ da_dot]


def rosenbrock_grad(x: np.ndarray) -> list[np.ndarray]:
    """W3: g[1:] += 200 r, g[:-1] += -400 r x[:-1] - 2 (1 - x[:-1]) with r = x[1:] - x[:-1]**2."""
    head = x[:-1]
    r = x[1:] - head * head
    g = np.zeros_like(x)
    g[1:] = 200.0 * r
    g[:-1] += -400.0 * r * head - 2.0 * (1.0 - head)
    return [g]


def chain_grad(x: np.ndarray) -> list[np.ndarray]:
    """W4: e*q*(cos(2x) - 2x*q) with e = exp(sin(x)cos(x)), q = 1/(1+x**2)."""
    q = 1.0 / (1.0 + x * x)
    e = np.exp(np.sin(x) * np.cos(x))
    return [e * q * (np.cos(2.0 * x) - 2.0 * x * q)]


def logdet_grad(A: np.ndarray) -> list[np.ndarray]:
    """W7a: d log det A / dA = inv(A).T."""
    return [np.linalg.inv(A).T]


def trace_grad(A: np.ndarray, X: np.ndarray, B: np.ndarray) -> list[np.ndarray]:
    """W7b: d trace(A X B X^T) / dX = A.T @ X @ B.T + A @ X @ B."""
    return [A.T @ X @ B.T + A @ X @ B]


def tanh_jacobian(W: np.ndarray, x: np.ndarray) -> list[np.ndarray]:
    """W8: d tanh(W x) / dx = (1 - t**2)[:, None] * W."""
    t = np.tanh(W @ x)
    return [(1.0 - t * t)[:, None] * W]


def depth_grad(x0: np.ndarray, depth: int) -> list[np.ndarray]:
    """W9: reverse sweep over the stored iterates; x_0 feeds every step directly and the first step through x_k."""
    xs = depth_forward(x0, depth)
    g = np.ones_like(x0)
    direct = np.zeros_like(x0)
    for k in range(depth - 1, -1, -1):
        direct += g
        xk = xs[k]
        g = g * (np.cos(xk) * xk + np.sin(xk))
    return [direct + g]


def logsumexp_grad(x: np.ndarray) -> list[np.ndarray]:
    """W10a: the gradient of log(sum(exp(x))) is softmax(x) (computed stably)."""
    return [softmax_rows(x)]


def softplus_grad(x: np.ndarray) -> list[np.ndarray]:
    """W10b: the gradient of log(1 + exp(x)) is sigmoid(x) (computed stably)."""
    return [np.asarray(sigmoid(x))]


# ---- W11: an Elman RNN (appended with the loop workloads) --------------------------------------------
def rnn_states(X: np.ndarray, h0: np.ndarray, W: np.ndarray, U: np.ndarray, b: np.ndarray) -> np.ndarray:
    """W11's states h_0..h_T of h_t = tanh(h_{t-1} W + X_t U + b); the input projections are one product."""
    T = X.shape[0]
    XU = (X.reshape(T * X.shape[1], -1) @ U).reshape(T, X.shape[1], -1)
    H = np.empty((T + 1, *h0.shape))
    H[0] = h0
    for t in range(T):
        H[t + 1] = np.tanh(H[t] @ W + XU[t] + b)
    return H


def rnn_cost(X: np.ndarray, h0: np.ndarray, W: np.ndarray, U: np.ndarray, b: np.ndarray) -> float:
    """W11's loss on the last state: 0.5 * sum(h_T ** 2)."""
    return float(0.5 * np.sum(rnn_states(X, h0, W, U, b)[-1] ** 2))


def rnn_grads(X: np.ndarray, h0: np.ndarray, W: np.ndarray, U: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """W11: backpropagation through time over the stored states; grads w.r.t. W, U and b (U's and b's as one product each)."""
    H = rnn_states(X, h0, W, U, b)
    T = X.shape[0]
    g = H[-1].copy()
    D = np.empty_like(H[1:])
    gW = np.zeros_like(W)
    for t in range(T - 1, -1, -1):
        d = g * (1.0 - H[t + 1] ** 2)
        D[t] = d
        gW += H[t].T @ d
        g = d @ W.T
    flat = D.reshape(T * X.shape[1], -1)
    return [gW, X.reshape(T * X.shape[1], -1).T @ flat, flat.sum(axis=0)]
