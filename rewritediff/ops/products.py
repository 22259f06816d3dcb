"""Products: dot, matmul, tensordot, outer, einsum, trace and diag (numpy semantics).

Attribute encodings (normalised at construction, so equal products are the same term):

* ``tensordot{axes}``: ``axes`` is a pair ``(a_axes, b_axes)`` of equal-length tuples of
  non-negative ints (an int ``n`` becomes the last ``n`` axes of ``a`` and the first ``n`` of
  ``b``). The result has ``a``'s free dims followed by ``b``'s.
* ``outer``: two vectors (the frontend flattens other arguments, as PyTensor).
* ``einsum{subscripts}``: the explicit form ``"ij,jk->ik"`` (spaces removed; the implicit
  form gets its output spelled out, ``...`` allowed).
* ``trace{offset}``: a matrix's diagonal sum.
* ``diag{k}``: numpy's ``diag``: a vector becomes a square matrix with it on diagonal ``k``,
  a matrix gives its diagonal ``k``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewritediff.errors import AxisError, RewriteDiffTypeError, ShapeError
from rewritediff.ops import dims
from rewritediff.ops.infer import broadcast_shapes, dims_equal, fmt_shape, promote
from rewritediff.ops.registry import OpDef, infix, register
from rewritediff.terms import TensorType


def _matmul_infer(args: tuple, attrs: dict, name: str = "matmul") -> TensorType:
    a, b = args
    sa, sb = a.static_shape, b.static_shape
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"{name}: arguments must have ndim >= 1, got shapes {fmt_shape(sa)} and {fmt_shape(sb)}")
    ka = sa[-1]
    kb = sb[0] if b.ndim == 1 else sb[-2]
    if not dims_equal(ka, kb):
        raise ShapeError(f"{name}: shapes {fmt_shape(sa)} and {fmt_shape(sb)} are not aligned ({ka} != {kb})")
    dt = promote([a.dtype, b.dtype])
    if a.ndim == 1 and b.ndim == 1:
        return TensorType(dt, ())
    if a.ndim == 1:
        return TensorType(dt, sb[:-2] + sb[-1:])
    if b.ndim == 1:
        return TensorType(dt, sa[:-1])
    batch = broadcast_shapes(name, [sa[:-2], sb[:-2]])
    return TensorType(dt, batch + (sa[-2], sb[-1]))


def _dot_infer(args: tuple, attrs: dict) -> TensorType:
    a, b = args
    if a.ndim == 0 or b.ndim == 0:
        return TensorType(promote([a.dtype, b.dtype]), broadcast_shapes("dot", [a.static_shape, b.static_shape]))
    if a.ndim > 2 or b.ndim > 2:
        raise ShapeError(
            f"dot: arguments must have ndim <= 2 (use matmul or tensordot), got shapes {fmt_shape(a.static_shape)} and {fmt_shape(b.static_shape)}"
        )
    return _matmul_infer(args, attrs, "dot")


def _matmul_runtime_shape(shapes: list, attrs: dict) -> tuple:
    a, b = tuple(shapes[0]), tuple(shapes[1])
    if len(a) == 1 and len(b) == 1:
        return ()
    if len(a) == 1:
        return b[:-2] + b[-1:]
    if len(b) == 1:
        return a[:-1]
    return tuple(np.broadcast_shapes(a[:-2], b[:-2])) + (a[-2], b[-1])


def _dot_runtime_shape(shapes: list, attrs: dict) -> tuple:
    a, b = tuple(shapes[0]), tuple(shapes[1])
    if not a or not b:
        return a or b
    return _matmul_runtime_shape(shapes, attrs)


register(
    OpDef(
        name="matmul",
        dims=dims.contraction_dims,
        equal_dims=dims.contraction_equal,
        memory="fresh",
        runtime_shape=_matmul_runtime_shape,
        infer=_matmul_infer,
        impl=np.matmul,
        arity=2,
        emit="({0} @ {1})",
        doc="matrix product with numpy's matmul rules (batched, 1-D promoted)",
        group="product",
        text_form=infix(" @ ", "multiplicative", right="unary"),
        print_kind="matrix_product",
    )
)
register(
    OpDef(
        name="dot",
        dims=dims.contraction_dims,
        equal_dims=dims.contraction_equal,
        memory="fresh",
        runtime_shape=_dot_runtime_shape,
        infer=_dot_infer,
        impl=np.dot,
        arity=2,
        emit="np.dot({0}, {1})",
        doc="np.dot for ndim <= 2 (a scalar argument multiplies)",
        group="product",
        print_kind="matrix_product",
    )
)


def sum_dtype(dtype: str) -> str:
    """The dtype numpy's sum/trace give for ``dtype`` (small ints widen to the platform int)."""
    if dtype == "bool" or dtype in ("int8", "int16", "int32"):
        return "int64"
    if dtype in ("uint8", "uint16", "uint32"):
        return "uint64"
    return dtype


