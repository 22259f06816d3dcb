"""W1's gradient over a design matrix larger than the memory the process may use: ``python -m benchmarks.dask_memory``.

The matrix X (``--rows`` x ``--cols`` float64, 4 GB by default) is written to a ``.npy`` file
block by block, then each measurement runs in a fresh process (so its peak RSS is its own):

* ``dask``: ``rd.function(..., backend="dask")`` over X read from the file one block of
  ``--chunk`` rows per task (each task maps the file, copies its rows and unmaps it), on Dask's
  threaded scheduler;
* ``numpy``: the numpy backend on X loaded whole (only where it fits: the comparison on data
  that fits), and on the first ``--fit-rows`` rows for both backends.

Peak RSS is ``getrusage(RUSAGE_SELF).ru_maxrss`` of the measuring process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def write_matrix(path: Path, rows: int, cols: int, block: int) -> None:
    """X as a .npy file, written block by block (the writer never holds more than one block)."""
    header = {"descr": "<f8", "fortran_order": False, "shape": (rows, cols)}
    rng = np.random.default_rng(20240601)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        for start in range(0, rows, block):
            f.write(rng.standard_normal((min(block, rows - start), cols)).tobytes())


def _labels_and_weights(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return np.where(rng.random(rows) < 0.5, -1.0, 1.0), 0.1 * rng.standard_normal(cols)


def _read_rows(path: str, start: int, stop: int) -> np.ndarray:
    """Rows [start, stop) of the .npy file, copied out of a mapping that is closed again."""
    mm = np.load(path, mmap_mode="r")
    out = np.array(mm[start:stop])
    del mm
    return out


def measure(mode: str, path: str, rows: int, chunk: int) -> dict:
    """One measurement in this process: seconds and peak RSS."""
    import rewritediff as rd
    from benchmarks import cases

    cols = int(np.load(path, mmap_mode="r").shape[1])
    y, w = _labels_and_weights(rows, cols)
    inputs, outputs = cases.rd_w1(rd, None)
    t0 = time.perf_counter()
    if mode == "dask":
        import dask
        import dask.array as da

        blocks = [
            da.from_delayed(dask.delayed(_read_rows)(path, s, min(s + chunk, rows)), shape=(min(s + chunk, rows) - s, cols), dtype=np.float64)
            for s in range(0, rows, chunk)
        ]
        X = da.concatenate(blocks, axis=0)
        f = rd.function(inputs, outputs, backend="dask", chunks=chunk, compute=True)
        (g,) = f(X, y, w)
    else:
        X = _read_rows(path, 0, rows)
        f = rd.function(inputs, outputs)
        t1 = time.perf_counter()
        (g,) = f(X, y, w)
        load_s = t1 - t0
        t0 = t1
    seconds = time.perf_counter() - t0
    out = {
        "mode": mode,
        "rows": rows,
        "cols": cols,
        "gb": rows * cols * 8 / 1e9,
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if mode == "numpy":
        out["load_s"] = load_s
    out["grad_norm"] = float(np.linalg.norm(g))
    return out


def main(argv: list[str] | None = None) -> int:
    """Write the file once, run each measurement in its own process, print a Markdown table."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.dask_memory", description=__doc__)
    p.add_argument("--rows", type=int, default=5_000_000)
    p.add_argument("--cols", type=int, default=100)
    p.add_argument("--chunk", type=int, default=100_000, help="rows per Dask block (default 100000: 80 MB)")
    p.add_argument("--fit-rows", type=int, default=1_000_000, help="rows of the comparison on data that fits (default 1000000)")
    p.add_argument("--path", default="/tmp/rewritediff-w1-X.npy")
    p.add_argument("--numpy-whole", action="store_true", help="also run the numpy backend on the whole file loaded in memory")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: mode,rows
    a = p.parse_args(argv)
    if a.one:
        mode, rows = a.one.split(",")
        print(json.dumps(measure(mode, a.path, int(rows), a.chunk)))
        return 0
    path = Path(a.path)
    if not path.exists() or np.load(path, mmap_mode="r").shape != (a.rows, a.cols):
        t0 = time.perf_counter()
        write_matrix(path, a.rows, a.cols, a.chunk)
        print(f"wrote {path} ({a.rows * a.cols * 8 / 1e9:.1f} GB) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    runs = [("dask", a.rows), ("dask", a.fit_rows), ("numpy", a.fit_rows)] + ([("numpy", a.rows)] if a.numpy_whole else [])
    results = []
    for mode, rows in runs:
        cmd = [sys.executable, "-m", "benchmarks.dask_memory", "--path", str(path), "--chunk", str(a.chunk), "--one", f"{mode},{rows}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), cwd=Path(__file__).resolve().parents[1])
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print("| backend | X rows x cols | X GB | gradient s | + load s | peak RSS MB | norm of the gradient |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        load = f"{r['load_s']:.2f}" if "load_s" in r else "(in the gradient: read per block)"
        print(f"| {r['mode']} | {r['rows']} x {r['cols']} | {r['gb']:.2f} | {r['seconds']:.2f} | {load} | {r['peak_rss_mb']:.0f} | {r['grad_norm']:.12g} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
