"""``rd.function``: inputs and outputs checked, the graph simplified and lowered (numpy here,
or a backend), and the compiled :class:`Function` a user calls, with PyTensor's options
(``In`` defaults, keyword calls, ``givens``, ``updates``, ``trust_input``, ``f.copy()``)."""

from __future__ import annotations

import copy
import re
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewritediff.engine.simplify import simplify_terms
from rewritediff.errors import CallError, RewriteDiffError, RewriteDiffTypeError, ShapeError
from rewritediff.lower_numpy import expand_defined, lower, stand_in_shapes
from rewritediff.ops import INPUT_OP, SHARED_OP, scan_body
from rewritediff.ops.scan import keep_last_states
from rewritediff.terms import NullType, TensorType, Term, as_term, gc_paused, inputs_of, replace

# The compiler of the other backends (``backends.function``), set by ``rewritediff/backends`` when it loads
backend_function: Callable[..., Any] | None = None

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 256


_MISSING = object()


@dataclass(frozen=True)
class In:
    """An input of ``rd.function`` with a default value (PyTensor's ``In(x, value=...)``), optionally renamed for keyword calls."""

    variable: Term
    value: Any = None
    name: str | None = None


class Function:
    """A compiled function: call it with arrays; ``source`` is its generated Python."""

    def __init__(self, inputs: list[Term], outputs: list[Term], single: bool, updates: list[tuple[Term, Term]], source: str, namespace: dict) -> None:
        self.inputs = inputs
        self.outputs = outputs
        self.updates = updates
        self.source = source
        self._single = single
        self._namespace = namespace
        code = compile(source, "<rewritediff>", "exec")
        exec(code, namespace)  # noqa: S102 - our own generated source
        self._fn = self._checked = namespace["compiled"]

    _defaults: dict = {}  # noqa: RUF012 - input position -> default value (rd.In), set per rd.function call

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Evaluate on numpy arrays: one per input, in order, or by input name; inputs given a default (``rd.In``) may be left out."""
        if kwargs or (self._defaults and len(args) < len(self.inputs)):
            args = self._arrange(args, kwargs)
        if len(args) != len(self.inputs):
            names = ", ".join(repr(i) for i in self.inputs)
            raise CallError(f"function takes {len(self.inputs)} argument(s) ({names}), got {len(args)}")
        try:
            outs = self._fn(*args)
        except RewriteDiffError:
            raise
        except Exception as exc:  # numpy's own error, from inside the generated code
            raise self._explain(exc, args) from exc
        return outs[0] if self._single else list(outs)

    def _arrange(self, args: tuple, kwargs: dict) -> tuple:
        """Positional arguments from positional ones, names and defaults (CallError naming what is wrong)."""
        if len(args) > len(self.inputs):
            raise CallError(f"function takes {len(self.inputs)} argument(s), got {len(args)}")
        slots: list[Any] = list(args) + [_MISSING] * (len(self.inputs) - len(args))
        position = {v.name: i for i, v in enumerate(self.inputs) if v.name}
        for name, value in kwargs.items():
            i = position.get(name)
            if i is None:
                raise CallError(f"function has no input named {name!r} (inputs: {', '.join(repr(v) for v in self.inputs)})")
            if slots[i] is not _MISSING:
                raise CallError(f"function got input {name!r} twice (by position and by name)")
            slots[i] = value
        for i, value in enumerate(slots):
            if value is _MISSING:
                if i not in self._defaults:
                    raise CallError(f"function: no value for input {self.inputs[i]!r} (give it by position or by name, or a default with rd.In)")
                slots[i] = self._defaults[i]
        return tuple(slots)

    def with_defaults(self, defaults: dict) -> Function:
        """The same compiled function (its own object, so its settings are its own) with default values for some inputs (by position)."""
        other = copy.copy(self)
        other._defaults = dict(defaults)
        return other

    _trust = False
    _trusted = None  # the closure without its entry checks, compiled when first asked for

    @property
    def trust_input(self) -> bool:
        """Whether calls skip the entry checks of the arguments (PyTensor's ``f.trust_input``)."""
        return self._trust

    @trust_input.setter
    def trust_input(self, value: bool) -> None:
        """True: arguments go straight to the generated code, unconverted and unchecked (the caller vouches for them)."""
        if not value:
            self._fn, self._trust = self._checked, False
            return
        n_entry = self._namespace.get("_n_entry")
        if n_entry is None:
            raise CallError(f"trust_input: {self!r} converts its arguments in its backend and has no entry checks to skip")
        if self._trusted is None:
            lines = self.source.splitlines(keepends=True)
            start = next(i for i, line in enumerate(lines) if line.startswith("def compiled(")) + 1
            scratch = dict(self._namespace)
            exec(compile("".join(lines[:start] + lines[start + n_entry :]), "<rewritediff>", "exec"), scratch)  # noqa: S102 - our own generated source
            self._trusted = scratch["compiled"]
        self._fn, self._trust = self._trusted, True

    def copy(self) -> Function:
        """An independent copy: same code, its own buffers kept between calls (PyTensor's ``f.copy()``)."""
        defined = set(re.findall(r"^def (\w+)\(", self.source, re.M))  # made again by running the source
        namespace = {k: ([[] for _ in v] if k.startswith("_kp") else v) for k, v in self._namespace.items() if k not in defined and k != "__builtins__"}
        other = Function(self.inputs, self.outputs, self._single, self.updates, self.source, namespace)
        other._defaults = dict(self._defaults)
        other.trust_input = self.trust_input
        return other

    def _explain(self, exc: Exception, args: tuple) -> Exception:
        """A ShapeError naming the generated statement that failed and the argument shapes."""
        tb = exc.__traceback__
        line = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<rewritediff>":
                line = tb.tb_lineno
            tb = tb.tb_next
        lines = self.source.splitlines()
        where = f" in `{lines[line - 1].strip()}` (line {line} of f.source)" if line and line <= len(lines) else ""
        shapes = ", ".join(f"{v!r}: {np.shape(a)}" for v, a in zip(self.inputs, args))
        return ShapeError(f"{type(exc).__name__}: {exc}{where}; argument shapes {shapes}")

    @property
    def retained_bytes(self) -> int:
        """Bytes of the large intermediate buffers kept between calls for the next call to reuse."""
        pools = (v for k, v in self._namespace.items() if k.startswith("_kp"))
        return sum(buf.nbytes for slots in pools for slot in slots for buf in slot)

    def release_buffers(self) -> None:
        """Drop the buffers kept between calls (the next call allocates afresh)."""
        for k, slots in self._namespace.items():
            if k.startswith("_kp"):
                for slot in slots:
                    slot.clear()

    def __repr__(self) -> str:
        return f"<rewritediff.Function {self.inputs} -> {self.outputs}>"


def _unwrap_inputs(inputs: Sequence[Any]) -> tuple[list[Term], dict]:
    """Variables and defaults (by position) from rd.function's inputs, some of them ``In``."""
    out: list[Term] = []
    defaults: dict = {}
    for i, v in enumerate(inputs):
        if isinstance(v, In):
            if v.name is not None:
                v.variable.name = v.name
            if v.value is not None:
                defaults[i] = v.value
            v = v.variable
        out.append(v)
    return out, defaults


def _substitute(outputs: Any, givens: Any) -> Any:
    """``outputs`` with each key of ``givens`` replaced by its value (types must agree)."""

    pairs = list(givens.items()) if isinstance(givens, dict) else list(givens)
    mapping: dict = {}
    for old, new in pairs:
        new = as_term(new, old)
        if not isinstance(old, Term) or new.ndim != old.ndim or new.dtype != old.dtype:
            raise RewriteDiffTypeError(f"function: givens must map a term to one of its dtype and ndim, got {old!r} -> {new!r}")
        mapping[old] = new
    single = not isinstance(outputs, list | tuple)
    outs = [as_term(o) for o in ([outputs] if single else outputs)]
    new_outs = replace(outs, mapping)
    return new_outs[0] if single else list(new_outs)


def check_signature(inputs: Sequence[Term], outputs: Any, extra: list[Term], on_unused_input: str) -> tuple[list[Term], list[Term], bool]:
    """(inputs, output terms, single output?) of ``rd.function``, checked on the graph as the user gave it (every backend)."""
    inputs = list(inputs)
    single = not isinstance(outputs, list | tuple)
    outs = [as_term(o) for o in ([outputs] if single else outputs)]
    for i, var in enumerate(inputs):
        if not isinstance(var, Term) or var.op != INPUT_OP:
            raise RewriteDiffTypeError(f"function: input {i} ({var!r}) is not a symbolic variable (constants and shared variables are not inputs)")
    if len({v.uid for v in inputs}) != len(inputs):
        raise RewriteDiffTypeError("function: an input is listed twice")
    for o in outs:
        if isinstance(o.type, NullType):
            raise TypeError(f"function: cannot compile a NullType output ({o.type.why_null})")
        if not isinstance(o.type, TensorType):
            raise TypeError(f"function: cannot compile an output of type {o.type}")
    if on_unused_input not in ("raise", "warn", "ignore"):
        raise ValueError(f"function: on_unused_input must be 'raise', 'warn' or 'ignore', got {on_unused_input!r}")
    used = {t.uid for t in inputs_of(outs + extra)}
    unused = [v for v in inputs if v.uid not in used]
    if unused and on_unused_input != "ignore":
        msg = f"function: input(s) {unused} are not used to compute the outputs"
        if on_unused_input == "raise":
            raise RewriteDiffTypeError(msg + " (pass on_unused_input='ignore' to allow it)")
        warnings.warn(msg, stacklevel=3)  # the caller of rd.function
    return inputs, outs, single


def check_updates(updates: Any) -> list[tuple[Term, Term]]:
    """``updates`` (a dict or pairs) as ``(shared variable, new value term)`` pairs, each checked (RewriteDiffTypeError)."""
    if isinstance(updates, dict):
        updates = list(updates.items())
    pairs = [(k, as_term(v, k)) for k, v in (updates or [])]
    for var, val in pairs:
        if not isinstance(var, Term) or var.op != SHARED_OP:
            raise RewriteDiffTypeError(f"function: updates may only assign shared variables, not {var!r}")
        if val.ndim != var.ndim:
            raise RewriteDiffTypeError(f"function: update of {var!r} has ndim {val.ndim}, the variable has ndim {var.ndim}")
    return pairs


def function(
    inputs: Sequence[Term],
    outputs: Term | Sequence[Term],
    updates: Any = None,
    on_unused_input: str = "raise",
    simplify: bool = True,
    fusion: str = "kernels",
    finite_math: bool = True,
    allow_input_downcast: bool | None = None,
    backend: str = "numpy",
    givens: Any = None,
    trust_input: bool = False,
    **options: Any,
) -> Function:
    """Compile ``outputs`` as a function of ``inputs`` (PyTensor's ``function``).

    ``fusion``: how elementwise work is fused, ``"kernels"`` (blocked numpy loops),
    ``"numexpr"`` (numexpr programs of the arithmetic) or ``"none"``. ``finite_math=False``:
    no simplification that assumes finite values (rules tagged ``@finite``), so NaN inputs propagate.
    ``allow_input_downcast``: True casts every argument to its input's dtype, even when that
    loses precision (float64 data into a float32 input); otherwise such an argument is refused
    with a CallError, and only casts that lose nothing are made (PyTensor's rule; None, the
    default, also casts Python floats into floatX inputs).
    ``backend``: ``"numpy"`` (this module), ``"jax"``, ``"dask"`` or ``"array_api"``
    (:mod:`rewritediff.backends`; ``options`` are that backend's own, e.g. Dask's ``chunks``).
    ``inputs`` may hold ``rd.In(x, value=...)`` (a default, so the call may leave x out);
    ``givens``: ``{term: replacement}`` substituted in the outputs before compiling (PyTensor's).
    ``trust_input=True``: calls skip the conversion and checks of the arguments (as setting
    ``f.trust_input``): for a hot loop whose arrays already have the inputs' dtypes and shapes.
    """
    inputs, defaults = _unwrap_inputs(inputs)
    if givens:
        outputs = _substitute(outputs, givens)
    if backend != "numpy" or options:
        if backend == "numpy":
            raise TypeError(f"function: unexpected keyword argument(s) {sorted(options)} for the numpy backend")
        if defaults:
            raise RewriteDiffTypeError(f"function: input defaults (rd.In) are supported by the numpy backend only, not {backend!r}")
        if backend_function is None:  # pragma: no cover - the package's __init__ loads the backends
            raise RewriteDiffTypeError(f"function: backend {backend!r} needs rewritediff.backends, which is not loaded")
        fn = backend_function(backend, inputs, outputs, updates, on_unused_input, simplify, **options)
        if trust_input:
            fn.trust_input = True  # refused, naming the backend
        return fn
    updates = check_updates(updates)
    inputs, outs, single = check_signature(inputs, outputs, [v for _, v in updates], on_unused_input)
    if fusion not in ("kernels", "numexpr", "none"):
        raise ValueError(f"function: fusion must be 'kernels', 'numexpr' or 'none', got {fusion!r}")
    key = (
        tuple(v.uid for v in inputs),
        tuple(o.uid for o in outs),
        tuple((k.uid, v.uid) for k, v in updates),
        single,
        simplify,
        fusion,
        finite_math,
        allow_input_downcast,
    )
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        fn = hit.with_defaults(defaults)
        fn.trust_input = trust_input
        return fn
    compute = outs
    upd_vals = [v for _, v in updates]
    with gc_paused():
        if simplify:
            simplified = simplify_terms(outs + upd_vals, finite_math=finite_math)
            compute, upd_vals = simplified[: len(outs)], simplified[len(outs) :]
        redirected = keep_last_states(stand_in_shapes(expand_defined(list(compute) + list(upd_vals))))
        compute, upd_vals = redirected[: len(outs)], redirected[len(outs) :]
        source, namespace = lower(
            inputs,
            compute,
            [(k, v) for (k, _), v in zip(updates, upd_vals)],
            fusion,
            contract=outs + [v for _, v in updates],
            allow_input_downcast=allow_input_downcast,
            finite_math=finite_math,
        )
        fn = Function(inputs, outs, single, updates, source, namespace)
    _CACHE[key] = fn
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    fn = fn.with_defaults(defaults)
    fn.trust_input = trust_input
    return fn


scan_body.compile_function = function  # a loop's step is compiled by this same function
