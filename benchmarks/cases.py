"""The workloads W1-W10 as benchmark cases: seeded data, the hand-written reference, and one graph per backend.

A :class:`Case` is one row group of the report. Graph builders receive the backend's module
(``rewritediff``; ``pytensor.tensor`` with ``pytensor`` as ``pt.pytensor``; ``jax``) and return
``(inputs, outputs)`` (rewritediff, PyTensor) or a function of arrays returning a list (JAX).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks import hand

SIZES = ("small", "large")
SIZES_BY_WORKLOAD: dict[str, dict[str, dict[str, int]]] = {
    "W1": {"small": {"n": 1000, "d": 100}, "large": {"n": 200_000, "d": 100}},
    "W2": {"small": {"batch": 256}, "large": {"batch": 2048}},
    "W3": {"small": {"n": 1000}, "large": {"n": 1_000_000}},
    "W4": {"small": {"n": 1000}, "large": {"n": 10_000_000}},
    "W5": {"small": {"n": 1000, "d": 100}, "large": {"n": 5000, "d": 500}},
}
FIXED = {"W6": {"batch": 256}, "W7": {"n": 200}, "W8": {"n": 500}, "W9": {"n": 1000}}
DEPTHS = (10, 100, 1000)
DEEP_COMPILE_ONLY = 10_000
MLP_IN, MLP_HIDDEN, MLP_OUT = 784, 256, 10


@dataclass
class Case:
    """One benchmarked computation: data, its numpy-hand reference and per-backend graphs."""

    id: str
    workload: str
    title: str
    size: str
    data: Callable[[], list[np.ndarray]]
    hand: Callable[..., list[np.ndarray]] | None
    rd_graph: Callable[[Any, str | None], tuple[list, list]] | None = None
    rd_variants: tuple[str | None, ...] = (None,)
    pt_graph: Callable[[Any, str | None], tuple[list, list]] | None = None
    pt_variants: tuple[str | None, ...] = (None,)
    jax_fn: Callable[[Any], Callable[..., list]] | None = None
    compile_only: bool = False
    params: dict[str, int] = field(default_factory=dict)


def _rng(tag: str) -> np.random.Generator:
    """A generator seeded from the case tag (stable across runs and Python hash seeds)."""
    return np.random.default_rng(sum((i + 1) * ord(c) for i, c in enumerate(tag)) + 20240601)


# ---- data ---------------------------------------------------------------------------------------------
def logreg_data(n: int, d: int) -> list[np.ndarray]:
    """X (n x d), labels y in {-1, 1}, weights w."""
    rng = _rng(f"logreg{n}x{d}")
    X = rng.standard_normal((n, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    w = 0.1 * rng.standard_normal(d)
    return [X, y, w]


def mlp_data(batch: int, n_in: int = MLP_IN, n_hidden: int = MLP_HIDDEN, n_out: int = MLP_OUT) -> list[np.ndarray]:
    """Inputs X, one-hot targets Y and parameters W1, b1, W2, b2 of the MLP."""
    rng = _rng(f"mlp{batch}-{n_in}-{n_hidden}-{n_out}")
    X = rng.standard_normal((batch, n_in))
    Y = np.eye(n_out)[rng.integers(0, n_out, batch)]
    W1 = rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in)
    b1 = 0.1 * rng.standard_normal(n_hidden)
    W2 = rng.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden)
    b2 = 0.1 * rng.standard_normal(n_out)
    return [X, Y, W1, b1, W2, b2]


def mlp_hvp_data(batch: int, n_in: int = MLP_IN, n_hidden: int = MLP_HIDDEN, n_out: int = MLP_OUT) -> list[np.ndarray]:
    """The MLP data plus a random direction V shaped like W1."""
    V = _rng(f"V{batch}").standard_normal((n_in, n_hidden))
    return [*mlp_data(batch, n_in, n_hidden, n_out), V]


def vector_data(n: int, tag: str, low: float = -2.0, high: float = 2.0) -> list[np.ndarray]:
    """One uniform vector of length n."""
    return [_rng(f"{tag}{n}").uniform(low, high, n)]


def spd_data(n: int) -> list[np.ndarray]:
    """A well-conditioned symmetric positive-definite matrix."""
    M = _rng(f"spd{n}").standard_normal((n, n))
    return [M @ M.T / n + 0.5 * np.eye(n)]


def trace_data(n: int) -> list[np.ndarray]:
    """A, X, B for trace(A @ X @ B @ X.T), scaled to keep entries O(1)."""
    rng = _rng(f"trace{n}")
    return [rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(3)]


def jac_data(n: int) -> list[np.ndarray]:
    """W (n x n) and x for the Jacobian of tanh(W @ x)."""
    rng = _rng(f"jac{n}")
    return [rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal(n)]


# ---- rewritediff graphs -----------------------------------------------------------------------------------
def rd_logreg_cost(rd: Any, X: Any, y: Any, w: Any) -> Any:
    """W1's cost as a rewritediff expression."""
    return rd.mean(rd.log1p(rd.exp(-y * (X @ w)))) + 0.5 * hand.LAM * rd.sum(w**2)


