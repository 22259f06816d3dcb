"""The Array API backend: the generated code over the namespace of the arguments (``x.__array_namespace__()``).

Only functions of the Python Array API standard (and its ``linalg`` extension) are spelled, so
the function runs on numpy 2, CuPy, PyTorch through a compatible namespace, array-api-strict
and so on; which namespace is read from the first argument at every call.
"""

from __future__ import annotations

from typing import Any

from rewritediff.backends.emit import BackendFunction, check_shape, lower_generic
from rewritediff.backends.spellings import standard_has
from rewritediff.errors import CallError
from rewritediff.terms import Term


class ArrayAPIFunction(BackendFunction):
    """Calls the generated code with the arguments' own namespace."""

    backend = "array_api"

    def _run(self, *args: Any) -> Any:
        xp = None
        for i, (a, var) in enumerate(zip(args, self.inputs)):
            if not hasattr(a, "__array_namespace__"):
                raise CallError(f"argument {i} ({var!r}): the array_api backend takes arrays with __array_namespace__, got {type(a).__name__}")
            check_shape(a, var, i)
            if xp is None:
                xp = a.__array_namespace__()
        if xp is None:
            import numpy as xp  # a function of no input: numpy 2's namespace
        arrays = [a if str(a.dtype) == var.dtype else xp.astype(a, getattr(xp, var.dtype)) for a, var in zip(args, self.inputs)]
        return self._compiled(xp, *arrays, *(xp.asarray(v) for v in self._shared_values()))


def build(inputs: list[Term], outputs: list[Term], single: bool, contract: list[Term], **options: Any) -> ArrayAPIFunction:
    """Lower to standard Array API calls; options: none."""
    if options:
        raise TypeError(f"function: the array_api backend takes no option(s) {sorted(options)}")
    source, namespace, shared = lower_generic(inputs, outputs, "array_api", standard_has, "xp.asarray({0})", contract)
    return ArrayAPIFunction(inputs, outputs, single, source, namespace, shared)