# ---- tensordot ---------------------------------------------------------------------------
def _tensordot_prepare(args: tuple, attrs: dict) -> dict:
    a, b = args
    axes = attrs["axes"]
    if isinstance(axes, int | np.integer):
        n = int(axes)
        if n < 0 or n > a.ndim or n > b.ndim:
            raise AxisError(f"tensordot: axes={n} is out of range for shapes {fmt_shape(a.static_shape)} and {fmt_shape(b.static_shape)}")
        pair = (tuple(range(a.ndim - n, a.ndim)), tuple(range(n)))
    else:
        try:
            xa, xb = axes
        except (TypeError, ValueError):
            raise RewriteDiffTypeError(f"tensordot: axes must be an int or a pair of sequences of ints, got {axes!r}") from None
        xa = (xa,) if isinstance(xa, int | np.integer) else tuple(xa)
        xb = (xb,) if isinstance(xb, int | np.integer) else tuple(xb)
        if len(xa) != len(xb):
            raise ShapeError(f"tensordot: axes {axes!r} name {len(xa)} axes of a but {len(xb)} of b")
        pair = []
        for side, term, ax in (("a", a, xa), ("b", b, xb)):
            out = []
            for i in ax:
                if not isinstance(i, int | np.integer):
                    raise RewriteDiffTypeError(f"tensordot: axes must be ints, got {i!r}")
                if not -term.ndim <= i < term.ndim:
                    raise AxisError(f"tensordot: axis {i} is out of range for {side} of shape {fmt_shape(term.static_shape)}")
                out.append(int(i) % term.ndim)
            if len(set(out)) != len(out):
                raise AxisError(f"tensordot: repeated axis in {tuple(ax)!r} for {side}")
            pair.append(tuple(out))
        pair = tuple(pair)
    for i, j in zip(*pair):
        if not dims_equal(a.static_shape[i], b.static_shape[j]):
            raise ShapeError(
                f"tensordot: shapes {fmt_shape(a.static_shape)} and {fmt_shape(b.static_shape)} are not aligned "
                f"(axis {i} of a has length {a.static_shape[i]}, axis {j} of b has length {b.static_shape[j]})"
            )
    return {"axes": pair}


def _tensordot_infer(args: tuple, attrs: dict) -> TensorType:
    a, b = args
    xa, xb = attrs["axes"]
    shape = tuple(d for i, d in enumerate(a.static_shape) if i not in xa) + tuple(d for i, d in enumerate(b.static_shape) if i not in xb)
    return TensorType(promote([a.dtype, b.dtype]), shape)


register(
    OpDef(
        name="tensordot",
        memory="fresh",
        infer=_tensordot_infer,
        impl=lambda a, b, axes: np.tensordot(a, b, axes=axes),
        arity=2,
        attrs={"axes": 2},
        emit=lambda a, k: f"np.tensordot({a[0]}, {a[1]}, axes={k['axes']!r})",
        prepare=_tensordot_prepare,
        doc="tensordot(a, b, axes): sum products over the paired axes",
        group="product",
    )
)