def rd_w1(rd: Any, variant: str | None) -> tuple[list, list]:
    """W1: grad of the logistic-regression cost wrt w."""
    X, y, w = rd.matrix("X"), rd.vector("y"), rd.vector("w")
    return [X, y, w], [rd.grad(rd_logreg_cost(rd, X, y, w), w)]


def rd_w5(rd: Any, variant: str | None, d: int) -> tuple[list, list]:
    """W5: Hessian of W1's cost wrt w."""
    X, y, w = rd.matrix("X"), rd.vector("y"), rd.vector("w")
    return [X, y, w], [rd.hessian(rd_logreg_cost(rd, X, y, w), w)]


def rd_xent(rd: Any, z: Any, Y: Any, variant: str | None) -> Any:
    """Mean softmax cross-entropy of logits z (rows) against one-hot Y, written as ``variant``."""
    if variant == "log_softmax":
        return -rd.mean(rd.sum(Y * rd.log_softmax(z, axis=1), axis=1))
    if variant == "logsumexp":
        return rd.mean(rd.logsumexp(z, axis=1) - rd.sum(Y * z, axis=1))
    m = rd.disconnected_grad(rd.max(z, axis=1))
    lse = m + rd.log(rd.sum(rd.exp(z - m.dimshuffle(0, "x")), axis=1))
    return rd.mean(lse - rd.sum(Y * z, axis=1))


XENT_VARIANTS = ("log_softmax", "logsumexp", "max-subtraction")


def rd_mlp(rd: Any, variant: str | None) -> tuple[list, Any]:
    """The MLP's inputs and cost."""
    X, Y, W1, b1, W2, b2 = rd.matrix("X"), rd.matrix("Y"), rd.matrix("W1"), rd.vector("b1"), rd.matrix("W2"), rd.vector("b2")
    z = rd.tanh(X @ W1 + b1) @ W2 + b2
    return [X, Y, W1, b1, W2, b2], rd_xent(rd, z, Y, variant)


def rd_w2(rd: Any, variant: str | None) -> tuple[list, list]:
    """W2: grads of the MLP cost wrt W1, b1, W2, b2."""
    inputs, cost = rd_mlp(rd, variant)
    return inputs, list(rd.grad(cost, inputs[2:]))


def rd_w6(rd: Any, variant: str | None) -> tuple[list, list]:
    """W6: Hessian-vector product of the MLP cost wrt W1 along V."""
    inputs, cost = rd_mlp(rd, variant)
    V = rd.matrix("V")
    return [*inputs, V], [rd.hessian_vector_product(cost, inputs[2], V)]


def rd_w3(rd: Any, variant: str | None) -> tuple[list, list]:
    """W3: grad of the extended Rosenbrock function."""
    x = rd.vector("x")
    cost = rd.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    return [x], [rd.grad(cost, x)]


def rd_w4(rd: Any, variant: str | None) -> tuple[list, list]:
    """W4: grad of the elementwise chain."""
    x = rd.vector("x")
    cost = rd.sum(rd.exp(rd.sin(x) * rd.cos(x)) / (1.0 + x**2))
    return [x], [rd.grad(cost, x)]


def rd_w7a(rd: Any, variant: str | None, n: int) -> tuple[list, list]:
    """W7a: grad of log(det(A))."""
    A = rd.matrix("A")
    return [A], [rd.grad(rd.log(rd.linalg.det(A)), A)]


