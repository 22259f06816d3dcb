"""Measurement: build each case per backend, time it, measure its memory and accuracy, and report a row (or an error row)."""

from __future__ import annotations

import gc
import math
import signal
import statistics
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.cases import Case

BACKENDS = ("numpy-hand", "rewritediff", "rewritediff-static", "pytensor", "jax")


class VariantsFailed(Exception):
    """Every graph variant of a case failed to build; the message lists each variant's error."""


class BuildTimeout(BaseException):
    """Raised by the alarm when a build exceeds its time cap (a BaseException so library code does not swallow it)."""


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`BuildTimeout` in the main thread after ``seconds`` (no limit when None or <= 0)."""
    if not seconds or seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise BuildTimeout(f"exceeded the {seconds:g} s cap")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextmanager
def quiet() -> Iterator[None]:
    """Silence numpy floating-point warnings (W10 overflows on purpose)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def first_line(exc: BaseException) -> str:
    """``Type: first line of the message`` of an exception."""
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0] if msg else ''}".rstrip(": ")


@dataclass
class Built:
    """A compiled case: ``call()`` evaluates once (synchronously); ``to_numpy`` converts its result to a list of arrays."""

    call: Callable[[], Any]
    build_s: float | None
    op_count: Callable[[], int | None] = lambda: None
    to_numpy: Callable[[Any], list[np.ndarray]] = lambda out: [np.asarray(o) for o in out]
    note: str = ""
    tracks_memory: bool = True
    lazy: bool = False  # compiles on its first call, so that call is not an evaluation sample
    retained_bytes: Callable[[], int] = lambda: 0  # memory the compiled function keeps between calls


@dataclass
class Row:
    """One line of the report."""

    case: str
    workload: str
    size: str
    backend: str
    title: str
    status: str = "ok"
    error: str | None = None
    build_s: float | None = None
    first_call_s: float | None = None
    eval_s: float | None = None
    eval_n: int | None = None
    ratio: float | None = None
    peak_bytes: int | None = None
    ops: int | None = None
    raw_ops: int | None = None
    engine_s: float | None = None
    rel_err: float | None = None
    finite: bool | None = None
    note: str = ""
    params: dict = field(default_factory=dict)


@dataclass
class Options:
    """Measurement knobs."""

    repeat: int = 7
    budget_s: float = 0.3
    max_calls: int = 5000
    timeout_s: float = 300.0
    deep_cap_s: float = 60.0
    slow_call_s: float = 2.0


# ---- backends -------------------------------------------------------------------------------------------------
class Backend:
    """A way to compile and run a case."""

    name = ""

    def available(self) -> tuple[bool, str]:
        """Whether the backend can run here, and why not."""
        return True, ""

    def supports(self, case: Case) -> bool:
        """Whether the case defines a graph for this backend."""
        return not case.compile_only

    def warm_up(self) -> float:
        """One-time start-up work (imports, rule loading, caches), timed and kept out of the per-case build times."""
        return 0.0

    def build(self, case: Case, args: list[np.ndarray], opts: Options) -> Built:
        """Compile the case (raises on failure)."""
        raise NotImplementedError


class NumpyHand(Backend):
    """The hand-written closed forms."""

    name = "numpy-hand"

    def supports(self, case: Case) -> bool:
        """Every case with a reference."""
        return case.hand is not None and not case.compile_only

    def build(self, case: Case, args: list[np.ndarray], opts: Options) -> Built:
        """Nothing to compile."""
        fn = case.hand
        return Built(call=lambda: fn(*args), build_s=None)


def rd_op_count(rd: Any, outs: list) -> tuple[int, int, float]:
    """(raw op count, simplified op count, engine seconds) of the gradient outputs (distinct non-leaf nodes)."""
    raw = int(rd.count_ops(list(outs)))
    t0 = time.perf_counter()
    simplified = list(rd.simplify(list(outs)))
    return raw, int(rd.count_ops(simplified)), time.perf_counter() - t0


