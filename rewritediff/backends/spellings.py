"""How each op is spelled for the non-numpy backends: the one place where spellings live.

Lookup order for an op on a backend (see :func:`spell`):

1. the backend's own table (``BACKEND_SPELLINGS[backend]``): functions outside the Array API
   standard (``einsum``, ``diag``), or a better idiom of that library (JAX's ``x.at[i].set(v)``);
2. ``STANDARD``: Array API spellings of the ops whose numpy spelling calls numpy-only
   functions, the numpy runtime (``rt.sigmoid``) or takes numpy-only arguments (``ddof``),
   shared by every backend;
3. the op table itself, for every other op: the op's numpy spelling (``OpDef.emit``) is used
   when everything it names is a function of the Array API standard (``np.exp(x)``,
   ``np.where(c, a, b)``, ``(x + y)``, ``x[1:3]``), numpy's older names renamed (``arcsin`` ->
   ``asin``). Composite (``def``) ops are lowered through their expansions.

An op none of these spells, or whose spelling names a function the backend's namespace lacks,
is refused at build time with :class:`UnsupportedOpError` naming the op and the backend.

Generated code names the array namespace ``xp`` and the helpers of
:mod:`rewritediff.backends.generic` ``ax``; a spelling is a function ``(node, argnames) -> source``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rewritediff.errors import RewriteDiffTypeError
from rewritediff.ops import get_op
from rewritediff.ops.indexing import index_text
from rewritediff.terms import Term

Spelling = Callable[[Term, list[str]], str]


class UnsupportedOpError(RewriteDiffTypeError):
    """An op that a backend cannot run, found when the function is built."""

    def __init__(self, op: str, backend: str, why: str = "") -> None:
        self.op, self.backend = op, backend
        super().__init__(f"op {op!r} is not supported by the {backend!r} backend" + (f": {why}" if why else ""))


# the Array API standard (2023.12): functions, constants and dtypes of the main namespace
API_NAMES = frozenset(
    """abs acos acosh add all any arange argmax argmin argsort asarray asin asinh astype atan atan2 atanh
    bitwise_and bitwise_invert bitwise_left_shift bitwise_or bitwise_right_shift bitwise_xor broadcast_arrays
    broadcast_to can_cast ceil clip concat conj copysign cos cosh cumulative_sum divide e empty empty_like
    equal exp expand_dims expm1 eye finfo flip floor floor_divide from_dlpack full full_like greater
    greater_equal hypot iinfo imag inf isdtype isfinite isinf isnan less less_equal linspace log log10 log1p
    log2 logaddexp logical_and logical_not logical_or logical_xor matmul matrix_transpose max maximum mean
    meshgrid min minimum moveaxis multiply nan negative newaxis nonzero not_equal ones ones_like permute_dims
    pi positive pow prod real remainder repeat reshape result_type roll round searchsorted sign signbit sin
    sinh sort sqrt square squeeze stack std subtract sum take tan tanh tensordot tile tril triu trunc unstack
    var vecdot where zeros zeros_like
    bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64 complex64 complex128""".split()
)
# the linalg extension
LINALG_NAMES = frozenset(
    "cholesky cross det diagonal eigh eigvalsh inv matmul matrix_norm matrix_power matrix_rank pinv qr slogdet solve svd svdvals trace vector_norm".split()
)
# numpy names that the standard spells differently
NUMPY_TO_API = {
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arcsinh": "asinh",
    "arccosh": "acosh",
    "arctanh": "atanh",
    "concatenate": "concat",
    "transpose": "permute_dims",
    "power": "pow",
    "absolute": "abs",
}
_DOTTED = re.compile(r"(?<![\w.'\"])([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)+)")
_XP_NAME = re.compile(r"\bxp\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)")


def from_op_table(node: Term, a: list[str]) -> str | None:
    """The op table's numpy spelling with ``np.`` read as ``xp.``, when it names only standard functions; else None."""
    opdef = get_op(node.op)
    try:
        src = opdef.source(a, node.attr_dict)
    except Exception:  # noqa: BLE001 - a template that does not render for these attributes: not portable
        return None
    if src is None or "'" in src or '"' in src:
        return None
    out: list[str] = []
    pos = 0
    for m in _DOTTED.finditer(src):
        base, rest = m.group(1), m.group(2)[1:]
        if base != "np" or "." in rest:
            return None  # a method, an attribute, the numpy runtime or a numpy submodule
        name = NUMPY_TO_API.get(rest, rest)
        if name not in API_NAMES:
            return None
        out.append(src[pos : m.start()] + f"xp.{name}")
        pos = m.end()
    out.append(src[pos:])
    return "".join(out)


