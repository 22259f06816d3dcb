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
``OpDef.pullback`` / ``OpDef.pushforward``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rewritediff.errors import ShapeError
from rewritediff.ops.registry import OpDef, register
from rewritediff.terms import TensorType, Term, apply, replace, toposort

_serials = itertools.count(1)


class ScanBody:
    """The step of a loop: placeholders in, terms out, and how the loop feeds them (immutable; compared by identity)."""

    __slots__ = (
        "inputs",
        "outputs",
        "seq_offsets",
        "seq_rev",
        "state_taps",
        "state_store",
        "n_nonseqs",
        "name",
        "truncate",
        "out_labels",
        "seq_labels",
        "cond",
        "checkpoint",
        "simplified",
        "serial",
        "_pruned",
        "_step",
        "_runner",
        "__weakref__",
    )

    def __init__(
        self,
        inputs: tuple,
        outputs: tuple,
        seq_offsets: tuple,
        seq_rev: tuple,
        state_taps: tuple,
        state_store: tuple,
        n_nonseqs: int,
        name: str | None = None,
        truncate: int = -1,
        out_labels: tuple = (),
        seq_labels: tuple = (),
        cond: Term | None = None,
        checkpoint: int = 1,
    ) -> None:
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.seq_offsets = tuple(tuple(int(o) for o in offs) for offs in seq_offsets)
        self.seq_rev = tuple(bool(r) for r in seq_rev)
        self.state_taps = tuple(tuple(int(t) for t in taps) for taps in state_taps)
        self.state_store = tuple(state_store)
        self.n_nonseqs = int(n_nonseqs)
        self.name = name
        self.truncate = int(truncate)
        self.out_labels = tuple(out_labels) or tuple(f"output {k}" for k in range(len(self.outputs)))
        self.seq_labels = tuple(seq_labels) or tuple(f"sequence {i}" for i in range(len(self.seq_offsets)))
        self.serial = next(_serials)  # for display: creation order, the same whatever the hash seed
        self.cond = cond  # a 0-d bool of the step: the loop stops after the first step where it holds (PyTensor's until)
        self.checkpoint = int(checkpoint)  # the reverse pass keeps one state in this many and recomputes the rest
        self.simplified: bool | None = None  # the finite_math of the engine run the outputs come from (None: not run)
        self._step = None
        self._runner = None
        self._pruned: dict = {}
        n_in = sum(len(o) for o in self.seq_offsets) + sum(len(t) for t in self.state_taps) + self.n_nonseqs
        if n_in != len(self.inputs):
            raise ValueError(f"scan body: {len(self.inputs)} placeholders for {n_in} inner inputs")
        for taps, store in zip(self.state_taps, self.state_store):
            if store == "last" and taps != (-1,):
                raise ValueError("scan body: only a state with taps (-1,) may keep its last value only")

    # ---- layout --------------------------------------------------------------------------------
    @property
    def n_seqs(self) -> int:
        """Number of sequence arguments."""
        return len(self.seq_offsets)

    @property
    def n_states(self) -> int:
        """Number of recurrent outputs (they come first among the outputs)."""
        return len(self.state_taps)

    @property
    def n_args(self) -> int:
        """Number of arguments of the scan term (n_steps included)."""
        return 1 + self.n_seqs + self.n_states + self.n_nonseqs

    def lags(self, k: int) -> int:
        """L, the number of initial rows of recurrent output k."""
        return -min(self.state_taps[k])

    def split_args(self, args: tuple) -> tuple:
        """(n_steps, sequences, initial states, non-sequences) of a scan term's arguments."""
        s, r = self.n_seqs, self.n_states
        return args[0], list(args[1 : 1 + s]), list(args[1 + s : 1 + s + r]), list(args[1 + s + r :])

    def split_inputs(self) -> tuple:
        """The placeholders grouped: per sequence (one per offset), per state (one per tap), non-sequences."""
        pos = 0
        seqs = []
        for offs in self.seq_offsets:
            seqs.append(list(self.inputs[pos : pos + len(offs)]))
            pos += len(offs)
        states = []
        for taps in self.state_taps:
            states.append(list(self.inputs[pos : pos + len(taps)]))
            pos += len(taps)
        return seqs, states, list(self.inputs[pos:])

    def with_store_all(self) -> ScanBody:
        """The same loop keeping every state (what a derivative of a ``store="last"`` loop reads)."""
        return self.with_store(("all",) * self.n_states)

    def with_store(self, store: tuple) -> ScanBody:
        """The same loop keeping, per state, every value (``"all"``) or the last one (``"last"``)."""
        return self._like(
            ScanBody(
                self.inputs,
                self.outputs,
                self.seq_offsets,
                self.seq_rev,
                self.state_taps,
                tuple(store),
                self.n_nonseqs,
                self.name,
                self.truncate,
                self.out_labels,
                self.seq_labels,
                self.cond,
                self.checkpoint,
            ),
        )

    def with_outputs(self, outputs: Sequence[Term], cond: Term | None) -> ScanBody:
        """The same loop computing ``outputs`` (and stopping on ``cond``): terms of the same placeholders, of the same types."""
        return ScanBody(
            self.inputs,
            tuple(outputs),
            self.seq_offsets,
            self.seq_rev,
            self.state_taps,
            self.state_store,
            self.n_nonseqs,
            self.name,
            self.truncate,
            self.out_labels,
            self.seq_labels,
            cond,
            self.checkpoint,
        )

    def _like(self, other: ScanBody) -> ScanBody:
        """``other`` marked simplified as this body is (it computes the same outputs)."""
        other.simplified = self.simplified
        return other

    def pruned(self, read: Sequence[bool]) -> tuple[ScanBody, list[int]]:
        """The loop computing only the results read and the states they depend on, and the results it keeps.

        A result nobody reads is not computed, nor is a state that no computed result (nor the
        stop condition) reads: the step of ``pruned`` returns the kept results only.
        """
        keep = [bool(r) for r in read]
        _, ph_states, _ = self.split_inputs()
        while True:
            roots = [o for o, k in zip(self.outputs, keep) if k] + ([self.cond] if self.cond is not None else [])
            leaves = {t.uid for t in toposort(roots) if not t.args}
            more = [j for j, phs in enumerate(ph_states) if not keep[j] and any(p.uid in leaves for p in phs)]
            if not more:
                break
            for j in more:
                keep[j] = True
        kept = [k for k, flag in enumerate(keep) if flag]
        if len(kept) == len(self.outputs):
            return self, kept
        key = tuple(kept)
        if key not in self._pruned:
            ph_seqs, _, ph_ns = self.split_inputs()
            states = [j for j in kept if j < self.n_states]
            self._pruned[key] = self._like(
                ScanBody(
                    inputs=tuple([p for phs in ph_seqs for p in phs] + [p for j in states for p in ph_states[j]] + ph_ns),
                    outputs=tuple(self.outputs[k] for k in kept),
                    seq_offsets=self.seq_offsets,
                    seq_rev=self.seq_rev,
                    state_taps=tuple(self.state_taps[j] for j in states),
                    state_store=tuple(self.state_store[j] for j in states),
                    n_nonseqs=self.n_nonseqs,
                    name=self.name,
                    truncate=self.truncate,
                    out_labels=tuple(self.out_labels[k] for k in kept),
                    seq_labels=self.seq_labels,
                    cond=self.cond,
                    checkpoint=self.checkpoint,
                ),
            )
        return self._pruned[key], kept

    def step(self, fusion: str = "kernels", finite_math: bool = True) -> Any:
        """The body compiled by the same lowering (the enclosing function's options), called once per step."""
        if self._step is None:
            self._step = {}
        key = (fusion, finite_math)
        if key not in self._step:
            from rewritediff.compiled import function

            outs = list(self.outputs) + ([self.cond] if self.cond is not None else [])
            again = self.simplified is None or (self.simplified and not finite_math)  # not already simplified with these rules
            self._step[key] = function(list(self.inputs), outs, on_unused_input="ignore", fusion=fusion, finite_math=finite_math, simplify=again)
        return self._step[key]

    def __repr__(self) -> str:
        return f"<scan body {self.name or ''}#{self.serial}>".replace(" #", "#")


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


def _impl(*arrays: Any, body: ScanBody, out: int) -> np.ndarray:
    return run(body, list(arrays))[out]


def _pullback(nodes: list[Term], cotangents: list[Any], wanted: list[bool]) -> list[Any]:
    from rewritediff.scan_derivatives import scan_pullback

    return scan_pullback(nodes, cotangents, wanted)


def _pushforward(node: Term, tangents: list[Any], memo: dict) -> Any:
    from rewritediff.scan_derivatives import scan_pushforward

    return scan_pushforward(node, tangents, memo)


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
        pullback=_pullback,
        pushforward=_pushforward,
    )
)
