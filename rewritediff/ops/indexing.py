"""Indexing: ``subtensor`` reads ``x[idx]``; ``set_subtensor`` / ``inc_subtensor`` write into a copy.

Ops and arguments:

* ``subtensor{idx}(x, *index_arrays)`` — numpy's ``x[idx]`` (basic and advanced indexing).
* ``set_subtensor{idx}(x, y, *index_arrays)`` — a copy of x with ``x[idx] = y``.
* ``inc_subtensor{idx}(x, y, *index_arrays)`` — a copy of x with y added at ``x[idx]``;
  repeated advanced indices accumulate, as ``np.add.at``.

The three ops share one static attribute, ``idx``: a tuple of entries, one per index item
after ``Ellipsis`` has been expanded, trailing full slices dropped:

* ``("int", k)`` — an integer (non-negative when the dim is static, else as given).
* ``("slice", start, stop, step)`` — each an int or None; ``step`` is never 0, a step of 1
  is stored as None.
* ``("none",)`` — ``None`` / ``np.newaxis``: a new dim of length 1.
* ``("adv", j)`` — an integer index array (any ndim, 0-d for a symbolic scalar index),
  the ``j``-th *index array argument*: ``args[1 + j]`` of ``subtensor``, ``args[2 + j]`` of
  ``set_subtensor`` / ``inc_subtensor`` (so the same ``idx`` serves all three ops).
* ``("mask", j)`` — a boolean mask (index array argument ``j``) covering ``mask.ndim`` dims.
* A slice bound may be ``("arg", j)``: the 0-d integer index argument ``j``, read at run time
  (``x[:x.shape[0] - 1]``).

Semantics are numpy's: when any ``adv``/``mask`` entry is present, ``int`` entries are
advanced indices too; the broadcast shape of the advanced indices replaces them in place
when they are adjacent, and goes first otherwise. Static integer indices outside a static
dim raise ``IndexOutOfBounds`` at construction, as do too many indices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewritediff import runtime as rt
from rewritediff.errors import IndexOutOfBounds, RewriteDiffTypeError, ShapeError
from rewritediff.ops import dims
from rewritediff.ops.infer import broadcast_shapes, fmt_shape
from rewritediff.ops.registry import OpDef, register
from rewritediff.terms import INT_DTYPES, TensorType

FULL_SLICE = ("slice", None, None, None)


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def normalize_index(op: str, x: Any, idx: Any, arrays: tuple) -> tuple:
    """Validate an index spec against x's static shape and the index arrays; return it canonical."""
    shape = x.static_shape
    if not isinstance(idx, tuple):
        raise RewriteDiffTypeError(f"{op}: idx must be a tuple of index entries, got {idx!r}")
    used: list[int] = []
    out: list[tuple] = []
    dim = 0
    for e in idx:
        if not isinstance(e, tuple) or not e:
            raise RewriteDiffTypeError(f"{op}: bad index entry {e!r}")
        kind = e[0]
        if kind not in ("int", "slice", "adv", "mask", "none"):
            raise RewriteDiffTypeError(f"{op}: unknown index entry kind {kind!r} in {idx!r}")
        if kind == "none":
            if len(e) != 1:
                raise RewriteDiffTypeError(f"{op}: bad index entry {e!r}")
            out.append(("none",))
            continue
        if kind in ("adv", "mask"):
            if len(e) != 2 or not _is_int(e[1]) or not 0 <= e[1] < len(arrays):
                raise RewriteDiffTypeError(f"{op}: index entry {e!r} names no index array ({len(arrays)} given)")
            a = arrays[e[1]]
            used.append(int(e[1]))
            if kind == "adv" and a.dtype not in INT_DTYPES:
                raise RewriteDiffTypeError(f"{op}: index arrays must be integers or booleans, got {a.type} indexing shape {fmt_shape(shape)}")
            if kind == "mask" and a.dtype != "bool":
                raise RewriteDiffTypeError(f"{op}: a mask must be boolean, got {a.type}")
            n = 1 if kind == "adv" else a.ndim
            if dim + n > len(shape):
                raise IndexOutOfBounds(f"{op}: too many indices for shape {fmt_shape(shape)} in {idx!r}")
            if kind == "mask":
                for i, (md, xd) in enumerate(zip(a.static_shape, shape[dim : dim + n])):
                    if md is not None and xd is not None and md != xd:
                        raise IndexOutOfBounds(
                            f"{op}: boolean mask of shape {fmt_shape(a.static_shape)} does not match dim {dim + i} of shape {fmt_shape(shape)}"
                        )
            elif a.op == "const" and a.value.size and shape[dim] is not None:
                d = shape[dim]
                vals = a.value
                bad = vals[(vals < -d) | (vals >= d)]
                if bad.size:
                    raise IndexOutOfBounds(f"{op}: index {int(bad.flat[0])} is out of bounds for axis {dim} with size {d} (shape {fmt_shape(shape)})")
            out.append((kind, int(e[1])))
            dim += n
            continue
        if dim >= len(shape):
            raise IndexOutOfBounds(f"{op}: too many indices for shape {fmt_shape(shape)} in {idx!r}")
        d = shape[dim]
        if kind == "int":
            if len(e) != 2 or not _is_int(e[1]):
                raise RewriteDiffTypeError(f"{op}: bad integer index entry {e!r}")
            k = int(e[1])
            if d is not None:
                if not -d <= k < d:
                    raise IndexOutOfBounds(f"{op}: index {k} is out of bounds for axis {dim} with size {d} (shape {fmt_shape(shape)})")
                k %= d
            out.append(("int", k))
        else:
            if len(e) != 4 or not all(v is None or _is_int(v) or _is_arg(v) for v in e[1:]):
                raise RewriteDiffTypeError(f"{op}: slice bounds must be ints, 0-d int terms or None, got {e!r}")
            for v in e[1:]:
                if _is_arg(v):
                    if not 0 <= v[1] < len(arrays) or arrays[v[1]].ndim != 0 or arrays[v[1]].dtype not in INT_DTYPES:
                        raise RewriteDiffTypeError(f"{op}: a slice bound must be a 0-d int term, got {v!r} ({len(arrays)} index argument(s))")
                    used.append(int(v[1]))
            if any(_is_arg(v) for v in e[1:]):
                out.append(("slice", *e[1:]))
                dim += 1
                continue
            start, stop, step = (None if v is None else int(v) for v in e[1:])
            if step == 0:
                raise ShapeError(f"{op}: slice step cannot be zero (indexing shape {fmt_shape(shape)})")
            if step == 1:
                step = None
            if start == 0 and step is None:
                start = None
            if d is not None and step is None and stop is not None and stop >= d:
                stop = None
            out.append(("slice", start, stop, step))
        dim += 1
    if sorted(used) != list(range(len(arrays))):
        raise RewriteDiffTypeError(f"{op}: each index array argument must be used exactly once by idx {idx!r} ({len(arrays)} given)")
    while out and out[-1] == FULL_SLICE:
        out.pop()
    return tuple(out)


