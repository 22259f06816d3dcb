"""Symbolic loops: ``rd.scan`` (PyTensor's signature and return convention), ``map``, ``reduce``, ``foldl``, ``foldr``.

The step function is called once, on placeholder variables, and what it returns becomes the
body of one ``scan`` op (``ops/scan.py``). Every term of the body that does not depend on a
placeholder (a free variable, ``W.T`` built outside) is computed once outside the loop and
passed in as a non-sequence: loop invariants are hoisted when the loop is built.

The op is built from the step's graph in :mod:`rewritediff.scan_build`; the derivatives of a loop
are loops, built in :mod:`rewritediff.scan_derivatives`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rewritediff.errors import RewriteDiffTypeError, ShapeError
from rewritediff.scan_build import _as_term, _fold_as_reduction, _lenient, _Seq, _State, build_scan
from rewritediff.tensor import alloc, ceil, getitem, join, minimum, set_subtensor, shape_i
from rewritediff.terms import TensorType, Term, apply, constant, replace

__all__ = ["scan", "map", "reduce", "foldl", "foldr", "until", "scan_checkpoints"]


class Until:
    """A step function's stop condition (PyTensor's ``until``): the loop ends after the first step where it holds."""

    def __init__(self, condition: Any) -> None:
        self.condition = condition


def until(condition: Any) -> Until:
    """Return this from a step function (after its outputs) to stop the loop once ``condition`` is true."""
    return Until(condition)


# ---- the frontend -------------------------------------------------------------------------------------
def _int_list(v: Any, what: str) -> list[int]:
    vals = list(v) if isinstance(v, list | tuple) else [v]
    for t in vals:
        if not isinstance(t, int) or isinstance(t, bool):
            raise ValueError(f"scan: {what} must be integers, got {v!r}")
    return vals


def _tapname(base: str | None, tap: int) -> str | None:
    if not base:
        return None
    return f"{base}[t]" if tap == 0 else f"{base}[t{tap:+d}]"


def _split_result(res: Any) -> tuple[list[Any], dict, Any]:
    """The outputs, updates and stop condition a step function returned (a term, a list, a dict of updates, an ``until``)."""
    cond = None
    if isinstance(res, Until):
        return [], {}, res.condition
    if isinstance(res, tuple | list) and any(isinstance(r, Until) for r in res):
        conds = [r for r in res if isinstance(r, Until)]
        if len(conds) > 1:
            raise ValueError("scan: the step function returned more than one until(...)")
        cond = conds[0].condition
        res = [r for r in res if not isinstance(r, Until)]
        if len(res) == 1 and isinstance(res[0], list | tuple | dict):
            res = res[0]
        elif len(res) == 1:
            res = res[0]
        else:
            res = tuple(res)
    outs, updates = _split_outputs(res)
    return outs, updates, cond


def _split_outputs(res: Any) -> tuple[list[Any], dict]:
    """The outputs and the updates of a step function's result without its ``until``."""
    if isinstance(res, dict):
        return [], res
    if isinstance(res, tuple | list) and len(res) == 2 and any(isinstance(r, dict) for r in res):
        a, b = res
        if isinstance(a, dict):
            a, b = b, a
        outs = list(a) if isinstance(a, list | tuple) else ([] if a is None else [a])
        return outs, b
    if isinstance(res, list | tuple):
        return list(res), {}
    if res is None:
        return [], {}
    return [res], {}


