"""The body of a ``scan`` loop (:class:`ScanBody`): its placeholders, its results and how the loop
feeds them (the layout of the arguments and results is in ``ops/scan.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from rewritediff.terms import Term, toposort

# The lowering's compiler of a step (``compiled.function``), set by ``compiled.py`` when it loads
compile_function: Callable[..., Any] | None = None

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
            outs = list(self.outputs) + ([self.cond] if self.cond is not None else [])
            again = self.simplified is None or (self.simplified and not finite_math)  # not already simplified with these rules
            self._step[key] = compile_function(list(self.inputs), outs, on_unused_input="ignore", fusion=fusion, finite_math=finite_math, simplify=again)
        return self._step[key]

    def __repr__(self) -> str:
        return f"<scan body {self.name or ''}#{self.serial}>".replace(" #", "#")