# ---- spellings of the ops whose numpy spelling is not portable ---------------------------------------------


def _axis_kw(k: dict) -> str:
    return f", axis={k['axis']!r}" if k.get("axis") is not None else ""


def _nary(fn: str, sep: str) -> Spelling:
    return lambda n, a: "(" + sep.join(a) + ")" if len(a) <= 32 else f"ax.{fn}(xp, {', '.join(a)})"


def _moments(fn: str) -> Spelling:
    def spell(n: Term, a: list[str]) -> str:
        k = n.attr_dict
        kw = _axis_kw(k) + (f", correction={k['ddof']}" if k.get("ddof") else "") + (", keepdims=True" if k.get("keepdims") else "")
        return f"xp.{fn}({a[0]}{kw})"

    return spell


def _arg_reduce(fn: str) -> Spelling:
    def spell(n: Term, a: list[str]) -> str:
        axis = n.attr("axis")
        if isinstance(axis, tuple | list):
            if len(axis) != 1:
                raise UnsupportedOpError(n.op, "*", f"{fn} over several axes {axis} is not in the Array API")
            axis = axis[0]
        kw = "" if axis is None else f", axis={axis}"
        kw += ", keepdims=True" if n.attr("keepdims") else ""
        return f"xp.{fn}({a[0]}{kw})"

    return spell


def _float(node: Term, i: int, a: list[str]) -> str:
    """Argument i, converted to float64 when it is not floating (linear algebra wants floats)."""
    return a[i] if node.args[i].dtype.startswith("float") else f"xp.astype({a[i]}, xp.float64)"


def _dims_text(k: dict, a: list[str], first: int) -> str:
    """A shape attribute as source, symbolic dims (None) read from the arguments after ``first``."""
    dims = iter(a[first:])
    parts = [str(d) if d is not None else f"int({next(dims)})" for d in k["shape"]]
    return f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"


def _sym_shape(n: Term, a: list[str]) -> str:
    """specify_shape's shape as source: the axes in ``sym`` read from the arguments after x."""
    given = dict(zip(n.attr("sym", ()), a[1:]))
    parts = [f"int({given[i]})" if i in given else repr(d) for i, d in enumerate(n.attr("shape"))]
    return f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"


def _eye(n: Term, a: list[str]) -> str:
    """eye, its sizes static or read from its arguments (``sym``); m is n when not given."""
    sym, it = n.attr("sym", ()), iter(a)
    rows = f"int({next(it)})" if "n" in sym else str(n.attr("n"))
    cols = f"int({next(it)})" if "m" in sym else str(n.attr("m")) if n.attr("m") is not None else rows
    return f"xp.eye({rows}, {cols}, k={n.attr('k')}, dtype=xp.{n.dtype})"


def _dot(n: Term, a: list[str]) -> str:
    x, y = n.args
    if x.ndim == 0 or y.ndim == 0:
        return f"({a[0]} * {a[1]})"
    if y.ndim <= 2:
        return f"xp.matmul({a[0]}, {a[1]})"
    return f"xp.tensordot({a[0]}, {a[1]}, axes=(({x.ndim - 1},), ({y.ndim - 2},)))"


def _index(n: Term, a: list[str]) -> str:
    return index_text(n.attr("idx"), a[2:]) or "()"


def _has_array_index(n: Term) -> bool:
    return any(e[0] in ("adv", "mask") for e in n.attr("idx"))


def _set_sub(inc: bool) -> Spelling:
    def spell(n: Term, a: list[str]) -> str:
        if inc and _has_array_index(n):
            raise UnsupportedOpError(n.op, "*", "accumulating at repeated array indices needs a scatter-add, which the Array API lacks")
        return f"ax.set_subtensor(xp, {a[0]}, {a[1]}, ax.index[{_index(n, a)}], {inc})"

    return spell


def _shapes(a: list[str]) -> str:
    return "(" + "".join(f"ax.shape({x}), " for x in a) + ")"


def _reshape_like(n: Term, a: list[str]) -> str:
    b = n.attr("batch")
    return f"xp.reshape({a[0]}, ax.shape({a[0]})[:{b}] + ax.shape({a[1]}))" if b else f"xp.reshape({a[0]}, ax.shape({a[1]}))"