def scan(
    fn: Callable[..., Any],
    sequences: Any = None,
    outputs_info: Any = None,
    non_sequences: Any = None,
    n_steps: Any = None,
    go_backwards: bool = False,
    truncate_gradient: int = -1,
    strict: bool = False,
    name: str | None = None,
    return_list: bool = False,
    return_updates: bool = True,
    mode: Any = None,
    profile: Any = False,
    allow_gc: Any = None,
    checkpoint: int | None = None,
) -> Any:
    """A symbolic loop (PyTensor's ``scan``): ``(outputs, updates)``, or the outputs alone with ``return_updates=False``.

    ``fn`` is called once with, in order, the sequence slices (one per tap), the previous
    values of the recurrent outputs (one per tap) and the non-sequences, and returns the new
    values; the loop is then one op whose body is that graph.

    ``checkpoint=k``: the gradient keeps one state in k (the ends of chunks of k steps) instead
    of every state, and runs each chunk forward again in the reverse pass, chunk by chunk: the
    states' memory falls about k-fold for one more forward pass. The values and the gradients
    are those of ``checkpoint=None``.
    """
    label = f"scan {name!r}" if name else "scan"
    seq_list = [] if sequences is None else (list(sequences) if isinstance(sequences, list | tuple) else [sequences])
    info_list = [] if outputs_info is None else (list(outputs_info) if isinstance(outputs_info, list | tuple) else [outputs_info])
    ns_list = [] if non_sequences is None else (list(non_sequences) if isinstance(non_sequences, list | tuple) else [non_sequences])
    if not isinstance(truncate_gradient, int) or (truncate_gradient < 1 and truncate_gradient != -1):
        raise ValueError(f"{label}: truncate_gradient must be -1 (no truncation) or a positive number of steps, got {truncate_gradient!r}")
    if checkpoint is None:
        checkpoint = 1
    if not isinstance(checkpoint, int) or isinstance(checkpoint, bool) or checkpoint < 1:
        raise ValueError(f"{label}: checkpoint must be None or a positive number of steps, got {checkpoint!r}")
    if checkpoint > 1 and truncate_gradient != -1:
        raise ValueError(
            f"{label}: checkpoint={checkpoint} with truncate_gradient={truncate_gradient}: the two cannot be combined (truncation already bounds what the reverse pass reads)"
        )

    # sequences: PyTensor's taps, relative to the current step; the loop reads X[t + offset]
    seqs: list[_Seq] = []
    needs: list[tuple[Term, int]] = []
    for i, s in enumerate(seq_list):
        if isinstance(s, dict):
            unexpected = set(s) - {"input", "taps"}
            if unexpected:
                raise ValueError(f"{label}: unexpected keys {sorted(unexpected)} in sequences[{i}] (it takes 'input' and 'taps')")
            if "input" not in s:
                raise ValueError(f"{label}: sequences[{i}] has no 'input'")
            x = _as_term(s["input"])
            taps = _int_list(s.get("taps") if s.get("taps") is not None else [0], f"the taps of sequences[{i}]")
        else:
            x = _as_term(s)
            taps = [0]
        if not taps:
            raise ValueError(f"{label}: sequences[{i}] has no taps")
        if len(set(taps)) != len(taps):
            raise ValueError(f"{label}: sequences[{i}] repeats a tap: {taps}")
        if x.ndim < 1:
            raise ShapeError(f"{label}: sequences[{i}] ({x!r}) is 0-d; a sequence needs a leading dim to iterate over")
        xname = x.name
        if go_backwards:
            x = getitem(x, slice(None, None, -1))
        lo, hi = min(min(taps), 0), max(max(taps), 0)
        row = TensorType(x.dtype, x.static_shape[1:])
        phs = [row(_tapname(xname, t)) for t in taps]
        seqs.append(_Seq(x, [t - lo for t in taps], False, phs, f"sequences[{i}]" + (f" ({xname})" if xname else "")))
        needs.append((x, hi - lo))

    # outputs_info: None (not fed back), a tensor (taps [-1]) or a dict with 'initial' and 'taps'
    kinds: list[Any] = []  # per user output: None, or (init rows term, taps, state row type, lags)
    for i, info in enumerate(info_list):
        if info is None:
            kinds.append(None)
            continue
        if isinstance(info, dict):
            unexpected = set(info) - {"initial", "taps", "inplace"}
            if unexpected:
                raise ValueError(f"{label}: unexpected keys {sorted(unexpected)} in outputs_info[{i}]")
            init = info.get("initial")
            taps = info.get("taps")
            if init is None:
                if taps:
                    raise ValueError(f"{label}: outputs_info[{i}] has taps {taps} but no initial state")
                kinds.append(None)
                continue
            taps = [-1] if taps is None else _int_list(taps, f"the taps of outputs_info[{i}]")
        else:
            init, taps = info, [-1]
        if not taps:
            raise ValueError(f"{label}: outputs_info[{i}] has an empty list of taps")
        if len(set(taps)) != len(taps):
            raise ValueError(f"{label}: all the taps of outputs_info[{i}] must be different, got {taps}")
        if any(t >= 0 for t in taps):
            raise ValueError(f"{label}: the taps of outputs_info[{i}] must be negative (past values), got {taps}")
        z = _as_term(init)
        lags = -min(taps)
        if taps == [-1]:
            rows = apply("dimshuffle", z, pattern=("x", *range(z.ndim)))
            rowtype = z.type
        else:
            if z.ndim < 1:
                raise ShapeError(f"{label}: outputs_info[{i}] has taps {taps}, so its initial state needs a leading dim of at least {lags} rows; it is 0-d")
            if z.static_shape[0] is not None and z.static_shape[0] < lags:
                raise ShapeError(f"{label}: outputs_info[{i}] has taps {taps}, so its initial state needs at least {lags} rows; it has {z.static_shape[0]}")

            rows = getitem(z, slice(0, lags)) if z.static_shape[0] != lags else z
            rowtype = TensorType(z.dtype, z.static_shape[1:])
        kinds.append((rows, taps, rowtype, lags, z.name))

    # the number of steps
    if n_steps is None:
        if not needs:
            raise ValueError(f"{label}: give n_steps or at least one sequence: there is nothing to count the steps from")

        counts = []
        for x, need in needs:
            if x.static_shape[0] is not None:
                counts.append(constant(max(x.static_shape[0] - need, 0), "int64"))
            else:
                c = shape_i(x, 0)
                counts.append(c - need if need else c)
        n = counts[0]
        for c in counts[1:]:
            n = minimum(n, c)
    else:
        if isinstance(n_steps, float) and not isinstance(n_steps, bool):
            if n_steps != int(n_steps):
                raise ValueError(f"{label}: n_steps must be an integer, got {n_steps!r}")
            n_steps = int(n_steps)
        n = _as_term(n_steps)
        if n.ndim != 0 or n.dtype not in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"):
            raise ValueError(f"{label}: n_steps must be an integer scalar, got {n!r} of type {n.type}")
        if n.dtype != "int64":
            n = apply("cast", n, dtype="int64")
        if n.op == "const":
            steps = int(n.value)
            if steps < 0:
                raise ValueError(f"{label}: n_steps is {steps}; a negative number of steps is not supported")
            for s, (x, need) in zip(seqs, needs):
                have = x.static_shape[0]
                if have is not None and have - need < steps:
                    raise ShapeError(f"{label}: n_steps is {steps} but {s.label} has {have} rows, {have - need} steps with taps relative offsets {s.offsets}")

    # the step function, called once on placeholders
    states_ph: list[list[Term]] = []
    for kind in kinds:
        if kind is None:
            states_ph.append([])
            continue
        rows, taps, rowtype, lags, zname = kind
        states_ph.append([rowtype(_tapname(zname, t)) for t in taps])
    ns_terms = [_as_term(v) for v in ns_list]
    ns_ph = [t.type(t.name) for t in ns_terms]
    call = [p for s in seqs for p in s.phs] + [p for phs in states_ph for p in phs] + ns_ph
    res = fn(*call)
    outs, updates, cond = _split_result(res)
    if cond is not None and checkpoint > 1:
        raise ValueError(
            f"{label}: checkpoint={checkpoint} with until(...): a loop that stops early is not checkpointed (its length is known only after it ran)"
        )
    if cond is not None:
        cond = _as_term(cond)
        if cond.ndim != 0 or cond.dtype != "bool":
            if cond.ndim != 0:
                raise ValueError(f"{label}: the condition of until(...) must be a 0-d boolean, got {cond!r} of type {cond.type}")
            cond = apply("neq", cond, constant(0, cond.dtype))
    if info_list and len(outs) != len(info_list):
        raise ValueError(f"{label}: the step function returned {len(outs)} output(s) but outputs_info describes {len(info_list)}")
    if not info_list:
        kinds = [None] * len(outs)
        states_ph = [[] for _ in outs]
    outs = [_as_term(o) for o in outs]

    # check each recurrent output against its state, then order them: recurrent first
    states: list[_State] = []
    rec_outs: list[Term] = []
    rec_idx: list[int] = []
    nit_outs: list[Term] = []
    nit_idx: list[int] = []
    for i, (o, kind) in enumerate(zip(outs, kinds)):
        what = f"{label}: output {i}" + (f" ({o.name})" if o.name else "") + " of the step function"
        if not isinstance(o.type, TensorType):
            raise RewriteDiffTypeError(f"{what} is of type {o.type}, not a tensor")
        if kind is None:
            nit_outs.append(o)
            nit_idx.append(i)
            continue
        rows, taps, rowtype, lags, _ = kind
        if o.dtype != rowtype.dtype:
            raise RewriteDiffTypeError(
                f"{what} has dtype {o.dtype} but its initial state (outputs_info[{i}]) has dtype {rowtype.dtype}: "
                "a state must keep its dtype from step to step (cast the initial state or the output)"
            )
        if not _lenient(o.static_shape, rowtype.shape):
            raise ShapeError(
                f"{what} has shape {o.type} but its initial state (outputs_info[{i}]) has shape {rowtype}: a state must keep its shape from step to step"
            )
        states.append(_State(rows, taps, states_ph[i]))
        rec_outs.append(o)
        rec_idx.append(i)
    # updates of shared variables: each is a state carried from step to step (the step reads its
    # value at the previous step) whose last value is the update
    upd_vars: list[Term] = []
    upd_outs: list[Term] = []
    upd_ph: dict[Term, Term] = {}
    for var, val in updates.items() if isinstance(updates, dict) else updates:
        if not isinstance(var, Term) or var.op != "shared":
            raise RewriteDiffTypeError(f"{label}: the step function returned an update of {var!r}, which is not a shared variable")
        val = _as_term(val)
        if val.dtype != var.dtype or not _lenient(val.static_shape, var.static_shape):
            raise RewriteDiffTypeError(f"{label}: the update of {var!r} has type {val.type}, the variable has type {var.type}")
        upd_ph[var] = var.type(f"{var.name}[t-1]" if var.name else None)
        upd_vars.append(var)
        upd_outs.append(val)
    if upd_vars:
        carried = replace(rec_outs + upd_outs + nit_outs + ([cond] if cond is not None else []), upd_ph)
        r, u = len(rec_outs), len(upd_outs)
        rec_outs, upd_outs, nit_outs = carried[:r], carried[r : r + u], carried[r + u : r + u + len(nit_outs)]
        cond = carried[-1] if cond is not None else None
        for var in upd_vars:
            states.append(_State(apply("dimshuffle", var, pattern=("x", *range(var.ndim))), (-1,), [upd_ph[var]], "last"))
    labels = [f"output {i}" for i in rec_idx] + [f"the update of {v!r}" for v in upd_vars] + [f"output {i}" for i in nit_idx]
    terms = build_scan(
        n, seqs, states, list(zip(ns_terms, ns_ph)), rec_outs + upd_outs + nit_outs, name, truncate_gradient, labels, strict, n_steps is None, cond, checkpoint
    )

    result: list[Any] = [None] * len(outs)
    for pos, i in enumerate(rec_idx):
        result[i] = getitem(terms[pos], slice(kinds[i][3], None))
    for pos, i in enumerate(nit_idx):
        result[i] = terms[len(rec_idx) + len(upd_vars) + pos]
    update_map = {var: terms[len(rec_idx) + k] for k, var in enumerate(upd_vars)}
    if update_map and not return_updates:
        raise ValueError(f"{label}: return_updates=False but the step function updates {list(update_map)}; carry them as outputs_info instead")
    for i, r in enumerate(result):
        if outs[i].name and r is not None and r.name is None:
            r.name = f"{outs[i].name}_seq"
    value: Any = result
    if not return_list and len(result) == 1:
        value = result[0]
    elif not result:
        value = None
    return (value, update_map) if return_updates else value


