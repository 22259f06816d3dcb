"""The rule checker's values: random inputs by distribution, guards read on values, terms evaluated
through each op's ``impl``, and when two values differ."""

from __future__ import annotations

from typing import Any

import numpy as np

from rewritediff.rules.define import evaluate
from rewritediff.rules.helpers import eval_guard
from rewritediff.terms import Term, inputs_of

# ---- reading guards on values -----------------------------------------------------------------------


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x)


def _finite_all(x: Any, pred: Any) -> bool:
    a = _arr(x)
    if a.dtype.kind not in "biuf" or a.size == 0:
        return False
    with np.errstate(invalid="ignore"):
        return bool(np.all(pred(a)))


def _is_identity_value(x: Any) -> bool:
    a = _arr(x)
    return a.ndim == 2 and a.shape[0] == a.shape[1] and bool(np.array_equal(a, np.eye(a.shape[0])))


def _const_value(x: Any) -> Any:
    a = _arr(x)
    if a.size == 0:
        return None
    first = a.flat[0]
    return first.item() if np.all(a == first) else None


VALUE_FACTS: dict[str, Any] = {
    "positive": lambda x: _finite_all(x, lambda a: a > 0),
    "nonnegative": lambda x: _finite_all(x, lambda a: a >= 0),
    "nonzero": lambda x: _finite_all(x, lambda a: a != 0),
    "negative": lambda x: _finite_all(x, lambda a: a < 0),
    "nonpositive": lambda x: _finite_all(x, lambda a: a <= 0),
    "ndim": lambda x: _arr(x).ndim if isinstance(x, np.ndarray) else int(np.ndim(x)),
    "static_shape": lambda x: tuple(_arr(x).shape),
    "same_shape": lambda a, b: _arr(a).shape == _arr(b).shape,
    "same_shape_after": lambda a, b, n: _arr(a).shape[int(n) :] == _arr(b).shape,
    "broadcasts_into": lambda a, b: np.broadcast_shapes(_arr(a).shape, _arr(b).shape) == _arr(b).shape,
    "is_scalar": lambda x: _arr(x).ndim == 0,
    "is_const": lambda x: True,  # a sample is a fixed value
    "is_identity": _is_identity_value,
    "const_value": _const_value,
    "is_zero": lambda x: _const_value(x) == 0,
    "is_one": lambda x: _const_value(x) == 1,
    "dtype": lambda x: _arr(x).dtype.name,
    "dtype_is_float": lambda x: _arr(x).dtype.kind == "f",
    "same_dtype": lambda a, b: _arr(a).dtype == _arr(b).dtype,
    "same_type": lambda a, b: _arr(a).dtype == _arr(b).dtype and _arr(a).shape == _arr(b).shape,
}
"""The guard vocabulary read on sampled values instead of terms (the meaning a guard promises)."""


def _guard_on_values(guard: Any, env: dict, values: dict) -> bool | None:
    """The guard evaluated with each bound term replaced by its sampled value (None: cannot be read on values)."""
    if guard is None:
        return True
    venv = {k: (values[v.uid] if isinstance(v, Term) and v.uid in values else v) for k, v in env.items()}
    try:
        return bool(eval_guard(guard, venv, VALUE_FACTS))
    except Exception:  # noqa: BLE001 - a guard that needs more than values (an attribute helper on a term)
        return None


# ---- evaluation -----------------------------------------------------------------------------------


def evaluate_term(term: Term, values: dict[int, np.ndarray]) -> np.ndarray:
    """A term's value from its inputs' values (each op's ``impl``; floating-point warnings silenced)."""

    with np.errstate(all="ignore"):
        return np.asarray(evaluate(term, values))


def _inputs_of(term: Term) -> list[Term]:

    return [t for t in inputs_of([term]) if t.op == "input"]


_DISTRIBUTIONS = ("mixed", "positive", "unit", "special")


def _draw(rng: np.random.Generator, shape: tuple, dtype: str, how: str) -> np.ndarray:
    if how == "positive":
        a = rng.uniform(0.1, 3.0, shape)
    elif how == "unit":
        a = rng.uniform(-0.9, 0.9, shape)
    elif how == "special":
        a = rng.choice(np.array([0.0, 1.0, -1.0, 0.5, 2.0, -2.0]), shape)
    else:
        a = rng.uniform(-3.0, 3.0, shape)
    return np.asarray(a, dtype=dtype)


def _tolerances(dtype: str) -> tuple[float, float]:
    return (1e-4, 1e-5) if np.dtype(dtype).itemsize <= 4 else (1e-7, 1e-10)


def _mismatch(lhs: np.ndarray, rhs: np.ndarray, dtype: str) -> bool:
    """The right-hand side changes a value: it differs where the left is finite (a stabilization may fix an overflow)."""
    if lhs.shape != rhs.shape:
        try:
            rhs = np.broadcast_to(rhs, lhs.shape)
        except ValueError:
            return True
    rtol, atol = _tolerances(dtype)
    lf = np.isfinite(lhs)
    rf = np.isfinite(rhs)
    if np.any(lf & ~rf):
        return True
    both = lf & rf
    scale = np.max(np.abs(lhs[both]), initial=1.0)
    with np.errstate(all="ignore"):
        return bool(np.any(np.abs(lhs[both].astype(float) - rhs[both].astype(float)) > atol * scale + rtol * np.abs(lhs[both])))


def _nan_changed(lhs: np.ndarray, rhs: np.ndarray) -> bool:
    try:
        rhs = np.broadcast_to(rhs, lhs.shape)
    except ValueError:
        return True
    return bool(np.any(np.isnan(lhs) != np.isnan(rhs)))