def _cholesky(n: Term, a: list[str]) -> str:
    return f"xp.linalg.cholesky({_float(n, 0, a)})" if n.attr("lower") else f"xp.linalg.cholesky({_float(n, 0, a)}, upper=True)"


def _sym_from_triangle(n: Term, a: list[str]) -> str:
    """The symmetric matrix argument 0's lower (or upper) triangle stands for (what LAPACK's eigh reads)."""
    x, lower = _float(n, 0, a), n.attr("lower")
    return f"(ax.triangle(xp, {x}, 0, {lower!r}) + xp.permute_dims(ax.triangle(xp, {x}, {-1 if lower else 1}, {lower!r}), (1, 0)))"


def _cho_solve(n: Term, a: list[str]) -> str:
    """The standard has no Cholesky solve: a general solve with the matrix the factor's triangle gives."""
    t = f"ax.triangle(xp, {_float(n, 0, a)}, 0, {n.attr('lower')!r})"
    m = f"({t} @ xp.permute_dims({t}, (1, 0)))" if n.attr("lower") else f"(xp.permute_dims({t}, (1, 0)) @ {t})"
    return f"xp.linalg.solve({m}, {_float(n, 1, a)})"


def _gap_div(n: Term, a: list[str]) -> str:
    """x / (w[j] -+ w[i]) off the diagonal, 0 on it and where the divisor is 0 to rounding (no warning)."""
    x, w = a
    d = f"({w}[None, :] + {w}[:, None])" if n.attr("plus") else f"({w}[None, :] - {w}[:, None])"
    zero = f"((xp.abs({d}) <= 64 * {w}.shape[0] * xp.finfo({w}.dtype).eps * xp.max(xp.abs({w}))) | xp.eye({w}.shape[0], dtype=xp.bool))"
    return f"xp.where({zero}, xp.zeros_like({x}), {x} / xp.where({zero}, xp.ones_like({d}), {d}))"


def _matrix_rank(n: Term, a: list[str]) -> str:
    rcond = n.attr("rcond")
    return f"xp.astype(xp.linalg.matrix_rank({_float(n, 0, a)}{'' if rcond is None else f', rtol={rcond!r}'}), xp.int64)"


def _refuse(why: str) -> Spelling:
    def spell(n: Term, a: list[str]) -> str:
        raise UnsupportedOpError(n.op, "*", why)

    return spell


def _special(fn: str) -> Spelling:
    def spell(n: Term, a: list[str]) -> str:
        extra = ", keepdims=True" if n.attr("keepdims") else ""
        return f"ax.{fn}(xp, {a[0]}, axis={n.attr('axis')!r}{extra})"

    return spell


def _fill_value(value: float) -> Spelling:
    return lambda n, a: f"xp.full(ax.shape({a[0]}), {value}, dtype=xp.{n.dtype})"