def rd_w7b(rd: Any, variant: str | None, n: int) -> tuple[list, list]:
    """W7b: grad of trace(A @ X @ B @ X.T) wrt X (``trace`` op or sum of the diagonal)."""
    A, X, B = rd.matrix("A"), rd.matrix("X"), rd.matrix("B")
    M = A @ X @ B @ X.T
    cost = rd.trace(M) if variant == "trace" else rd.sum(rd.diag(M))
    return [A, X, B], [rd.grad(cost, X)]


def rd_w8(rd: Any, variant: str | None, n: int) -> tuple[list, list]:
    """W8: Jacobian of tanh(W @ x) wrt x."""
    W, x = rd.matrix("W"), rd.vector("x")
    return [W, x], [rd.jacobian(rd.tanh(W @ x), x)]


def rd_w9(rd: Any, variant: str | None, depth: int) -> tuple[list, list]:
    """W9: x_{k+1} = sin(x_k)*x_k + x_0, grad of sum(x_D) wrt x_0."""
    x0 = rd.vector("x0")
    x = x0
    for _ in range(depth):
        x = rd.sin(x) * x + x0
    return [x0], [rd.grad(rd.sum(x), x0)]


def rd_w10a(rd: Any, variant: str | None) -> tuple[list, list]:
    """W10a: grad of naive log(sum(exp(x)))."""
    x = rd.vector("x")
    return [x], [rd.grad(rd.log(rd.sum(rd.exp(x))), x)]


def rd_w10b(rd: Any, variant: str | None) -> tuple[list, list]:
    """W10b: grad of naive log(1 + exp(x)) for a scalar x."""
    x = rd.scalar("x")
    return [x], [rd.grad(rd.log(1.0 + rd.exp(x)), x)]


class StaticShapes:
    """The rewritediff module with every variable's shape declared from the case's data (the static-shape variant).

    Graph builders write ``rd.matrix("X")`` as users do; through this proxy the same builder
    declares ``X``'s shape, so one builder gives both variants.
    """

    CONSTRUCTORS = ("scalar", "vector", "matrix", "tensor3", "tensor4", "tensor")

    def __init__(self, rd: Any, shapes: dict[str, tuple], constructors: tuple | None = None) -> None:
        self._rd, self._shapes = rd, shapes
        if constructors is not None:
            self.CONSTRUCTORS = constructors

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._rd, name)
        if name == "sparse":  # rd.sparse.csr_matrix("X") declares its shape too
            return StaticShapes(attr, self._shapes, ("csr_matrix", "csc_matrix"))
        if name not in self.CONSTRUCTORS:
            return attr

        def declared(var: str, *args: Any, **kwargs: Any) -> Any:
            if "shape" not in kwargs and not args and var in self._shapes and name != "scalar":
                kwargs["shape"] = self._shapes[var]
            return attr(var, *args, **kwargs)

        return declared


# ---- PyTensor graphs (pt is pytensor.tensor) ---------------------------------------------------------------
def _ptg(pt: Any) -> Any:
    """The ``pytensor.gradient`` module."""
    import pytensor.gradient

    return pytensor.gradient


def pt_logreg_cost(pt: Any, X: Any, y: Any, w: Any) -> Any:
    """W1's cost as a PyTensor expression."""
    return pt.mean(pt.log1p(pt.exp(-y * pt.dot(X, w)))) + 0.5 * hand.LAM * pt.sum(w**2)


def pt_w1(pt: Any, variant: str | None) -> tuple[list, list]:
    """W1 in PyTensor."""
    X, y, w = pt.dmatrix("X"), pt.dvector("y"), pt.dvector("w")
    return [X, y, w], [_ptg(pt).grad(pt_logreg_cost(pt, X, y, w), w)]


def pt_w5(pt: Any, variant: str | None) -> tuple[list, list]:
    """W5 in PyTensor: vectorized Jacobian of the gradient."""
    X, y, w = pt.dmatrix("X"), pt.dvector("y"), pt.dvector("w")
    g = _ptg(pt).grad(pt_logreg_cost(pt, X, y, w), w)
    return [X, y, w], [_ptg(pt).jacobian(g, w, vectorize=True)]


