"""The tangent of a loop is a loop: :func:`scan_pushforward` builds a forward scan carrying the
states and their tangents (the body's pushforward), read through ``OpDef.pushforward`` of ``scan``.
"""

from __future__ import annotations

from typing import Any

from rewritediff.ad.lift import cast_to
from rewritediff.gradient import pushforward
from rewritediff.ops.scan import ScanBody
from rewritediff.scan_build import _Seq, _State, build_scan, siblings_key
from rewritediff.tensor import zeros_like
from rewritediff.terms import Term


def scan_pushforward(node: Term, tangents: list[Any], memo: dict) -> Any:
    """The tangent of a loop's result: a forward scan carrying the states and their tangents (the body's pushforward)."""

    body: ScanBody = node.attr("body")
    key = (siblings_key(node), tuple(None if t is None else t.uid for t in tangents))
    if key in memo:
        return memo[key][node.attr("out")]
    n, xs, zs, ns = body.split_args(node.args)
    _, dxs, dzs, dns = body.split_args(tuple(tangents))
    if all(t is None for t in list(dxs) + list(dzs) + list(dns)):
        return None
    ph_seqs, ph_states, ph_ns = body.split_inputs()
    seqs: list[_Seq] = []
    tmap_wrt: list[Term] = []
    tmap_tan: list[Term] = []
    for x, offs, rev, phs in zip(xs, body.seq_offsets, body.seq_rev, ph_seqs):
        seqs.append(_Seq(x, offs, rev, phs))
    for x, dx, offs, rev, phs in zip(xs, dxs, body.seq_offsets, body.seq_rev, ph_seqs):
        if dx is None or not x.type.is_float:
            continue
        tph = [p.type(f"d{p.name}" if p.name else None) for p in phs]
        seqs.append(_Seq(cast_to(dx, x.dtype), offs, rev, tph))
        tmap_wrt += phs
        tmap_tan += tph
    states = [_State(z, taps, phs, store) for z, taps, phs, store in zip(zs, body.state_taps, ph_states, body.state_store)]
    tstate_of: list[int | None] = []
    tstates: list[_State] = []
    for k, (z, dz, taps, phs, store) in enumerate(zip(zs, dzs, body.state_taps, ph_states, body.state_store)):
        if not z.type.is_float:
            tstate_of.append(None)
            continue
        tph = [p.type(f"d{p.name}" if p.name else None) for p in phs]
        tstates.append(_State(zeros_like(z) if dz is None else cast_to(dz, z.dtype), taps, tph, store))
        tstate_of.append(len(tstates) - 1)
        tmap_wrt += phs
        tmap_tan += tph
    nonseqs = list(zip(ns, ph_ns))
    for nv, dn, p in zip(ns, dns, ph_ns):
        if dn is None or not nv.type.is_float:
            continue
        tp = p.type(f"d{p.name}" if p.name else None)
        nonseqs.append((cast_to(dn, nv.dtype), tp))
        tmap_wrt.append(p)
        tmap_tan.append(tp)
    outs = list(body.outputs)
    float_outs = [o for o in outs if o.type.is_float]
    touts = pushforward(float_outs, tmap_wrt, tmap_tan, disconnected_outputs="ignore", return_disconnected="zero") if tmap_wrt else []
    tan_of = {id(o): cast_to(t, o.dtype) for o, t in zip(float_outs, touts)}
    rec = outs[: body.n_states]
    nit = outs[body.n_states :]
    t_rec = [tan_of[id(outs[k])] for k in range(body.n_states) if tstate_of[k] is not None]
    t_nit = [o for o in nit if o.type.is_float]
    all_outs = rec + t_rec + nit + [tan_of[id(o)] for o in t_nit]
    name = f"tangent_of_{body.name}" if body.name else "tangent"
    terms = build_scan(n, seqs, states + tstates, nonseqs, all_outs, name, body.truncate, cond=body.cond)
    result: list[Any] = []
    for k in range(body.n_states):
        j = tstate_of[k]
        result.append(None if j is None else terms[body.n_states + j])
    base = body.n_states + len(tstates)
    tpos = base + len(nit)
    for o in nit:
        if o.type.is_float:
            result.append(terms[tpos])
            tpos += 1
        else:
            result.append(None)
    memo[key] = result
    return result[node.attr("out")]
