"""Immutable, hash-consed terms: the one data structure every other module works on.

A ``Term`` is an op name, a tuple of argument terms, a tuple of static attributes and an
inferred ``TensorType``. Terms are built only through :func:`apply`, which validates the
arguments against the op registry, infers the type and interns the result: building the
same term twice returns the same object, so equality is identity and common
subexpressions are shared for free. ``add`` and ``mul`` are n-ary and kept flattened and
sorted (by creation order), so commutativity and associativity are a canonical form, not
rules.

Variables are unique by identity (two ``vector('x')`` are different variables); constants
are interned by (dtype, shape, bytes). The intern table holds terms weakly, so dead terms
are collected. Every term carries ``uid``, a creation counter: orderings built on it are
deterministic whatever PYTHONHASHSEED is.
"""

from __future__ import annotations

import gc
import itertools
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewritediff.errors import RewriteDiffTypeError, ShapeError

FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
DTYPES = (*FLOAT_DTYPES, *INT_DTYPES, "bool")
floatX = "float64"

Shape = tuple  # tuple[int | None, ...]

# The op table's lookup (``ops.get_op``), set by ``ops/registry.py`` when it loads: ``apply`` types terms by it
op_lookup: Callable[[str], Any] | None = None
# How a term prints (``printing.text.pprint_inline``, ``printing.tex.latex``), set by ``methods.py`` when it loads
inline_printer: Callable[[Any], str] | None = None
latex_printer: Callable[[Any], str] | None = None


def check_dtype(dtype: Any) -> str:
    """Normalise a dtype spec to its canonical name, rejecting unknown dtypes."""
    try:
        name = np.dtype(dtype).name
    except TypeError as exc:
        raise RewriteDiffTypeError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}") from exc
    if name not in DTYPES:
        raise RewriteDiffTypeError(f"unsupported dtype {name!r}; expected one of {', '.join(DTYPES)}")
    return name


@dataclass(frozen=True)
class TensorType:
    """A dtype and a static shape whose unknown dims are None."""

    dtype: str
    shape: Shape

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def is_float(self) -> bool:
        """True for floating dtypes, the only ones that carry gradients."""
        return self.dtype in FLOAT_DTYPES

    def __str__(self) -> str:
        dims = ",".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.dtype}[{dims}]"

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        """PyTensor's view of the shape: True for the dims declared of length 1, the only ones that broadcast."""
        return tuple(d == 1 for d in self.shape)

    def __call__(self, name: str | None = None) -> Term:
        """A new variable of this type (``x.type()`` makes tangents and placeholders, as in PyTensor)."""
        return Term._make_variable(self, name)


SPARSE_FORMATS = ("csr", "csc")


@dataclass(frozen=True)
class SparseType(TensorType):
    """A 2-D sparse matrix stored as ``format`` ('csr' or 'csc'): a dtype, a static shape and a storage format.

    A subclass of TensorType so the gradient drivers, the engine and the lowering carry sparse
    terms like any other; ``apply`` keeps them away from the dense ops (``OpDef.takes_sparse``).
    """

    format: str = "csr"

    def __post_init__(self) -> None:
        if self.format not in SPARSE_FORMATS:
            raise RewriteDiffTypeError(f"sparse format must be one of {SPARSE_FORMATS}, got {self.format!r}")
        if len(self.shape) != 2:
            raise ShapeError(f"a sparse matrix has 2 dims, got shape {self.shape}")

    def __str__(self) -> str:
        dims = ",".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.format}[{self.dtype}][{dims}]"


def is_sparse(t: Any) -> bool:
    """True for a term of sparse type."""
    return isinstance(getattr(t, "type", None), SparseType)


class DisconnectedType:
    """Type of a placeholder gradient that is zero because there is no path (PyTensor's)."""

    def __call__(self, name: str | None = None) -> Term:
        """Make a variable of this type."""
        return Term._make_variable(self, name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DisconnectedType)

    def __hash__(self) -> int:
        return hash("DisconnectedType")

    def __str__(self) -> str:
        return "DisconnectedType"

    __repr__ = __str__

    def filter(self, *args: Any, **kwargs: Any) -> Any:
        """A DisconnectedType variable can hold no value."""
        raise AssertionError("If you're assigning to a DisconnectedType you're doing something wrong. It should only be used as a symbolic placeholder.")

    filter_variable = filter
    value_eq = filter

    ndim = None
    dtype = None
    shape = None
    is_float = False


