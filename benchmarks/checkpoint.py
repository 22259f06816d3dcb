"""Memory against time for ``rd.scan(..., checkpoint=k)``: W11's gradient over a long sequence.

``python -m benchmarks.checkpoint [--T 10000] [--k 1,10,100] [--repeat 3]``

For each k: the compiled gradient's peak memory during one call (tracemalloc, net of what
existed before), the fastest and median of ``--repeat`` calls made in interleaved rounds
(tracemalloc off), the time against k = 1 (every state stored) in the same run, and the largest
difference from k = 1's gradients.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from benchmarks.cases import W11, rnn_data
from benchmarks.harness import peak_memory
from benchmarks.run import THREAD_VARS


def build(rd: object, k: int) -> object:
    """W11's gradient (loss on the last state, grads w.r.t. W, U, b) with one state in k kept for the reverse pass."""
    X, h0, W, U, b = rd.tensor3("X"), rd.matrix("h0"), rd.matrix("W"), rd.matrix("U"), rd.vector("b")
    hs = rd.scan(lambda x, h: rd.tanh(h @ W + x @ U + b), sequences=X, outputs_info=h0, return_updates=False, checkpoint=None if k == 1 else k)
    return rd.function([X, h0, W, U, b], rd.grad(0.5 * rd.sum(hs[-1] ** 2), [W, U, b]))


def main(argv: list[str] | None = None) -> int:
    """Print one Markdown row per k."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.checkpoint", description=__doc__)
    p.add_argument("--T", type=int, default=10_000, help="sequence length (default 10000)")
    p.add_argument("--k", default="1,10,100", help="comma-separated checkpoint intervals (default 1,10,100); the first is the reference")
    p.add_argument("--repeat", type=int, default=3, help="timed calls per k (default 3)")
    a = p.parse_args(argv)
    if argv is None and os.environ.get("BENCHMARKS_THREADS") != "1":  # single-threaded BLAS, as benchmarks.run
        env = dict(os.environ, BENCHMARKS_THREADS="1", **{v: "1" for v in THREAD_VARS})
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks.checkpoint", *sys.argv[1:]], env)
    import rewritediff as rd

    vals = rnn_data(**{**W11, "T": a.T})
    ks = [int(k) for k in a.k.split(",")]
    print(
        f"W11 gradient, T={a.T}, batch {W11['batch']}, hidden {W11['hidden']}, inputs {W11['inputs']}; states stored by k=1: {(a.T + 1) * W11['batch'] * W11['hidden'] * 8 / 2**20:.0f} MB"
    )
    print()
    print("| checkpoint k | peak MB | eval s (fastest) | eval s (median) | × k=1 time (fastest) | max abs diff from k=1 |")
    print("|---|---|---|---|---|---|")
    fns, outs, peaks = {}, {}, {}
    for k in ks:
        fns[k] = build(rd, k)
        outs[k] = fns[k](*vals)  # warm-up
        peaks[k] = peak_memory(lambda f=fns[k]: f(*vals))
    times: dict[int, list[float]] = {k: [] for k in ks}
    for _ in range(a.repeat):  # interleaved rounds: a busy machine slows every k alike
        for k in ks:
            t0 = time.perf_counter()
            fns[k](*vals)
            times[k].append(time.perf_counter() - t0)
    base = min(times[ks[0]])
    for k in ks:
        diff = max(float(np.max(np.abs(g - r))) for g, r in zip(outs[k], outs[ks[0]]))
        t = min(times[k])
        print(f"| {k} | {peaks[k] / 2**20:.1f} | {t:.2f} | {float(np.median(times[k])):.2f} | {t / base:.2f} | {diff:.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