def _is_arg(v: Any) -> bool:
    """A slice bound read at run time from an index argument: ``("arg", j)``."""
    return isinstance(v, tuple) and len(v) == 2 and v[0] == "arg" and _is_int(v[1])


def _slice_len(d: Any, start: Any, stop: Any, step: Any) -> Any:
    if any(_is_arg(v) for v in (start, stop, step)):
        return None
    if d is None:
        if start is None and stop is None and step in (None, -1):
            return None
        if step is None and start is not None and stop is not None and (start >= 0) == (stop >= 0) and stop <= start:
            return 0
        return None
    return len(range(*slice(start, stop, step).indices(d)))


def indexed_shape(op: str, shape: tuple, idx: tuple, arrays: tuple) -> tuple:
    """The static shape of ``x[idx]`` for x of static ``shape`` (numpy's rules)."""
    has_array = any(e[0] in ("adv", "mask") for e in idx)
    out: list = []
    adv_shapes: list[tuple] = []
    adv_pos: list[int] = []
    dim = 0
    placeholder = object()
    for pos, e in enumerate(idx):
        kind = e[0]
        if kind == "none":
            out.append(1)
        elif kind == "slice":
            out.append(_slice_len(shape[dim], *e[1:]))
            dim += 1
        elif kind == "int":
            if has_array:
                adv_shapes.append(())
                adv_pos.append(pos)
                out.append(placeholder)
            dim += 1
        else:
            a = arrays[e[1]]
            if kind == "adv":
                adv_shapes.append(a.static_shape)
                dim += 1
            else:
                count = int(np.count_nonzero(a.value)) if a.op == "const" else None
                adv_shapes.append((count,))
                dim += a.ndim
            adv_pos.append(pos)
            out.append(placeholder)
    rest = list(shape[dim:])
    if not has_array:
        return tuple(out + rest)
    try:
        bshape = list(broadcast_shapes(op, adv_shapes))
    except ShapeError:
        raise IndexOutOfBounds(
            f"{op}: index arrays of shapes {', '.join(fmt_shape(s) for s in adv_shapes)} cannot be broadcast together (indexing shape {fmt_shape(shape)})"
        ) from None
    basic = [d for d in out if d is not placeholder]
    if adv_pos[-1] - adv_pos[0] + 1 == len(adv_pos):
        first = out.index(placeholder)
        return tuple(basic[:first] + bshape + basic[first:] + rest)
    return tuple(bshape + basic + rest)


