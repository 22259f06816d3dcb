"""The derivatives of a loop are loops: :func:`scan_pullback` builds the reverse scan of the body's
pullback over the stored states (every state, or every k-th with ``checkpoint=k``, the rest run
again chunk by chunk), :func:`scan_pushforward` a forward scan of the body's pushforward, and
:func:`batch_scan` one loop over the vectorized body for a batch (Jacobians, Hessians). The
gradient sweeps reach them through ``OpDef.pullback`` / ``pushforward`` / ``batch`` of ``scan``,
which this module sets (the forward loop is in ``scan_tangents.py``, the batched one in
``scan_batching.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewritediff.gradient import pullback
from rewritediff.ops import get_op
from rewritediff.ops.scan import ScanBody, last_row_reads
from rewritediff.rules.ast import Special
from rewritediff.scan_batching import batch_scan
from rewritediff.scan_build import _Seq, _State, build_scan
from rewritediff.scan_tangents import scan_pushforward
from rewritediff.tensor import alloc, arange, ceil, getitem, join, minimum, reshape, set_subtensor, shape_i, stack, zeros_like
from rewritediff.terms import TensorType, Term, apply, constant, replace, toposort


# ---- derivatives ----------------------------------------------------------------------------------------
def _stored_states(node: Term) -> tuple[ScanBody, list[Term]]:
    """The body and one buffer of all states per recurrent output (a ``store="last"`` loop is run again keeping them)."""
    body: ScanBody = node.attr("body")
    if all(s == "all" for s in body.state_store):
        return body, [apply("scan", *node.args, body=body, out=k) for k in range(body.n_states)]
    full = body.with_store_all()
    return full, [apply("scan", *node.args, body=full, out=k) for k in range(full.n_states)]


def _last_row_only(g: Term, lag: int) -> Term | None:
    """The adjoint of the last state when the cotangent of a state buffer is zero elsewhere, else None.

    A loss on the last state (``hs[-1]``, PyTensor's usual form) gives the buffer the cotangent
    ``inc_subtensor(zeros_like(buf)[lag:], inc_subtensor(zeros_like(buf[lag:])[-1], a))``: the
    reverse loop then starts its carried adjoint at ``a`` and reads no cotangent sequence (two
    buffers of zeros as large as the stored states are never built).
    """

    def peel(t: Term, idx_ok: Any) -> Term | None:
        if t.op not in ("inc_subtensor", "set_subtensor") or len(t.args) != 2 or t.args[0].op != "zeros_like":
            return None
        idx = t.attr("idx")
        return t.args[1] if idx_ok(idx, t.args[0]) else None

    def tail(idx: tuple, base: Term) -> bool:
        return idx == (("slice", lag, None, None),)

    def last(idx: tuple, base: Term) -> bool:
        if len(idx) != 1 or idx[0][0] != "int":
            return False
        k = idx[0][1]
        return k == -1 or (base.static_shape[0] is not None and k == base.static_shape[0] - 1)

    inner = peel(g, tail)
    return None if inner is None else peel(inner, last)


def _result_cotangents(nodes: list[Term], cotangents: list[Any], n_outputs: int) -> list[Any]:
    """The cotangent of each of a loop's results (None: not asked for), summed over sibling terms of one result."""
    gs: list[Any] = [None] * n_outputs
    for node, g in zip(nodes, cotangents):
        if g is not None:
            j = node.attr("out")
            gs[j] = g if gs[j] is None else gs[j] + g
    return gs


def _checkpointed_pullback(nodes: list[Term], cotangents: list[Any], wanted: Sequence[bool] | None) -> list[Any]:
    """The pullback of a loop built with ``checkpoint=k``: the pullback of the same loop written as chunks of k steps.

    The loop is written again over fresh placeholders as an outer loop over ``C = ceil(n / k)``
    chunks whose step runs an inner loop of (at most) k steps from the chunk's first states and
    returns the last ones. The outer loop is an ordinary scan: its pullback stores the chunk
    boundaries only, and its reverse step, the pullback of the inner loop, runs that chunk
    forward again (storing k states) and back. The adjoints are then those of the placeholders,
    with the loop's own arguments put back. A sequence whose adjoint is wanted is cut into
    chunks (``(C, k, ...)``, padded with zero rows: one copy), so each reverse step emits its own
    rows; any other sequence is read through a slice of the whole array, with no copy.
    """
    node0 = nodes[0]
    body: ScanBody = node0.attr("body")
    k = body.checkpoint
    n, xs, zs, ns = body.split_args(node0.args)
    want = list(wanted) if wanted is not None else [True] * len(node0.args)
    _, want_x, want_z, want_n = body.split_args(tuple(want))
    gs = _result_cotangents(nodes, cotangents, len(body.outputs))
    # what each result's cotangent needs: the last state only (a carried adjoint), or every row
    last_only: list[Term | None] = [None] * len(body.outputs)
    for j in range(body.n_states):
        if gs[j] is None:
            continue
        if body.state_store[j] == "last":
            last_only[j] = gs[j]
        else:
            last_only[j] = _last_row_only(gs[j], body.lags(j))
    every_row = [gs[j] is not None and last_only[j] is None for j in range(len(body.outputs))]

    def fresh(t: Term) -> Term:
        return t.type(t.name)

    px, pz, pn = [fresh(x) for x in xs], [fresh(z) for z in zs], [fresh(v) for v in ns]
    kk = constant(k, "int64")
    chunks = apply("cast", ceil(apply("cast", n, dtype="float64") / float(k)), dtype="int64")
    ph_seqs, ph_states, ph_ns = body.split_inputs()
    o_seqs: list[_Seq] = []
    o_nonseqs: list[tuple[Term, Term]] = []
    start_ph = TensorType("int64", ())("t0")
    len_ph = TensorType("int64", ())("steps")
    o_seqs.append(_Seq(arange(chunks) * kk, [0], False, [start_ph]))
    o_seqs.append(_Seq(minimum(kk, n - arange(chunks) * kk), [0], False, [len_ph]))
    in_seqs: list[_Seq] = []
    for i, (x, offs, phs) in enumerate(zip(px, body.seq_offsets, ph_seqs)):
        rest = [shape_i(x, d) for d in range(1, x.ndim)]
        if want_x[i] and x.type.is_float:  # chunked: each reverse step emits the adjoint of its own rows
            for o, p in zip(offs, phs):
                rows = getitem(x, slice(o, o + n) if o else slice(0, n))
                padded = join(0, rows, alloc(constant(0, x.dtype), chunks * kk - n, *rest))
                cp = TensorType(x.dtype, (k, *x.static_shape[1:]))(f"{x.name}[chunk]" if x.name else None)
                o_seqs.append(_Seq(reshape(padded, (chunks, k, *rest)), [0], False, [cp]))
                in_seqs.append(_Seq(cp, [0], False, [p]))
        else:  # read in place: the rows of the chunk, sliced from the whole sequence
            xp = fresh(x)
            o_nonseqs.append((x, xp))
            in_seqs.append(_Seq(getitem(xp, slice(start_ph, start_ph + len_ph + max(offs))), offs, False, phs))
    o_states: list[_State] = []
    in_states: list[_State] = []
    for j, (z, taps, phs) in enumerate(zip(pz, body.state_taps, ph_states)):
        wp = TensorType(z.dtype, z.static_shape)(f"{z.name}[chunk]" if z.name else None)
        o_states.append(_State(apply("dimshuffle", z, pattern=("x", *range(z.ndim))), (-1,), [wp], "all"))
        in_states.append(_State(wp, taps, phs, "all"))
    in_nonseqs: list[tuple[Term, Term]] = []
    for v, p in zip(pn, ph_ns):
        vp = fresh(v)
        o_nonseqs.append((v, vp))
        in_nonseqs.append((vp, p))
    name = f"chunk_of_{body.name}" if body.name else "chunk"
    inner = build_scan(len_ph, in_seqs, in_states, in_nonseqs, list(body.outputs), name, out_labels=body.out_labels)

    def pad(t: Term) -> Term:
        """A chunk's rows padded to k (the last chunk may be shorter)."""
        rest = [shape_i(t, d) for d in range(1, t.ndim)]
        return join(0, t, alloc(constant(0, t.dtype), kk - len_ph, *rest))

    o_outs = []
    for j in range(body.n_states):
        if body.lags(j) == 1:  # the last state read as a loss on it reads it: its pullback starts the inner reverse loop's carry
            last = getitem(getitem(inner[j], slice(1, None)), -1)
            o_outs.append(apply("dimshuffle", last, pattern=("x", *range(last.ndim))))
        else:
            o_outs.append(getitem(inner[j], slice(-body.lags(j), None)))
    row_pos: dict[int, int] = {}
    for j in range(len(body.outputs)):
        if every_row[j]:
            row_pos[j] = len(o_outs)
            o_outs.append(pad(getitem(inner[j], slice(body.lags(j), None)) if j < body.n_states else inner[j]))
    outer = build_scan(chunks, o_seqs, o_states, o_nonseqs, o_outs, f"checkpoints_of_{body.name}" if body.name else "checkpoints")
    exprs: list[Term] = []
    exprs_all: list[Term] = []  # the expressions of the results read row by row, in order
    cots: list[Term] = []
    for j in range(len(body.outputs)):
        if gs[j] is None:
            continue
        if last_only[j] is not None:
            # the final window's last row, read as a loss on the last state reads it (the outer
            # reverse loop then starts its carried adjoint there)
            window = getitem(getitem(outer[j], slice(1, None)), -1)
            exprs.append(getitem(window, -1))
            cots.append(last_only[j])
            continue
        rows = outer[row_pos[j]]
        rest = [shape_i(rows, d) for d in range(2, rows.ndim)]
        flat = getitem(reshape(rows, (chunks * kk, *rest)), slice(0, n))
        exprs.append(join(0, pz[j], flat) if j < body.n_states else flat)
        exprs_all.append(exprs[-1])
        cots.append(gs[j])
    # a cotangent that reads the loop's last state (the derivative of a loss on it) reads it from
    # the chunked loop, so the loop itself, with every state, is not run for it
    order = toposort(cots)
    finals: dict[Term, Term] = {}
    for j in range(body.n_states):
        if body.state_store[j] != "all":
            continue
        buf = apply("scan", *node0.args, body=body, out=j)
        for r in last_row_reads(order, buf, body.lags(j), cots) or ():
            finals[r] = getitem(getitem(outer[j], -1), -1)
    if finals:
        cots = replace(cots, finals)
    # a cotangent that reads every state (that of sum(hs ** 2)) reads them from the rows the
    # chunked loop returns, which it needs anyway
    back = {p: a for p, a in zip([*px, *pz, *pn], [*xs, *zs, *ns])}
    whole = {}
    for j, e in zip([j for j in range(len(body.outputs)) if gs[j] is not None and last_only[j] is None], replace([x for x in exprs_all], back)):
        whole[apply("scan", *node0.args, body=body, out=j)] = e
    if whole:
        cots = replace(cots, whole)
    wrt_ph: list[Term] = []
    wrt_pos: list[int] = []
    for pos, (p, w) in enumerate(zip([None, *px, *pz, *pn], want)):
        if pos and w and p.type.is_float:
            wrt_ph.append(p)
            wrt_pos.append(pos)
    result: list[Any] = [Special("disconnected")] * len(node0.args)
    if not exprs or not wrt_ph:
        return result
    adj = pullback(exprs, wrt_ph, cots, disconnected_inputs="ignore", return_disconnected="zero")
    for pos, a in zip(wrt_pos, replace(list(adj), back)):
        result[pos] = a
    return result


def scan_pullback(nodes: list[Term], cotangents: list[Any], wanted: Sequence[bool] | None = None) -> list[Any]:
    """Adjoints of a loop's arguments given cotangents of its results: a reverse scan of the body's pullback.

    Step ``s`` of the reverse loop handles step ``t = n - 1 - s`` of the loop: it reads the
    step's inputs from the stored states and sequences, carries the adjoint of the states the
    next steps will read, accumulates the non-sequences' adjoints and emits the sequences'
    adjoints, which are scattered back into their rows. With ``truncate_gradient=k`` only the
    last k steps are taken back (PyTensor's truncated BPTT). The step's results are read from the
    stored states, not computed again (``tanh``'s pullback reads its output). ``wanted`` says which
    arguments' adjoints are asked for (all when None): no other sequence adjoint is computed.
    """

    node0 = nodes[0]
    body0: ScanBody = node0.attr("body")
    if body0.checkpoint > 1 and body0.n_states and body0.cond is None and body0.truncate == -1 and not any(body0.seq_rev):
        return _checkpointed_pullback(nodes, cotangents, wanted)
    n, xs, zs, ns = body0.split_args(node0.args)
    want = list(wanted) if wanted is not None else [True] * len(node0.args)
    _, want_x, _, want_n = body0.split_args(tuple(want))
    gs = _result_cotangents(nodes, cotangents, len(body0.outputs))
    body, bufs = _stored_states(node0)
    start: list[Term | None] = [None] * body.n_states  # a carried adjoint that starts at the last state's
    for k in range(body.n_states):
        if gs[k] is None or body.lags(k) != 1:
            continue
        if body0.state_store[k] == "last":
            start[k], gs[k] = gs[k], None
        else:
            a = _last_row_only(gs[k], 1)
            if a is not None:
                start[k], gs[k] = a, None
    ph_seqs, ph_states, ph_ns = body.split_inputs()
    if body.cond is not None:  # a loop that stopped early: the reverse loop runs the steps it took
        if body.n_states:
            n = shape_i(bufs[0], 0) - body.lags(0)
        else:
            n = shape_i(apply("scan", *node0.args, body=body, out=body.n_states), 0)
    trunc = body.truncate
    if trunc == -1:
        nr = n
    elif n.op == "const":
        nr = constant(min(int(n.value), trunc), "int64")
    else:
        nr = minimum(n, constant(trunc, "int64"))

    def reverse_read(arr: Term, off: int, parent_rev: bool) -> tuple[Term, int, bool]:
        """How the reverse loop reads what the loop read at step t as ``arr[t + off]`` (or reversed)."""
        if parent_rev:
            return arr, off, False
        if trunc == -1:
            return arr, off, True
        idx = arange(nr + off) + (n - nr)
        return getitem(arr, idx), off, True

    seqs: list[_Seq] = []
    for x, offs, rev, phs in zip(xs, body.seq_offsets, body.seq_rev, ph_seqs):
        for o, p in zip(offs, phs):
            a, off, r = reverse_read(x, o, rev)
            seqs.append(_Seq(a, [off], r, [p]))
    for k, (buf, taps, phs) in enumerate(zip(bufs, body.state_taps, ph_states)):
        lag = body.lags(k)
        for tap, p in zip(taps, phs):
            a, off, r = reverse_read(buf, lag + tap, False)
            seqs.append(_Seq(a, [off], r, [p]))
    outs = list(body.outputs)
    cots: list[Any] = [None] * len(outs)
    for k, g in enumerate(gs):
        if g is None or not outs[k].type.is_float:
            continue
        gp = TensorType(g.dtype, g.static_shape[1:])(f"g{k}[t]")
        a, off, r = reverse_read(g, body.lags(k) if k < body.n_states else 0, False)
        seqs.append(_Seq(a, [off], r, [gp]))
        cots[k] = gp
    states: list[_State] = []
    carries: list[Term | None] = []
    for k in range(body.n_states):
        lag = body.lags(k)
        o = outs[k]
        if not o.type.is_float:
            carries.append(None)
            continue
        z = zs[k]
        if lag == 1:
            c = TensorType(o.dtype, o.static_shape)(f"adj{k}")
            if start[k] is None:
                init = zeros_like(z)
            else:
                a0 = start[k] if start[k].dtype == o.dtype else apply("cast", start[k], dtype=o.dtype)
                init = apply("dimshuffle", a0, pattern=("x", *range(a0.ndim)))
            cot = c
        else:
            c = TensorType(o.dtype, (lag, *o.static_shape))(f"adj{k}")
            init = apply("dimshuffle", zeros_like(z), pattern=("x", *range(z.ndim)))
            cot = getitem(c, lag - 1)
        states.append(_State(init, (-1,), [c], "last"))
        carries.append(c)
        cots[k] = cot if cots[k] is None else cots[k] + cot
    accs: list[Term | None] = []
    for j, (nv, p) in enumerate(zip(ns, ph_ns)):
        if not nv.type.is_float or not want_n[j]:  # an adjoint nobody asked for gets no accumulator
            accs.append(None)
            continue
        acc = nv.type(f"acc{j}")
        states.append(_State(apply("dimshuffle", zeros_like(nv), pattern=("x", *range(nv.ndim))), (-1,), [acc], "last"))
        accs.append(acc)
    # the step's results at step t are stored: read them rather than compute them again
    stored: dict[Term, Term] = {}
    for k, buf in enumerate(bufs):
        if outs[k].op not in ("input", "shared", "const"):
            p = TensorType(outs[k].dtype, outs[k].static_shape)(f"out{k}[t]")
            a, off, r = reverse_read(buf, body.lags(k), False)
            seqs.append(_Seq(a, [off], r, [p]))
            stored[outs[k]] = p
    live = [(o, c) for o, c in zip(outs, cots) if c is not None]
    flat_seq_ph = [p for phs in ph_seqs for p in phs]
    flat_state_ph = [p for phs in ph_states for p in phs]
    wrt = [p for p in flat_seq_ph + flat_state_ph + ph_ns if p.type.is_float]
    if not live or not wrt:
        return [Special("disconnected")] * len(node0.args)
    adj_list = pullback([o for o, _ in live], wrt, [c for _, c in live], disconnected_inputs="ignore", return_disconnected="zero")
    if stored:
        adj_list = replace(list(adj_list), stored)
    adj = {p.uid: a for p, a in zip(wrt, adj_list)}
    new_outs: list[Term] = []
    for k in range(body.n_states):
        c = carries[k]
        if c is None:
            continue
        lag = body.lags(k)
        taps, phs = body.state_taps[k], ph_states[k]
        if lag == 1:
            new_outs.append(adj[phs[0].uid])
            continue
        entries = []
        for i in range(lag):
            parts = [getitem(c, i - 1)] if i >= 1 else []
            parts += [adj[p.uid] for tap, p in zip(taps, phs) if lag + tap == i]
            e = parts[0] if parts else zeros_like(getitem(c, 0))
            for extra in parts[1:]:
                e = e + extra
            if not parts:
                e = zeros_like(getitem(c, 0))
            entries.append(e)

        new_outs.append(stack(entries))
    for acc, p in zip(accs, ph_ns):
        if acc is not None:
            new_outs.append(acc + adj[p.uid])
    seq_adj_pos: list[tuple[int, int, int]] = []  # (sequence index, offset, position among the outputs)
    for i, (offs, phs) in enumerate(zip(body.seq_offsets, ph_seqs)):
        for o, p in zip(offs, phs):
            if p.type.is_float and want_x[i]:
                seq_adj_pos.append((i, o, len(new_outs)))
                new_outs.append(adj[p.uid])
    name = f"grad_of_{body.name}" if body.name else "grad"
    rev_terms = build_scan(nr, seqs, states, list(zip(ns, ph_ns)), new_outs, name)
    result: list[Any] = [Special("disconnected")]
    for _ in xs:
        result.append(None)
    pos = 0
    for k in range(body.n_states):
        if carries[k] is None:
            result.append(Special("disconnected"))
            continue
        final = rev_terms[pos]
        pos += 1
        lag = body.lags(k)
        gz = apply("dimshuffle", final, pattern=("x", *range(final.ndim))) if lag == 1 else final
        if gs[k] is not None:
            gz = gz + getitem(gs[k], slice(0, lag))
        result.append(gz)
    for acc in accs:
        if acc is None:
            result.append(Special("disconnected"))
        else:
            result.append(rev_terms[pos])
            pos += 1
    for i, x in enumerate(xs):
        total = None
        for si, o, p in seq_adj_pos:
            if si != i:
                continue
            r = rev_terms[p]
            if body.seq_rev[i]:
                idx = arange(nr) + o
            else:
                idx = (n - 1 + o) - arange(nr)
            part = set_subtensor(getitem(zeros_like(x), idx), r)
            total = part if total is None else total + part
        result[1 + i] = total if total is not None else Special("disconnected")
    return result


get_op("scan").batch = batch_scan  # a loop on a batch is one loop over the vectorized body
get_op("scan").pullback = scan_pullback  # the sweeps of gradient.py read these
get_op("scan").pushforward = scan_pushforward


__all__ = ["batch_scan", "scan_pullback", "scan_pushforward"]
