"""A loop on a batch (``ad.vectorize``: Jacobians, Hessians) is one loop over the vectorized body:
:func:`batch_scan`, read through ``OpDef.batch`` of ``scan``.
"""

from __future__ import annotations

from typing import Any

from rewritediff.ad.vectorize import vectorize
from rewritediff.ops.batching import NoBatchRule, _broadcast_batch
from rewritediff.ops.scan import ScanBody
from rewritediff.scan_build import _Seq, _State, build_scan
from rewritediff.terms import TensorType, Term, apply

_BATCHED: dict[tuple, tuple[ScanBody, list[Term]]] = {}  # the body is kept so its id is not reused


def batch_scan(node: Term, args: list[Term], flags: list[bool], n: Any) -> Term:
    """The loop run on a batch (``ad.vectorize``): one loop whose body is the body vectorized.

    Batched sequences and initial states get the batch as their second axis (time stays
    first), every state is batched (its initial state broadcast when it is not), and the body
    is vectorized over the batched placeholders; the results are moved back to batch-first.
    The sibling results of one loop share one batched loop.
    """

    body: ScanBody = node.attr("body")
    if flags[0]:
        raise NoBatchRule("scan with a batched number of steps")
    if body.cond is not None:
        raise NoBatchRule("scan with until (each element of a batch may stop at another step)")
    key = (id(body), tuple(a.uid for a in args), tuple(flags), n if isinstance(n, int) else n.uid)
    hit = _BATCHED.get(key)
    if hit is not None:
        return hit[1][node.attr("out")]
    steps, xs, zs, ns = body.split_args(tuple(args))
    _, fx, fz, fn = body.split_args(tuple(flags))
    ph_seqs, ph_states, ph_ns = body.split_inputs()
    bdim = n if isinstance(n, int) else None

    def lead(t: Term) -> Term:
        """Batch-first to time-first: swap the first two axes."""
        return apply("dimshuffle", t, pattern=(1, 0, *range(2, t.ndim)))

    mapping: dict[Term, Term] = {}

    def batched(phs: list[Term]) -> list[Term]:
        out = [TensorType(p.dtype, (bdim, *p.static_shape))(p.name) for p in phs]
        mapping.update(zip(phs, out))
        return out

    seqs = []
    for x, f, offs, rev, phs in zip(xs, fx, body.seq_offsets, body.seq_rev, ph_seqs):
        seqs.append(_Seq(lead(x), offs, rev, batched(phs)) if f else _Seq(x, offs, rev, phs))
    states = []
    for z, f, taps, phs, store in zip(zs, fz, body.state_taps, ph_states, body.state_store):
        zb = z if f else _broadcast_batch(z, n)
        states.append(_State(lead(zb), taps, batched(phs), store))
    nonseqs = [(v, batched([p])[0]) if f else (v, p) for v, f, p in zip(ns, fn, ph_ns)]
    outs = vectorize(list(body.outputs), mapping, n)
    terms = build_scan(steps, seqs, states, nonseqs, outs, body.name, body.truncate, body.out_labels)
    result = []
    for k, t in enumerate(terms):
        last = k < body.n_states and body.state_store[k] == "last"
        result.append(t if last else lead(t))
    if len(_BATCHED) > 256:
        _BATCHED.clear()
    _BATCHED[key] = (body, result)
    return result[node.attr("out")]