def index_text(idx: tuple, arraynames: list[str]) -> str:
    """The index as Python source (``0, 1:3, None, t1``), index arrays by name."""
    parts = []
    for e in idx:
        kind = e[0]
        if kind == "int":
            parts.append(str(e[1]))
        elif kind == "none":
            parts.append("None")
        elif kind == "slice":
            start, stop, step = ("" if v is None else f"int({arraynames[v[1]]})" if _is_arg(v) else str(v) for v in e[1:])
            parts.append(f"{start}:{stop}" + (f":{step}" if step else ""))
        else:
            parts.append(arraynames[e[1]])
    return ", ".join(parts)


def index_value(idx: tuple, arrays: tuple) -> tuple:
    """The index as a numpy index tuple, given the index arrays' values."""
    out: list = []
    for e in idx:
        kind = e[0]
        if kind == "int":
            out.append(e[1])
        elif kind == "none":
            out.append(None)
        elif kind == "slice":
            out.append(slice(*(int(np.asarray(arrays[v[1]])) if _is_arg(v) else v for v in e[1:])))
        else:
            out.append(np.asarray(arrays[e[1]]))
    return tuple(out)


# ---- subtensor -------------------------------------------------------------------------------
def _sub_prepare(args: tuple, attrs: dict) -> dict:
    return {"idx": normalize_index("subtensor", args[0], attrs["idx"], args[1:])}


def _sub_infer(args: tuple, attrs: dict) -> TensorType:
    x = args[0]
    return TensorType(x.dtype, indexed_shape("subtensor", x.static_shape, attrs["idx"], args[1:]))


def _sub_emit(a: list[str], k: dict) -> str:
    text = index_text(k["idx"], a[1:])
    return f"{a[0]}[{text or '()'}]"


register(
    OpDef(
        name="subtensor",
        dims=dims.index_dims,
        equal_dims=dims.index_equal,
        infer=_sub_infer,
        impl=lambda x, *arrays, idx: np.asarray(np.asarray(x)[index_value(idx, arrays)]),
        arity=(1, None),
        attrs={"idx": ()},
        emit=_sub_emit,
        prepare=_sub_prepare,
        doc="x[idx]: basic and advanced (integer array, boolean mask) indexing",
        group="indexing",
        print_kind="indexed",
    )
)


# ---- set_subtensor / inc_subtensor ---------------------------------------------------------------
def _write_prepare(op: str) -> Any:
    def prepare(args: tuple, attrs: dict) -> dict:
        return {"idx": normalize_index(op, args[0], attrs["idx"], args[2:])}

    return prepare


def _write_infer(op: str) -> Any:
    def infer(args: tuple, attrs: dict) -> TensorType:
        x, y = args[0], args[1]
        if not np.can_cast(y.dtype, x.dtype, casting="same_kind"):
            raise RewriteDiffTypeError(f"{op}: cannot write {y.dtype} values into {x.dtype} x of shape {fmt_shape(x.static_shape)} without losing precision")
        target = indexed_shape(op, x.static_shape, attrs["idx"], args[2:])
        msg = f"{op}: cannot broadcast y of shape {fmt_shape(y.static_shape)} to the indexed shape {fmt_shape(target)} (x of shape {fmt_shape(x.static_shape)})"
        if y.ndim > len(target):
            raise ShapeError(msg)
        aligned = zip(y.static_shape, target[len(target) - y.ndim :])
        if any(yd is not None and td is not None and yd not in (1, td) for yd, td in aligned):
            raise ShapeError(msg)
        return x.type

    return infer


def _write_emit(fn: str) -> Any:
    def emit(a: list[str], k: dict) -> str:
        return f"{fn}({a[0]}, {a[1]}, np.s_[{index_text(k['idx'], a[2:])},])" if k["idx"] else f"{fn}({a[0]}, {a[1]}, ())"

    return emit


for _name, _fn, _doc in (
    ("set_subtensor", rt.set_subtensor, "set_subtensor(x, y, *index arrays){idx}: a copy of x with x[idx] = y"),
    ("inc_subtensor", rt.inc_subtensor, "inc_subtensor(x, y, *index arrays){idx}: a copy of x with y added at x[idx] (duplicates accumulate)"),
):
    register(
        OpDef(
            name=_name,
            infer=_write_infer(_name),
            impl=(lambda fn: lambda x, y, *arrays, idx: fn(x, y, index_value(idx, arrays)))(_fn),
            arity=(2, None),
            attrs={"idx": ()},
            emit=_write_emit(f"rt.{_name}"),
            prepare=_write_prepare(_name),
            doc=_doc,
            group="indexing",
            print_kind="indexed_update",
            memory="fresh",
            inplace=True,
            dims=dims.first_dims,
        )
    )
