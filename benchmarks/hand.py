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


# ---- W12: RK4 integration of Lotka-Volterra, discrete adjoint ------------------------------------------
def lv_field(u: np.ndarray, th: np.ndarray) -> np.ndarray:
    """Lotka-Volterra: x' = a x - b x y, y' = d x y - g y with th = (a, b, g, d)."""
    x, y = u
    return np.array([th[0] * x - th[1] * x * y, th[3] * x * y - th[2] * y])


def lv_field_vjp(u: np.ndarray, th: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The field's transposed Jacobians applied to v: (w.r.t. the state, w.r.t. the parameters)."""
    x, y = u
    vx, vy = v
    du = np.array([vx * (th[0] - th[1] * y) + vy * th[3] * y, -vx * th[1] * x + vy * (th[3] * x - th[2])])
    dth = np.array([vx * x, -vx * x * y, -vy * y, vy * x * y])
    return du, dth


def lv_states(th: np.ndarray, u0: np.ndarray, steps: int, dt: float) -> np.ndarray:
    """u_0..u_steps of the classical RK4 scheme with step dt."""
    U = np.empty((steps + 1, 2))
    U[0] = u0
    u = u0
    for t in range(steps):
        k1 = lv_field(u, th)
        k2 = lv_field(u + 0.5 * dt * k1, th)
        k3 = lv_field(u + 0.5 * dt * k2, th)
        k4 = lv_field(u + dt * k3, th)
        u = u + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        U[t + 1] = u
    return U


def lv_cost(th: np.ndarray, u0: np.ndarray, obs: np.ndarray, dt: float = 0.01) -> float:
    """W12's fit loss: the squared error of u_1..u_n to the observations."""
    return float(np.sum((lv_states(th, u0, obs.shape[0], dt)[1:] - obs) ** 2))


def lv_grads(th: np.ndarray, u0: np.ndarray, obs: np.ndarray, dt: float = 0.01) -> list[np.ndarray]:
    """W12: the gradient w.r.t. the 4 parameters by the discrete adjoint of RK4, step by step backwards over the stored states."""
    n = obs.shape[0]
    U = lv_states(th, u0, n, dt)
    lam = np.zeros(2)
    g = np.zeros(4)
    for t in range(n - 1, -1, -1):
        lam = lam + 2.0 * (U[t + 1] - obs[t])  # the loss reads u_{t+1}
        u = U[t]
        k1 = lv_field(u, th)
        u2 = u + 0.5 * dt * k1
        k2 = lv_field(u2, th)
        u3 = u + 0.5 * dt * k2
        k3 = lv_field(u3, th)
        u4 = u + dt * k3
        # u_{t+1} = u + dt/6 (k1 + 2 k2 + 2 k3 + k4): take each stage back, last first
        gk1, gk2, gk3, gk4 = (dt / 6.0) * lam, (dt / 3.0) * lam, (dt / 3.0) * lam, (dt / 6.0) * lam
        gu = lam.copy()
        du, dth = lv_field_vjp(u4, th, gk4)
        gu += du
        g += dth
        gk3 = gk3 + dt * du
        du, dth = lv_field_vjp(u3, th, gk3)
        gu += du
        g += dth
        gk2 = gk2 + 0.5 * dt * du
        du, dth = lv_field_vjp(u2, th, gk2)
        gu += du
        g += dth
        gk1 = gk1 + 0.5 * dt * du
        du, dth = lv_field_vjp(u, th, gk1)
        gu += du
        g += dth
        lam = gu
    return [g]


# ---- W13: a map with no recurrence ---------------------------------------------------------------------
def lse_map_grad(X: np.ndarray, a: np.ndarray) -> list[np.ndarray]:
    """W13: the gradient of sum_i logsumexp(X_i * a) w.r.t. a is sum_i softmax(X_i * a) * X_i."""
    Z = X * a
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return [((E / E.sum(axis=1, keepdims=True)) * X).sum(axis=0)]


def lse_map_cost(X: np.ndarray, a: np.ndarray) -> float:
    """W13's cost: sum_i logsumexp(X_i * a)."""
    Z = X * a
    m = Z.max(axis=1)
    return float(np.sum(m + np.log(np.exp(Z - m[:, None]).sum(axis=1))))
