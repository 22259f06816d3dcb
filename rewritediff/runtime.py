"""Numpy helpers that generated code calls as ``rt.<name>``: small, exact, allocation-aware."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from rewritediff.errors import ShapeError


def _as_float_like_exp(x: np.ndarray) -> np.ndarray:
    """Bools and integers as the float dtype numpy's exp gives them (int8 -> float16, int64 -> float64)."""
    return x if x.dtype.kind == "f" else x.astype(np.result_type(x.dtype, np.float16))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic sigmoid, exact for large |x| on both sides: 1/(1+e) for x >= 0, e/(1+e) below, e = exp(-|x|).

    The op's only implementation (lowering, constant folding and type inference all call it);
    its dtype is the one numpy's exp gives. Float32/64 arrays of more than ``EXPIT_FROM`` elements
    go through ``scipy.special.expit`` (1/(1+exp(-x)), the same exact tails within a few ulps): one
    pass and one result array, where the numpy form makes six arrays of the input's size; at 1e6
    elements that is 7-10 ms against 21-31 ms (below 1e5 elements numpy's vectorized exp wins).
    """
    x = np.asarray(x)
    if x.ndim == 0 and x.dtype == np.float64:  # a scalar: Python's math is 10x cheaper than numpy calls
        v = float(x)
        if v >= 0:
            return np.float64(1.0 / (1.0 + math.exp(-v)))
        e = math.exp(v)
        return np.float64(e / (1.0 + e))
    x = _as_float_like_exp(x)
    if x.size > EXPIT_FROM and (x.dtype == np.float64 or x.dtype == np.float32):
        return _expit()(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, x.dtype.type(1), e) / (1 + e)


EXPIT_FROM = 100_000


def _expit() -> object:
    """scipy.special.expit, imported on first use (importing scipy.special costs start-up time)."""
    import scipy.special

    return scipy.special.expit


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)) (the op's only implementation, dtype as exp's)."""
    x = _as_float_like_exp(np.asarray(x))
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


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


def transpose(x: np.ndarray, pattern: tuple) -> np.ndarray:
    """np.transpose by a permutation pattern; trailing length-1 dims beyond it are dropped first."""
    x = np.asarray(x)
    if x.ndim == len(pattern):
        return np.transpose(x, pattern)
    return dimshuffle(x, pattern)


def sum_to(g: np.ndarray, shape: tuple, batch: int = 0) -> np.ndarray:
    """Sum ``g`` over the axes along which an array of ``shape`` was broadcast to g's shape.

    The first ``batch`` dims of g are kept as they are (a batch of gradients).
    """
    g = np.asarray(g)
    shape = tuple(shape)
    if g.shape[batch:] == shape:
        return g
    lead = g.ndim - batch - len(shape)
    if lead < 0:
        raise ShapeError(f"sum_to: cannot sum shape {g.shape} down to {shape}")
    axes = tuple(range(batch, batch + lead)) + tuple(batch + lead + i for i, d in enumerate(shape) if d == 1 and g.shape[batch + lead + i] != 1)
    out = g.sum(axis=axes, keepdims=True) if axes else g
    if lead:
        out = out.reshape(out.shape[:batch] + out.shape[batch + lead :])
    if out.shape[batch:] != shape:
        raise ShapeError(f"sum_to: cannot sum shape {g.shape} down to {shape}")
    return out


def broadcast_batched(g: np.ndarray, shape: tuple, batch: int) -> np.ndarray:
    """Broadcast g's dims after the first ``batch`` to ``shape``, keeping the batch dims."""
    g = np.asarray(g)
    core = g.ndim - batch
    g = g.reshape(g.shape[:batch] + (1,) * (len(shape) - core) + g.shape[batch:])
    return np.broadcast_to(g, g.shape[:batch] + tuple(shape))


def specify_shape(x: np.ndarray, shape: tuple) -> np.ndarray:
    """Check x's shape against a spec with None wildcards."""
    x = np.asarray(x)
    if x.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, x.shape)):
        raise ShapeError(f"specify_shape: expected shape {shape}, got {x.shape}")
    return x


def specify_shape_like(x: np.ndarray, like: np.ndarray) -> np.ndarray:
    """x, checked to have like's shape."""
    x = np.asarray(x)
    if x.shape != np.shape(like):
        raise ShapeError(f"specify_shape_like: expected shape {np.shape(like)} (the shape of its second argument), got {x.shape}")
    return x