class Rewritediff(Backend):
    """rewritediff: graph, gradient, simplification and lowering to a numpy closure."""

    name = "rewritediff"

    def supports(self, case: Case) -> bool:
        """Cases with a rewritediff graph."""
        return case.rd_graph is not None

    def warm_up(self) -> float:
        """Import the package and load the rule files once."""
        t0 = time.perf_counter()
        import rewritediff as rd

        x = rd.vector("warm")
        rd.function([x], rd.grad(rd.sum(rd.exp(x) * x), x))
        return time.perf_counter() - t0

    def build(self, case: Case, args: list[np.ndarray], opts: Options) -> Built:
        """Try each graph variant in order; the first that compiles is measured."""
        import rewritediff as rd

        errors: list[str] = []
        cap = opts.deep_cap_s if case.compile_only else opts.timeout_s
        for variant in case.rd_variants:
            try:
                with time_limit(cap):
                    t0 = time.perf_counter()
                    inputs, outs = case.rd_graph(self.module(rd, case, variant, args), variant)
                    f = rd.function(inputs, outs, **self.function_options)
                    build_s = time.perf_counter() - t0
                    call, compile_s = self.prepare(f, args)
                    build_s += compile_s
            except Exception as exc:  # noqa: BLE001 - reported as an error row
                if len(case.rd_variants) == 1:
                    raise
                errors.append(f"[{variant}] {first_line(exc)}")
                continue

            def ops(outs: list = outs) -> tuple[int, int, float]:
                with time_limit(cap):
                    return rd_op_count(rd, outs)

            note = f"variant {variant}" if variant and len(case.rd_variants) > 1 else ""
            if errors:
                note += " (earlier variants failed: " + "; ".join(errors) + ")"
            if compile_s:
                note = f"{note}; of which XLA compile {compile_s:.3f} s; peak n/a: XLA memory"
            return Built(
                call=call,
                build_s=build_s,
                op_count=ops,
                note=note.strip("; "),
                retained_bytes=lambda: f.retained_bytes,
                tracks_memory=self.tracks_memory,
            )
        raise VariantsFailed(" | ".join(errors))

    function_options: dict = {}  # noqa: RUF012 - read only
    tracks_memory = True

    def module(self, rd: Any, case: Case, variant: str | None, args: list[np.ndarray]) -> Any:
        """What the case's graph builder gets as ``rd``: the package itself (shapes undeclared, as users write them)."""
        return rd

    def prepare(self, f: Any, args: list[np.ndarray]) -> tuple[Callable[[], Any], float]:
        """The call to time, and seconds spent compiling it further (the numpy function is ready as built)."""
        return (lambda: f(*args)), 0.0


class RewritediffStatic(Rewritediff):
    """The same graphs with every input's shape declared from the data (``rd.matrix("X", shape=(n, d))``)."""

    name = "rewritediff-static"

    def module(self, rd: Any, case: Case, variant: str | None, args: list[np.ndarray]) -> Any:
        """The package behind a proxy that declares each variable's shape from the case's data."""
        from benchmarks.cases import StaticShapes

        inputs, _ = case.rd_graph(rd, variant)  # only to learn the inputs' names, in data order
        return StaticShapes(rd, {v.name: np.shape(a) for v, a in zip(inputs, args)})


