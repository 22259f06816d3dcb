"""rewritediff's JAX backend against ``jax.jit(jax.grad(f))``, interleaved: ``python -m benchmarks.jax_ab [--size all]``.

On a shared machine the load drifts between the moments two backends are timed one after the
other; here both compiled programs of a case are timed in alternating rounds (``--rounds``),
each round the median of a short burst (one call when a call takes over ``slow_call_s``), and the
best round of each is kept. W9 D=1000 and D=10000 are left out unless asked for: ``--depths
300,1000`` adds W9 at those depths (JAX's own gradient takes minutes per call at D=1000 on
XLA:CPU, so ``--rounds 2`` there).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks.cases import Case, cases_for, jax_w9, rd_w9, select
from benchmarks.hand import depth_grad
from benchmarks.harness import ALL_BACKENDS, Options, first_line, time_calls
from benchmarks.run import THREAD_VARS

DEFAULT_ONLY = "W1,W2,W3,W4,W5,W6,W7,W8,W9-D10,W9-D100"


def deep_cases(like: Case, depths: list[int]) -> list[Case]:
    """W9 at other depths, from the W9 case ``like`` (same data, n and references)."""
    return [
        dataclasses.replace(
            like,
            id=f"W9-D{d}",
            title=f"depth scaling D={d}",
            hand=lambda x0, d=d: depth_grad(x0, d),
            rd_graph=lambda rd, v, d=d: rd_w9(rd, v, d),
            pt_graph=None,
            jax_fn=lambda _m, d=d: jax_w9(d),
            params={**like.params, "D": d},
        )
        for d in depths
    ]


def sample(call: Callable[[], Any], opts: Options, slow: bool) -> float:
    """One round's time of ``call``: the median of a burst, or a single call when ``slow``."""
    if not slow:
        return time_calls(call, opts)[0]
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Print a Markdown table of interleaved eval times and their ratio."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.jax_ab", description=__doc__)
    p.add_argument("--size", choices=("small", "large", "all"), default="all")
    p.add_argument("--only", default=DEFAULT_ONLY)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--depths", default="", help="W9 at these depths as well (comma separated, e.g. 300,1000)")
    a = p.parse_args(argv)
    if argv is None and os.environ.get("BENCHMARKS_THREADS") != "1":
        # one thread for BLAS and XLA, as benchmarks.run (the pools are sized when the libraries load)
        env = dict(os.environ, BENCHMARKS_THREADS="1", **{v: "1" for v in THREAD_VARS})
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks.jax_ab", *sys.argv[1:]], env)
    sizes = ["small", "large"] if a.size == "all" else [a.size]
    cases = []
    for i, size in enumerate(sizes):
        cases += cases_for(size, include_fixed=(i == 0))
    depths = [int(d) for d in a.depths.split(",") if d.strip()]
    cases += deep_cases(next(c for c in cases if c.workload == "W9"), depths)
    cases = select(cases, ",".join([a.only, *(f"W9-D{d}" for d in depths)]))
    ours, theirs = ALL_BACKENDS["rewritediff-jax"], ALL_BACKENDS["jax"]
    ours.warm_up()
    theirs.warm_up()
    opts = Options(repeat=5, budget_s=0.2)
    print("| case | size | rewritediff-jax ms | jax.jit(jax.grad) ms | ratio |")
    print("|---|---|---|---|---|")
    for case in cases:
        args = case.data()
        try:
            calls = [ours.build(case, args, opts).call, theirs.build(case, args, opts).call]
        except Exception as exc:  # noqa: BLE001 - reported in the table
            print(f"| {case.id} | {case.size} | error: {first_line(exc)} | | |")
            continue
        slow = []
        for call in calls:
            t0 = time.perf_counter()
            call()
            slow.append(time.perf_counter() - t0 > opts.slow_call_s)
        best = [float("inf"), float("inf")]
        for _ in range(a.rounds):
            for k, call in enumerate(calls):
                best[k] = min(best[k], sample(call, opts, slow[k]))
        print(f"| {case.id} | {case.size} | {best[0] * 1e3:.4g} | {best[1] * 1e3:.4g} | {best[0] / best[1]:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
