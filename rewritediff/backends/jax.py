"""The JAX backend: the generated code over ``jax.numpy``, compiled by ``jax.jit`` (XLA fuses it).

float64 needs JAX's x64 mode, off by default. A function whose inputs, constants or outputs
are 64-bit traces and runs inside ``jax.enable_x64(True)``, a context manager: JAX's global
setting is left as the user had it, and the jitted function is cached per mode by JAX itself.
Arrays come back as ``jax.Array`` (``np.asarray`` converts them).

Updates of shared variables (a training step) keep the new values on the device, as
``jax.Array``s in the variables, and donate the old values' buffers to XLA: the step then
updates parameters in place instead of allocating them again. A read from elsewhere (``get_value``,
a numpy-backend function) brings the value back to a numpy array once.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from typing import Any

from rewritediff.backends.emit import BackendFunction, check_shape, lower_generic
from rewritediff.backends.spellings import namespace_has
from rewritediff.tensor import cast
from rewritediff.terms import Term, toposort

UPDATES = True  # this backend applies updates of shared variables
# XLA:CPU's default (MLIR) fusion emitters make a loop fusion of a few thousand elementwise ops
# slower per element by 100x or more (JAX's own gradient of W9 from depth 400 to 450, its one fused
# loop ~3,600 -> ~4,000 ops: 10 ms -> 1.4 s per call); XLA's older elemental emitter, one debug
# option away, does not (optimization barriers cannot split the loop: XLA:CPU expands them first). Programs of at least this many
# elementwise operations (an n-ary sum counts n - 1) are compiled with the older emitter.
LEGACY_EMITTER_FROM = 2000
LEGACY_EMITTER = {"xla_cpu_use_fusion_emitters": False}


@functools.cache
def _legacy_emitter() -> dict:
    """``LEGACY_EMITTER`` when XLA runs on the CPU and takes the option (one tiny compile per process), else no options."""
    import jax
    import jax.numpy as jnp

    if jax.default_backend() != "cpu":
        return {}
    try:
        jax.jit(lambda x: x + 1, compiler_options=LEGACY_EMITTER).lower(jnp.zeros(1)).compile()
    except jax.errors.JaxRuntimeError:  # an XLA without the older emitter
        return {}
    return dict(LEGACY_EMITTER)


def _operations(terms: list[Term]) -> int:
    """How many elementwise operations the lowered program spells at least (an n-ary op counts n - 1)."""
    return sum(max(1, len(t.args) - 1) for t in toposort(terms) if t.args)


def _wide(terms: list[Term]) -> bool:
    """Whether any of these terms' graph holds a 64-bit value (then x64 mode is needed)."""
    return any(getattr(t.type, "dtype", "").endswith("64") for t in toposort(terms))


class JaxFunction(BackendFunction):
    """Calls the jitted generated code; the first call of each argument signature compiles (XLA)."""

    backend = "jax"

    def __init__(
        self,
        inputs: list[Term],
        outputs: list[Term],
        single: bool,
        source: str,
        namespace: dict,
        shared: list[Term],
        x64: bool,
        updated: list[Term],
        compiler_options: dict,
    ) -> None:
        import jax
        import jax.numpy as jnp

        super().__init__(inputs, outputs, single, source, namespace, shared)
        self._jnp = jnp
        self._x64 = x64
        self._mode = (lambda: jax.enable_x64(True)) if x64 else contextlib.nullcontext
        self._updated = updated
        self._n_out = len(outputs)
        compiled = self._compiled
        # an updated variable's old value is dead once the call returns: XLA may write the new one over it
        donate = tuple(len(inputs) + k for k, s in enumerate(shared) if s in updated)
        self.compiler_options = compiler_options  # XLA options of this function's compilation (see LEGACY_EMITTER_FROM)
        self.jitted = jax.jit(lambda *arrays: compiled(jnp, *arrays), donate_argnums=donate, compiler_options=compiler_options or None)

    def _shared_values(self) -> list[Any]:
        """The shared variables' values as they are, device arrays left by an earlier update included."""
        return [s.tag["value"] for s in self._shared]

    def _run(self, *args: Any) -> Any:
        for i, (a, var) in enumerate(zip(args, self.inputs)):
            check_shape(a, var, i)
        with self._mode():
            arrays = [self._jnp.asarray(a, dtype=var.dtype) for a, var in zip(args, self.inputs)]
            arrays += [self._jnp.asarray(v, dtype=s.dtype) for v, s in zip(self._shared_values(), self._shared)]
            results = self.jitted(*arrays)
        for var, value in zip(self._updated, results[self._n_out :]):
            var.tag["value"] = value
        return results[: self._n_out]


def build(
    inputs: list[Term], outputs: list[Term], single: bool, contract: list[Term], updates: Sequence[tuple[Term, Term]] = (), **options: Any
) -> JaxFunction:
    """Lower to jax.numpy and jit; ``updates``: (shared variable, new value) pairs, computed after the outputs."""
    import jax  # noqa: F401 - the caller checked it imports
    import jax.numpy as jnp

    if options:
        raise TypeError(f"function: the jax backend takes no option(s) {sorted(options)}")
    has = namespace_has(jnp)
    values = [cast(val, var.dtype) for var, val in updates]
    source, namespace, shared = lower_generic(inputs, list(outputs) + values, "jax", has, "xp.asarray({0})", contract)
    namespace["jax"] = jax
    x64 = _wide(list(outputs) + values + list(inputs))
    options = _legacy_emitter() if _operations(list(outputs) + values) >= LEGACY_EMITTER_FROM else {}
    return JaxFunction(inputs, outputs, single, source, namespace, shared, x64, [var for var, _ in updates], options)