def as_float(x: Any) -> np.ndarray:
    """``x`` unchanged if it is floating, else converted to float64 (for linalg routines)."""
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def softmax(x: np.ndarray, axis: Any = None) -> np.ndarray:
    """exp(x) / sum(exp(x)) over ``axis`` (None: all), shifted by the max for stability."""
    x = as_float(x)
    if x.size == 0:
        return np.exp(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: np.ndarray, axis: Any = None) -> np.ndarray:
    """x - logsumexp(x) over ``axis`` (None: all), without overflow."""
    x = as_float(x)
    if x.size == 0:
        return x.copy()
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    """log(sum(exp(x))) over ``axis`` (None: all), without overflow; -inf rows stay -inf."""
    x = as_float(x)
    m = np.max(x, axis=axis, keepdims=True) if x.size else np.zeros((1,) * x.ndim, dtype=x.dtype)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = np.squeeze(out, axis=axis) if axis is not None else out.reshape(())
    return out if out.ndim else out[()]


def alloc(value: Any, shape: tuple) -> np.ndarray:
    """A fresh writable array of ``shape`` filled by broadcasting ``value``."""
    value = np.asarray(value)
    shape = tuple(int(d) for d in shape)
    out = np.empty(shape, dtype=value.dtype)
    out[...] = value
    return out


def cholesky(x: np.ndarray, lower: bool = True) -> np.ndarray:
    """The Cholesky factor of a symmetric positive-definite matrix (lower, or its transpose)."""
    c = np.linalg.cholesky(as_float(x))
    return c if lower else np.swapaxes(c, -1, -2).copy()


def slogdet_sign(x: np.ndarray) -> np.ndarray:
    """The sign of the determinant (as numpy's slogdet)."""
    return np.linalg.slogdet(as_float(x))[0]


def slogdet_logabs(x: np.ndarray) -> np.ndarray:
    """log |det x| (as numpy's slogdet)."""
    return np.linalg.slogdet(as_float(x))[1]


def _has_array(index: tuple) -> bool:
    """Whether an index tuple holds an integer array (advanced indexing) or a boolean mask."""
    return any(isinstance(i, np.ndarray) and (i.ndim > 0 or i.dtype.kind == "b") for i in index)


def set_subtensor(x: np.ndarray, y: Any, index: tuple, inplace: bool = False) -> np.ndarray:
    """A copy of ``x`` with ``x[index] = y`` (``x`` itself, written, when ``inplace``: a dead buffer)."""
    out = x if inplace else np.array(x, copy=True)
    out[index if isinstance(index, tuple) else (index,)] = np.asarray(y).astype(out.dtype, copy=False)
    return out


def inc_subtensor(x: np.ndarray, y: Any, index: tuple, inplace: bool = False) -> np.ndarray:
    """A copy of ``x`` with ``y`` added at ``x[index]``, repeated advanced indices accumulating (``x`` itself when ``inplace``)."""
    out = x if inplace else np.array(x, copy=True)
    y = np.asarray(y).astype(out.dtype, copy=False)
    index = index if isinstance(index, tuple) else (index,)
    if _has_array(index):
        flat: list = []
        for i in index:
            if isinstance(i, np.ndarray) and i.dtype.kind == "b":
                flat.extend(np.nonzero(i))
            else:
                flat.append(i)
        np.add.at(out, tuple(flat), y)
    else:
        out[index] += y
    return out


def expand_like(g: np.ndarray, shape: tuple, axis: Any, keepdims: bool, batch: int = 0) -> np.ndarray:
    """Broadcast g, a reduction of an array of ``shape`` over ``axis``, back to ``shape`` (after ``batch`` kept dims)."""
    g = np.asarray(g)
    lead = g.shape[:batch]
    if not keepdims:
        axes = range(len(shape)) if axis is None else axis
        g = np.expand_dims(g, tuple(a + batch for a in axes)) if len(shape) else g
    return np.broadcast_to(g, lead + tuple(shape))


def count(x: np.ndarray, axis: Any) -> int:
    """Number of elements a reduction over ``axis`` combines."""
    shape = np.shape(x)
    n = 1
    for a in range(len(shape)) if axis is None else axis:
        n *= shape[a]
    return n