class RewritediffJax(Rewritediff):
    """rewritediff's simplified gradient lowered to jax.numpy and compiled by XLA (``backend="jax"``)."""

    name = "rewritediff-jax"
    function_options = {"backend": "jax"}  # noqa: RUF012 - read only
    tracks_memory = False

    def available(self) -> tuple[bool, str]:
        """Importable?"""
        return Jax().available()

    def warm_up(self) -> float:
        """Rewritediff's warm-up plus JAX's (imports, one trivial jit)."""
        return super().warm_up() + Jax().warm_up()

    def prepare(self, f: Any, args: list[np.ndarray]) -> tuple[Callable[[], Any], float]:
        """Compile ahead of time for these arguments (XLA's compile time, in the build time and its note, not in the eval time)."""
        import jax
        import jax.numpy as jnp

        with jax.enable_x64(True):
            jargs = [jnp.asarray(a, dtype=v.dtype) for a, v in zip(args, f.inputs)]
            t0 = time.perf_counter()
            compiled = f.jitted.lower(*jargs).compile()
            compile_s = time.perf_counter() - t0
        return (lambda: jax.block_until_ready(compiled(*jargs))), compile_s


class PyTensor(Backend):
    """PyTensor in its default mode."""

    name = "pytensor"

    def available(self) -> tuple[bool, str]:
        """Importable?"""
        try:
            import pytensor  # noqa: F401
        except Exception as exc:  # noqa: BLE001
            return False, f"pytensor not importable ({first_line(exc)})"
        return True, ""

    def supports(self, case: Case) -> bool:
        """Cases with a PyTensor graph."""
        return case.pt_graph is not None and not case.compile_only

    def warm_up(self) -> float:
        """Import and compile a trivial function (loads the compilation machinery)."""
        t0 = time.perf_counter()
        import pytensor
        import pytensor.tensor as pt

        x = pt.dvector("warm")
        pytensor.function([x], pytensor.grad(pt.sum(pt.exp(x) * x), x))(np.ones(3))
        return time.perf_counter() - t0

    def build(self, case: Case, args: list[np.ndarray], opts: Options) -> Built:
        """pytensor.function over the case's graph."""
        import pytensor
        import pytensor.tensor as pt

        with time_limit(opts.timeout_s):
            t0 = time.perf_counter()
            inputs, outs = case.pt_graph(pt, None)
            f = pytensor.function(inputs, outs)
            build_s = time.perf_counter() - t0
        n_ops = len(f.maker.fgraph.apply_nodes)
        linker = type(getattr(f.maker, "linker", None)).__name__
        return Built(call=lambda: f(*args), build_s=build_s, op_count=lambda: n_ops, note=f"{linker}: compiles on 1st call", lazy=True)


def count_jaxpr_eqns(jaxpr: Any) -> int:
    """Equations of a jaxpr, counting the bodies of nested calls (pjit, custom_jvp, ...) instead of the call itself."""
    total = 0
    for eqn in jaxpr.eqns:
        subs = []
        for value in eqn.params.values():
            for v in value if isinstance(value, list | tuple) else (value,):
                if hasattr(v, "eqns"):
                    subs.append(v)
                elif hasattr(v, "jaxpr") and hasattr(v.jaxpr, "eqns"):
                    subs.append(v.jaxpr)
        total += sum(count_jaxpr_eqns(s) for s in subs) if subs else 1
    return total


class Jax(Backend):
    """JAX on CPU, float64, ahead-of-time compiled with jit."""

    name = "jax"

    def available(self) -> tuple[bool, str]:
        """Importable?"""
        try:
            import jax  # noqa: F401
        except Exception as exc:  # noqa: BLE001
            return False, f"jax not importable ({first_line(exc)})"
        return True, ""

    def supports(self, case: Case) -> bool:
        """Cases with a JAX function."""
        return case.jax_fn is not None and not case.compile_only

    def warm_up(self) -> float:
        """Import, enable float64 and compile a trivial function."""
        t0 = time.perf_counter()
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        jax.jit(jax.grad(lambda x: jnp.sum(jnp.exp(x) * x)))(jnp.ones(3)).block_until_ready()
        return time.perf_counter() - t0

    def build(self, case: Case, args: list[np.ndarray], opts: Options) -> Built:
        """jit(...).lower(...).compile() of the case's function."""
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        jargs = [jnp.asarray(a) for a in args]
        with time_limit(opts.timeout_s):
            t0 = time.perf_counter()
            fn = case.jax_fn(jax)
            compiled = jax.jit(fn).lower(*jargs).compile()
            build_s = time.perf_counter() - t0

        def ops() -> int:
            with time_limit(opts.timeout_s):
                return count_jaxpr_eqns(jax.make_jaxpr(fn)(*jargs).jaxpr)

        return Built(
            call=lambda: jax.block_until_ready(compiled(*jargs)),
            build_s=build_s,
            op_count=ops,
            tracks_memory=False,
            note="peak n/a: XLA memory",
        )


