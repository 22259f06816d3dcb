"""Indexing with numpy's semantics: ``x[key]`` as a ``subtensor`` term, and the scatters ``set_subtensor`` / ``inc_subtensor``."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from rewritediff.errors import IndexOutOfBounds, RewriteDiffTypeError
from rewritediff.frontend.shape import shape_i
from rewritediff.terms import (
    Term,
    apply,
    as_term,
    constant,
)


# ---- indexing -------------------------------------------------------------------------------------
def _index_entry(item: Any, arrays: list[Term]) -> tuple:
    """One index item as an ``idx`` entry (index arrays are appended to ``arrays``)."""
    if item is None:
        return ("none",)
    if isinstance(item, bool | np.bool_):
        arr: Any = constant(np.asarray(item, dtype=bool))
    elif isinstance(item, int | np.integer):
        return ("int", int(item))
    elif isinstance(item, slice):
        bounds = []
        for b in (item.start, item.stop, item.step):
            if (
                isinstance(b, Term)
                and b.op == "const"
                and b.ndim == 0
                and b.dtype in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
            ):
                b = int(b.value)
            if isinstance(b, Term) and b.ndim == 0 and b.dtype.startswith(("int", "uint")):
                arrays.append(b)  # a bound read at run time (x[: x.shape[0] - 1])
                bounds.append(("arg", len(arrays) - 1))
                continue
            if b is not None and (isinstance(b, bool) or not isinstance(b, int | np.integer)):
                raise RewriteDiffTypeError(f"subtensor: slice bounds must be ints, 0-d int terms or None, got {b!r}")
            bounds.append(None if b is None else int(b))
        return ("slice", *bounds)
    elif isinstance(item, Term):
        arr = item
    else:
        value = np.asarray(item)
        if value.dtype.kind in "iu" or (value.size == 0 and value.dtype.kind == "f"):
            value = value.astype(np.int64)
        elif value.dtype.kind != "b":
            raise RewriteDiffTypeError(f"subtensor: index {item!r} is not an int, slice, None, Ellipsis, integer array or boolean mask")
        arr = constant(value)
    if arr.dtype == "bool":
        arrays.append(arr)
        return ("mask", len(arrays) - 1)
    if arr.dtype.startswith(("int", "uint")):
        arrays.append(arr)
        return ("adv", len(arrays) - 1)
    raise RewriteDiffTypeError(f"subtensor: index arrays must be integers or booleans, got {arr.type}")


def index_spec(x: Term, key: Any) -> tuple[tuple, list[Term]]:
    """A Python index (``x[key]``) as an ``idx`` attribute and its index array arguments."""
    items = key if isinstance(key, tuple) else (key,)
    n_ell = builtins.sum(1 for it in items if it is Ellipsis)
    if n_ell > 1:
        raise IndexOutOfBounds(f"subtensor: an index can only have a single ellipsis, got {key!r}")
    arrays: list[Term] = []
    entries: list = []
    for it in items:
        entries.append(Ellipsis if it is Ellipsis else _index_entry(it, arrays))
    if n_ell:
        used = 0
        for e in entries:
            if e is Ellipsis or e[0] == "none":
                continue
            used += arrays[e[1]].ndim if e[0] == "mask" else 1
        pos = entries.index(Ellipsis)
        fill = [("slice", None, None, None)] * builtins.max(x.ndim - used, 0)
        entries = entries[:pos] + fill + entries[pos + 1 :]
    return tuple(entries), arrays


def getitem(x: Any, key: Any) -> Term:
    """``x[key]`` with numpy semantics (``x.shape[i]`` becomes ``shape_i``)."""
    x = as_term(x)
    if x.op == "shape" and isinstance(key, int | np.integer) and not isinstance(key, bool):
        nd = x.args[0].ndim
        if not -nd <= key < nd:
            raise IndexOutOfBounds(f"subtensor: index {key} is out of bounds for axis 0 with size {nd} (shape ({nd},))")
        return shape_i(x.args[0], int(key))
    idx, arrays = index_spec(x, key)
    return apply("subtensor", x, *arrays, idx=idx)


def _indexed_parts(op: str, x: Any) -> Term:
    if not isinstance(x, Term) or x.op != "subtensor":
        raise RewriteDiffTypeError(f"{op}: x must be an indexing term such as x[idx], got {x!r}")
    return x


def set_subtensor(x: Any, y: Any) -> Term:
    """``x[idx] = y`` as a new term: pass the indexing term ``x[idx]`` (PyTensor's form)."""
    t = _indexed_parts("set_subtensor", x)
    base = t.args[0]
    return apply("set_subtensor", base, as_term(y, base), *t.args[1:], idx=t.attr("idx"))


def inc_subtensor(x: Any, y: Any, set_instead_of_inc: bool = False) -> Term:
    """``x[idx] += y`` as a new term (repeated indices accumulate): pass the indexing term ``x[idx]``."""
    if set_instead_of_inc:
        return set_subtensor(x, y)
    t = _indexed_parts("inc_subtensor", x)
    base = t.args[0]
    return apply("inc_subtensor", base, as_term(y, base), *t.args[1:], idx=t.attr("idx"))
