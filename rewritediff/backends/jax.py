"""The JAX backend: the generated code over ``jax.numpy``, compiled by ``jax.jit`` (XLA fuses it).

float64 needs JAX's x64 mode, off by default. A function whose inputs, constants or outputs
are 64-bit traces and runs inside ``jax.enable_x64(True)``, a context manager: JAX's global
setting is left as the user had it, and the jitted function is cached per mode by JAX itself.
Arrays come back as ``jax.Array`` (``np.asarray`` converts them).
"""

from __future__ import annotations

import contextlib
from typing import Any

from rewritediff.backends.emit import BackendFunction, check_shape, lower_generic
from rewritediff.backends.spellings import namespace_has
from rewritediff.terms import Term, toposort


def _wide(terms: list[Term]) -> bool:
    """Whether any of these terms' graph holds a 64-bit value (then x64 mode is needed)."""
    return any(getattr(t.type, "dtype", "").endswith("64") for t in toposort(terms))


class JaxFunction(BackendFunction):
    """Calls the jitted generated code; the first call of each argument signature compiles (XLA)."""

    backend = "jax"

    def __init__(self, inputs: list[Term], outputs: list[Term], single: bool, source: str, namespace: dict, shared: list[Term], x64: bool) -> None:
        import jax
        import jax.numpy as jnp

        super().__init__(inputs, outputs, single, source, namespace, shared)
        self._jnp = jnp
        self._x64 = x64
        self._mode = (lambda: jax.enable_x64(True)) if x64 else contextlib.nullcontext
        compiled = self._compiled
        self.jitted = jax.jit(lambda *arrays: compiled(jnp, *arrays))

    def _run(self, *args: Any) -> Any:
        for i, (a, var) in enumerate(zip(args, self.inputs)):
            check_shape(a, var, i)
        with self._mode():
            arrays = [self._jnp.asarray(a, dtype=var.dtype) for a, var in zip(args, self.inputs)]
            arrays += [self._jnp.asarray(v) for v in self._shared_values()]
            return self.jitted(*arrays)


def build(inputs: list[Term], outputs: list[Term], single: bool, contract: list[Term], **options: Any) -> JaxFunction:
    """Lower to jax.numpy and jit; options: none yet (a TypeError names any given)."""
    import jax  # noqa: F401 - the caller checked it imports
    import jax.numpy as jnp

    if options:
        raise TypeError(f"function: the jax backend takes no option(s) {sorted(options)}")
    has = namespace_has(jnp)
    source, namespace, shared = lower_generic(inputs, outputs, "jax", has, "xp.asarray({0})", contract)
    namespace["jax"] = jax
    x64 = _wide(list(outputs) + list(inputs))
    return JaxFunction(inputs, outputs, single, source, namespace, shared, x64)
