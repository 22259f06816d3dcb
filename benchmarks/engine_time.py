"""Engine and compile time of the workloads: ``python -m benchmarks.engine_time [--only W5,W6] [--runs N] [--static] [--bytecodes]``.

For each case (first graph variant, small size, undeclared shapes unless ``--static``), the
median over ``--runs`` fresh builds of: the engine alone (``rd.simplify`` on the gradient), and
build+compile (graph, gradient, simplification, lowering: ``rd.function``), in wall-clock and
process CPU milliseconds. CPU time is the steadier figure on a shared machine; ``--bytecodes``
adds a column the load does not move: the Python bytecode instructions one ``rd.simplify`` of
the case executes (after a warm-up run; C-level work such as numpy, dict and sort operations is
not in it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import numpy as np

from benchmarks.cases import StaticShapes, cases_for, select


def _timed(fn: Any) -> tuple[float, float, Any]:
    """(wall s, CPU s, result) of one call."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def count_bytecodes(fn: Any) -> int:
    """Python bytecode instructions executed by ``fn()`` (``sys.settrace`` opcode events): a measure of work that load does not move."""
    n = 0

    def trace(frame: Any, event: str, arg: Any) -> Any:
        nonlocal n
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        if event == "opcode":
            n += 1
        return trace

    old = sys.gettrace()
    sys.settrace(trace)
    try:
        fn()
    finally:
        sys.settrace(old)
    return n


def main(argv: list[str] | None = None) -> int:
    """Print one row per case: engine and build+compile medians."""
    import rewritediff as rd

    p = argparse.ArgumentParser(prog="python -m benchmarks.engine_time", description=__doc__)
    p.add_argument("--only", default="W1,W2,W3,W4,W5,W6,W7,W8", help="workloads or case ids (default W1-W8)")
    p.add_argument("--runs", type=int, default=9, help="fresh builds per case (default 9)")
    p.add_argument("--static", action="store_true", help="declare every input's shape from the case's data")
    p.add_argument("--naive-hessian", action="store_true", help="add the Hessian of the cross-entropy written naively (log p, log(1 - p))")
    p.add_argument("--bytecodes", action="store_true", help="add the millions of Python bytecodes one engine run executes (slow: traced)")
    a = p.parse_args(argv)
    cases = [c for c in select(cases_for("small"), a.only) if c.rd_graph is not None and not c.compile_only]
    if cases:  # the rule set is loaded and compiled on first use: not part of any case's time
        rd.simplify(list(cases[0].rd_graph(rd, cases[0].rd_variants[0])[1]))
    extra = " engine bytecodes (M) |" if a.bytecodes else ""
    print("| case | engine ms (wall) | engine ms (CPU) | build+compile ms (wall) | build+compile ms (CPU) |" + extra)
    print("|---|---|---|---|---|" + ("---|" if a.bytecodes else ""))
    for case in cases:
        variant = case.rd_variants[0]
        module: Any = rd
        if a.static:
            inputs, _ = case.rd_graph(rd, variant)
            module = StaticShapes(rd, {v.name: np.shape(x) for v, x in zip(inputs, case.data())})
        engine: list[tuple[float, float]] = []
        build: list[tuple[float, float]] = []
        for _ in range(max(1, a.runs)):
            _, outs = case.rd_graph(module, variant)
            w, c, _ = _timed(lambda outs=outs: rd.simplify(list(outs)))
            engine.append((w, c))
            w, c, _ = _timed(lambda: rd.function(*case.rd_graph(module, variant)))
            build.append((w, c))
        med = [1e3 * statistics.median(x[i] for x in rows) for rows in (engine, build) for i in (0, 1)]
        cell = ""
        if a.bytecodes:
            _, outs = case.rd_graph(module, variant)
            cell = f" {count_bytecodes(lambda outs=outs: rd.simplify(list(outs))) / 1e6:.3f} |"
        print(f"| {case.id} | {med[0]:.1f} | {med[1]:.1f} | {med[2]:.1f} | {med[3]:.1f} |" + cell)
    if a.naive_hessian:
        engine, build = [], []
        for _ in range(max(1, a.runs)):
            inputs, outs = naive_logistic_hessian(rd)
            w, c, _ = _timed(lambda outs=outs: rd.simplify(list(outs)))
            engine.append((w, c))
            inputs, outs = naive_logistic_hessian(rd)
            w, c, _ = _timed(lambda inputs=inputs, outs=outs: rd.function(inputs, outs))
            build.append((w, c))
        med = [1e3 * statistics.median(x[i] for x in rows) for rows in (engine, build) for i in (0, 1)]
        cell = ""
        if a.bytecodes:
            _, outs = naive_logistic_hessian(rd)
            cell = f" {count_bytecodes(lambda outs=outs: rd.simplify(list(outs))) / 1e6:.3f} |"
        print(f"| naive Hessian | {med[0]:.1f} | {med[1]:.1f} | {med[2]:.1f} | {med[3]:.1f} |" + cell)
    return 0


def naive_logistic_hessian(rd: Any) -> tuple[list, list]:
    """The Hessian of the logistic cross-entropy as a user first writes it: log p and log(1 - p) of p = sigmoid(X @ w)."""
    X, y, w = rd.matrix("X"), rd.vector("y"), rd.vector("w")
    p = rd.sigmoid(X @ w)
    loss = -(y * rd.log(p) + (1.0 - y) * rd.log(1.0 - p)).mean()
    return [X, y, w], [rd.hessian(loss, w)]


if __name__ == "__main__":
    raise SystemExit(main())