STANDARD: dict[str, Spelling] = {
    "add": _nary("add_n", " + "),
    "mul": _nary("mul_n", " * "),
    "cast": lambda n, a: f"xp.astype({a[0]}, xp.{n.attr('dtype')})",
    "sigmoid": lambda n, a: f"ax.sigmoid(xp, {a[0]})",
    "softplus": lambda n, a: f"ax.softplus(xp, {a[0]})",
    "log_sigmoid": lambda n, a: f"(-ax.softplus(xp, -{a[0]}))",
    "var": _moments("var"),
    "std": _moments("std"),
    "argmax": _arg_reduce("argmax"),
    "argmin": _arg_reduce("argmin"),
    "dimshuffle": lambda n, a: f"ax.dimshuffle(xp, {a[0]}, {n.attr('pattern')!r})",
    "reshape_like": _reshape_like,
    "expand_like": lambda n, a: f"ax.expand_like(xp, {a[0]}, ax.shape({a[1]}), {n.attr('axis')!r}, {n.attr('keepdims')!r}, {n.attr('batch')})",
    "count": lambda n, a: f"ax.count(ax.shape({a[0]}), {n.attr('axis')!r})",
    "eye_like": lambda n, a: f"ax.eye_like(xp, ax.shape({a[0]}), {n.attr('k')}, xp.{n.dtype})",
    "tril": lambda n, a: f"ax.triangle(xp, {a[0]}, {n.attr('k', 0)}, True)",
    "triu": lambda n, a: f"ax.triangle(xp, {a[0]}, {n.attr('k', 0)}, False)",
    # the standard has no triangular solve: a general solve of the triangle the op reads
    "solve_triangular": lambda n, a: f"xp.linalg.solve(ax.triangle(xp, {_float(n, 0, a)}, 0, {n.attr('lower')!r}), {_float(n, 1, a)})",
    "diag_embed_like": lambda n, a: f"ax.diag_embed_like(xp, {a[0]}, ax.shape({a[1]}), {n.attr('k')})",
    "unrepeat": lambda n, a: f"ax.unrepeat(xp, {a[0]}, ax.shape({a[1]}), {n.attr('repeats')!r}, {n.attr('axis')!r})",
    "untile": lambda n, a: f"ax.untile(xp, {a[0]}, ax.shape({a[1]}), {n.attr('reps')!r})",
    "phi": lambda n, a: f"ax.phi(xp, {a[0]})",
    "join_part": lambda n, a: f"ax.join_part({a[0]}, {_shapes(a[1:])}, {n.attr('axis')}, {n.attr('i')})",
    "join_embed": lambda n, a: f"ax.join_embed(xp, {a[0]}, {_shapes(a[1:])}, {n.attr('axis')}, {n.attr('i')})",
    "stand_in": lambda n, a: f"ax.stand_in(xp, {_shapes(a)}, {n.attr('of')!r}, {n.attr('of_attrs')!r}, xp.{n.dtype})",
    "sum_to": lambda n, a: f"ax.sum_to(xp, {a[0]}, ax.shape({a[1]}), {n.attr('batch')})",
    "broadcast_like": lambda n, a: (
        f"ax.broadcast_batched(xp, {a[0]}, ax.shape({a[1]}), {n.attr('batch')})" if n.attr("batch") else f"xp.broadcast_to({a[0]}, ax.shape({a[1]}))"
    ),
    "zeros_like": _fill_value(0),
    "ones_like": _fill_value(1),
    "fill": lambda n, a: f"xp.broadcast_to(xp.astype(xp.asarray({a[1]}), xp.{n.dtype}), ax.shape({a[0]}))",
    "shape": lambda n, a: f"xp.asarray(ax.shape({a[0]}), dtype=xp.int64)",
    "shape_i": lambda n, a: f"ax.shape({a[0]})[{n.attr('i')}]",
    "specify_shape": lambda n, a: f"ax.specify_shape(xp, {a[0]}, {_sym_shape(n, a)})",
    "specify_shape_like": lambda n, a: f"ax.specify_shape_like(xp, {a[0]}, {a[1]})",
    "alloc": lambda n, a: f"xp.broadcast_to(xp.asarray({a[0]}), {_dims_text(n.attr_dict, a, 1)})",
    "eye": _eye,
    "softmax": _special("softmax"),
    "log_softmax": _special("log_softmax"),
    "logsumexp": _special("logsumexp"),
    "dot": _dot,
    "outer": lambda n, a: f"ax.outer(xp, {a[0]}, {a[1]})",
    "trace": lambda n, a: f"xp.linalg.trace({a[0]}, offset={n.attr('offset')})",
    "matrix_inverse": lambda n, a: f"xp.linalg.inv({_float(n, 0, a)})",
    "det": lambda n, a: f"xp.linalg.det({_float(n, 0, a)})",
    "slogdet_sign": lambda n, a: f"xp.linalg.slogdet({_float(n, 0, a)})[0]",
    "slogdet_logabs": lambda n, a: f"xp.linalg.slogdet({_float(n, 0, a)})[1]",
    "solve": lambda n, a: f"xp.linalg.solve({_float(n, 0, a)}, {_float(n, 1, a)})",
    "cholesky": _cholesky,
    "cho_solve": _cho_solve,
    "pinv": lambda n, a: f"xp.linalg.pinv({_float(n, 0, a)})",
    # the standard has no least-squares solver: the minimum-norm solution is pinv(a) @ b
    "lstsq": lambda n, a: f"(xp.linalg.pinv({_float(n, 0, a)}) @ {_float(n, 1, a)})",
    "matrix_rank": _matrix_rank,
    "eigh_values": lambda n, a: f"xp.linalg.eigvalsh({_sym_from_triangle(n, a)})",
    "eigh_vectors": lambda n, a: f"xp.linalg.eigh({_sym_from_triangle(n, a)})[1]",
    "svd_values": lambda n, a: f"xp.linalg.svdvals({_float(n, 0, a)})",
    "svd_u": lambda n, a: f"xp.linalg.svd({_float(n, 0, a)}, full_matrices={n.attr('full_matrices')!r})[0]",
    "svd_vt": lambda n, a: f"xp.linalg.svd({_float(n, 0, a)}, full_matrices={n.attr('full_matrices')!r})[2]",
    "gap_div": _gap_div,
    "set_subtensor": _set_sub(False),
    "inc_subtensor": _set_sub(True),
    # structural ops (numpy spells them with keywords the standard names differently)
    "cumsum": lambda n, a: f"xp.cumulative_sum({a[0]}, axis={n.attr('axis')})",
    "sort": lambda n, a: f"xp.sort({a[0]}, axis={n.attr('axis')}, stable=True)",
    "argsort": lambda n, a: f"xp.argsort({a[0]}, axis={n.attr('axis')}, stable=True)",
    "searchsorted": lambda n, a: f"xp.searchsorted({a[0]}, {a[1]}, side={n.attr('side')!r})",
}


