"""The lowering shared by the non-numpy backends: one generated ``def compiled(xp, ...)`` per function.

The simplified DAG is walked in topological order with an explicit loop (``toposort``), one
assignment per distinct non-leaf term, each op spelled for the target by
:func:`rewritediff.backends.spellings.spell`. The array namespace is the first parameter
(``xp``), so the same source runs on JAX's, Dask's or any Array API namespace; the numpy
lowering's kernels, buffer reuse and ``del`` of temporaries are left out: JAX and Dask own
their memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rewritediff.backends import generic
from rewritediff.backends.spellings import spell
from rewritediff.compiled import Function
from rewritediff.errors import CallError, RewriteDiffTypeError
from rewritediff.lower_numpy import _contract_checks, _ident, expand_defined
from rewritediff.ops import get_op
from rewritediff.ops.registry import CONST_OP, INPUT_OP, SHARED_OP
from rewritediff.terms import Term, toposort

_RESERVED = ("xp", "ax", "jax")


def lower_generic(
    inputs: list[Term],
    outputs: list[Term],
    backend: str,
    has_name: Callable[[str], bool],
    const_source: str = "xp.asarray({0})",
    contract: Sequence[Term] = (),
) -> tuple[str, dict, list[Term]]:
    """Source and namespace of ``compiled(xp, *inputs, *shared)``, and the shared variables it takes after the inputs.

    ``const_source``: how a hoisted numpy constant ``_cN`` becomes an array of the target.
    Raises :class:`UnsupportedOpError` for the first op the backend cannot run.
    """
    outputs = expand_defined(list(outputs))
    order = toposort(outputs)
    names: dict[int, str] = {}
    namespace: dict[str, Any] = {"ax": generic, "np": np}
    params: list[str] = []
    for i, var in enumerate(inputs):
        name = _ident(var.name)
        if name is None or name in params or name in _RESERVED:
            name = f"in{i}"
        names[var.uid] = name
        params.append(name)
    body: list[str] = list(_contract_checks(list(contract), names, namespace))
    shared: list[Term] = []
    n_tmp = n_const = 0
    for node in order:
        if node.uid in names:
            continue
        if node.op == CONST_OP:
            cname = f"c{n_const}"
            n_const += 1
            namespace[f"_{cname}"] = node.value
            body.append(f"{cname} = {const_source.format(f'_{cname}')}")
            names[node.uid] = cname
            continue
        if node.op == SHARED_OP:
            sname = f"s{len(shared)}"
            shared.append(node)
            names[node.uid] = sname
            continue
        if node.op == INPUT_OP:
            raise RewriteDiffTypeError(f"function: the outputs depend on {node!r}, which is not among the inputs {inputs}")
        tname = f"t{n_tmp}"
        n_tmp += 1
        body.append(f"{tname} = {spell(node, [names[a.uid] for a in node.args], backend, has_name)}")
        names[node.uid] = tname
    outs = []
    for o in outputs:
        ref = names[o.uid]
        # a product of lengths (``shape_i``, ``count``) is spelled as a Python int, static under jit: returned as an array
        outs.append(f"xp.asarray({ref}, dtype=xp.{o.dtype})" if _python_int(o) else ref)
    body.append(f"return ({', '.join(outs)},)")
    signature = ", ".join(["xp", *params, *(f"s{k}" for k in range(len(shared)))])
    source = f"def compiled({signature}):\n" + "".join(f"    {line}\n" for line in body)
    return source, namespace, shared


def _python_int(term: Term) -> bool:
    """Whether the spellings give this term's value as a Python int: an op whose value is a product of lengths."""
    return get_op(term.op).dim_product is not None


def check_shape(value: Any, var: Term, pos: int) -> None:
    """A CallError when an argument's ndim or a static dim differs from its variable's type."""
    shape = tuple(np.shape(value))
    if len(shape) != var.ndim:
        raise CallError(f"argument {pos} ({var!r}): expected ndim {var.ndim} (type {var.type}), got ndim {len(shape)} (shape {shape})")
    for d_static, d in zip(var.static_shape, shape):
        if d_static is not None and d_static != d:
            raise CallError(f"argument {pos} ({var!r}): expected shape {var.type}, got {shape}")


class BackendFunction(Function):
    """A function compiled for a non-numpy backend; ``source`` is its generated code, ``backend`` its target."""

    backend = ""

    def __init__(self, inputs: list[Term], outputs: list[Term], single: bool, source: str, namespace: dict, shared: list[Term]) -> None:
        super().__init__(inputs, outputs, single, [], source, namespace)
        self._compiled = self._fn
        self._shared = shared
        self._fn = self._run

    def _shared_values(self) -> list[Any]:
        """The current values of the shared variables the function reads (read at every call)."""
        return [s.value for s in self._shared]

    def _run(self, *args: Any) -> Any:  # pragma: no cover - each backend defines it
        raise NotImplementedError

    @property
    def retained_bytes(self) -> int:
        """No buffers are kept between calls by the lowering itself (the backend manages its memory)."""
        return 0

    def __repr__(self) -> str:
        return f"<rewritediff.Function ({self.backend}) {self.inputs} -> {self.outputs}>"
