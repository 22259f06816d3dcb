"""The Dask backend: the generated code over ``dask.array``, building a lazy task graph.

Arguments may be dask arrays (taken as they are) or numpy arrays, wrapped in chunks along
the first axis (``chunks=`` rows per chunk, ``"auto"`` by default: Dask's ~128 MiB blocks).
The function returns lazy dask arrays, or numpy arrays when ``compute=True`` (at build time
or per call): one ``dask.compute`` of all outputs, so shared work runs once. Reductions and
contractions across chunks are Dask's own (``da.sum``, ``da.matmul``, ``da.tensordot``), so
data larger than memory streams through in chunks, and the same function runs unchanged on
a ``dask.distributed`` cluster when a client is active.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rewritediff.backends.emit import BackendFunction, check_shape, lower_generic
from rewritediff.backends.spellings import NUMPY_TO_API, namespace_has
from rewritediff.terms import Term


class _Linalg:
    """``xp.linalg`` over dask.array.linalg with the standard's signatures (inv, solve, cholesky)."""

    def __init__(self, da: Any) -> None:
        self._la = da.linalg

    def __getattr__(self, name: str) -> Any:
        return self._whole(getattr(self._la, name))

    @staticmethod
    def _whole(fn: Callable[..., Any]) -> Callable[..., Any]:
        """fn on its arguments made one chunk each: Dask's factorizations want square chunks, and a gradient's matrix is small."""
        return lambda *arrays, **kw: fn(*(a.rechunk(-1) if hasattr(a, "rechunk") else a for a in arrays), **kw)

    def cholesky(self, x: Any, upper: bool = False) -> Any:
        """The standard's ``cholesky(x, upper=)`` (Dask's takes ``lower=``)."""
        return self._whole(self._la.cholesky)(x, lower=not upper)


class DaskNamespace:
    """dask.array under the Array API's names (``asin``, ``concat``, ``permute_dims``, ``astype`` ...)."""

    _RENAMED = {api: numpy for numpy, api in NUMPY_TO_API.items()}  # the standard's name -> dask.array's

    def __init__(self) -> None:
        import dask.array as da

        self._da = da
        self.linalg = _Linalg(da)

    def __getattr__(self, name: str) -> Any:
        da = self._da
        if name in self._RENAMED:
            return getattr(da, self._RENAMED[name])
        if name in ("float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool", "complex128", "complex64"):
            return np.dtype(name)
        return getattr(da, name)

    def astype(self, x: Any, dtype: Any) -> Any:
        """The standard's ``astype(x, dtype)`` as a method call."""
        return x.astype(dtype)

    def asarray(self, x: Any, dtype: Any = None, copy: bool | None = None) -> Any:
        """``da.asarray``; ``copy=True`` gives a new Array object (item assignment then leaves x as it was)."""
        out = self._da.asarray(x, dtype=dtype)
        return out.copy() if copy else out

    def reshape(self, x: Any, shape: tuple) -> Any:
        """``da.reshape``; a reshape Dask cannot do chunk by chunk (dims split unevenly) is done on one chunk."""
        try:
            return self._da.reshape(x, shape)
        except NotImplementedError:
            return self._da.reshape(x.rechunk(-1), shape)

    def einsum(self, subscripts: str, *operands: Any) -> Any:
        """``da.einsum``; an operand with a repeated letter (a diagonal) is first made one chunk along those dims."""
        specs = subscripts.split("->")[0].split(",")
        ops = []
        for spec, x in zip(specs, operands):
            repeated = [i for i, c in enumerate(spec) if spec.count(c) > 1]
            ops.append(x.rechunk({i: -1 for i in repeated}) if repeated and hasattr(x, "rechunk") else x)
        return self._da.einsum(subscripts, *ops)

    def eye(self, n: int, m: int | None = None, k: int = 0, dtype: Any = float) -> Any:
        """The standard's ``eye(n_rows, n_cols, k=, dtype=)`` (Dask's second positional is ``chunks``)."""
        return self._da.eye(n, M=m, k=k, dtype=dtype)

    def var(self, x: Any, axis: Any = None, correction: int = 0, keepdims: bool = False) -> Any:
        """The standard's ``var`` (``correction`` is Dask's ``ddof``)."""
        return self._da.var(x, axis=axis, ddof=correction, keepdims=keepdims)

    def std(self, x: Any, axis: Any = None, correction: int = 0, keepdims: bool = False) -> Any:
        """The standard's ``std`` (``correction`` is Dask's ``ddof``)."""
        return self._da.std(x, axis=axis, ddof=correction, keepdims=keepdims)


class DaskFunction(BackendFunction):
    """Builds the lazy graph of the outputs from dask (or numpy, then chunked) arguments."""

    backend = "dask"

    def __init__(
        self, inputs: list[Term], outputs: list[Term], single: bool, source: str, namespace: dict, shared: list[Term], chunks: Any, compute: bool
    ) -> None:
        super().__init__(inputs, outputs, single, source, namespace, shared)
        self._xp = DaskNamespace()
        self.chunks = chunks
        self.compute = compute

    def _wrap(self, a: Any, var: Term) -> Any:
        """A dask array of the variable's dtype: numpy data chunked along the first axis."""
        da = self._xp._da
        if not isinstance(a, da.Array):
            a = np.asarray(a)
            chunks = (self.chunks,) + tuple(a.shape[1:]) if a.ndim else ()
            a = da.from_array(a, chunks=chunks)
        return a if a.dtype == var.dtype else a.astype(var.dtype)

    def __call__(self, *args: Any, compute: bool | None = None) -> Any:
        """The outputs as lazy dask arrays, or computed to numpy when ``compute`` (default: the build option)."""
        outs = super().__call__(*args)
        if compute if compute is not None else self.compute:
            import dask

            many = outs if isinstance(outs, list) else [outs]
            done = list(dask.compute(*many))
            return done if isinstance(outs, list) else done[0]
        return outs

    def _run(self, *args: Any) -> Any:
        for i, (a, var) in enumerate(zip(args, self.inputs)):
            check_shape(a, var, i)
        arrays = [self._wrap(a, var) for a, var in zip(args, self.inputs)]
        return self._compiled(self._xp, *arrays, *self._shared_values())


def build(
    inputs: list[Term], outputs: list[Term], single: bool, contract: list[Term], chunks: Any = "auto", compute: bool = False, **options: Any
) -> DaskFunction:
    """Lower to dask.array; options ``chunks`` (rows per chunk of numpy arguments) and ``compute``."""
    if options:
        raise TypeError(f"function: the dask backend takes the options chunks and compute, not {sorted(options)}")
    xp = DaskNamespace()
    # constants stay numpy arrays: Dask mixes them into its blocks, and index arrays must be concrete
    source, namespace, shared = lower_generic(inputs, outputs, "dask", namespace_has(xp), "{0}", contract)
    return DaskFunction(inputs, outputs, single, source, namespace, shared, chunks, compute)
