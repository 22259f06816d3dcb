"""Checking derivatives numerically: PyTensor's ``numeric_grad`` and ``verify_grad``, and the
central differences the ``rewritediff`` command checks its results with.

``verify_grad``: one-sided finite differences along a random projection of the output, compared
with the analytic gradient under per-dtype tolerances; a failure is a ``GradientError`` carrying
the position and the errors. ``central_jacobian``, ``central_partial``, ``central_hessian`` and
``central_directional`` difference plain numpy functions; ``max_errors`` compares the results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rewritediff.compiled import function
from rewritediff.errors import GradientError
from rewritediff.gradient import grad
from rewritediff.tensor import as_term, tensor
from rewritediff.terms import constant


class numeric_grad:  # noqa: N801 - PyTensor's name
    """One-sided finite-difference gradient of a scalar function at ``pt`` (PyTensor's numeric_grad)."""

    type_eps = {"float64": 1e-7, "float32": 3e-4, "float16": 1e-1, np.dtype("float64"): 1e-7, np.dtype("float32"): 3e-4, np.dtype("float16"): 1e-1}

    def __init__(self, f: Any, pt: Any, eps: float | None = None, out_type: Any = None) -> None:
        single = not isinstance(pt, list | tuple)
        pts = [np.array(p) for p in ([pt] if single else pt)]
        dtype = max((p.dtype for p in pts), key=lambda d: np.dtype(d).itemsize)
        if eps is None:
            eps = max(self.type_eps[np.dtype(p.dtype)] for p in pts)
        sizes = [p.size for p in pts]
        flat = np.concatenate([p.ravel().astype(dtype) for p in pts]) if pts else np.zeros(0, dtype)
        shapes = [p.shape for p in pts]

        def unpack(vec: np.ndarray) -> list[np.ndarray]:
            out, k = [], 0
            for s, n, p in zip(shapes, sizes, pts):
                out.append(vec[k : k + n].reshape(s).astype(p.dtype))
                k += n
            return out

        f_x = np.asarray(f(*unpack(flat)))
        gf = np.zeros_like(flat)
        for i in range(flat.size):
            x = flat.copy()
            x[i] += eps
            gf[i] = (np.asarray(f(*unpack(x))) - f_x) / eps
        parts = unpack(gf.astype(dtype))
        self.gf = parts[0] if single else parts

    @staticmethod
    def abs_rel_err(a: Any, b: Any) -> tuple[Any, Any]:
        """Absolute and relative error of a against b (denominator floored at 1e-8)."""
        abs_err = np.abs(a - b)
        rel_err = abs_err / np.maximum(np.abs(a) + np.abs(b), 1e-8)
        return abs_err, rel_err

    def abs_rel_errors(self, g_pt: Any) -> list[tuple[Any, Any]]:
        """Per-input (abs, rel) errors of g_pt against the numeric gradient."""
        gf = self.gf if isinstance(self.gf, list) else [self.gf]
        g_pt = g_pt if isinstance(g_pt, list | tuple) else [g_pt]
        if len(g_pt) != len(gf):
            raise ValueError(f"argument has wrong number of elements: {len(g_pt)} vs {len(gf)}")
        errs = []
        for i, (a, b) in enumerate(zip(g_pt, gf)):
            a = np.asarray(a)
            if a.shape != b.shape:
                raise ValueError(f"argument element {i} has wrong shape {a.shape} vs {b.shape}")
            errs.append(numeric_grad.abs_rel_err(a, b))
        return errs

    def max_err(self, g_pt: Any, abs_tol: float, rel_tol: float) -> tuple[int, int, float, float]:
        """(arg, flat position, abs error, rel error) at the worst scaled error min(abs/abs_tol, rel/rel_tol)."""
        best = (-1.0, 0, 0, 0.0, 0.0)
        for i, (abs_e, rel_e) in enumerate(self.abs_rel_errors(g_pt)):
            if not (np.all(np.isfinite(abs_e)) and np.all(np.isfinite(rel_e))):
                raise ValueError(f"abs or rel error is not finite for argument {i}")
            scaled = np.minimum(abs_e / abs_tol, rel_e / rel_tol).ravel()
            if scaled.size == 0:
                continue
            pos = int(np.argmax(scaled))
            if scaled[pos] > best[0]:
                best = (float(scaled[pos]), i, pos, float(abs_e.ravel()[pos]), float(rel_e.ravel()[pos]))
        return best[1], best[2], best[3], best[4]


_TOL = {"float16": 5e-2, "float32": 1e-2, "float64": 1e-4}


def verify_grad(
    fun: Any,
    pt: Sequence[Any],
    n_tests: int = 2,
    rng: Any = None,
    eps: float | None = None,
    out_type: Any = None,
    abs_tol: float | None = None,
    rel_tol: float | None = None,
    mode: Any = None,
    cast_to_output_type: bool = False,
    no_debug_ref: bool = True,
) -> None:
    """Check ``grad`` of ``fun`` against finite differences along random projections; raise GradientError."""
    if not isinstance(pt, list | tuple):
        raise TypeError("verify_grad can work only with a list or tuple of points")
    pt = [np.array(p) for p in pt]
    for p in pt:
        if p.dtype.name not in _TOL:
            raise TypeError(f"verify_grad can work only with floating point inputs, but input has dtype {p.dtype}")
    tol = max(_TOL[p.dtype.name] for p in pt)
    abs_tol = tol if abs_tol is None else abs_tol
    rel_tol = tol if rel_tol is None else rel_tol
    rng = np.random.default_rng() if rng is None else rng
    inputs = [tensor(f"input {i}", shape=p.shape, dtype=p.dtype) for i, p in enumerate(pt)]
    out = fun(*inputs)
    if isinstance(out, list):
        raise NotImplementedError("verify_grad can't deal with multiple outputs (fun returned a list)")
    if isinstance(out, tuple):
        raise TypeError("verify_grad: fun must return a single term, not a tuple")
    out = as_term(out)
    f_out = function(inputs, out, on_unused_input="ignore")
    o_val = np.asarray(f_out(*pt))
    for _ in range(n_tests):
        u = rng.random(o_val.shape) + 0.5
        if cast_to_output_type and o_val.dtype == np.float32:
            u = u.astype("float32")
        proj = constant(u)
        cost = (out * proj).sum()
        gs = grad(cost, inputs, disconnected_inputs="ignore")
        g_fn = function(inputs, list(gs), on_unused_input="ignore")
        cost_fn = function(inputs, cost, on_unused_input="ignore")
        analytic = [np.asarray(g) for g in g_fn(*pt)]
        num = numeric_grad(cost_fn, pt, eps, out_type)
        arg, pos, abs_err, rel_err = num.max_err(analytic, abs_tol, rel_tol)
        if abs_err > abs_tol and rel_err > rel_tol:
            gf = num.gf if isinstance(num.gf, list) else [num.gf]
            raise GradientError(
                arg, pos, analytic[arg].shape, float(analytic[arg].ravel()[pos]), float(gf[arg].ravel()[pos]), abs_err, rel_err, abs_tol, rel_tol
            )


def central_jacobian(fn: Callable[[np.ndarray], Any], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d fn(x) / d x by central differences, shape ``fn(x).shape + x.shape`` (a check independent of the rules).

    ``x`` is taken as float64 (an integer point is differentiated as if real, PyTensor's convention)."""
    x = np.asarray(x, dtype=float)
    base = np.asarray(fn(x), dtype=float)
    jac = np.zeros(base.shape + x.shape)
    for idx in np.ndindex(*x.shape):
        step = np.zeros_like(x)
        step[idx] = h
        jac[(..., *idx)] = (np.asarray(fn(x + step)) - np.asarray(fn(x - step))) / (2 * h)
    return jac


def central_partial(fn: Callable[..., Any], points: Sequence[np.ndarray], k: int, h: float = 1e-6) -> np.ndarray:
    """d fn(*points) / d points[k] by central differences, the other points held: one argument's share of a function of several."""
    held = [np.asarray(p, dtype=float) for p in points]
    if not 0 <= k < len(held):
        raise ValueError(f"central_partial: argument {k} of a function of {len(held)} points")
    return central_jacobian(lambda v: fn(*held[:k], v, *held[k + 1 :]), held[k], h)


def central_hessian(fn: Callable[[np.ndarray], Any], x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Second derivatives of a scalar function of an array by central differences, shape ``x.shape + x.shape``."""
    n = x.size
    hess = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.zeros(n), np.zeros(n)
            ei[i], ej[j] = h, h
            ei, ej = ei.reshape(x.shape), ej.reshape(x.shape)
            hess[i, j] = (fn(x + ei + ej) - fn(x + ei - ej) - fn(x - ei + ej) + fn(x - ei - ej)) / (4 * h * h)
    return hess.reshape(x.shape + x.shape)


def central_directional(fn: Callable[..., Any], points: Sequence[np.ndarray], tangents: Sequence[np.ndarray], h: float = 1e-6) -> np.ndarray:
    """The derivative of ``fn(*points)`` along ``tangents`` (one per point) by central differences: what an R-op gives."""
    plus = fn(*[p + h * t for p, t in zip(points, tangents)])
    minus = fn(*[p - h * t for p, t in zip(points, tangents)])
    return (np.asarray(plus) - np.asarray(minus)) / (2 * h)


def max_errors(analytic: Sequence[Any], numeric: Sequence[Any], tol: float) -> tuple[float, float, bool]:
    """Max absolute and relative errors over pairs of arrays, and whether every element is within ``tol`` (absolute or relative).

    Non-finite values give ``(nan, nan, False)``; arrays of different shapes raise a ValueError naming both.
    """
    max_abs = max_rel = 0.0
    ok = True
    for a, n in zip(analytic, numeric):
        a, n = np.asarray(a, dtype=float), np.asarray(n, dtype=float)
        if a.shape != n.shape:
            raise ValueError(f"the result has shape {a.shape}, finite differences give {n.shape}")
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(n))):
            return float("nan"), float("nan"), False
        err, rel = numeric_grad.abs_rel_err(a, n)
        if err.size:
            max_abs, max_rel = max(max_abs, float(err.max())), max(max_rel, float(rel.max()))
            ok = ok and bool(np.all((err <= tol) | (rel <= tol)))
    return max_abs, max_rel, ok