def pt_mlp(pt: Any) -> tuple[list, Any]:
    """The MLP's inputs and cost in PyTensor."""
    X, Y, W1, b1, W2, b2 = pt.dmatrix("X"), pt.dmatrix("Y"), pt.dmatrix("W1"), pt.dvector("b1"), pt.dmatrix("W2"), pt.dvector("b2")
    z = pt.dot(pt.tanh(pt.dot(X, W1) + b1), W2) + b2
    cost = -pt.mean(pt.sum(Y * pt.special.log_softmax(z, axis=1), axis=1))
    return [X, Y, W1, b1, W2, b2], cost


def pt_w2(pt: Any, variant: str | None) -> tuple[list, list]:
    """W2 in PyTensor."""
    inputs, cost = pt_mlp(pt)
    return inputs, list(_ptg(pt).grad(cost, inputs[2:]))


def pt_w6(pt: Any, variant: str | None) -> tuple[list, list]:
    """W6 in PyTensor."""
    inputs, cost = pt_mlp(pt)
    V = pt.dmatrix("V")
    return [*inputs, V], [_ptg(pt).hessian_vector_product(cost, inputs[2], V)]


def pt_w3(pt: Any, variant: str | None) -> tuple[list, list]:
    """W3 in PyTensor."""
    x = pt.dvector("x")
    cost = pt.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    return [x], [_ptg(pt).grad(cost, x)]


def pt_w4(pt: Any, variant: str | None) -> tuple[list, list]:
    """W4 in PyTensor."""
    x = pt.dvector("x")
    cost = pt.sum(pt.exp(pt.sin(x) * pt.cos(x)) / (1.0 + x**2))
    return [x], [_ptg(pt).grad(cost, x)]


def pt_w7a(pt: Any, variant: str | None) -> tuple[list, list]:
    """W7a in PyTensor."""
    A = pt.dmatrix("A")
    return [A], [_ptg(pt).grad(pt.log(pt.linalg.det(A)), A)]


def pt_w7b(pt: Any, variant: str | None) -> tuple[list, list]:
    """W7b in PyTensor (sum of the diagonal)."""
    A, X, B = pt.dmatrix("A"), pt.dmatrix("X"), pt.dmatrix("B")
    M = pt.dot(pt.dot(pt.dot(A, X), B), X.T)
    return [A, X, B], [_ptg(pt).grad(pt.diagonal(M).sum(), X)]


def pt_w8(pt: Any, variant: str | None) -> tuple[list, list]:
    """W8 in PyTensor (vectorized jacobian)."""
    W, x = pt.dmatrix("W"), pt.dvector("x")
    return [W, x], [_ptg(pt).jacobian(pt.tanh(pt.dot(W, x)), x, vectorize=True)]


def pt_w9(pt: Any, variant: str | None, depth: int) -> tuple[list, list]:
    """W9 in PyTensor."""
    x0 = pt.dvector("x0")
    x = x0
    for _ in range(depth):
        x = pt.sin(x) * x + x0
    return [x0], [_ptg(pt).grad(pt.sum(x), x0)]


def pt_w10a(pt: Any, variant: str | None) -> tuple[list, list]:
    """W10a in PyTensor."""
    x = pt.dvector("x")
    return [x], [_ptg(pt).grad(pt.log(pt.sum(pt.exp(x))), x)]


def pt_w10b(pt: Any, variant: str | None) -> tuple[list, list]:
    """W10b in PyTensor."""
    x = pt.dscalar("x")
    return [x], [_ptg(pt).grad(pt.log(1.0 + pt.exp(x)), x)]


