"""The Python source of a ``scan`` loop (the lowering places it in the generated closure), and
``run``, which executes the same source for constant folding and ``impl``.
"""

from __future__ import annotations

import numpy as np

from rewritediff.errors import ShapeError
from rewritediff.ops.scan_body import ScanBody


def _scan_error(msg: str) -> ShapeError:
    return ShapeError(msg)


def loop_source(
    body: ScanBody, argnames: list[str], outnames: list[str | None], tag: str, namespace: dict, fusion: str = "kernels", finite_math: bool = True
) -> list[str]:
    """Python lines running the loop: arguments named ``argnames``, results assigned to ``outnames`` (None: unread).

    Buffers are allocated once and each step's results written into their rows; ``tag`` makes
    the loop's local names unique in the closure. The step is the body compiled by the same
    lowering with the enclosing function's ``fusion`` and ``finite_math``, placed in ``namespace``
    as ``_<tag>_step``.
    """
    full = body
    body, kept = full.pruned([name is not None for name in outnames])
    if body is not full:  # results nobody reads are not computed (nor the states only they need)
        n0, seqs0, inits0, nonseqs0 = argnames[0], *_split(full, argnames)
        argnames = [n0, *seqs0, *[inits0[j] for j in kept if j < full.n_states], *nonseqs0]
        outnames = [outnames[k] for k in kept]
    step = f"_{tag}_step"
    namespace[step] = body.step(fusion, finite_math)._fn
    namespace["_scan_error"] = _scan_error
    namespace[f"_{tag}_body"] = body  # the loop as run (pruned)
    lab = f"_{tag}_lab"
    namespace[lab] = f"scan {body.name!r}" if body.name else "scan"
    nname, seqs, inits, nonseqs = argnames[0], *_split(body, argnames)
    n = f"_{tag}_n"
    lines = [f"{n} = int({nname})", f"if {n} < 0:", f'    raise _scan_error(f"{{{lab}}}: n_steps is {{{n}}}, it must be >= 0")']
    call_args: list[str] = []
    for i, (x, offs, rev) in enumerate(zip(seqs, body.seq_offsets, body.seq_rev)):
        top = max(offs)
        lines.append(f"if {x}.shape[0] < {n} + {top}:")
        need = f" with offsets {offs}" if offs != (0,) else ""
        sq = f"_{tag}_sq{i}"
        namespace[sq] = body.seq_labels[i]
        lines.append(f'    raise _scan_error(f"{{{lab}}}: n_steps is {{{n}}} but {{{sq}}} has {{{x}.shape[0]}} rows, {{{x}.shape[0] - {top}}} steps{need}")')
        for o in offs:
            # ``[i, ...]`` is a view even of a 1-d array's element (a 0-d array, not a numpy scalar)
            call_args.append(f"{x}[{n} - 1 - _t + {o}, ...]" if rev else f"{x}[_t + {o}, ...]" if o else f"{x}[_t, ...]")
    bufs: list[str] = []
    writes: list[str] = []
    for k, (z, taps, store) in enumerate(zip(inits, body.state_taps, body.state_store)):
        L = -min(taps)
        b = f"_{tag}_b{k}"
        bufs.append(b)
        shp = f"_{tag}_s{k}"
        what = f"_{tag}_o{k}"
        namespace[what] = body.out_labels[k]
        if store == "last":
            lines.append(f"{b} = {z}[{L - 1}, ...]")
            lines.append(f"{shp} = {b}.shape")
            call_args.append(b)
            # a 0-d result may come back as a numpy scalar; the step's fast path takes ndarrays
            writes.append(f"{b} = np.asarray(_r[{k}])" if body.outputs[k].ndim == 0 else f"{b} = _r[{k}]")
        else:
            lines.append(f"{b} = np.empty(({L} + {n},) + {z}.shape[1:], dtype=np.{z_dtype(body, k)})")
            lines.append(f"{b}[:{L}] = {z}[:{L}]")
            lines.append(f"{shp} = {b}.shape[1:]")
            call_args.extend(f"{b}[_t + {L + tap}, ...]" if L + tap else f"{b}[_t, ...]" for tap in taps)
            writes.append(f"{b}[_t + {L}] = _r[{k}]")
        writes.insert(
            len(writes) - 1,
            f'if _r[{k}].shape != {shp}:\n    raise _scan_error(f"{{{lab}}}: {{{what}}} of the step function has shape {{_r[{k}].shape}} at step {{_t}}, its state has shape {{{shp}}}")',
        )
    for j in range(body.n_states, len(body.outputs)):
        b = f"_{tag}_b{j}"
        bufs.append(b)
        o = body.outputs[j]
        what = f"_{tag}_o{j}"
        namespace[what] = body.out_labels[j]
        lines.append(f"{b} = None")
        writes.append(
            f"if {b} is None:\n    {b} = np.empty(({n},) + np.shape(_r[{j}]), dtype=np.{o.dtype})\n"
            f"elif _r[{j}].shape != {b}.shape[1:]:\n"
            f'    raise _scan_error(f"{{{lab}}}: {{{what}}} of the step function has shape {{_r[{j}].shape}} at step {{_t}} but {{{b}.shape[1:]}} at step 0")\n'
            f"{b}[_t] = _r[{j}]"
        )
    call_args.extend(nonseqs)
    loop = [f"for _t in range({n}):", f"    _r = {step}({', '.join(call_args)})"]
    for w in writes:
        loop.extend("    " + part for part in w.split("\n"))
    if body.cond is not None:  # until: stop after the step whose condition holds, keep the rows written
        done = f"_{tag}_done"
        lines.append(f"{done} = {n}")
        loop += [f"    if _r[{len(body.outputs)}]:", f"        {done} = _t + 1", "        break"]
    lines.extend(loop)
    if body.cond is not None:
        for k, b in enumerate(bufs):
            if k < body.n_states and body.state_store[k] == "last":
                continue
            if k < body.n_states:
                lines.append(f"{b} = {b}[:{-min(body.state_taps[k])} + {done}]")
            else:
                lines.append(f"if {b} is not None:")
                lines.append(f"    {b} = {b}[:{done}]")
    for j in range(body.n_states, len(body.outputs)):
        b = f"_{tag}_b{j}"
        static = tuple(0 if d is None else d for d in body.outputs[j].static_shape)
        lines.append(f"if {b} is None:")
        lines.append(f"    {b} = np.empty((0,) + {static!r}, dtype=np.{body.outputs[j].dtype})")
    for k, out in enumerate(outnames):
        if out is None:
            continue
        if k < body.n_states and body.state_store[k] == "last":
            lines.append(f"{out} = np.array({bufs[k]})")
        else:
            lines.append(f"{out} = {bufs[k]}")
    return lines


def z_dtype(body: ScanBody, k: int) -> str:
    """The dtype of recurrent output k (its body output's, which the frontend made its initial state's)."""
    return body.outputs[k].dtype


def _split(body: ScanBody, argnames: list[str]) -> tuple:
    s, r = body.n_seqs, body.n_states
    return argnames[1 : 1 + s], argnames[1 + s : 1 + s + r], argnames[1 + s + r :]


def run(body: ScanBody, arrays: list) -> list:
    """Run the loop on arrays (constant folding and ``impl``): the same source the lowering emits."""
    if body._runner is None:
        names = [f"a{i}" for i in range(body.n_args)]
        outs = [f"o{k}" for k in range(len(body.outputs))]
        ns: dict = {"np": np}
        lines = loop_source(body, names, outs, "s", ns)
        src = f"def _run({', '.join(names)}):\n" + "".join(f"    {ln}\n" for ln in "\n".join(lines).split("\n"))
        src += f"    return [{', '.join(outs)}]\n"
        exec(compile(src, "<rewritediff scan>", "exec"), ns)  # noqa: S102 - our own generated source
        body._runner = ns["_run"]
    return body._runner(*arrays)
