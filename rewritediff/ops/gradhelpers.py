"""Tensor helper ops that derivative rules call, so each rule stays one line.

``expand_like(g, x){axis, keepdims}`` undoes a reduction's shape (re-inserting the reduced
axes, then broadcasting to x's run-time shape); ``reshape_like(g, x)`` reshapes to x's
run-time shape; ``count(x){axis}`` is the number of elements a reduction over ``axis``
combines; ``prod_others(x){axis}`` is, per element, the product of the other elements
along ``axis`` (exact when some are zero: the gradient of ``prod``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rewritediff import runtime as rt
from rewritediff.ops.infer import as_float, norm_axis
from rewritediff.ops.products import parse_einsum
from rewritediff.ops.registry import OpDef, get_op, register
from rewritediff.terms import TensorType, Term, apply, constant


def _axis_prepare(args: tuple, attrs: dict) -> dict:
    x = args[-1] if len(args) == 2 else args[0]
    out = dict(attrs)
    out["axis"] = norm_axis("expand_like", attrs["axis"], x.ndim)
    if "keepdims" in out:
        out["keepdims"] = bool(out["keepdims"])
    if "batch" in out:
        out["batch"] = int(out["batch"])
    return out


def _batched_infer(args: tuple, attrs: dict) -> TensorType:
    g, x = args
    return TensorType(g.dtype, g.static_shape[: attrs.get("batch", 0)] + x.static_shape)


register(
    OpDef(
        name="expand_like",
        shape_from=1,
        shape_args=(1,),
        infer=_batched_infer,
        impl=lambda g, x, axis=None, keepdims=False, batch=0: rt.expand_like(g, np.shape(x), axis, keepdims, batch),
        arity=2,
        attrs={"axis": None, "keepdims": False, "batch": 0},
        emit=lambda a, k: f"rt.expand_like({a[0]}, np.shape({a[1]}), {k['axis']!r}, {k['keepdims']!r}{', ' + str(k['batch']) if k['batch'] else ''})",
        prepare=_axis_prepare,
        doc="expand_like(g, x){axis, keepdims}: g, the result of reducing x over axis, broadcast back to x's shape",
        group="gradient-helper",
    )
)

register(
    OpDef(
        name="reshape_like",
        shape_from=1,
        shape_args=(1,),
        infer=_batched_infer,
        impl=lambda g, x, batch=0: np.reshape(g, np.shape(g)[:batch] + np.shape(x)),
        arity=2,
        attrs={"batch": 0},
        prepare=lambda args, attrs: {"batch": int(attrs["batch"])},
        emit=lambda a, k: f"np.reshape({a[0]}, np.shape({a[0]})[:{k['batch']}] + np.shape({a[1]}))" if k["batch"] else f"np.reshape({a[0]}, np.shape({a[1]}))",
        doc="reshape_like(g, x): g reshaped to x's run-time shape",
        group="gradient-helper",
    )
)


def _count_impl(x: Any, axis: Any = None) -> np.int64:
    shape = np.shape(x)
    axes = range(len(shape)) if axis is None else axis
    return np.int64(math.prod(shape[a] for a in axes))


def _count_dims(attrs: dict, child: list) -> list | None:
    """The lengths a reduction over ``axis`` combines (their product is the count)."""
    if not child or child[0] is None:
        return None
    axis = attrs.get("axis")
    return [d for i, d in enumerate(child[0]) if axis is None or i in axis]


register(
    OpDef(
        name="count",
        memory="fresh",
        shape_args=(0,),
        infer=lambda args, attrs: TensorType("int64", ()),
        impl=_count_impl,
        attrs={"axis": None},
        emit=lambda a, k: f"np.int64(np.size({a[0]}))" if k["axis"] is None else f"np.int64(rt.count({a[0]}, {k['axis']!r}))",
        prepare=_axis_prepare,
        doc="count(x){axis}: how many elements a reduction of x over axis combines",
        dim_product=_count_dims,
        group="gradient-helper",
        differentiable=False,
    )
)

register(
    OpDef(
        name="prod_others",
        memory="fresh",
        infer=lambda args, attrs: TensorType(as_float(args[0].dtype) if args[0].dtype == "bool" else args[0].dtype, args[0].static_shape),
        impl=lambda x, axis=None: rt.prod_others(x, axis),
        attrs={"axis": None},
        emit="rt.prod_others({0}, {axis!r})",
        prepare=_axis_prepare,
        doc="prod_others(x){axis}: per element, the product of the other elements along axis (exact with zeros)",
        group="gradient-helper",
    )
)


# ---- helpers for the derivatives of products, shape ops and linear algebra ---------------------------------
def _eye_like(x: np.ndarray, k: int = 0) -> np.ndarray:
    """The k-th diagonal pattern (ones on it, zeros elsewhere) shaped like the matrix x."""
    n, m = np.shape(x)
    return np.eye(n, m, k, dtype=np.asarray(x).dtype if np.asarray(x).dtype.kind == "f" else np.float64)


def _diag_embed_like(g: np.ndarray, x: np.ndarray, k: int = 0) -> np.ndarray:
    """Zeros shaped like the matrix x with the vector g on its k-th diagonal (the transpose of diag)."""
    n, m = np.shape(x)
    out = np.zeros((n, m), dtype=np.asarray(g).dtype)
    rows = np.arange(max(0, -k), max(0, -k) + len(g))
    out[rows, rows + k] = g
    return out


def _unrepeat(g: np.ndarray, x: np.ndarray, repeats: int = 1, axis: Any = None) -> np.ndarray:
    """The transpose of np.repeat(x, repeats, axis): sum each run of ``repeats`` copies."""
    g = np.asarray(g)
    shape = np.shape(x)
    if axis is None:
        return g.reshape(-1, repeats).sum(axis=1).reshape(shape)
    split = g.shape[:axis] + (shape[axis], repeats) + g.shape[axis + 1 :]
    return g.reshape(split).sum(axis=axis + 1)


def _untile(g: np.ndarray, x: np.ndarray, reps: tuple = ()) -> np.ndarray:
    """The transpose of np.tile(x, reps): sum the tiles."""
    g = np.asarray(g)
    shape = np.shape(x)
    nd = g.ndim
    shape = (1,) * (nd - len(shape)) + tuple(shape)
    reps = (1,) * (nd - len(reps)) + tuple(reps)
    split: list[int] = []
    for r, s in zip(reps, shape):
        split += [r, s]
    out = g.reshape(split).sum(axis=tuple(range(0, 2 * nd, 2)))
    return out.reshape(np.shape(x))


def _phi(x: np.ndarray) -> np.ndarray:
    """Lower triangle with the diagonal halved (the Cholesky derivative's projection)."""
    out = np.tril(x)  # on the last two axes, so a batch of matrices works too
    d = np.arange(min(out.shape[-2:]))
    out[..., d, d] *= 0.5
    return out


register(
    OpDef(
        name="eye_like",
        shape_from=0,
        shape_args=(0,),
        infer=lambda args, attrs: TensorType(as_float(args[0].dtype), args[0].static_shape),
        impl=_eye_like,
        attrs={"k": 0},
        doc="eye_like(x){k}: ones on the k-th diagonal, zeros elsewhere, shaped like the matrix x",
        group="gradient-helper",
        differentiable=False,
    )
)


register(
    OpDef(
        name="diag_embed_like",
        shape_from=1,
        shape_args=(1,),
        infer=lambda args, attrs: TensorType(args[0].dtype, args[1].static_shape),
        impl=_diag_embed_like,
        arity=2,
        attrs={"k": 0},
        doc="diag_embed_like(g, x){k}: zeros shaped like the matrix x with g on the k-th diagonal",
        group="gradient-helper",
    )
)
register(
    OpDef(
        name="unrepeat",
        shape_from=1,
        shape_args=(1,),
        infer=lambda args, attrs: TensorType(args[0].dtype, args[1].static_shape),
        impl=_unrepeat,
        arity=2,
        attrs={"repeats": 1, "axis": None},
        doc="unrepeat(g, x){repeats, axis}: the transpose of repeat (sums each run of copies)",
        group="gradient-helper",
    )
)
register(
    OpDef(
        name="untile",
        shape_from=1,
        shape_args=(1,),
        infer=lambda args, attrs: TensorType(args[0].dtype, args[1].static_shape),
        impl=_untile,
        arity=2,
        attrs={"reps": ()},
        doc="untile(g, x){reps}: the transpose of tile (sums the tiles)",
        group="gradient-helper",
    )
)
register(
    OpDef(
        name="phi",
        shape_from=0,
        infer=lambda args, attrs: args[0].type,
        impl=_phi,
        doc="phi(x): the lower triangle of x with its diagonal halved",
        group="gradient-helper",
    )
)


# ---- join and einsum: per-argument pieces of their derivatives ------------------------------------------------
def _join_offsets(xs: tuple, axis: int, i: int) -> tuple[int, int]:
    sizes = [np.shape(x)[axis] for x in xs]
    start = int(sum(sizes[:i]))
    return start, start + sizes[i]


def _join_part(g: np.ndarray, *xs: np.ndarray, axis: int = 0, i: int = 0) -> np.ndarray:
    """The block of g that argument i of join(*xs) along ``axis`` became."""
    start, stop = _join_offsets(xs, axis, i)
    return np.asarray(g)[(slice(None),) * axis + (slice(start, stop),)]


def _join_embed(ct: np.ndarray, *xs: np.ndarray, axis: int = 0, i: int = 0) -> np.ndarray:
    """ct placed where argument i sits in join(*xs) along ``axis``, zeros elsewhere."""
    ct = np.asarray(ct)
    parts = [ct if j == i else np.zeros(np.shape(x)[:axis] + np.shape(x)[axis:], dtype=ct.dtype) for j, x in enumerate(xs)]
    return np.concatenate(parts, axis=axis)


def _einsum_letters(subscripts: str, ndims: list[int]) -> tuple[list[str], str]:
    """Operand and output subscripts with any ellipsis replaced by fresh letters."""
    ins, out = subscripts.split("->")
    specs = ins.split(",")
    used = set(subscripts)
    fresh = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
    n_ell = max((nd - len(s.replace("...", "")) for s, nd in zip(specs, ndims) if "..." in s), default=0)
    ell = "".join(fresh[:n_ell])
    specs = [s.replace("...", ell[n_ell - (nd - len(s.replace("...", ""))) :]) for s, nd in zip(specs, ndims)]
    return specs, out.replace("...", ell)


def _einsum_grad(g: np.ndarray, *xs: np.ndarray, subscripts: str = "", i: int = 0) -> np.ndarray:
    """The adjoint of operand i of einsum(subscripts, *xs) for the output cotangent g (diagonals and broadcasts included)."""
    xs = tuple(np.asarray(x) for x in xs)
    specs, out = _einsum_letters(subscripts, [x.ndim for x in xs])
    target = specs[i]
    sizes = dict(zip(target, xs[i].shape))
    uniq = "".join(dict.fromkeys(target))
    others = [(s, x) for j, (s, x) in enumerate(zip(specs, xs)) if j != i]
    seen = set(out) | set("".join(s for s, _ in others))
    missing = [c for c in uniq if c not in seen]
    ops = [np.asarray(g)] + [x for _, x in others] + [np.ones(sizes[c]) for c in missing]
    subs = ",".join([out] + [s for s, _ in others] + missing) + "->" + uniq
    r = np.einsum(subs, *ops)
    if len(uniq) == len(target):
        return r
    res = np.zeros(xs[i].shape, dtype=r.dtype)
    grids = {c: np.arange(sizes[c]).reshape([-1 if d == c else 1 for d in uniq]) for c in uniq}
    res[tuple(grids[c] for c in target)] = r
    return res


def _einsum_replace(t: np.ndarray, *xs: np.ndarray, subscripts: str = "", i: int = 0) -> np.ndarray:
    """einsum(subscripts, *xs) with operand i replaced by t (a tangent of that operand)."""
    ops = list(xs)
    ops[i] = t
    return np.asarray(np.einsum(subscripts, *ops))


def _length_term(x: Term, d: int) -> Any:
    """Dim d of x: its static length, or the run-time length as a 0-d term."""
    n = x.static_shape[d]
    return n if n is not None else apply("shape_i", x, i=d)


def _sized(op: str, length: Any, **attrs: Any) -> Term:
    """A constructor of one static or run-time length (``eye(n)``, ``alloc(v, n)``)."""
    if op == "eye":
        if isinstance(length, int):
            return apply("eye", n=length, m=length, **attrs)
        return apply("eye", length, n=None, sym=("n",), **attrs)
    value = attrs["value"]
    if isinstance(length, int):
        return apply("alloc", value, shape=(length,))
    return apply("alloc", value, length, shape=(None,))


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _einsum_adjoint(g: Term, out: str, others: list, target: str, x: Term, lead: str = "") -> Term:
    """The adjoint of an einsum operand with subscripts ``target`` (no ellipsis) shaped like ``x``, as ordinary
    ops: an einsum of g (subscripts ``out``) and the other operands ((subscripts, term) pairs); letters only
    that operand has are broadcast back, and a repeated letter (a diagonal) is put back by an identity
    operand. ``lead``: a batch letter g or the others carry, kept first in the result."""
    seen = set(out) | {c for spec, _ in others for c in spec}
    uniq = list(dict.fromkeys(target))
    kept = list(lead) + [c for c in uniq if c in seen]
    r = apply("einsum", g, *[t for _, t in others], subscripts=",".join([out] + [spec for spec, _ in others]) + "->" + "".join(kept))
    if len(uniq) == len(target):
        if len(kept) == len(lead) + len(uniq):
            return r
        pattern = tuple(range(len(lead))) + tuple(kept.index(c) if c in kept else "x" for c in target)
        return apply("broadcast_like", apply("dimshuffle", r, pattern=pattern), x, batch=len(lead))
    used = set(out + target + lead).union(*[set(spec) for spec, _ in others])
    fresh = iter(c for c in _LETTERS if c not in used)
    first: set[str] = set()
    letters, ops, specs = list(lead), [r], ["".join(kept)]
    for pos, c in enumerate(target):
        if c not in first:
            first.add(c)
            letters.append(c)
            if c not in kept:  # a letter the operand alone has: a vector of ones of its length
                ops.append(_sized("alloc", _length_term(x, pos), value=constant(1.0, g.dtype)))
                specs.append(c)
            continue
        new = next(fresh)
        letters.append(new)
        ops.append(_sized("eye", _length_term(x, pos), k=0, dtype=g.dtype))
        specs.append(c + new)
    return apply("einsum", *ops, subscripts=",".join(specs) + "->" + "".join(letters))


def _einsum_grad_expansion(args: tuple, attrs: dict) -> Term:
    """einsum_grad as ordinary ops (see ``_einsum_adjoint``), so its derivatives are einsum's: the
    second derivatives of einsum (and of tensordot, whose gradient is an einsum) work."""
    g, xs, i = args[0], args[1:], attrs["i"]
    specs, out = _einsum_letters(attrs["subscripts"], [x.ndim for x in xs])
    others = [(spec, t) for j, (spec, t) in enumerate(zip(specs, xs)) if j != i]
    return _einsum_adjoint(g, out, others, specs[i], xs[i])


def _einsum_replace_expansion(args: tuple, attrs: dict) -> Term:
    """einsum_replace as an einsum with operand i replaced (its derivatives are einsum's)."""
    t, xs, i = args[0], list(args[1:]), attrs["i"]
    xs[i] = t
    return apply("einsum", *xs, subscripts=attrs["subscripts"])


def _batch_letter(subscripts: str, specs: list[str]) -> str:
    used = set(subscripts).union(*[set(s) for s in specs])
    return next(c for c in reversed(_LETTERS) if c not in used)


def _einsum_grad_batch(node: Term, args: list, flags: list, n: Any) -> Term | None:
    """A batch of cotangents (or of the other operands): one more letter, kept first in the result."""
    xs, i = node.args[1:], node.attr("i")
    if flags[1 + i]:
        return None  # operand i gives only a shape; a batch of shapes has no einsum form
    specs, out = _einsum_letters(node.attr("subscripts"), [x.ndim for x in xs])
    z = _batch_letter(node.attr("subscripts"), specs + [out])
    others = [(z + spec if f else spec, t) for j, (spec, t, f) in enumerate(zip(specs, args[1:], flags[1:])) if j != i]
    return _einsum_adjoint(args[0], z + out if flags[0] else out, others, specs[i], xs[i], lead=z)


def _einsum_replace_batch(node: Term, args: list, flags: list, n: Any) -> Term:
    """einsum_replace on a batch: the einsum it stands for, with a batch letter on the batched operands."""
    xs, i = node.args[1:], node.attr("i")
    specs, out = _einsum_letters(node.attr("subscripts"), [x.ndim for x in xs])
    z = _batch_letter(node.attr("subscripts"), specs + [out])
    ops, fl = list(args[1:]), list(flags[1:])
    ops[i], fl[i] = args[0], flags[0]
    return apply("einsum", *ops, subscripts=",".join(z + s if f else s for s, f in zip(specs, fl)) + "->" + z + out)


def _nth_type(args: tuple, attrs: dict) -> TensorType:
    """g's dtype, the shape of argument i of the operands that follow g."""
    return TensorType(args[0].dtype, args[1 + attrs["i"]].static_shape)


for _name, _impl, _infer, _doc in (
    ("join_part", _join_part, _nth_type, "join_part(g, *xs){axis, i}: the block of g that argument i of join(*xs) became"),
    ("einsum_grad", _einsum_grad, _nth_type, "einsum_grad(g, *xs){subscripts, i}: the adjoint of operand i of einsum"),
):
    register(
        OpDef(
            name=_name,
            infer=_infer,
            impl=_impl,
            arity=(2, None),
            attrs={"axis": 0, "i": 0} if _name == "join_part" else {"subscripts": "", "i": 0},
            doc=_doc,
            group="gradient-helper",
            expand=_einsum_grad_expansion if _name == "einsum_grad" else None,
            batch=_einsum_grad_batch if _name == "einsum_grad" else None,
        )
    )


def _join_embed_infer(args: tuple, attrs: dict) -> TensorType:

    return TensorType(args[0].dtype, get_op("join").infer(args[1:], {"axis": attrs["axis"]}).shape)


def _einsum_replace_infer(args: tuple, attrs: dict) -> TensorType:

    shapes = [a.static_shape for a in args[1:]]
    _, shape = parse_einsum(attrs["subscripts"], shapes)
    return TensorType(args[0].dtype, shape)


register(
    OpDef(
        name="join_embed",
        infer=_join_embed_infer,
        impl=_join_embed,
        arity=(2, None),
        attrs={"axis": 0, "i": 0},
        doc="join_embed(ct, *xs){axis, i}: ct where argument i sits in join(*xs), zeros elsewhere",
        group="gradient-helper",
    )
)
register(
    OpDef(
        name="einsum_replace",
        infer=_einsum_replace_infer,
        impl=_einsum_replace,
        arity=(2, None),
        attrs={"subscripts": "", "i": 0},
        doc="einsum_replace(t, *xs){subscripts, i}: einsum with operand i replaced by t",
        group="gradient-helper",
        expand=_einsum_replace_expansion,
        batch=_einsum_replace_batch,
    )
)


# ---- stand-ins: values needed only for their shape ---------------------------------------------------------------
def _stand_in_infer(args: tuple, attrs: dict) -> TensorType:

    return get_op(attrs["of"]).infer(args, dict(attrs["of_attrs"]))


def _stand_in(*refs: Any, of: str = "", of_attrs: tuple = (), dtype: str = "float64") -> np.ndarray:
    """A zero-strided array with the run-time shape ``of(*refs)`` would have, computed from the refs' shapes alone."""

    shape = get_op(of).runtime_shape([np.shape(r) for r in refs], dict(of_attrs))
    return np.broadcast_to(np.zeros((), dtype=dtype), shape)


register(
    OpDef(
        name="stand_in",
        infer=_stand_in_infer,
        impl=_stand_in,
        arity=(1, None),
        attrs={"of": "", "of_attrs": (), "dtype": "float64"},
        emit=lambda a, k: f"rt.stand_in(({', '.join(f'np.shape({x})' for x in a)},), {k['of']!r}, {k['of_attrs']!r}, {k['dtype']!r})",
        shape_args=(),
        doc="stand_in(*refs){of, of_attrs, dtype}: stands for of(*refs) where only its shape is used (no values computed)",
        group="gradient-helper",
        differentiable=False,
    )
)