# ---- JAX functions ----------------------------------------------------------------------------------------------
def jax_fns() -> dict[str, Callable[..., Any]]:
    """JAX gradient functions by case kind (imports jax lazily)."""
    import jax
    import jax.numpy as jnp

    def logreg_cost(X: Any, y: Any, w: Any) -> Any:
        return jnp.mean(jnp.log1p(jnp.exp(-y * (X @ w)))) + 0.5 * hand.LAM * jnp.sum(w**2)

    def mlp_cost(W1: Any, b1: Any, W2: Any, b2: Any, X: Any, Y: Any) -> Any:
        z = jnp.tanh(X @ W1 + b1) @ W2 + b2
        return -jnp.mean(jnp.sum(Y * jax.nn.log_softmax(z, axis=1), axis=1))

    def w1(X: Any, y: Any, w: Any) -> list:
        return [jax.grad(logreg_cost, argnums=2)(X, y, w)]

    def w5(X: Any, y: Any, w: Any) -> list:
        return [jax.hessian(logreg_cost, argnums=2)(X, y, w)]

    def w2(X: Any, Y: Any, W1: Any, b1: Any, W2: Any, b2: Any) -> list:
        return list(jax.grad(mlp_cost, argnums=(0, 1, 2, 3))(W1, b1, W2, b2, X, Y))

    def w6(X: Any, Y: Any, W1: Any, b1: Any, W2: Any, b2: Any, V: Any) -> list:
        def g(W: Any) -> Any:
            return jax.grad(mlp_cost)(W, b1, W2, b2, X, Y)

        return [jax.jvp(g, (W1,), (V,))[1]]

    def w3(x: Any) -> list:
        return [jax.grad(lambda x: jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))(x)]

    def w4(x: Any) -> list:
        return [jax.grad(lambda x: jnp.sum(jnp.exp(jnp.sin(x) * jnp.cos(x)) / (1.0 + x**2)))(x)]

    def w7a(A: Any) -> list:
        return [jax.grad(lambda A: jnp.log(jnp.linalg.det(A)))(A)]

    def w7b(A: Any, X: Any, B: Any) -> list:
        return [jax.grad(lambda X: jnp.trace(A @ X @ B @ X.T))(X)]

    def w8(W: Any, x: Any) -> list:
        return [jax.jacrev(lambda x: jnp.tanh(W @ x))(x)]

    def w10a(x: Any) -> list:
        return [jax.grad(lambda x: jnp.log(jnp.sum(jnp.exp(x))))(x)]

    def w10b(x: Any) -> list:
        return [jax.grad(lambda x: jnp.log(1.0 + jnp.exp(x)))(x)]

    return {"W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w5, "W6": w6, "W7a": w7a, "W7b": w7b, "W8": w8, "W10a": w10a, "W10b": w10b}


def jax_w9(depth: int) -> Callable[..., list]:
    """W9 in JAX for a given depth."""
    import jax
    import jax.numpy as jnp

    def cost(x0: Any) -> Any:
        x = x0
        for _ in range(depth):
            x = jnp.sin(x) * x + x0
        return jnp.sum(x)

    return lambda x0: [jax.grad(cost)(x0)]


def _jax(key: str) -> Callable[[Any], Callable[..., list]]:
    return lambda _jax_module: jax_fns()[key]


# ---- the case list ------------------------------------------------------------------------------------------------
def cases_for(size: str, include_fixed: bool = True) -> list[Case]:
    """All cases at ``size`` ('small' or 'large'); ``include_fixed`` adds the single-size workloads W6-W10."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    s1, s2, s3, s4, s5 = (SIZES_BY_WORKLOAD[w][size] for w in ("W1", "W2", "W3", "W4", "W5"))
    out = [
        Case(
            "W1",
            "W1",
            "logistic regression grad",
            size,
            lambda: logreg_data(s1["n"], s1["d"]),
            hand.logreg_grad,
            rd_w1,
            pt_graph=pt_w1,
            jax_fn=_jax("W1"),
            params=s1,
        ),
        Case(
            "W2",
            "W2",
            "MLP 784-256-10 grads",
            size,
            lambda: mlp_data(s2["batch"]),
            hand.mlp_grads,
            rd_w2,
            rd_variants=XENT_VARIANTS,
            pt_graph=pt_w2,
            jax_fn=_jax("W2"),
            params=s2,
        ),
        Case(
            "W3",
            "W3",
            "extended Rosenbrock grad",
            size,
            lambda: vector_data(s3["n"], "rosen"),
            hand.rosenbrock_grad,
            rd_w3,
            pt_graph=pt_w3,
            jax_fn=_jax("W3"),
            params=s3,
        ),
        Case(
            "W4",
            "W4",
            "elementwise chain grad",
            size,
            lambda: vector_data(s4["n"], "chain"),
            hand.chain_grad,
            rd_w4,
            pt_graph=pt_w4,
            jax_fn=_jax("W4"),
            params=s4,
        ),
        Case(
            "W5",
            "W5",
            "logistic regression Hessian",
            size,
            lambda: logreg_data(s5["n"], s5["d"]),
            hand.logreg_hessian,
            lambda rd, v: rd_w5(rd, v, s5["d"]),
            pt_graph=pt_w5,
            jax_fn=_jax("W5"),
            params=s5,
        ),
    ]
    out += sparse_cases(size)
    if not include_fixed:
        return out
    f6, f7, f8, f9 = FIXED["W6"], FIXED["W7"], FIXED["W8"], FIXED["W9"]
    out += [
        Case(
            "W6",
            "W6",
            "MLP HVP wrt W1",
            "fixed",
            lambda: mlp_hvp_data(f6["batch"]),
            hand.mlp_hvp_w1,
            rd_w6,
            rd_variants=XENT_VARIANTS,
            pt_graph=pt_w6,
            jax_fn=_jax("W6"),
            params=f6,
        ),
        Case(
            "W7a",
            "W7",
            "grad log det A (SPD)",
            "fixed",
            lambda: spd_data(f7["n"]),
            hand.logdet_grad,
            lambda rd, v: rd_w7a(rd, v, f7["n"]),
            pt_graph=pt_w7a,
            jax_fn=_jax("W7a"),
            params=f7,
        ),
        Case(
            "W7b",
            "W7",
            "grad trace(A X B X^T) wrt X",
            "fixed",
            lambda: trace_data(f7["n"]),
            hand.trace_grad,
            lambda rd, v: rd_w7b(rd, v, f7["n"]),
            rd_variants=("trace", "sum-of-diag"),
            pt_graph=pt_w7b,
            jax_fn=_jax("W7b"),
            params=f7,
        ),
        Case(
            "W8",
            "W8",
            "Jacobian of tanh(W x)",
            "fixed",
            lambda: jac_data(f8["n"]),
            hand.tanh_jacobian,
            lambda rd, v: rd_w8(rd, v, f8["n"]),
            pt_graph=pt_w8,
            jax_fn=_jax("W8"),
            params=f8,
        ),
    ]
    for depth in DEPTHS:
        out.append(
            Case(
                f"W9-D{depth}",
                "W9",
                f"depth scaling D={depth}",
                "fixed",
                lambda: vector_data(f9["n"], "depth", -1.0, 1.0),
                lambda x0, depth=depth: hand.depth_grad(x0, depth),
                lambda rd, v, depth=depth: rd_w9(rd, v, depth),
                pt_graph=lambda pt, v, depth=depth: pt_w9(pt, v, depth),
                jax_fn=lambda _m, depth=depth: jax_w9(depth),
                params={**f9, "D": depth},
            )
        )
    out.append(
        Case(
            f"W9-D{DEEP_COMPILE_ONLY}",
            "W9",
            f"depth D={DEEP_COMPILE_ONLY}, compile only",
            "fixed",
            lambda: vector_data(f9["n"], "depth", -1.0, 1.0),
            None,
            lambda rd, v: rd_w9(rd, v, DEEP_COMPILE_ONLY),
            compile_only=True,
            params={**f9, "D": DEEP_COMPILE_ONLY},
        )
    )
    out += [
        Case(
            "W10a",
            "W10",
            "naive log(sum(exp(x))) at [1000,1000,-1000]",
            "fixed",
            lambda: [np.array([1000.0, 1000.0, -1000.0])],
            hand.logsumexp_grad,
            rd_w10a,
            pt_graph=pt_w10a,
            jax_fn=_jax("W10a"),
        ),
        Case(
            "W10b",
            "W10",
            "naive log(1+exp(x)) at x=800",
            "fixed",
            lambda: [np.array(800.0)],
            hand.softplus_grad,
            rd_w10b,
            pt_graph=pt_w10b,
            jax_fn=_jax("W10b"),
        ),
    ]
    out += loop_cases()
    return out


# ---- W14: logistic regression on a sparse CSR design matrix (rd.sparse, scipy.sparse by hand) ----------------
SPARSE_SIZES = {"small": {"n": 20_000, "d": 2_000, "nnz": 200_000}, "large": {"n": 1_000_000, "d": 100_000, "nnz": 10_000_000}}


def sparse_logreg_data(n: int, d: int, nnz: int) -> list[Any]:
    """W14's data: X a CSR matrix (n x d) with nnz // n stored entries per row at random columns, labels y in {-1, 1}, weights w."""
    import scipy.sparse

    rng = _rng(f"sparse{n}x{d}x{nnz}")
    per_row = max(1, nnz // n)
    indptr = np.arange(0, n * per_row + 1, per_row, dtype=np.int64)
    indices = np.sort(rng.integers(0, d, size=(n, per_row), dtype=np.int64), axis=1).ravel()
    data = rng.standard_normal(n * per_row) / np.sqrt(per_row)
    X = scipy.sparse.csr_matrix((data, indices, indptr), shape=(n, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    w = 0.1 * rng.standard_normal(d)
    return [X, y, w]


def rd_w14(rd: Any, variant: str | None) -> tuple[list, list]:
    """W14: W1's cost with a sparse CSR X (``rd.sparse.csr_matrix``, no shape), grad wrt w."""
    X, y, w = rd.sparse.csr_matrix("X"), rd.vector("y"), rd.vector("w")
    return [X, y, w], [rd.grad(rd_logreg_cost(rd, X, y, w), w)]


def sparse_cases(size: str) -> list[Case]:
    """The sparse workload (W14) at ``size``."""
    p = SPARSE_SIZES[size]
    return [
        Case(
            "W14",
            "W14",
            f"sparse logistic regression grad (CSR {p['n']}x{p['d']}, {p['nnz']} stored)",
            size,
            lambda: sparse_logreg_data(**p),
            hand.sparse_logreg_grad,
            rd_w14,
            params=dict(p),
        )
    ]


# ---- W11: an Elman RNN written as a loop (rd.scan, pytensor.scan, jax.lax.scan) -----------------------------
W11 = {"T": 1000, "batch": 64, "hidden": 128, "inputs": 32}


def rnn_data(T: int, batch: int, hidden: int, inputs: int) -> list[np.ndarray]:
    """W11's data: a sequence X (T, batch, inputs), h0, and weights W, U, b scaled to keep tanh unsaturated."""
    rng = _rng("W11")
    return [
        rng.normal(size=(T, batch, inputs)),
        0.1 * rng.normal(size=(batch, hidden)),
        rng.normal(size=(hidden, hidden)) / np.sqrt(hidden),
        rng.normal(size=(inputs, hidden)) / np.sqrt(inputs),
        0.1 * rng.normal(size=hidden),
    ]


def rd_w11(rd: Any, variant: str | None) -> tuple[list, list]:
    """W11: Elman RNN h_t = tanh(h_{t-1} W + x_t U + b), loss 0.5*sum(h_T**2), grads w.r.t. W, U, b."""
    X, h0, W, U, b = rd.tensor3("X"), rd.matrix("h0"), rd.matrix("W"), rd.matrix("U"), rd.vector("b")
    hs = rd.scan(lambda x, h: rd.tanh(h @ W + x @ U + b), sequences=X, outputs_info=h0, return_updates=False)
    return [X, h0, W, U, b], rd.grad(0.5 * rd.sum(hs[-1] ** 2), [W, U, b])


def pt_w11(pt: Any, variant: str | None) -> tuple[list, list]:
    """W11 in PyTensor (pytensor.scan)."""
    import pytensor

    X, h0, W, U, b = pt.dtensor3("X"), pt.dmatrix("h0"), pt.dmatrix("W"), pt.dmatrix("U"), pt.dvector("b")
    hs = pytensor.scan(lambda x, h: pt.tanh(pt.dot(h, W) + pt.dot(x, U) + b), sequences=X, outputs_info=h0, return_updates=False)
    return [X, h0, W, U, b], _ptg(pt).grad(0.5 * pt.sum(hs[-1] ** 2), [W, U, b])


def jax_w11(_jax_module: Any) -> Callable[..., list]:
    """W11 in JAX (jax.lax.scan)."""
    import jax
    import jax.numpy as jnp

    def cost(W: Any, U: Any, b: Any, X: Any, h0: Any) -> Any:
        def step(h: Any, x: Any) -> tuple:
            return jnp.tanh(h @ W + x @ U + b), None

        h, _ = jax.lax.scan(step, h0, X)
        return 0.5 * jnp.sum(h**2)

    g = jax.grad(cost, argnums=(0, 1, 2))
    return lambda X, h0, W, U, b: list(g(W, U, b, X, h0))


# ---- W12: RK4 integration of Lotka-Volterra written as a loop --------------------------------------------
W12 = {"steps": 1000}
LV_DT = 0.01
LV_TRUE = (1.5, 1.0, 3.0, 1.0)  # (a, b, g, d): x' = a x - b x y, y' = d x y - g y


def lv_data(steps: int) -> list[np.ndarray]:
    """W12's data: parameters near the true ones, the initial state, noisy observations of u_1..u_steps."""
    rng = _rng("W12")
    u0 = np.array([1.0, 1.0])
    obs = hand.lv_states(np.array(LV_TRUE), u0, steps, LV_DT)[1:] + 0.05 * rng.normal(size=(steps, 2))
    theta = np.array(LV_TRUE) * (1.0 + 0.1 * rng.normal(size=4))
    return [theta, u0, obs]


def rd_w12(rd: Any, variant: str | None) -> tuple[list, list]:
    """W12: RK4 over obs.shape[0] steps with rd.scan, loss sum((u_t - obs_t)**2), grad w.r.t. the 4 parameters."""
    theta, u0, obs = rd.vector("theta"), rd.vector("u0"), rd.matrix("obs")

    # the field as vector operations: (x, y) * ((a, -g) + (-b, d) * (y, x))
    lin = rd.stack([theta[0], -theta[2]])
    cross = rd.stack([-theta[1], theta[3]])

    def field(u: Any) -> Any:
        return u * (lin + cross * u[::-1])

    def step(u: Any) -> Any:
        k1 = field(u)
        k2 = field(u + 0.5 * LV_DT * k1)
        k3 = field(u + 0.5 * LV_DT * k2)
        k4 = field(u + LV_DT * k3)
        return u + (LV_DT / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

    us = rd.scan(step, outputs_info=u0, n_steps=obs.shape[0], return_updates=False)
    return [theta, u0, obs], [rd.grad(rd.sum((us - obs) ** 2), theta)]


# ---- W13: a map with no recurrence -----------------------------------------------------------------------
W13 = {"rows": 10_000, "cols": 64}


def lse_map_data(rows: int, cols: int) -> list[np.ndarray]:
    """W13's data: X (rows, cols) and a (cols,)."""
    rng = _rng("W13")
    return [rng.normal(size=(rows, cols)), rng.normal(size=cols)]


def rd_w13(rd: Any, variant: str | None) -> tuple[list, list]:
    """W13: rd.map(lambda r: logsumexp(r * a), X), cost its sum, grad w.r.t. a."""
    X, a = rd.matrix("X"), rd.vector("a")
    m = rd.map(lambda r: rd.logsumexp(r * a), X, return_updates=False)
    return [X, a], [rd.grad(rd.sum(m), a)]


def loop_cases() -> list[Case]:
    """The loop workloads (W11-W13)."""
    return [
        Case(
            "W11",
            "W11",
            "Elman RNN T=1000 batch 64 hidden 128, grads",
            "fixed",
            lambda: rnn_data(**W11),
            hand.rnn_grads,
            rd_w11,
            pt_graph=pt_w11,
            jax_fn=jax_w11,
            params=dict(W11),
        ),
        Case(
            "W12",
            "W12",
            "RK4 Lotka-Volterra 1000 steps, grad wrt 4 parameters",
            "fixed",
            lambda: lv_data(**W12),
            hand.lv_grads,
            rd_w12,
            params=dict(W12),
        ),
        Case(
            "W13",
            "W13",
            "map logsumexp(r * a) over 10000 x 64, grad wrt a",
            "fixed",
            lambda: lse_map_data(**W13),
            hand.lse_map_grad,
            rd_w13,
            params=dict(W13),
        ),
    ]


def select(cases: list[Case], only: str | None) -> list[Case]:
    """Cases whose workload or case id is in the comma-separated ``only`` (all when None)."""
    if not only:
        return cases
    wanted = {w.strip().upper() for w in only.split(",") if w.strip()}
    return [c for c in cases if c.workload.upper() in wanted or c.id.upper() in wanted]