class NullType:
    """Type of a variable that can take no value: its gradient is undefined or not implemented."""

    def __init__(self, why_null: str = "(no explanation given)") -> None:
        self.why_null = why_null

    def __call__(self, name: str | None = None) -> Term:
        """Make a variable of this type."""
        return Term._make_variable(self, name)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __str__(self) -> str:
        return "NullType"

    __repr__ = __str__

    def filter(self, *args: Any, **kwargs: Any) -> Any:
        """A NullType variable can hold no value."""
        raise ValueError("No values may be assigned to a NullType")

    filter_variable = filter
    value_eq = filter

    ndim = None
    dtype = None
    shape = None
    is_float = False


disconnected_type = DisconnectedType()

_uids = itertools.count(1)
_intern: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


class Constant:
    """A hashable wrapper of a read-only ndarray, keyed by (dtype, shape, bytes)."""

    __slots__ = ("value", "_key")

    def __init__(self, value: np.ndarray) -> None:
        value = np.array(value)
        value.setflags(write=False)
        self.value = value
        self._key = (value.dtype.str, value.shape, value.tobytes())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Constant) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        if self.value.ndim == 0:
            return repr(self.value.item())
        return f"array{self.value.shape}"


def _freeze(value: Any) -> Any:
    """Make an attribute value hashable (lists become tuples, arrays become Constants)."""
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, np.ndarray):
        return Constant(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


class Term:
    """An immutable, interned node of the expression DAG. Build with :func:`apply`."""

    __slots__ = ("op", "args", "attrs", "type", "name", "uid", "tag", "__weakref__")

    op: str
    args: tuple[Term, ...]
    attrs: tuple[tuple[str, Any], ...]
    type: Any
    name: str | None
    uid: int

    def __init__(self) -> None:  # pragma: no cover - guarded
        raise TypeError("build terms with rewritediff.terms.apply or the rd.* constructors")

    @classmethod
    def _new(cls, op: str, args: tuple, attrs: tuple, ttype: Any, name: str | None) -> Term:
        t = object.__new__(cls)
        t.op, t.args, t.attrs, t.type, t.name = op, args, attrs, ttype, name
        t.uid = next(_uids)
        t.tag = None
        return t

    @classmethod
    def _make_variable(cls, ttype: Any, name: str | None, op: str = "input") -> Term:
        return cls._new(op, (), (), ttype, name)

    # ---- introspection -------------------------------------------------------------
    def attr(self, key: str, default: Any = None) -> Any:
        """The static attribute ``key`` (or ``default``)."""
        for k, v in self.attrs:
            if k == key:
                return v
        return default

    @property
    def attr_dict(self) -> dict[str, Any]:
        """Static attributes as a dict."""
        return dict(self.attrs)

    @property
    def dtype(self) -> str:
        """Element dtype name."""
        return self.type.dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self.type.ndim

    @property
    def static_shape(self) -> Shape:
        """Static shape with None for dims unknown until run time."""
        return self.type.shape

    @property
    def is_leaf(self) -> bool:
        """True for variables, shared variables and constants."""
        return not self.args and self.op in ("input", "shared", "const")

    @property
    def is_variable(self) -> bool:
        """True for (non-shared) input variables."""
        return self.op == "input"

    @property
    def value(self) -> np.ndarray:
        """The value of a constant or shared variable."""
        if self.op == "const":
            return self.attr("value").value
        if self.op == "shared":
            value = self.tag["value"]
            if not isinstance(value, np.ndarray):  # left on a device by a backend's update: brought back once
                value = self.tag["value"] = np.array(value)
            return value
        raise RewriteDiffTypeError(f"{self!r} is not a constant")

    def __repr__(self) -> str:
        if self.op in ("input", "shared"):
            return self.name or f"<{self.op} {self.type}#{self.uid}>"
        if self.op == "const":
            return repr(self.attr("value"))
        if inline_printer is None:  # pragma: no cover - the package's __init__ installs the printer
            return f"<{self.op}#{self.uid}>"
        return inline_printer(self)

    def __str__(self) -> str:
        return repr(self)

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> Iterator:
        raise TypeError(f"term {self!r} is not iterable; index it explicitly")

    def __len__(self) -> int:
        d = self.static_shape[0] if self.ndim else None
        if d is None:
            raise TypeError(f"len() of {self!r}: its first dim is not known statically")
        return d

    def _repr_latex_(self) -> str:
        if latex_printer is None:  # pragma: no cover - the package's __init__ installs the printer
            return f"${self!r}$"
        return f"$${latex_printer(self)}$$"


def variable(ttype: Any, name: str | None = None) -> Term:
    """A fresh input variable of the given type (unique by identity)."""
    return Term._make_variable(ttype, name)


def shared_variable(value: np.ndarray, name: str | None = None, shape: tuple | None = None) -> Term:
    """A variable holding a value that compiled functions read and may update (``shape``: its declared dims, None entries unknown; default the value's)."""
    value = np.array(value)
    dtype = check_dtype(value.dtype)
    if shape is None:
        shape = tuple(value.shape)
    shape = tuple(None if d is None else int(d) for d in shape)
    if len(shape) != value.ndim or any(d is not None and d != v for d, v in zip(shape, value.shape)):
        raise ShapeError(f"shared: the value's shape {tuple(value.shape)} does not fit the declared shape {shape}")
    t = Term._make_variable(TensorType(dtype, shape), name, op="shared")
    t.tag = {"value": value}
    return t


def constant(value: Any, dtype: Any = None, name: str | None = None) -> Term:
    """The interned constant term for ``value``."""
    arr = np.asarray(value)
    if dtype is None:
        if arr.dtype.kind == "f":
            dtype = floatX if arr.dtype == np.float64 else arr.dtype
        elif arr.dtype.kind in "iu":
            dtype = arr.dtype if arr.dtype.name in INT_DTYPES else "int64"
        elif arr.dtype.kind == "b":
            dtype = "bool"
        else:
            raise RewriteDiffTypeError(f"cannot make a constant of {value!r} (dtype {arr.dtype})")
    dtype = check_dtype(dtype)
    arr = arr.astype(dtype)
    key = ("const", (), (("value", Constant(arr)),))
    hit = _intern.get(key)
    if hit is not None:
        return hit
    t = Term._new("const", (), key[2], TensorType(dtype, tuple(arr.shape)), name)
    _intern[key] = t
    return t


def apply(op: str, *args: Term, **attrs: Any) -> Term:
    """Build (or find) the term ``op(*args){attrs}``: validated, typed and interned."""
    opdef = op_lookup(op)
    for a in args:
        # the common case, dense terms only, in one pass; anything else is checked by _check_args
        if type(a) is not Term or type(a.type) is not TensorType:
            counterpart = _check_args(op, opdef, args, attrs)
            if counterpart is not None:
                return counterpart
            break
    canon = opdef.canonicalize(args, attrs)
    if isinstance(canon, Term):
        return canon
    args, attrs = canon
    frozen = tuple(sorted([(k, _freeze(v)) for k, v in attrs.items()])) if attrs else ()
    key = (op, tuple([a.uid for a in args]), frozen)
    hit = _intern.get(key)
    if hit is not None:
        return hit
    ttype = opdef.check(args, dict(frozen))
    t = Term._new(op, tuple(args), frozen, ttype, None)
    _intern[key] = t
    return t


def _check_args(op: str, opdef: Any, args: tuple, attrs: dict) -> Term | None:
    """Refuse an argument that is no term or cannot be computed with; a dense op's sparse counterpart for sparse arguments (else None)."""
    for i, a in enumerate(args):
        if not isinstance(a, Term):
            raise RewriteDiffTypeError(f"{op}: argument {i} is {type(a).__name__}, not a term")
        if not isinstance(a.type, TensorType):
            raise RewriteDiffTypeError(f"{op}: argument {i} ({a!r}) is of type {a.type} and cannot be computed with")
    if not opdef.takes_sparse and any(isinstance(a.type, SparseType) for a in args):
        # a dense op given a sparse matrix: its sparse counterpart (rd.dot, .T, *, sum), else a clear
        # refusal, unless the op reads only the shape of its sparse arguments (x.shape[0])
        if opdef.on_sparse is not None:
            return opdef.on_sparse(args, attrs)
        read = [(i, a) for i, a in enumerate(args) if isinstance(a.type, SparseType) and i not in opdef.shape_args]
        if read:
            i, a = read[0]
            raise RewriteDiffTypeError(
                f"{op}: argument {i} ({a!r}) is a sparse matrix ({a.type}), and {op} takes dense arrays only; "
                "use the rd.sparse operations, or rd.sparse.dense_from_sparse to make it dense"
            )
    return None


def with_name(term: Term, name: str) -> Term:
    """Give ``term`` a display name (names never affect identity or evaluation)."""
    term.name = name
    return term


def toposort(outputs: Iterable[Term]) -> list[Term]:
    """All terms reachable from ``outputs``, each after its arguments (explicit stack, no recursion)."""
    order: list[Term] = []
    seen: set[int] = set()
    for root in outputs:
        if root.uid in seen:
            continue
        seen.add(root.uid)
        # depth first, arguments left to right: a term is listed once its argument iterator is spent
        stack = [(root, iter(root.args))]
        while stack:
            node, todo = stack[-1]
            for a in todo:
                if a.uid not in seen:
                    seen.add(a.uid)
                    stack.append((a, iter(a.args)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def inputs_of(outputs: Iterable[Term]) -> list[Term]:
    """The variables and shared variables the outputs depend on, in creation order."""
    return sorted((t for t in toposort(outputs) if t.op in ("input", "shared")), key=lambda t: t.uid)


def replace(outputs: list[Term], mapping: dict[Term, Term]) -> list[Term]:
    """Rebuild ``outputs`` with the terms in ``mapping`` substituted (no recursion)."""
    new: dict[int, Term] = {k.uid: v for k, v in mapping.items()}
    for node in toposort(outputs):
        if node.uid in new:
            continue
        if not node.args:
            new[node.uid] = node
            continue
        args = tuple(new[a.uid] for a in node.args)
        if all(a is b for a, b in zip(args, node.args)):
            new[node.uid] = node
        else:
            new[node.uid] = apply(node.op, *args, **dict(node.attrs))
    return [new[o.uid] for o in outputs]


def as_term(x: Any, like: Term | None = None) -> Term:
    """``x`` as a term; Python scalars are weak: they take the dtype of ``like`` where numpy 2 would.

    Here, below the ops, so that every layer (rules, engine, lowering) converts literals the one
    way the frontend does.
    """
    if isinstance(x, Term):
        return x
    if isinstance(x, bool | int | float) and not isinstance(x, np.generic):
        if like is not None and isinstance(like.type, TensorType):
            if like.dtype in FLOAT_DTYPES:
                return constant(x, like.dtype)
            if isinstance(x, int) and like.dtype != "bool" and not isinstance(x, bool):
                info = np.iinfo(like.dtype)
                if info.min <= x <= info.max:
                    return constant(x, like.dtype)
        if isinstance(x, bool):
            return constant(x, "bool")
        return constant(x, floatX if isinstance(x, float) else "int64")
    if isinstance(x, list | tuple) and any(isinstance(v, Term) for v in x):
        return apply("stack", *[as_term(v) for v in x], axis=0)
    return constant(np.asarray(x))


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold Python's cyclic garbage collector while building large graphs, then restore it.

    Building a graph allocates many objects, so the collector runs often, and each full pass
    walks the whole heap, the user's objects (a loaded JAX or PyTensor) included: on W9 at
    D=1000 with both loaded that was 0.19 s of a 0.84 s build. Terms hold no reference cycles
    that need collecting while they are built.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
