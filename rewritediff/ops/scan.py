"""The ``scan`` op: a loop whose step is a term graph (the body) over placeholder variables.

A scan is one op with several results. Each result is its own term, ``scan(*args){body, out=k}``:
the terms of one loop share their arguments and their ``body`` attribute and differ only in
``out``, so hash-consing keeps them immutable and the lowering runs the loop once for all of
them (its siblings). Arguments, in order::

    n_steps (0-d int), sequences..., initial states..., non-sequences...

The body (:class:`ScanBody`) holds the placeholders the step reads and the terms it returns:

* sequence ``i`` read at step ``t`` with offset ``o``: ``X[t + o]``, or ``X[n - 1 - t + o]``
  when the sequence is read in reverse (``rev``; the derivative of a scan reads its stored
  states that way); one placeholder per offset;
* recurrent output ``k`` with taps ``(-3, -1)``: a buffer of ``L = 3`` initial rows then one row
  per step; step ``t`` reads rows ``t + L + tap`` and writes row ``t + L``. Its initial-state
  argument has shape ``(L, *S)``. Result ``k`` is the whole buffer ``(L + n, *S)`` (``store="all"``:
  every state is kept, which the reverse pass reads), or only the last state
  (``store="last"``: the accumulators of a reverse pass, taps ``(-1,)`` only);
* non-sequences: one placeholder each;
* outputs not fed back (PyTensor's ``None`` in ``outputs_info``) come after the recurrent ones:
  result ``n_states + j`` stacks them, ``(n, *S)``.

Derivatives are built in Python (``rewritediff/scan_derivatives.py``: a reverse scan of the body's
pullback, a forward scan of its pushforward), read by the sweeps of ``gradient.py`` through
``OpDef.pullback`` / ``OpDef.pushforward``, which that module sets.

This module holds the op's table row; the body is in ``scan_body.py``, the graph passes over
loops in ``scan_graph.py``, the loop's source in ``scan_source.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewritediff.ops.registry import OpDef, register
from rewritediff.ops.scan_body import ScanBody
from rewritediff.ops.scan_graph import keep_last_states, last_row_reads, loop_groups, simplify_bodies
from rewritediff.ops.scan_source import loop_source, run, z_dtype
from rewritediff.terms import TensorType, Term


def _n_static(n: Term) -> int | None:
    if n.op == "const":
        return int(n.value)
    return None


def _infer(args: tuple, attrs: dict) -> TensorType:
    body: ScanBody = attrs["body"]
    k = attrs["out"]
    n = _n_static(args[0]) if body.cond is None else None  # a loop that may stop early has a run-time length
    if k < body.n_states:
        init = args[1 + body.n_seqs + k]
        if body.state_store[k] == "last":
            return TensorType(init.dtype, init.static_shape[1:])
        lead = None if n is None or init.static_shape[0] is None else n + init.static_shape[0]
        return TensorType(init.dtype, (lead, *init.static_shape[1:]))
    o = body.outputs[k]
    return TensorType(o.dtype, (n, *o.static_shape))


def _prepare(args: tuple, attrs: dict) -> dict:
    body = attrs["body"]
    if not isinstance(body, ScanBody):
        raise TypeError(f"scan: the body attribute must be a ScanBody, got {type(body).__name__}")
    if len(args) != body.n_args:
        raise TypeError(f"scan: the body takes {body.n_args} arguments, got {len(args)}")
    if not 0 <= attrs["out"] < len(body.outputs):
        raise TypeError(f"scan: out={attrs['out']} but the body has {len(body.outputs)} outputs")
    return attrs


def _impl(*arrays: Any, body: ScanBody, out: int) -> np.ndarray:
    return run(body, list(arrays))[out]


register(
    OpDef(
        name="scan",
        infer=_infer,
        impl=_impl,
        arity=(1, None),
        attrs={"body": None, "out": 0},
        prepare=_prepare,
        memory="fresh",
        doc="a loop whose step is a term graph; one term per result (attribute out)",
        group="loop",
    )
)


__all__ = ["ScanBody", "keep_last_states", "last_row_reads", "loop_groups", "loop_source", "run", "simplify_bodies", "z_dtype"]
