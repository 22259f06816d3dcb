"""Targets other than numpy for ``rd.function(..., backend=...)``: JAX, Dask and any Array API namespace.

The numpy backend (the default) is :mod:`rewritediff.lower_numpy`, with its kernels and
recycled buffers. The others share one lowering (:mod:`rewritediff.backends.emit`): the
simplified DAG as one generated function of the array namespace ``xp``, each op spelled by
:mod:`rewritediff.backends.spellings`. Their packages are optional extras
(``pip install rewritediff[jax]``, ``rewritediff[dask]``).
"""

from __future__ import annotations

import importlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from rewritediff import compiled
from rewritediff.backends.spellings import UnsupportedOpError
from rewritediff.compiled import check_signature, check_updates
from rewritediff.engine.simplify import simplify_terms
from rewritediff.errors import RewriteDiffError, RewriteDiffTypeError
from rewritediff.lower_numpy import stand_in_shapes
from rewritediff.terms import Term, gc_paused

BACKENDS = ("numpy", "jax", "dask", "array_api")
# the packages each backend imports, and the extra that installs them
_NEEDS = {"jax": (("jax", "jax"),), "dask": (("dask.array", "dask"), ("dask", "dask")), "array_api": ()}

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 128

__all__ = ["BACKENDS", "BackendNotInstalled", "UnsupportedOpError", "function"]


class BackendNotInstalled(RewriteDiffError, ImportError):
    """A backend whose package is not installed; the message names the extra that installs it."""


def require(backend: str) -> None:
    """Import the backend's packages, or raise BackendNotInstalled naming the extra to install."""
    for module, extra in _NEEDS[backend]:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise BackendNotInstalled(f"the {backend!r} backend needs the package {module.split('.')[0]!r} ({exc}): pip install rewritediff[{extra}]") from None


def function(
    backend: str,
    inputs: Sequence[Term],
    outputs: Term | Sequence[Term],
    updates: Any = None,
    on_unused_input: str = "raise",
    simplify: bool = True,
    **options: Any,
) -> Any:
    """Compile ``outputs`` for ``backend`` (see ``rd.function``); ``options`` are the backend's own (Dask: chunks, compute)."""

    if backend not in BACKENDS:
        raise ValueError(f"function: backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    require(backend)
    updates = check_updates(updates)
    module = importlib.import_module(f"rewritediff.backends.{backend}")
    if updates and not getattr(module, "UPDATES", False):
        raise RewriteDiffTypeError(f"function: updates of shared variables are supported by the numpy and jax backends, not {backend!r}")
    inputs, outs, single = check_signature(inputs, outputs, [v for _, v in updates], on_unused_input)
    upd_key = tuple((k.uid, v.uid) for k, v in updates)
    key = (backend, tuple(v.uid for v in inputs), tuple(o.uid for o in outs), upd_key, single, simplify, tuple(sorted(options.items(), key=lambda kv: kv[0])))
    try:
        hit = _CACHE.get(key)
    except TypeError:  # an option that does not hash: no caching
        key, hit = None, None
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    with gc_paused():
        compute = outs + [v for _, v in updates]
        if simplify:
            compute = simplify_terms(compute)
        compute = stand_in_shapes(list(compute))
        if updates:  # the backend returns the new values after the outputs
            options["updates"] = [(var, val) for (var, _), val in zip(updates, compute[len(outs) :])]
        fn = module.build(inputs, compute[: len(outs)], single, contract=outs + [v for _, v in updates], **options)
    fn.outputs = outs
    if key is not None:
        _CACHE[key] = fn
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return fn


compiled.backend_function = function  # rd.function(..., backend=...) compiles through this module