# ---- outer -------------------------------------------------------------------------------
def _outer_infer(args: tuple, attrs: dict) -> TensorType:
    a, b = args
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"outer: arguments must be vectors, got shapes {fmt_shape(a.static_shape)} and {fmt_shape(b.static_shape)}")
    return TensorType(promote([a.dtype, b.dtype]), (a.static_shape[0], b.static_shape[0]))


register(
    OpDef(
        name="outer",
        memory="fresh",
        infer=_outer_infer,
        impl=np.outer,
        arity=2,
        emit="np.outer({0}, {1})",
        doc="outer product of two vectors",
        group="product",
    )
)


# ---- einsum ------------------------------------------------------------------------------
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _einsum_split(op: str, spec: str) -> tuple[bool, str]:
    """(has ellipsis, letters) of one operand's subscripts, validating the characters."""
    ell = spec.count("...")
    if ell > 1:
        raise ShapeError(f"{op}: more than one ellipsis in {spec!r}")
    letters = spec.replace("...", "")
    for c in letters:
        if c not in _LETTERS:
            raise ShapeError(f"{op}: invalid subscript character {c!r} in {spec!r}")
    return bool(ell), letters


def parse_einsum(subscripts: str, shapes: list[tuple]) -> tuple[str, tuple]:
    """Validate ``subscripts`` against the operand shapes: (explicit subscripts, output shape)."""
    op = "einsum"
    if not isinstance(subscripts, str):
        raise RewriteDiffTypeError(f"{op}: subscripts must be a string, got {subscripts!r}")
    text = subscripts.replace(" ", "")
    if text.count("->") > 1:
        raise ShapeError(f"{op}: subscripts {subscripts!r} have more than one '->'")
    lhs, arrow, rhs = text.partition("->")
    specs = lhs.split(",")
    shown = ", ".join(fmt_shape(s) for s in shapes)
    if len(specs) != len(shapes):
        raise ShapeError(f"{op}: subscripts {subscripts!r} name {len(specs)} operand(s), got {len(shapes)} of shapes {shown}")
    dims: dict[str, Any] = {}
    counts: dict[str, int] = {}
    ell_shapes = []
    any_ell = False
    for spec, shape in zip(specs, shapes):
        ell, letters = _einsum_split(op, spec)
        if (ell and len(letters) > len(shape)) or (not ell and len(letters) != len(shape)):
            raise ShapeError(f"{op}: operand subscripts {spec!r} do not fit an operand of shape {fmt_shape(shape)} (operands {shown})")
        if ell:
            any_ell = True
            head = spec.index("...")
            n_ell = len(shape) - len(letters)
            ell_shapes.append(shape[head : head + n_ell])
            labelled = shape[:head] + shape[head + n_ell :]
        else:
            labelled = shape
        for c, d in zip(letters, labelled):
            counts[c] = counts.get(c, 0) + 1
            if c in dims:
                try:
                    dims[c] = broadcast_shapes(op, [(dims[c],), (d,)])[0]
                except ShapeError:
                    raise ShapeError(f"{op}: subscript {c!r} has lengths {dims[c]} and {d} in operands of shapes {shown}") from None
            else:
                dims[c] = d
    ell_shape = broadcast_shapes(op, ell_shapes) if ell_shapes else ()
    if arrow:
        out_ell, out_letters = _einsum_split(op, rhs)
        if out_ell and not any_ell:
            raise ShapeError(f"{op}: output {rhs!r} has an ellipsis but no operand does")
        if len(set(out_letters)) != len(out_letters):
            raise ShapeError(f"{op}: output subscripts {rhs!r} repeat a letter")
        for c in out_letters:
            if c not in dims:
                raise ShapeError(f"{op}: output subscript {c!r} does not appear in the operands of {subscripts!r}")
        out = rhs
    else:
        out_ell = any_ell
        out_letters = "".join(sorted(c for c, n in counts.items() if n == 1))
        out = ("..." if any_ell else "") + out_letters
    shape: list = []
    if out_ell:
        head = out.index("...")
        shape = [dims[c] for c in out[:head]] + list(ell_shape) + [dims[c] for c in out[head + 3 :]]
    else:
        shape = [dims[c] for c in out_letters]
    return f"{lhs}->{out}", tuple(shape)