ALL_BACKENDS: dict[str, Backend] = {b.name: b for b in (NumpyHand(), Rewritediff(), RewritediffStatic(), RewritediffJax(), PyTensor(), Jax())}
# --backend TARGET: the backends measured, and the workloads (W1-W9) when --only is not given
TARGETS: dict[str, tuple[str, ...]] = {"numpy": BACKENDS, "jax": ("numpy-hand", "rewritediff", "rewritediff-jax", "jax")}


# ---- measurement ----------------------------------------------------------------------------------------------
def time_calls(call: Callable[[], Any], opts: Options) -> tuple[float, int]:
    """Median wall time of ``call`` over at least ``opts.repeat`` calls, more while within the time budget."""
    times: list[float] = []
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        while len(times) < opts.repeat or (time.perf_counter() - start < opts.budget_s and len(times) < opts.max_calls):
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
    finally:
        if enabled:
            gc.enable()
    return statistics.median(times), len(times)


def peak_memory(call: Callable[[], Any]) -> int:
    """Peak bytes allocated (and traced by tracemalloc) during one call, net of what existed before."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        out = call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del out
    return peak


def rel_error(got: Sequence[np.ndarray], ref: Sequence[np.ndarray]) -> float:
    """max over outputs of max|got - ref| / max|ref| (inf on non-finite or mismatched shapes)."""
    if len(got) != len(ref):
        return math.inf
    worst = 0.0
    for a, b in zip(got, ref):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            return math.inf
        if not np.all(np.isfinite(a)):
            return math.inf
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        diff = float(np.max(np.abs(a - b))) if a.size else 0.0
        worst = max(worst, diff / scale if scale > 0 else diff)
    return worst


def measure(case: Case, backend: Backend, args: list[np.ndarray], ref: list[np.ndarray] | None, opts: Options) -> tuple[Row, list[np.ndarray] | None]:
    """Build, run and measure one case on one backend; any failure becomes an error row."""
    row = Row(case.id, case.workload, case.size, backend.name, case.title, params=dict(case.params))
    try:
        built = backend.build(case, args, opts)
    except BuildTimeout as exc:
        row.status, row.error = "timeout", f"build {exc}"
        return row, None
    except VariantsFailed as exc:
        row.status, row.error = "error", str(exc)
        return row, None
    except Exception as exc:  # noqa: BLE001 - the whole point: report, do not crash
        row.status, row.error = "error", first_line(exc)
        return row, None
    row.build_s, row.note = built.build_s, built.note
    try:
        counted = built.op_count()
        if isinstance(counted, tuple):
            row.raw_ops, row.ops, row.engine_s = counted
        else:
            row.ops = counted
    except BaseException as exc:  # noqa: BLE001 - op counting is auxiliary (BuildTimeout included)
        if isinstance(exc, KeyboardInterrupt):
            raise
        row.note = (row.note + f"; op count failed: {first_line(exc)}").lstrip("; ")
    if case.compile_only:
        return row, None
    outs: list[np.ndarray] | None = None
    try:
        with quiet():
            t0 = time.perf_counter()
            first = built.call()
            row.first_call_s = time.perf_counter() - t0
            outs = [np.array(o, dtype=np.float64) for o in built.to_numpy(first)]
            del first
            sample = row.first_call_s
            if built.lazy:
                t0 = time.perf_counter()
                built.call()
                sample = time.perf_counter() - t0
            if sample > opts.slow_call_s:
                # a call this slow is dominated by its own work: one (post-compile) call is the sample
                row.eval_s, row.eval_n = sample, 1
                row.note = (row.note + f"; one eval sample (a call takes > {opts.slow_call_s:g} s)").lstrip("; ")
            else:
                if not built.lazy:
                    built.call()  # warm-up
                row.eval_s, row.eval_n = time_calls(built.call, opts)
            if built.tracks_memory:
                # buffers a function keeps between calls are in use during the call but not traced
                row.peak_bytes = peak_memory(built.call) + built.retained_bytes()
    except Exception as exc:  # noqa: BLE001
        row.status, row.error = "error", "evaluation: " + first_line(exc)
        return row, outs
    row.finite = all(bool(np.all(np.isfinite(o))) for o in outs)
    if ref is not None:
        row.rel_err = rel_error(outs, ref)
    return row, outs


def run_cases(cases: Sequence[Case], backends: Sequence[str], opts: Options, log: Callable[[str], None] = lambda s: None) -> tuple[list[Row], dict[str, Any]]:
    """Measure every case on every requested backend; returns the rows and notes on the backends."""
    notes: dict[str, Any] = {"skipped": {}, "warm_up_s": {}}
    active: list[Backend] = []
    for name in backends:
        b = ALL_BACKENDS[name]
        ok, why = b.available()
        if not ok:
            notes["skipped"][name] = why
            log(f"skipping {name}: {why}")
            continue
        try:
            notes["warm_up_s"][name] = b.warm_up()
        except Exception as exc:  # noqa: BLE001 - a backend that cannot start still gets error rows per case
            notes["warm_up_s"][name] = None
            log(f"{name} warm-up failed: {first_line(exc)}")
        active.append(b)
    rows: list[Row] = []
    for case in cases:
        args = case.data()
        ref: list[np.ndarray] | None = None
        hand_row: Row | None = None
        for b in active:
            if not b.supports(case):
                continue
            log(f"{case.id} [{case.size}] {b.name} ...")
            row, outs = measure(case, b, args, ref, opts)
            if b.name == "numpy-hand":
                ref, hand_row = outs, row
                if outs is not None:
                    row.rel_err = 0.0
            if hand_row is not None and hand_row.eval_s and row.eval_s:
                row.ratio = row.eval_s / hand_row.eval_s
            log(f"    {row.status} {row.error or ''}".rstrip())
            rows.append(row)
        del args
        gc.collect()
    return rows, notes


# ---- report ------------------------------------------------------------------------------------------------------
def _num(v: float | None, fmt: str) -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return format(v, fmt)


def format_table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table."""
    head = [
        "case",
        "size",
        "backend",
        "status",
        "build+compile s",
        "first call ms",
        "eval ms (median)",
        "n",
        "× numpy-hand",
        "peak MB",
        "ops",
        "engine ms",
        "max rel err",
        "finite",
        "notes",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        notes = r.note
        if r.error:
            notes = (r.error + ("; " + r.note if r.note else "")).replace("|", "\\|")
        cells = [
            r.case,
            r.size,
            r.backend,
            r.status,
            _num(r.build_s, ".3f"),
            _num(None if r.first_call_s is None else 1e3 * r.first_call_s, ".3f"),
            _num(None if r.eval_s is None else 1e3 * r.eval_s, ".4g"),
            _num(r.eval_n, "d"),
            _num(r.ratio, ".2f"),
            _num(None if r.peak_bytes is None else r.peak_bytes / 2**20, ".2f"),
            _num(r.ops, "d") if r.raw_ops is None else f"{r.raw_ops}→{r.ops}",
            _num(None if r.engine_s is None else 1e3 * r.engine_s, ".1f"),
            _num(r.rel_err, ".1e"),
            "—" if r.finite is None else ("yes" if r.finite else "NO"),
            notes.replace("\n", " "),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