def _einsum(n: Term, a: list[str]) -> str:
    return f"xp.einsum({n.attr('subscripts')!r}, {', '.join(a)})"


def _einsum_replace(n: Term, a: list[str]) -> str:
    ops = list(a[1:])
    ops[n.attr("i")] = a[0]
    return f"xp.einsum({n.attr('subscripts')!r}, {', '.join(ops)})"


def _einsum_grad(n: Term, a: list[str]) -> str:
    return f"ax.einsum_grad(xp, {n.attr('subscripts')!r}, {n.attr('i')}, {', '.join(a)})"


def _jax_set(method: str) -> Spelling:
    """A block of ints and step-1 slices: a pad that XLA fuses; else a scatter (``x.at[i].add``, repeats accumulating)."""

    def spell(n: Term, a: list[str]) -> str:
        idx = n.attr("idx")
        if idx and all(e[0] == "int" or (e[0] == "slice" and e[3] in (None, 1)) for e in idx):
            return f"ax.write_block(xp, {a[0]}, {a[1]}, ax.index[{_index(n, a)}], {method == 'add'})"
        return f"{a[0]}.at[{_index(n, a)}].{method}(xp.astype({a[1]}, {a[0]}.dtype))"

    return spell


def _prod_others(n: Term, a: list[str]) -> str:
    """Needs ``cumprod``, outside the standard: only in the tables of namespaces that have it."""
    return f"ax.prod_others(xp, {a[0]}, {n.attr('axis')!r})"


def _jax_untake(n: Term, a: list[str]) -> str:
    """untake_along_axis as a scatter-add (``.at[...].add``) at the index grids of g, idx along the axis."""
    b, axis = n.attr("batch"), n.attr("axis") + n.attr("batch")
    grids = (
        f"tuple(xp.broadcast_to(xp.reshape(I, (1,) * (G.ndim - I.ndim) + I.shape), G.shape) if d == {axis} "
        "else r * (S[d] == G.shape[d]) for d, r in enumerate(xp.indices(G.shape, sparse=True)))"
    )
    return f"(lambda G, I, S: xp.zeros(S, G.dtype).at[{grids}].add(G))({a[0]}, {a[1]}, tuple({a[0]}.shape[:{b}]) + tuple({a[2]}.shape))"


def _cumulative(fn: str) -> Spelling:
    """numpy's cumulative sum or product, which JAX and Dask spell as numpy does."""
    return lambda n, a: f"xp.{fn}({a[0]}, axis={n.attr('axis')})"