def prod_others(x: np.ndarray, axis: Any) -> np.ndarray:
    """Per element, the product of the other elements along ``axis`` (all axes when None), exact with zeros."""
    x = np.asarray(x)
    axes = tuple(range(x.ndim)) if axis is None else tuple(axis)
    if not axes:
        return np.ones_like(x)
    moved = np.moveaxis(x, axes, tuple(range(x.ndim - len(axes), x.ndim)))
    lead = moved.shape[: x.ndim - len(axes)]
    flat = moved.reshape(lead + (-1,))
    n = flat.shape[-1]
    ones = np.ones(lead + (1,), dtype=flat.dtype)
    left = np.concatenate([ones, np.cumprod(flat, axis=-1)[..., : n - 1]], axis=-1) if n else flat
    right = np.concatenate([np.cumprod(flat[..., ::-1], axis=-1)[..., : n - 1][..., ::-1], ones], axis=-1) if n else flat
    out = (left * right).reshape(moved.shape)
    return np.moveaxis(out, tuple(range(x.ndim - len(axes), x.ndim)), axes)


def _can_accumulate(out: Any, x: Any) -> bool:
    """Whether ``out`` (a fresh array) can take ``out op x`` in place."""
    return (
        isinstance(out, np.ndarray)
        and out.ndim > 0
        and np.shape(out) == np.broadcast_shapes(np.shape(out), np.shape(x))
        and out.dtype == np.result_type(out, x)
    )


def add_n(*xs: np.ndarray) -> np.ndarray:
    """The sum of many broadcastable arrays, accumulated left to right."""
    out = np.add(xs[0], xs[1])
    for x in xs[2:]:
        out = np.add(out, x, out=out) if _can_accumulate(out, x) else out + x
    return out


def mul_n(*xs: np.ndarray) -> np.ndarray:
    """The product of many broadcastable arrays, accumulated left to right."""
    out = np.multiply(xs[0], xs[1])
    for x in xs[2:]:
        out = (
            np.multiply(out, x, out=out)
            if np.shape(out) == np.broadcast_shapes(np.shape(out), np.shape(x)) and out.dtype == np.result_type(out, x)
            else out * x
        )
    return out


# The op table's lookup (``ops.get_op``), set by ``ops/registry.py`` when it loads
op_lookup: Callable[[str], Any] | None = None


def stand_in(shapes: tuple, of: str, of_attrs: tuple, dtype: str) -> np.ndarray:
    """A zero-strided array with the shape op ``of`` gives for arguments of these shapes (no values computed)."""
    return np.broadcast_to(np.zeros((), dtype=dtype), op_lookup(of).runtime_shape(list(shapes), dict(of_attrs)))


_EINSUM_PATHS: dict[tuple, Any] = {}


def einsum(subscripts: str, *operands: np.ndarray) -> np.ndarray:
    """np.einsum over three or more operands with the contraction order computed once per shape signature."""
    key = (subscripts, tuple(np.shape(o) for o in operands))
    path = _EINSUM_PATHS.get(key)
    if path is None:
        if len(_EINSUM_PATHS) > 1024:
            _EINSUM_PATHS.clear()
        path = _EINSUM_PATHS[key] = np.einsum_path(subscripts, *operands, optimize="optimal")[0]
    return np.asarray(np.einsum(subscripts, *operands, optimize=path))


def take(pools: list, shape: tuple, dtypes: tuple) -> list:
    """One buffer per dtype: the recycled one in ``pools[i]`` if it has this shape and dtype, else a new one."""
    out = []
    for pool, dt in zip(pools, dtypes):
        try:
            buf = pool.pop()
        except IndexError:  # empty, or another thread took it first
            buf = None
        out.append(buf if buf is not None and buf.shape == shape and buf.dtype == dt else np.empty(shape, dtype=dt))
    return out


POOL_MIN_BYTES = 1 << 20  # smaller buffers come back from malloc's free lists, already mapped


def give(pool: list, buf: np.ndarray) -> None:
    """Keep a large dead buffer for the next call (one per pool: the pool never grows).

    Only buffers big enough to be fresh pages on every allocation (the C library maps those
    anew each time, and touching them faults) are kept: smaller ones cost nothing to reallocate.
    """
    if not pool and buf.nbytes >= POOL_MIN_BYTES:
        pool.append(buf)


def solve_triangular(a: np.ndarray, b: np.ndarray, lower: bool = True) -> np.ndarray:
    """x with a @ x = b reading only a's lower (or upper) triangle: O(n^2) per right-hand side, no factorisation."""
    from scipy.linalg import solve_triangular as _solve

    return _solve(as_float(a), as_float(b), lower=lower, check_finite=False)