def scan_checkpoints(
    fn: Callable[..., Any],
    sequences: Any = None,
    outputs_info: Any = None,
    non_sequences: Any = None,
    name: str = "checkpointscan_fn",
    n_steps: Any = None,
    save_every_N: int = 10,  # noqa: N803 - PyTensor's name
    padding: bool = True,
    return_updates: bool = True,
) -> Any:
    """A loop that keeps one state in ``save_every_N`` for its gradient (PyTensor's ``scan_checkpoints``).

    An outer loop over chunks of ``save_every_N`` steps runs an inner loop per chunk and keeps
    only its last values: the outputs are the values at the end of each chunk, and the reverse
    pass stores the chunk boundaries only, running each chunk forward again (inside the outer
    reverse loop) to take it back. Memory for the states falls by about ``save_every_N``; the
    forward work is done twice. Sequences must all have ``n_steps`` rows; outputs take no taps.
    """

    seq_list = [] if sequences is None else (list(sequences) if isinstance(sequences, list | tuple) else [sequences])
    info_list = list(outputs_info) if isinstance(outputs_info, list | tuple) else [outputs_info]
    ns_list = [] if non_sequences is None else (list(non_sequences) if isinstance(non_sequences, list | tuple) else [non_sequences])
    for info in info_list:
        if isinstance(info, dict) and info.get("taps") not in (None, [-1]):
            raise ValueError(f"scan_checkpoints {name!r}: outputs take no taps, got {info['taps']}")
    if not isinstance(save_every_N, int) or save_every_N < 1:
        raise ValueError(f"scan_checkpoints {name!r}: save_every_N must be a positive int, got {save_every_N!r}")
    seq_terms = [_as_term(x) for x in seq_list]
    if n_steps is None:
        if not seq_terms:
            raise ValueError(f"scan_checkpoints {name!r}: give n_steps or a sequence")
        n = shape_i(seq_terms[0], 0)
    else:
        n = _as_term(n_steps)
        n = n if n.dtype == "int64" else apply("cast", n, dtype="int64")
    every = constant(save_every_N, "int64")
    chunks = apply("cast", ceil(apply("cast", n, dtype="float64") / float(save_every_N)), dtype="int64")
    lengths = set_subtensor(getitem(alloc(every, chunks), -1), n - (chunks - 1) * every)
    o_seqs = []
    for x in seq_terms:
        if padding:
            pad = chunks * every - shape_i(x, 0)
            rest = [shape_i(x, k) for k in range(1, x.ndim)]
            x = join(0, x, alloc(constant(0, x.dtype), pad, *rest))
        rest = [shape_i(x, k) for k in range(1, x.ndim)]
        o_seqs.append(apply("reshape", x, chunks, *rest, shape=(None, save_every_N, *(None for _ in rest))))
    o_seqs.append(lengths)
    n_seq = len(o_seqs)

    def outer_step(*args: Any) -> Any:
        chunk_seqs, steps = list(args[: n_seq - 1]), args[n_seq - 1]
        prev = list(args[n_seq : len(args) - len(ns_list)])
        nonseqs = list(args[len(args) - len(ns_list) :])
        inner_info = prev + [None] * sum(info is None for info in info_list)
        res = scan(fn, sequences=chunk_seqs, outputs_info=inner_info, non_sequences=nonseqs, n_steps=steps, name=name + "_inner", return_updates=False)
        res = res if isinstance(res, list) else [res]
        return [getitem(r, -1) for r in res]

    return scan(
        outer_step,
        sequences=o_seqs,
        outputs_info=info_list,
        non_sequences=ns_list,
        n_steps=chunks,
        name=name + "_outer",
        return_updates=return_updates,
    )