# functions outside the standard, and each library's own idioms
BACKEND_SPELLINGS: dict[str, dict[str, Spelling]] = {
    "jax": {
        "erfcx": lambda n, a: f"jax.scipy.special.erfcx({a[0]})",
        "erf": lambda n, a: f"jax.scipy.special.erf({a[0]})",
        "erfc": lambda n, a: f"jax.scipy.special.erfc({a[0]})",
        "erfinv": lambda n, a: f"jax.scipy.special.erfinv({a[0]})",
        "gammaln": lambda n, a: f"jax.scipy.special.gammaln({a[0]})",
        "psi": lambda n, a: f"jax.scipy.special.digamma({a[0]})",
        "gamma": lambda n, a: f"jax.scipy.special.gamma({a[0]})",
        "polygamma": lambda n, a: f"jax.scipy.special.polygamma(xp.astype({a[0]}, xp.int32), {a[1]})",  # JAX takes an integer order
        "einsum": _einsum,
        "einsum_replace": _einsum_replace,
        "diag": lambda n, a: f"xp.diag({a[0]}, k={n.attr('k')})",
        "trace": lambda n, a: f"xp.trace({a[0]}, offset={n.attr('offset')})",
        "set_subtensor": _jax_set("set"),
        "inc_subtensor": _jax_set("add"),
        # a product with a reciprocal, not a divide: XLA's fusion does not duplicate a divide with
        # several users, and splits the loop around it (W4 ran as three loops, sin and cos twice);
        # the result may differ from a / b in the last bit, and is inf where 1 / b overflows (|b| < 5.6e-309)
        "true_div": lambda n, a: f"({a[0]} * (1.0 / {a[1]}))",
        "sigmoid": lambda n, a: f"jax.nn.sigmoid({a[0]})",
        "softplus": lambda n, a: f"jax.nn.softplus({a[0]})",
        "log_sigmoid": lambda n, a: f"jax.nn.log_sigmoid({a[0]})",
        "prod_others": _prod_others,
        "einsum_grad": _einsum_grad,
        "untake_along_axis": _jax_untake,
        "cumsum": _cumulative("cumsum"),
        "cumprod": _cumulative("cumprod"),
        "take_along_axis": lambda n, a: f"xp.take_along_axis({a[0]}, {a[1]}, axis={n.attr('axis')})",
        "cho_solve": lambda n, a: f"jax.scipy.linalg.cho_solve(({_float(n, 0, a)}, {n.attr('lower')!r}), {_float(n, 1, a)})",
        "lstsq": lambda n, a: f"xp.linalg.lstsq({_float(n, 0, a)}, {_float(n, 1, a)}, rcond={n.attr('rcond')!r})[0]",
    },
    "dask": {
        "svd_u": _refuse("dask.array.linalg.svd has no full_matrices and wants tall-and-skinny chunks"),
        "svd_vt": _refuse("dask.array.linalg.svd has no full_matrices and wants tall-and-skinny chunks"),
        "einsum": _einsum,
        "einsum_replace": _einsum_replace,
        "diag": lambda n, a: f"xp.diag({a[0]}, k={n.attr('k')})",
        "trace": lambda n, a: f"xp.trace({a[0]}, offset={n.attr('offset')})",
        "prod_others": _prod_others,
        "einsum_grad": _einsum_grad,
        "cumsum": _cumulative("cumsum"),
        "cumprod": _cumulative("cumprod"),
        "repeat": lambda n, a: (
            f"xp.repeat(xp.reshape({a[0]}, (-1,)), {n.attr('repeats')!r}, axis=0)"
            if n.attr("axis") is None
            else f"xp.repeat({a[0]}, {n.attr('repeats')!r}, axis={n.attr('axis')})"
        ),
    },
    "array_api": {},
}


def spell(node: Term, argnames: list[str], backend: str, has_name: Callable[[str], bool]) -> str:
    """Source computing ``node`` on ``backend``; ``has_name(dotted)`` says whether its namespace has ``xp.<dotted>``."""
    table = BACKEND_SPELLINGS[backend]
    try:
        if node.op in table:
            src = table[node.op](node, argnames)
        elif node.op in STANDARD:
            src = STANDARD[node.op](node, argnames)
        else:
            src = from_op_table(node, argnames)
    except UnsupportedOpError as exc:
        raise UnsupportedOpError(node.op, backend, str(exc).split(": ", 1)[-1]) from None
    if src is None:
        raise UnsupportedOpError(node.op, backend, "no spelling in the op table or the backend's table")
    missing = [name for name in _XP_NAME.findall(src) if not has_name(name)]
    if missing:
        raise UnsupportedOpError(node.op, backend, f"its namespace has no {', '.join(sorted(set(missing)))}")
    return src


def standard_has(name: str) -> bool:
    """Whether ``xp.<name>`` is part of the Array API standard (main namespace or the linalg extension)."""
    head, _, tail = name.partition(".")
    return (head == "linalg" and tail in LINALG_NAMES) if tail else name in API_NAMES


def namespace_has(xp: Any) -> Callable[[str], bool]:
    """``has_name`` for a namespace known at build time (JAX's, Dask's)."""

    def has(name: str) -> bool:
        obj: Any = xp
        for part in name.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                return False
        return True

    return has
