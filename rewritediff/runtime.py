"""Numpy helpers that generated code calls as ``rt.<name>``: small, exact, allocation-aware."""

from __future__ import annotations

from typing import Any

import numpy as np

from rewritediff.errors import ShapeError


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic sigmoid, exact for large |x| on both sides."""
    x = np.asarray(x)
    dt = np.result_type(x.dtype, np.float16) if x.dtype.kind == "f" else np.float64
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(dt, copy=False)


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow."""
    x = np.asarray(x)
    dt = x.dtype if x.dtype.kind == "f" else np.float64
    return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))).astype(dt, copy=False)


def dimshuffle(x: np.ndarray, pattern: tuple) -> np.ndarray:
    """PyTensor's dimshuffle: permute dims, insert 'x' dims, drop length-1 dims."""
    x = np.asarray(x)
    kept = [p for p in pattern if p != "x"]
    dropped = tuple(i for i in range(x.ndim) if i not in kept)
    if dropped:
        for i in dropped:
            if x.shape[i] != 1:
                raise ShapeError(f"dimshuffle {pattern!r}: dim {i} of shape {x.shape} is not of length 1")
        x = x.reshape(tuple(d for i, d in enumerate(x.shape) if i not in dropped))
        remap = {old: new for new, old in enumerate(sorted(kept))}
        kept = [remap[p] for p in kept]
    y = np.transpose(x, kept) if kept != sorted(kept) else x
    shape = list(y.shape)
    for i, p in enumerate(pattern):
        if p == "x":
            shape.insert(i, 1)
    return y.reshape(shape)


def sum_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``g`` over the axes along which an array of ``shape`` was broadcast to g's shape."""
    g = np.asarray(g)
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    if lead < 0:
        raise ShapeError(f"sum_to: cannot sum shape {g.shape} down to {tuple(shape)}")
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1)
    out = g.sum(axis=axes, keepdims=True) if axes else g
    if lead:
        out = out.reshape(out.shape[lead:])
    if out.shape != tuple(shape):
        raise ShapeError(f"sum_to: cannot sum shape {g.shape} down to {tuple(shape)}")
    return out


def specify_shape(x: np.ndarray, shape: tuple) -> np.ndarray:
    """Check x's shape against a spec with None wildcards."""
    x = np.asarray(x)
    if x.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, x.shape)):
        raise ShapeError(f"specify_shape: expected shape {shape}, got {x.shape}")
    return x


def as_array(x: Any, dtype: str) -> np.ndarray:
    """Convert a call argument to an ndarray of the declared dtype."""
    return np.asarray(x, dtype=dtype)
