"""Graph passes over loops: which terms read a state's last row, the sibling results of one loop,
keeping only the last state when nothing reads more, and simplifying the bodies of the loops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rewritediff.ops.scan_body import ScanBody
from rewritediff.terms import Term, apply, replace, toposort


def _is_last_row(t: Term, base: Term) -> bool:
    """Whether ``t`` is ``base[-1]``."""
    return t.op == "subtensor" and len(t.args) == 1 and t.args[0] is base and tuple(t.attr("idx")) == (("int", -1),)


def last_row_reads(order: Sequence[Term], buf: Term, lags: int, roots: Sequence[Term] = ()) -> list[Term] | None:
    """The terms of ``order`` reading the last row of a state buffer (``buf[-1]``, ``buf[lags:][-1]``), or None if anything reads more.

    ``order`` is a whole graph in topological order; ``roots`` its results (a buffer among them,
    or its ``[lags:]``, is read whole).
    """
    users: dict[int, list[Term]] = {}
    for t in order:
        for a in set(t.args):
            users.setdefault(a.uid, []).append(t)
    root_ids = {r.uid for r in roots}
    if buf.uid in root_ids:
        return None
    reads: list[Term] = []
    for u in users.get(buf.uid, []):
        if _is_last_row(u, buf):
            reads.append(u)
            continue
        if u.op == "subtensor" and len(u.args) == 1 and tuple(u.attr("idx")) == (("slice", lags, None, None),) and u.uid not in root_ids:
            tail = users.get(u.uid, [])
            if tail and all(_is_last_row(v, u) for v in tail):
                reads.extend(tail)
                continue
        return None
    return reads or None


def loop_groups(order: Sequence[Term]) -> dict[tuple, list[Term]]:
    """The results of each loop among ``order``: sibling ``scan`` terms share arguments and body."""
    groups: dict[tuple, list[Term]] = {}
    for t in order:
        if t.op == "scan":
            groups.setdefault((tuple(a.uid for a in t.args), id(t.attr("body"))), []).append(t)
    return groups


def keep_last_states(roots: list[Term]) -> list[Term]:
    """The graph with every loop state read only at its last row kept as its last value (``store="last"``), not as a buffer of all steps.

    A loss on ``hs[-1]`` alone then runs a loop holding one state, not n: what a loop whose
    gradient is checkpointed needs for its value, and what a forward pass of a recurrence needs.
    The gradient reads whole buffers, so a loop that is differentiated keeps them.
    """
    order = toposort(roots)
    groups = loop_groups(order)
    mapping: dict[Term, Term] = {}
    for sibs in groups.values():
        body: ScanBody = sibs[0].attr("body")
        stores = list(body.state_store)
        reads_of: dict[int, list[Term]] = {}
        for m in sibs:
            k = m.attr("out")
            if k < body.n_states and stores[k] == "all" and body.state_taps[k] == (-1,):
                reads = last_row_reads(order, m, 1, roots)
                if reads is not None:
                    reads_of[k] = reads
                    stores[k] = "last"
        if not reads_of:
            continue
        lean = body.with_store(tuple(stores))
        args = sibs[0].args
        for m in sibs:
            k = m.attr("out")
            new = apply("scan", *args, body=lean, out=k)
            if k in reads_of:
                for r in reads_of[k]:
                    mapping[r] = new
            else:
                mapping[m] = new
    return replace(roots, mapping) if mapping else list(roots)


# A loop's results as tensor operations when it is a map (set by ``rewritediff/scan.py``, which vectorizes maps)
map_of_loop: Callable[[Sequence[Term], ScanBody], list[Term] | None] | None = None
# The last state of a fold over add or mul as a sum or a product (set by ``rewritediff/scan.py``)
fold_of_loop: Callable[[Term], Term | None] | None = None


def simplify_bodies(roots: Sequence[Term], simplify: Callable[[list[Term]], list[Term]], finite_math: bool) -> list[Term]:
    """The graph with every loop cut to the results read and its body simplified by ``simplify`` (the engine's own rules, given by the engine).

    The e-graph sees a loop as one op whose body is an attribute. Here a loop whose results are
    not all read becomes the smaller loop computing those read (``ScanBody.pruned``: nor the
    states only the others need), or tensor operations with no loop when that leaves a map
    (``map_of_loop``); a fold over add or mul read only at its end becomes a sum or a product
    (``fold_of_loop``); and the body is simplified as a graph of its own; the loop
    is rebuilt on the new body (marked so that compiling the step does not run the engine on it
    again). Loops nested in a body are reached when the engine simplifies that body: one level
    per call, no recursion over the graph.
    """
    order = toposort(list(roots))
    groups = loop_groups(order)
    mapping: dict[Term, Term] = {}
    for sibs in groups.values():
        body: ScanBody = sibs[0].attr("body")
        args = sibs[0].args
        read = [False] * len(body.outputs)
        for m in sibs:
            read[m.attr("out")] = True
        small, kept = body.pruned(read)
        if small is not body:  # results nobody reads are not computed
            n, seqs, inits, nonseqs = body.split_args(args)
            args = (n, *seqs, *[inits[j] for j in kept if j < body.n_states], *nonseqs)
        where = {k: i for i, k in enumerate(kept)}
        if len(body.outputs) == 1 and body.n_states == 1 and fold_of_loop is not None:  # a fold read at its end: a reduction
            reads = last_row_reads(order, sibs[0], body.lags(0), roots)
            folded = fold_of_loop(sibs[0]) if reads is not None else None
            if folded is not None:
                for r in reads:
                    mapping[r] = folded
                continue
        if small is not body and map_of_loop is not None:  # left with no state, a loop may be a map
            mapped = map_of_loop(args, small)
            if mapped is not None:
                for m in sibs:
                    mapping[m] = mapped[where[m.attr("out")]]
                continue
        new = small
        if small.simplified is None or (not small.simplified and finite_math):
            outs = list(small.outputs) + ([small.cond] if small.cond is not None else [])
            new_outs = simplify(outs)
            if all(a is b for a, b in zip(new_outs, outs)):
                small.simplified = finite_math  # a cache flag: the loop computes the same either way
            else:
                new = small.with_outputs(new_outs[: len(small.outputs)], new_outs[len(small.outputs)] if small.cond is not None else None)
                new.simplified = finite_math
        if new is body:
            continue
        for m in sibs:
            mapping[m] = apply("scan", *args, body=new, out=where[m.attr("out")])
    return replace(list(roots), mapping) if mapping else list(roots)