def _einsum_prepare(args: tuple, attrs: dict) -> dict:
    return {"subscripts": parse_einsum(attrs["subscripts"], [a.static_shape for a in args])[0]}


def _einsum_infer(args: tuple, attrs: dict) -> TensorType:
    _, shape = parse_einsum(attrs["subscripts"], [a.static_shape for a in args])
    return TensorType(promote([a.dtype for a in args]), shape)


register(
    OpDef(
        name="einsum",
        infer=_einsum_infer,
        impl=lambda *xs, subscripts: np.asarray(np.einsum(subscripts, *xs)),
        arity=(1, None),
        attrs={"subscripts": ""},
        emit=lambda a, k: f"rt.einsum({k['subscripts']!r}, {', '.join(a)})" if len(a) > 2 else f"np.einsum({k['subscripts']!r}, {', '.join(a)})",
        prepare=_einsum_prepare,
        doc="Einstein summation over the operands (numpy's subscripts, explicit form)",
        group="product",
    )
)


# ---- trace and diag ------------------------------------------------------------------------
def _int_attr(op: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise RewriteDiffTypeError(f"{op}: {name} must be an int, got {value!r}")
    return int(value)


def _trace_infer(args: tuple, attrs: dict) -> TensorType:
    x = args[0]
    if x.ndim != 2:
        raise ShapeError(f"trace: argument must be a matrix, got shape {fmt_shape(x.static_shape)}")
    return TensorType(sum_dtype(x.dtype), ())


register(
    OpDef(
        name="trace",
        memory="fresh",
        infer=_trace_infer,
        impl=lambda x, offset=0: np.asarray(np.trace(x, offset=offset)),
        attrs={"offset": 0},
        emit=lambda a, k: f"np.trace({a[0]}, offset={k['offset']})" if k["offset"] else f"np.trace({a[0]})",
        prepare=lambda args, attrs: {"offset": _int_attr("trace", "offset", attrs["offset"])},
        doc="sum of a matrix's diagonal number offset",
        group="product",
    )
)


def _diag_len(m: Any, n: Any, k: int) -> Any:
    """Length of diagonal k of an (m, n) matrix, None if unknown."""
    if k >= 0:
        if n is not None and n <= k:
            return 0
        if m is None or n is None:
            return None
        return max(0, min(m, n - k))
    if m is not None and m <= -k:
        return 0
    if m is None or n is None:
        return None
    return max(0, min(m + k, n))


def _diag_infer(args: tuple, attrs: dict) -> TensorType:
    x = args[0]
    k = attrs["k"]
    if x.ndim == 1:
        n = x.static_shape[0]
        size = None if n is None else n + abs(k)
        return TensorType(x.dtype, (size, size))
    if x.ndim == 2:
        return TensorType(x.dtype, (_diag_len(*x.static_shape, k),))
    raise ShapeError(f"diag: argument must be a vector or a matrix, got shape {fmt_shape(x.static_shape)}")


register(
    OpDef(
        name="diag",
        infer=_diag_infer,
        impl=lambda x, k=0: np.diag(x, k),
        attrs={"k": 0},
        emit=lambda a, k: f"np.diag({a[0]}, {k['k']})" if k["k"] else f"np.diag({a[0]})",
        prepare=lambda args, attrs: {"k": _int_attr("diag", "k", attrs["k"])},
        doc="numpy's diag: a vector to a diagonal matrix, a matrix to its diagonal k",
        group="product",
    )
)
