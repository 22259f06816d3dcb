"""Building a ``scan`` op from a step's graph (:func:`build_scan`), and loops that need no loop: a
map as vectorized tensor operations, a fold over ``add`` or ``mul`` as a sum or a product.

Both are used when a loop is built (``rd.map``, ``rd.reduce``) and, through the hooks set at the
end of this module, by the engine on loops its pruning left without state (``ops/scan_graph.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewritediff.ad.vectorize import vectorize
from rewritediff.errors import RewriteDiffTypeError
from rewritediff.ops import scan_graph
from rewritediff.ops.batching import NoBatchRule
from rewritediff.ops.scan import ScanBody
from rewritediff.tensor import arange, as_term, getitem
from rewritediff.terms import Term, apply, replace, toposort


class _Seq:
    """A sequence of the loop: the array, its offsets, whether it is read in reverse, one placeholder per offset."""

    def __init__(self, x: Term, offsets: Sequence[int], rev: bool, phs: Sequence[Term], label: str = "") -> None:
        self.x, self.offsets, self.rev, self.phs, self.label = x, tuple(offsets), rev, list(phs), label


class _State:
    """A recurrent output: its initial rows ``(L, *S)``, taps, one placeholder per tap, what to keep."""

    def __init__(self, init: Term, taps: Sequence[int], phs: Sequence[Term], store: str = "all") -> None:
        self.init, self.taps, self.phs, self.store = init, tuple(taps), list(phs), store


def _as_term(x: Any) -> Term:

    return as_term(x)


def siblings_key(node: Term) -> tuple:
    """What the results of one loop share (its arguments and its body): derivatives are built once per loop."""
    return (tuple(a.uid for a in node.args), id(node.attr("body")))


def _lenient(a: tuple, b: tuple) -> bool:
    """Whether two static shapes may describe the same run-time shape."""
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def build_scan(
    n: Term,
    seqs: list[_Seq],
    states: list[_State],
    nonseqs: list[tuple[Term, Term]],
    outputs: list[Term],
    name: str | None = None,
    truncate: int = -1,
    out_labels: Sequence[str] = (),
    strict: bool = False,
    n_from_seqs: bool = False,
    cond: Term | None = None,
    checkpoint: int = 1,
) -> list[Term]:
    """One scan op from its parts; returns one term per output (recurrent outputs first, aligned with ``states``).

    Terms of the body that depend on no placeholder are hoisted out as non-sequences (with
    ``strict``, a free variable that was not passed as a non-sequence is an error, as in PyTensor).
    ``n_from_seqs``: n is the sequences' common length (so a map may read their rows all at once).
    ``cond``: the step's stop condition (``until``), a term over the same placeholders.
    ``checkpoint``: the reverse pass keeps one state in ``checkpoint`` (see :func:`scan`).
    """
    if strict:
        given = {p.uid for s in seqs for p in s.phs} | {p.uid for st in states for p in st.phs} | {p.uid for _, p in nonseqs}
        loose = sorted({repr(t) for t in toposort(outputs) if t.op in ("input", "shared") and t.uid not in given})
        if loose:
            raise RewriteDiffTypeError(
                f"scan{' ' + repr(name) if name else ''}: strict=True but the step function reads {loose} without their being passed as non_sequences"
            )
    mapped = _as_map(n, seqs, states, nonseqs, outputs, n_from_seqs) if cond is None else None
    if mapped is not None:
        return mapped
    n_outs = len(outputs)
    if cond is not None:
        outputs = [*outputs, cond]  # hoisted and pruned with the outputs, kept apart in the body
    # loop-invariant code motion: a term that depends on no sequence or state placeholder (a free
    # variable, W.T of a non-sequence W) is computed once outside the loop and passed in
    outputs = list(outputs)
    ns_outer = {p.uid: t for t, p in nonseqs}
    dep: set[int] = {p.uid for s in seqs for p in s.phs} | {p.uid for st in states for p in st.phs}
    hoist: dict[int, Term] = {}
    for node in toposort(outputs):
        if node.uid in dep:
            continue
        if any(a.uid in dep for a in node.args):
            dep.add(node.uid)
            for a in node.args:
                if a.uid not in dep and a.op != "const" and a.uid not in ns_outer:
                    hoist.setdefault(a.uid, a)
    for o in outputs:
        if o.uid not in dep and o.op != "const" and o.uid not in ns_outer:
            hoist.setdefault(o.uid, o)
    nonseqs = list(nonseqs)
    mapping: dict[Term, Term] = {}
    by_ph = {p: t for t, p in nonseqs}
    for t in sorted(hoist.values(), key=lambda t: t.uid):
        ph = t.type(t.name)
        mapping[t] = ph
        reads_ns = any(leaf.uid in ns_outer for leaf in toposort([t]) if not leaf.args)
        nonseqs.append((replace([t], by_ph)[0] if reads_ns else t, ph))
    if mapping:
        outputs = replace(outputs, mapping)
    # sequences and non-sequences the step never reads are not passed (the reverse loop of a
    # linear step, for instance, reads no stored state)
    read = {t.uid for t in toposort(outputs) if not t.args}
    seqs = [s for s in seqs if any(p.uid in read for p in s.phs)]
    nonseqs = [(t, p) for t, p in nonseqs if p.uid in read]
    placeholders = [p for s in seqs for p in s.phs] + [p for st in states for p in st.phs] + [p for _, p in nonseqs]
    cond = outputs[n_outs] if cond is not None else None
    outputs = outputs[:n_outs]
    body = ScanBody(
        inputs=tuple(placeholders),
        outputs=tuple(outputs),
        cond=cond,
        seq_offsets=tuple(s.offsets for s in seqs),
        seq_rev=tuple(s.rev for s in seqs),
        state_taps=tuple(st.taps for st in states),
        state_store=tuple(st.store for st in states),
        n_nonseqs=len(nonseqs),
        name=name,
        truncate=truncate,
        out_labels=tuple(out_labels),
        seq_labels=tuple(s.label or f"sequence {i}" for i, s in enumerate(seqs)),
        checkpoint=checkpoint,
    )
    args = [n] + [s.x for s in seqs] + [st.init for st in states] + [t for t, _ in nonseqs]
    return [apply("scan", *args, body=body, out=k) for k in range(len(outputs))]


def _as_map(n: Term, seqs: list[_Seq], states: list[_State], nonseqs: list[tuple[Term, Term]], outputs: list[Term], n_from_seqs: bool) -> list[Term] | None:
    """A loop with no recurrence as vectorized tensor operations (no loop at all), or None.

    Each step reads row t of its sequences and nothing of the steps before, so the body applied
    to the whole sequences at once (``ad.vectorize`` along their leading axis) gives
    every row of the results: ``map(lambda r: r @ W, X)`` is ``X @ W``. A sequence longer than
    the loop is cut to its first n rows. Ops without a batching rule keep the loop, and so does an
    ``n_steps`` that may exceed a sequence's rows (the loop checks it and says so).
    """

    if states or not seqs or any(s.offsets != (0,) or s.rev for s in seqs):
        return None
    static = int(n.value) if n.op == "const" else None
    if not n_from_seqs and (static is None or any(s.x.static_shape[0] is None or s.x.static_shape[0] < static for s in seqs)):
        return None
    batched: dict[Term, Term] = {}
    for s in seqs:
        x = s.x
        if static is not None:
            if x.static_shape[0] != static:
                x = getitem(x, slice(0, static))
        elif not (n.op == "shape_i" and n.args[0] is x and n.attr("i") == 0):
            x = getitem(x, arange(n))
        batched[s.phs[0]] = x
    body = replace(outputs, {p: t for t, p in nonseqs}) if nonseqs else outputs
    try:
        return vectorize(body, batched, static if static is not None else n)
    except NoBatchRule:
        return None


def loop_as_map(args: Sequence[Term], body: ScanBody) -> list[Term] | None:
    """A loop with no state, no stop condition and every sequence read at its current row, as tensor operations (or None).

    What the engine does to a loop that its pruning left without state (``ops/scan.simplify_bodies``):
    the same vectorization as a map built by ``rd.map``, with the sequences cut to the loop's
    n rows unless n is their common length (their first dim, or the minimum of those).
    """
    if body.n_states or body.cond is not None:
        return None
    n, xs, _, ns = body.split_args(tuple(args))
    ph_seqs, _, ph_ns = body.split_inputs()
    seqs = [_Seq(x, offs, rev, phs) for x, offs, rev, phs in zip(xs, body.seq_offsets, body.seq_rev, ph_seqs)]

    def a_length(t: Term) -> bool:
        return t.op == "shape_i" and t.attr("i") == 0 and any(t.args[0] is x for x in xs)

    from_seqs = a_length(n) or (n.op == "minimum" and all(a_length(a) for a in n.args))
    return _as_map(n, seqs, [], list(zip(ns, ph_ns)), list(body.outputs), from_seqs)


def loop_as_fold(node: Term) -> Term | None:
    """The last state of a one-state loop ``acc + f(x_t)`` (``acc * f(x_t)``) as ``init + sum(f(X))`` (``init * prod``), or None."""
    return _fold_as_reduction(getitem(node, slice(1, None)))


def _fold_as_reduction(res: Any) -> Term | None:
    """``init + sum(f(x_t))`` for a fold ``acc + f(x_t)`` (``init * prod(f(x_t))`` for ``acc * f(x_t)``), else None.

    A fold whose step adds (multiplies) its accumulator and a term that does not read it is a
    reduction: the term is computed for every row at once (as a map) and summed (multiplied)
    along the rows, with no loop.
    """
    if not isinstance(res, Term) or res.op != "subtensor" or res.args[0].op != "scan":
        return None
    node = res.args[0]
    body: ScanBody = node.attr("body")
    if body.n_states != 1 or len(body.outputs) != 1 or body.state_taps[0] != (-1,) or body.state_store[0] != "all" or body.cond is not None:
        return None
    n, xs, zs, ns = body.split_args(node.args)
    ph_seqs, ph_states, ph_ns = body.split_inputs()
    acc, out = ph_states[0][0], body.outputs[0]
    if out.op not in ("add", "mul") or sum(a is acc for a in out.args) != 1:
        return None
    rest = [a for a in out.args if a is not acc]
    g = rest[0] if len(rest) == 1 else apply(out.op, *rest)
    if any(t is acc for t in toposort([g])):
        return None
    seqs = [_Seq(x, offs, rev, phs) for x, offs, rev, phs in zip(xs, body.seq_offsets, body.seq_rev, ph_seqs)]
    mapped = _as_map(n, seqs, [], list(zip(ns, ph_ns)), [g], True)
    if mapped is None:
        return None

    z = zs[0]
    init = z.args[0] if z.op == "dimshuffle" and tuple(z.attr("pattern")) == ("x", *range(z.args[0].ndim)) else getitem(z, 0)
    if out.op == "add":
        return init + apply("sum", mapped[0], axis=(0,))
    return init * apply("prod", mapped[0], axis=(0,))


scan_graph.map_of_loop = loop_as_map  # the engine reaches the vectorization through these hooks
scan_graph.fold_of_loop = loop_as_fold