def map(
    fn: Callable[..., Any],
    sequences: Any,
    non_sequences: Any = None,
    truncate_gradient: int = -1,
    go_backwards: bool = False,
    mode: Any = None,
    name: str | None = None,
    return_updates: bool = True,
) -> Any:
    """``fn`` applied to each slice of the sequences (a scan with no recurrence)."""
    return scan(
        fn,
        sequences=sequences,
        outputs_info=None,
        non_sequences=non_sequences,
        truncate_gradient=truncate_gradient,
        go_backwards=go_backwards,
        name=name,
        return_updates=return_updates,
    )


def reduce(
    fn: Callable[..., Any],
    sequences: Any,
    outputs_info: Any,
    non_sequences: Any = None,
    go_backwards: bool = False,
    mode: Any = None,
    name: str | None = None,
    return_updates: bool = True,
) -> Any:
    """The last value of each output of a scan (PyTensor's ``reduce``)."""
    res = scan(fn, sequences=sequences, outputs_info=outputs_info, non_sequences=non_sequences, go_backwards=go_backwards, name=name, return_updates=False)

    folded = _fold_as_reduction(res)
    if folded is not None:
        last: Any = folded
    else:
        last = [getitem(r, -1) for r in res] if isinstance(res, list) else getitem(res, -1)
    return (last, {}) if return_updates else last


def foldl(
    fn: Callable[..., Any], sequences: Any, outputs_info: Any, non_sequences: Any = None, mode: Any = None, name: str | None = None, return_updates: bool = True
) -> Any:
    """``reduce`` from the first element to the last."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=False, name=name, return_updates=return_updates)


def foldr(
    fn: Callable[..., Any], sequences: Any, outputs_info: Any, non_sequences: Any = None, mode: Any = None, name: str | None = None, return_updates: bool = True
) -> Any:
    """``reduce`` from the last element to the first."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=True, name=name, return_updates=return_updates)
