"""Linear algebra frontend, ``rd.linalg`` (PyTensor's ``pytensor.tensor.linalg`` names).

Part of the frontend layer, above :mod:`rewritediff.tensor` (whose ``as_term`` it reads); the
tensor module does not import it, the package exposes it as ``rd.linalg``.
"""

from __future__ import annotations

from typing import Any

from rewritediff import tensor as _t
from rewritediff.errors import ShapeError
from rewritediff.ops.infer import fmt_shape
from rewritediff.tensor import as_term
from rewritediff.terms import Term, apply


def inv(x: Any) -> Term:
    """The inverse of a square matrix."""
    return apply("matrix_inverse", as_term(x))


matrix_inverse = inv


def det(x: Any) -> Term:
    """The determinant of a square matrix."""
    return apply("det", as_term(x))


def slogdet(x: Any) -> tuple[Term, Term]:
    """``(sign, log|det|)`` of a square matrix, as numpy's ``slogdet``."""
    x = as_term(x)
    return apply("slogdet_sign", x), apply("slogdet_logabs", x)


def solve(a: Any, b: Any) -> Term:
    """The solution x of ``a @ x = b`` (b a vector or a matrix)."""
    return apply("solve", as_term(a), as_term(b))


def solve_triangular(a: Any, b: Any, lower: bool = True) -> Term:
    """The solution x of ``a @ x = b`` reading only a's lower (or upper) triangle: O(n^2) per column, no factorisation."""
    return apply("solve_triangular", as_term(a), as_term(b), lower=bool(lower))


def cholesky(x: Any, lower: bool = True) -> Term:
    """The Cholesky factor of a symmetric positive-definite matrix (lower unless ``lower=False``)."""
    return apply("cholesky", as_term(x), lower=bool(lower))


def cho_factor(a: Any, lower: bool = False) -> tuple[Term, bool]:
    """``(c, lower)`` for :func:`cho_solve`, as SciPy's ``cho_factor`` (upper by default); the other triangle of c is zero."""
    return cholesky(a, lower=lower), bool(lower)


def cho_solve(c_and_lower: tuple[Any, bool], b: Any, *, check_finite: bool = True, b_ndim: int | None = None) -> Term:
    """The solution x of ``a @ x = b`` from a's Cholesky factor ``(c, lower)`` (SciPy's and PyTensor's signature).

    ``check_finite`` is accepted for PyTensor's signature; values are not checked (a NaN gives NaN).
    ``b_ndim``, when given, must be b's rank (1 or 2).
    """
    try:
        c, lower = c_and_lower
    except (TypeError, ValueError):
        raise TypeError(f"cho_solve: the first argument must be a pair (c, lower), got {c_and_lower!r}") from None
    b = as_term(b)
    if b_ndim is not None and b_ndim != b.ndim:
        raise ShapeError(f"cho_solve: b_ndim={b_ndim} but b has shape {fmt_shape(b.static_shape)}")
    return apply("cho_solve", as_term(c), b, lower=bool(lower))


def logdet(a: Any) -> Term:
    """log det a of a symmetric positive-definite matrix, through its Cholesky factor: ``2 * sum(log(diag(L)))`` (no sign, no overflow)."""
    return 2.0 * _t.sum(_t.log(_t.diag(cholesky(a))))


def pinv(a: Any) -> Term:
    """The Moore-Penrose pseudo-inverse of a matrix."""
    return apply("pinv", as_term(a))


def lstsq(a: Any, b: Any, rcond: float | None = None) -> tuple[Term, Term, Term, Term]:
    """``(x, residuals, rank, s)`` as numpy's ``lstsq``: x the minimum-norm least-squares solution of ``a @ x = b``.

    ``residuals`` is the sum of squared residuals per column of b (shape (1,) for a vector b),
    always computed, where numpy returns an empty array when a's rank is below its column
    count or a has no more rows than columns; ``rank`` counts the singular values ``s`` of a
    above ``rcond`` times the largest (machine epsilon times max(m, n) when None).
    """
    a, b = as_term(a), as_term(b)
    x = apply("lstsq", a, b, rcond=rcond)
    r = _t.sum(_t.sqr(b - _t.dot(a, x)), axis=0)
    residuals = r.dimshuffle("x") if b.ndim == 1 else r
    return x, residuals, apply("matrix_rank", a, rcond=rcond), svd(a, compute_uv=False)


def eigh(a: Any, UPLO: str = "L") -> tuple[Term, Term]:  # noqa: N803 - numpy's and PyTensor's name
    """``(w, v)``: ascending eigenvalues and orthonormal eigenvectors (columns) of the symmetric matrix a's ``UPLO`` triangle stands for."""
    lower = _uplo("eigh", UPLO)
    a = as_term(a)
    return apply("eigh_values", a, lower=lower), apply("eigh_vectors", a, lower=lower)


def eigvalsh(a: Any, b: Any = None, lower: bool = True) -> Term:
    """The ascending eigenvalues of a symmetric matrix, reading its lower (or upper) triangle (PyTensor's signature)."""
    if b is not None:
        raise NotImplementedError("eigvalsh: the generalized problem (b given) is not supported; pass b=None")
    return apply("eigh_values", as_term(a), lower=bool(lower))


def _uplo(op: str, uplo: Any) -> bool:
    if uplo not in ("L", "U"):
        raise ValueError(f"{op}: UPLO must be 'L' or 'U', got {uplo!r}")
    return uplo == "L"


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """``(U, s, Vt)`` with ``a = U @ diag(s) @ Vt``, or the singular values alone (``compute_uv=False``), as numpy's ``svd``.

    The derivative of U and Vt is built for ``full_matrices=False`` (the same as True for a
    matrix declared square).
    """
    a = as_term(a)
    m, n = a.static_shape if a.ndim == 2 else (None, None)
    full = bool(full_matrices) and not (m is not None and m == n)
    if not compute_uv:
        return apply("svd_values", a, full_matrices=False)
    return apply("svd_u", a, full_matrices=full), apply("svd_values", a, full_matrices=full), apply("svd_vt", a, full_matrices=full)


__all__ = [
    "cho_factor",
    "cho_solve",
    "cholesky",
    "det",
    "eigh",
    "eigvalsh",
    "inv",
    "logdet",
    "lstsq",
    "matrix_inverse",
    "pinv",
    "slogdet",
    "solve",
    "solve_triangular",
    "svd",
]
