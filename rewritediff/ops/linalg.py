"""Dense linear algebra on matrices: inverse, determinant, log-determinant, solve, Cholesky,
triangular solve (``solve_triangular{lower}``, SciPy's), and the triangle masks ``tril``/``triu``;
Cholesky solve (``cho_solve``, SciPy's), pseudo-inverse, least squares (and ``matrix_rank``), the
decompositions ``eigh`` and ``svd`` (one op per result, sharing ``OpDef.joint``) and ``gap_div``,
the division by eigenvalue gaps of their derivatives.

Every op takes 2-D arguments; square ones are checked statically when both dims are known.
Integer and boolean arguments are computed in float64, float16 is refused (LAPACK has no
half precision). ``slogdet`` is two single-output ops, ``slogdet_sign`` (no gradient) and
``slogdet_logabs``, so each term keeps one output.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from rewritediff import runtime as rt
from rewritediff.errors import RewriteDiffTypeError, ShapeError
from rewritediff.ops.infer import as_float, dims_equal, fmt_shape, promote
from rewritediff.ops.registry import OpDef, register
from rewritediff.terms import TensorType, apply


def _dim(t: Any, i: int) -> Any:
    """Dim i of t: its static length, or the term reading it at run time."""
    d = t.static_shape[i]
    return d if d is not None else apply("shape_i", t, i=i)


def _reshape(x: Any, dims: list) -> Any:
    """``x`` reshaped to ``dims`` (ints, -1, or 0-d int terms)."""
    return apply("reshape", x, *[d for d in dims if not isinstance(d, int)], shape=tuple(d if isinstance(d, int) else None for d in dims))


def _batch_rhs(node: Any, args: list, flags: list, n: Any) -> Any:
    """A solve with a batch of right-hand sides (argument 1 only, ``OpDef.batch``): the batch becomes more columns."""
    if flags[0]:
        return None  # a batch of matrices: no stacked solve here
    a, b = args
    if b.ndim == 2:  # (N, n): the N vectors are the columns of one matrix
        x = apply(node.op, a, apply("dimshuffle", b, pattern=(1, 0)), **node.attr_dict)
        return apply("dimshuffle", x, pattern=(1, 0))
    cols = apply("dimshuffle", b, pattern=(1, 0, 2))  # (n, N, k) -> (n, N * k)
    x = apply(node.op, a, _reshape(cols, [_dim(cols, 0), -1]), **node.attr_dict)
    return apply("dimshuffle", _reshape(x, [_dim(x, 0), _dim(cols, 1), _dim(cols, 2)]), pattern=(1, 0, 2))


def _batch_first(node: Any, args: list, flags: list, n: Any) -> Any:
    """An op taking a stack of matrices as argument 0 (``gap_div``), the others unbatched."""
    if any(flags[1:]):
        return None
    return apply(node.op, args[0], *node.args[1:], **node.attr_dict)


def _run(src: str, *xs: Any) -> Any:
    """Evaluate an emit template on arrays (the op's ``impl``)."""
    names = [f"a{i}" for i in range(len(xs))]
    return eval(src.format(*names), {"np": np, "rt": rt}, dict(zip(names, xs)))  # noqa: S307 - our own templates


def _float_dtype(op: str, dtype: str) -> str:
    """The result dtype of a linalg op on ``dtype``."""
    if dtype == "float16":
        raise RewriteDiffTypeError(f"{op}: float16 is not supported by linear algebra routines; cast to float32")
    return as_float(dtype)


def _square(op: str, x: Any) -> None:
    """Raise unless ``x`` is a (statically possibly) square matrix."""
    shape = x.static_shape
    if x.ndim != 2:
        raise ShapeError(f"{op}: argument must be a matrix, got shape {fmt_shape(shape)}")
    if not dims_equal(shape[0], shape[1]):
        raise ShapeError(f"{op}: argument must be a square matrix, got shape {fmt_shape(shape)}")


def _square_infer(op: str, scalar: bool) -> Any:
    def infer(args: tuple, attrs: dict) -> TensorType:
        x = args[0]
        _square(op, x)
        n = x.static_shape[0] if x.static_shape[0] is not None else x.static_shape[1]
        return TensorType(_float_dtype(op, x.dtype), () if scalar else (n, n))

    return infer


for _name, _scalar, _src, _doc, _diff in (
    ("matrix_inverse", False, "np.linalg.inv(rt.as_float({0}))", "inverse of a square matrix", True),
    ("det", True, "np.linalg.det(rt.as_float({0}))", "determinant of a square matrix", True),
    ("slogdet_sign", True, "rt.slogdet_sign({0})", "sign of the determinant (numpy's slogdet()[0])", False),
    ("slogdet_logabs", True, "rt.slogdet_logabs({0})", "log of the absolute determinant (numpy's slogdet()[1])", True),
):
    register(
        OpDef(
            name=_name,
            infer=_square_infer(_name, _scalar),
            impl=(lambda src: lambda x: _run(src, x))(_src),
            emit=_src,
            doc=_doc,
            group="linalg",
            differentiable=_diff,
        )
    )


def _solve_infer_for(op: str) -> Any:
    def infer(args: tuple, attrs: dict) -> TensorType:
        a, b = args
        _square(op, a)
        if b.ndim not in (1, 2):
            raise ShapeError(f"{op}: b must be a vector or a matrix, got shapes {fmt_shape(a.static_shape)} and {fmt_shape(b.static_shape)}")
        if not dims_equal(a.static_shape[0], b.static_shape[0]) or not dims_equal(a.static_shape[1], b.static_shape[0]):
            raise ShapeError(f"{op}: shapes {fmt_shape(a.static_shape)} and {fmt_shape(b.static_shape)} are not aligned")
        n = a.static_shape[1] if a.static_shape[1] is not None else a.static_shape[0]
        dt = _float_dtype(op, promote([a.dtype, b.dtype]))
        return TensorType(dt, (n,) + b.static_shape[1:])

    return infer


_solve_infer = _solve_infer_for("solve")


register(
    OpDef(
        name="solve",
        infer=_solve_infer,
        impl=lambda a, b: _run("np.linalg.solve(rt.as_float({0}), rt.as_float({1}))", a, b),
        arity=2,
        emit="np.linalg.solve(rt.as_float({0}), rt.as_float({1}))",
        doc="solve(a, b): x with a @ x = b (b a vector or a matrix of right-hand sides)",
        group="linalg",
        batch=_batch_rhs,
    )
)


def _cholesky_prepare(args: tuple, attrs: dict) -> dict:
    return _lower_prepare("cholesky")(args, attrs)


register(
    OpDef(
        name="cholesky",
        infer=_square_infer("cholesky", False),
        impl=lambda x, lower=True: _run(f"rt.cholesky({{0}}, lower={lower})", x),
        attrs={"lower": True},
        emit=lambda a, k: f"np.linalg.cholesky(rt.as_float({a[0]}))" if k["lower"] else f"rt.cholesky({a[0]}, lower=False)",
        prepare=_cholesky_prepare,
        doc="Cholesky factor of a symmetric positive-definite matrix (lower, or upper with lower=False)",
        group="linalg",
    )
)


def _lower_prepare(op: str) -> Any:
    def prepare(args: tuple, attrs: dict) -> dict:
        if not isinstance(attrs["lower"], bool):
            raise RewriteDiffTypeError(f"{op}: lower must be True or False, got {attrs['lower']!r}")
        return {"lower": attrs["lower"]}

    return prepare


register(
    OpDef(
        name="solve_triangular",
        infer=_solve_infer_for("solve_triangular"),
        impl=lambda a, b, lower=True: _run(f"rt.solve_triangular({{0}}, {{1}}, lower={lower})", a, b),
        arity=2,
        attrs={"lower": True},
        emit=lambda a, k: f"rt.solve_triangular({a[0]}, {a[1]}, lower={k['lower']})",
        prepare=_lower_prepare("solve_triangular"),
        doc="solve_triangular(a, b){lower}: x with a @ x = b, reading only a's lower (or upper) triangle",
        group="triangular",  # O(n^2) per right-hand side: not costed as a cubic factorisation
        memory="fresh",
        batch=_batch_rhs,
    )
)


def _matrix_infer(op: str) -> Any:
    def infer(args: tuple, attrs: dict) -> TensorType:
        x = args[0]
        if x.ndim < 2:
            raise ShapeError(f"{op}: argument must be a matrix (or a stack of them), got shape {fmt_shape(x.static_shape)}")
        return x.type

    return infer


for _name, _fn, _doc in (
    ("tril", "np.tril", "the lower triangle of a matrix (diagonal included), zeros above"),
    ("triu", "np.triu", "the upper triangle of a matrix (diagonal included), zeros below"),
):
    register(
        OpDef(
            name=_name,
            shape_from=0,
            infer=_matrix_infer(_name),
            impl=(lambda src: lambda x: _run(src + "({0})", x))(_fn),
            emit=_fn + "({0})",
            doc=_doc,
            group="triangular",
            memory="fresh",
        )
    )


# ---- Cholesky solves, pseudo-inverse, least squares ----------------------------------------------------------------
def _cho_solve(c: Any, b: Any, lower: bool = True) -> Any:
    """x with (c c^T) x = b (c lower) or (c^T c) x = b (c upper), reading only c's triangle: SciPy's ``cho_solve``."""
    from scipy.linalg import cho_solve

    c, b = rt.as_float(c), rt.as_float(b)
    dt = np.result_type(c, b)
    return np.asarray(cho_solve((c, lower), b, check_finite=False), dtype=dt)


register(
    OpDef(
        name="cho_solve",
        infer=_solve_infer_for("cho_solve"),
        impl=_cho_solve,
        arity=2,
        attrs={"lower": True},
        emit=None,  # calls _cho_solve (scipy.linalg.cho_solve)
        prepare=_lower_prepare("cho_solve"),
        doc="cho_solve(c, b){lower}: x with a @ x = b where c is a's Cholesky factor (lower: a = c c^T, else a = c^T c); reads c's triangle",
        group="triangular",  # two triangular solves: O(n^2) per right-hand side
        memory="fresh",
        batch=_batch_rhs,
    )
)


def _matrix(op: str, x: Any, what: str = "argument") -> None:
    """Raise unless ``x`` is a matrix."""
    if x.ndim != 2:
        raise ShapeError(f"{op}: {what} must be a matrix, got shape {fmt_shape(x.static_shape)}")


def _pinv_infer(args: tuple, attrs: dict) -> TensorType:
    x = args[0]
    _matrix("pinv", x)
    return TensorType(_float_dtype("pinv", x.dtype), x.static_shape[::-1])


register(
    OpDef(
        name="pinv",
        infer=_pinv_infer,
        impl=lambda x: _run("np.linalg.pinv(rt.as_float({0}))", x),
        emit="np.linalg.pinv(rt.as_float({0}))",
        doc="the Moore-Penrose pseudo-inverse of a matrix (its SVD; its derivative holds where the rank is constant)",
        group="linalg",
    )
)


def _lstsq_infer(args: tuple, attrs: dict) -> TensorType:
    a, b = args
    _matrix("lstsq", a, "a")
    if b.ndim not in (1, 2):
        raise ShapeError(f"lstsq: b must be a vector or a matrix, got shapes {fmt_shape(a.static_shape)} and {fmt_shape(b.static_shape)}")
    if not dims_equal(a.static_shape[0], b.static_shape[0]):
        raise ShapeError(f"lstsq: shapes {fmt_shape(a.static_shape)} and {fmt_shape(b.static_shape)} are not aligned (a's rows and b's)")
    return TensorType(_float_dtype("lstsq", promote([a.dtype, b.dtype])), (a.static_shape[1],) + b.static_shape[1:])


def _lstsq(a: Any, b: Any, rcond: Any = None) -> Any:
    """The minimum-norm least-squares solution (numpy's ``lstsq(a, b, rcond)[0]``)."""
    a, b = rt.as_float(a), rt.as_float(b)
    dt = np.result_type(a, b)
    return np.asarray(np.linalg.lstsq(a, b, rcond=rcond)[0], dtype=dt)


def _rcond_prepare(args: tuple, attrs: dict) -> dict:
    r = attrs["rcond"]
    if r is not None and not isinstance(r, (int, float)):
        raise RewriteDiffTypeError(f"lstsq: rcond must be a number or None, got {r!r}")
    return {"rcond": None if r is None else float(r)}


register(
    OpDef(
        name="lstsq",
        infer=_lstsq_infer,
        impl=_lstsq,
        arity=2,
        attrs={"rcond": None},
        emit=None,  # calls _lstsq (numpy.linalg.lstsq)
        prepare=_rcond_prepare,
        doc="lstsq(a, b){rcond}: the minimum-norm x minimising |a @ x - b| (numpy's lstsq()[0]; its derivative holds where a's rank is constant)",
        group="linalg",
        batch=_batch_rhs,
    )
)


# ---- decompositions with several results: eigh, svd ----------------------------------------------------------------
# Each result is its own op (a term has one output); the ops of one decomposition share an
# OpDef.joint key, so a graph using several of them computes the decomposition once.
def _uplo(attrs: dict) -> str:
    return "'L'" if attrs["lower"] else "'U'"


def _eigh_infer(vectors: bool) -> Any:
    op = "eigh_vectors" if vectors else "eigh_values"

    def infer(args: tuple, attrs: dict) -> TensorType:
        x = args[0]
        _square(op, x)
        n = x.static_shape[0] if x.static_shape[0] is not None else x.static_shape[1]
        return TensorType(_float_dtype(op, x.dtype), (n, n) if vectors else (n,))

    return infer


def _eigh_joint(a: list[str], k: dict) -> str:
    return f"np.linalg.eigh(rt.as_float({a[0]}), UPLO={_uplo(k)})"


for _name, _vectors, _doc in (
    ("eigh_values", False, "eigenvalues of a symmetric matrix, ascending, reading its lower (or upper) triangle (numpy's eigvalsh)"),
    ("eigh_vectors", True, "orthonormal eigenvectors (columns) of a symmetric matrix, in eigh_values' order, reading one triangle (numpy's eigh()[1])"),
):
    register(
        OpDef(
            name=_name,
            infer=_eigh_infer(_vectors),
            impl=(lambda vectors: lambda x, lower=True: np.linalg.eigh(rt.as_float(x), UPLO="L" if lower else "U")[int(vectors)])(_vectors),
            attrs={"lower": True},
            emit=(
                (lambda a, k: f"np.linalg.eigh(rt.as_float({a[0]}), UPLO={_uplo(k)})[1]")
                if _vectors
                else (lambda a, k: f"np.linalg.eigvalsh(rt.as_float({a[0]}), UPLO={_uplo(k)})")
            ),
            prepare=_lower_prepare(_name),
            doc=_doc,
            group="linalg",
            joint=("eigh", int(_vectors), 2, _eigh_joint),
        )
    )


def _svd_infer(which: str) -> Any:
    op = f"svd_{which}"

    def infer(args: tuple, attrs: dict) -> TensorType:
        x = args[0]
        _matrix(op, x)
        m, n = x.static_shape
        k = None if m is None or n is None else min(m, n)
        if which == "values":
            shape: tuple = (k,)
        elif which == "u":
            shape = (m, m if attrs["full_matrices"] else k)
        else:
            shape = (n if attrs["full_matrices"] else k, n)
        return TensorType(_float_dtype(op, x.dtype), shape)

    return infer


def _svd_joint(a: list[str], k: dict) -> str:
    return f"np.linalg.svd(rt.as_float({a[0]}), full_matrices={k['full_matrices']!r})"


def _full_prepare(op: str) -> Any:
    def prepare(args: tuple, attrs: dict) -> dict:
        if not isinstance(attrs["full_matrices"], bool):
            raise RewriteDiffTypeError(f"{op}: full_matrices must be True or False, got {attrs['full_matrices']!r}")
        return attrs

    return prepare


for _name, _pos, _doc in (
    ("svd_u", 0, "left singular vectors of a matrix (numpy's svd()[0]; m x k, or m x m with full_matrices)"),
    ("svd_values", 1, "singular values of a matrix, descending (numpy's svd(compute_uv=False))"),
    ("svd_vt", 2, "right singular vectors of a matrix, as rows (numpy's svd()[2]; k x n, or n x n with full_matrices)"),
):
    register(
        OpDef(
            name=_name,
            infer=_svd_infer(_name[4:]),
            impl=(
                (lambda pos: lambda x, full_matrices=False: np.linalg.svd(rt.as_float(x), full_matrices=full_matrices)[pos])(_pos)
                if _pos != 1
                else (lambda x, full_matrices=False: np.linalg.svd(rt.as_float(x), compute_uv=False))
            ),
            attrs={"full_matrices": False},
            emit=(
                (lambda pos: lambda a, k: f"np.linalg.svd(rt.as_float({a[0]}), full_matrices={k['full_matrices']!r})[{pos}]")(_pos)
                if _pos != 1
                else (lambda a, k: f"np.linalg.svd(rt.as_float({a[0]}), compute_uv=False)")
            ),
            prepare=_full_prepare(_name),
            doc=_doc,
            group="linalg",
            joint=("svd", _pos, 3, _svd_joint),
        )
    )


class DegenerateDerivativeWarning(RuntimeWarning):
    """A derivative through eigenvectors (singular vectors) of equal eigenvalues that depends on the vectors chosen."""


def _gap_div(x: Any, w: Any, plus: bool = False, warn: bool = True) -> Any:
    """``x[..., i, j] / (w[j] - w[i])`` (``plus``: ``/ (w[i] + w[j])``) off the diagonal; 0 on it and where the divisor is 0 to rounding.

    The derivative of an eigenvector (singular vector) along another of an equal eigenvalue is
    not determined: its pair is set to 0. That is right when the derivative does not depend on
    the choice of vectors in the eigenspace, which makes the numerators there vanish; a numerator
    that does not vanish there (``warn``) gets a :class:`DegenerateDerivativeWarning`.
    """
    x, w = rt.as_float(x), rt.as_float(w)
    dt = np.result_type(x, w)
    eps = np.finfo(dt).eps
    div = w[None, :] + w[:, None] if plus else w[None, :] - w[:, None]
    scale = float(np.max(np.abs(w))) if w.size else 0.0
    zero = np.abs(div) <= 64 * max(1, w.size) * eps * scale
    diagonal = np.eye(w.size, dtype=bool)
    zero |= diagonal
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(zero, 0.0, x / np.where(zero, 1.0, div))
    if warn and (zero & ~diagonal).any():
        big = float(np.max(np.abs(x))) if x.size else 0.0
        if np.any(np.abs(x[..., zero & ~diagonal]) > np.sqrt(eps) * max(big, np.finfo(np.float64).tiny)):
            warnings.warn(
                "eigh derivative: eigenvalues equal to rounding, and a derivative that depends on which of their "
                "eigenvectors are chosen; that part is set to 0 (the derivative is not determined there)",
                DegenerateDerivativeWarning,
                stacklevel=2,
            )
    return out.astype(dt, copy=False)


def _gap_div_infer(args: tuple, attrs: dict) -> TensorType:
    x, w = args
    if x.ndim < 2 or w.ndim != 1 or not dims_equal(x.static_shape[-1], w.static_shape[0]) or not dims_equal(x.static_shape[-2], w.static_shape[0]):
        raise ShapeError(
            f"gap_div: x must be a (stack of) k x k matrices and w a vector of k, got shapes {fmt_shape(x.static_shape)} and {fmt_shape(w.static_shape)}"
        )
    return TensorType(_float_dtype("gap_div", promote([x.dtype, w.dtype])), x.static_shape)


register(
    OpDef(
        name="gap_div",
        infer=_gap_div_infer,
        impl=_gap_div,
        arity=2,
        attrs={"plus": False, "warn": True},
        shape_from=0,
        doc="gap_div(x, w){plus, warn}: x[i, j] / (w[j] - w[i]) (plus: / (w[i] + w[j])) off the diagonal, 0 on it and where the divisor is 0 (eigh's and svd's derivatives)",
        group="linalg",
        cost_kind="elementwise",
        memory="fresh",
        batch=_batch_first,
    )
)


def _rank_infer(args: tuple, attrs: dict) -> TensorType:
    _matrix("matrix_rank", args[0])
    _float_dtype("matrix_rank", args[0].dtype)
    return TensorType("int64", ())


def _rank_prepare(args: tuple, attrs: dict) -> dict:
    r = attrs["rcond"]
    if r is not None and not isinstance(r, (int, float)):
        raise RewriteDiffTypeError(f"matrix_rank: rcond must be a number or None, got {r!r}")
    return {"rcond": None if r is None else float(r)}


def _matrix_rank(x: Any, rcond: Any = None) -> Any:
    """The number of singular values above ``rcond`` times the largest (numpy's lstsq cut-off: eps * max(m, n) when None)."""
    x = rt.as_float(x)
    s = np.linalg.svd(x, compute_uv=False)
    cut = (np.finfo(x.dtype).eps * max(x.shape) if rcond is None or rcond < 0 else rcond) * (s[0] if s.size else 0.0)
    return np.asarray(np.count_nonzero(s > cut), dtype=np.int64)


register(
    OpDef(
        name="matrix_rank",
        infer=_rank_infer,
        impl=_matrix_rank,
        attrs={"rcond": None},
        prepare=_rank_prepare,
        doc="the rank of a matrix as lstsq counts it: singular values above rcond times the largest",
        group="linalg",
        differentiable=False,
    )
)
