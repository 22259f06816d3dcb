"""rewritediff's JAX backend against ``jax.jit(jax.grad(f))``, interleaved: ``python -m benchmarks.jax_ab [--size all]``.

On a shared machine the load drifts between the moments two backends are timed one after the
other; here both compiled programs of a case are timed in alternating rounds (``--rounds``),
each round the median of a short burst, and the best round of each is kept. W9 D=1000 and
D=10000 are left out (minutes per call or per compile on XLA; see ``benchmarks.run --backend jax``).
"""

from __future__ import annotations

import argparse
import os
import sys

from benchmarks.cases import cases_for, select
from benchmarks.harness import ALL_BACKENDS, Options, first_line, time_calls
from benchmarks.run import THREAD_VARS

DEFAULT_ONLY = "W1,W2,W3,W4,W5,W6,W7,W8,W9-D10,W9-D100"


def main(argv: list[str] | None = None) -> int:
    """Print a Markdown table of interleaved eval times and their ratio."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.jax_ab", description=__doc__)
    p.add_argument("--size", choices=("small", "large", "all"), default="all")
    p.add_argument("--only", default=DEFAULT_ONLY)
    p.add_argument("--rounds", type=int, default=5)
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
    cases = select(cases, a.only)
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
        for call in calls:
            call()
        best = [float("inf"), float("inf")]
        for _ in range(a.rounds):
            for k, call in enumerate(calls):
                best[k] = min(best[k], time_calls(call, opts)[0])
        print(f"| {case.id} | {case.size} | {best[0] * 1e3:.4g} | {best[1] * 1e3:.4g} | {best[0] / best[1]:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
