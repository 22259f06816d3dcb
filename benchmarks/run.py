"""Run the benchmark workloads: ``python -m benchmarks.run [--size small|large|all] [--only W1,W3] [--backend numpy|jax] [--repeat N] [--json PATH]``."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.cases import cases_for, select
from benchmarks.harness import ALL_BACKENDS, TARGETS, Options, format_table, run_cases

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def _reexec_with_threads(threads: int) -> None:
    """Restart this command with the BLAS/OpenMP/numexpr thread pools capped (they are sized when numpy loads)."""
    env = dict(os.environ, BENCHMARKS_THREADS=str(threads), **{v: str(threads) for v in THREAD_VARS})
    if threads == 1:
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
    os.execve(sys.executable, [sys.executable, "-m", "benchmarks.run", *sys.argv[1:]], env)


def _version(module: str) -> str | None:
    """The module's version if it imports, else None."""
    try:
        mod = __import__(module)
    except Exception:  # noqa: BLE001
        return None
    return getattr(mod, "__version__", "?")


def machine_info() -> dict[str, Any]:
    """Where and with what the numbers were taken."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001
        commit = ""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "rewritediff_commit": commit,
        "pytensor": _version("pytensor"),
        "jax": _version("jax"),
        "threads": {v: os.environ.get(v) for v in THREAD_VARS},
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    p.add_argument("--size", choices=("small", "large", "all"), default="small", help="workload sizes (default small)")
    p.add_argument("--only", default=None, help="comma-separated workloads or case ids, e.g. W1,W3 or W9-D100")
    p.add_argument("--repeat", type=int, default=7, help="minimum timed calls per measurement (default 7)")
    p.add_argument("--budget", type=float, default=0.3, help="keep timing while within this many seconds (default 0.3)")
    p.add_argument("--backends", default=None, help=f"comma-separated subset of {','.join(ALL_BACKENDS)} (default: those of --backend)")
    p.add_argument(
        "--backend",
        choices=sorted(TARGETS),
        default="numpy",
        help="numpy (default): rewritediff's numpy lowering against numpy-hand, PyTensor and JAX; "
        "jax: W1-W9 with rd.function(backend='jax') against numpy-hand, the numpy lowering and jax.jit(jax.grad(f))",
    )
    p.add_argument("--timeout", type=float, default=300.0, help="cap per build in seconds (default 300)")
    p.add_argument("--deep-cap", type=float, default=60.0, help="cap for the compile-only D=10000 depth case (default 60)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="restart with the BLAS/OpenMP/numexpr/XLA thread pools capped at N (default 1: steady numbers on a shared machine; 0 keeps the libraries' defaults)",
    )
    p.add_argument("--slow-call", type=float, default=2.0, help="a first call slower than this many seconds is the only eval sample (default 2)")
    p.add_argument("--json", default=None, help="write the raw numbers to this path")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the selected cases and print the Markdown table."""
    a = parse_args(argv)
    if a.threads and argv is None and os.environ.get("BENCHMARKS_THREADS") != str(a.threads):
        _reexec_with_threads(a.threads)
    backends = [b.strip() for b in a.backends.split(",") if b.strip()] if a.backends else list(TARGETS[a.backend])
    unknown = [b for b in backends if b not in ALL_BACKENDS]
    if unknown:
        print(f"unknown backend(s) {unknown}; choose from {list(ALL_BACKENDS)}", file=sys.stderr)
        return 2
    if "numpy-hand" not in backends:
        backends.insert(0, "numpy-hand")
    backends.sort(key=list(ALL_BACKENDS).index)
    if a.backend != "numpy" and not a.only:
        a.only = ",".join(f"W{i}" for i in range(1, 10))
    sizes = ["small", "large"] if a.size == "all" else [a.size]
    cases = []
    for i, size in enumerate(sizes):
        cases += cases_for(size, include_fixed=(i == 0))
    cases = select(cases, a.only)
    if not cases:
        print(f"no case matches --only {a.only!r}", file=sys.stderr)
        return 2
    opts = Options(repeat=max(1, a.repeat), budget_s=a.budget, timeout_s=a.timeout, deep_cap_s=a.deep_cap, slow_call_s=a.slow_call)

    def log(msg: str) -> None:
        if not a.quiet:
            print(msg, file=sys.stderr, flush=True)

    rows, notes = run_cases(cases, backends, opts, log)
    info = machine_info()
    threads = os.environ.get("BENCHMARKS_THREADS", "library default")
    print(
        f"machine: {info['cpu']}, {info['cores']} cores, threads {threads}; Python {info['python']}, numpy {info['numpy']}; rewritediff {info['rewritediff_commit']}"
    )
    for name, why in notes["skipped"].items():
        print(f"skipped {name}: {why}")
    warm = ", ".join(f"{k} {v:.2f} s" for k, v in notes["warm_up_s"].items() if v is not None)
    if warm:
        print(f"one-time warm-up (not in build times): {warm}")
    print()
    print(format_table(rows))
    if a.json:
        payload = {
            "meta": {**info, **notes, "argv": sys.argv[1:] if argv is None else argv, "options": dataclasses.asdict(opts)},
            "rows": [dataclasses.asdict(r) for r in rows],
        }
        Path(a.json).write_text(json.dumps(payload, indent=1, default=str))
        log(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
