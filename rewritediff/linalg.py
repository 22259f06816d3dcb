"""Linear algebra frontend, ``rd.linalg`` (PyTensor's ``pytensor.tensor.linalg`` names).

Part of the frontend layer, above :mod:`rewritediff.tensor` (whose ``as_term`` it reads); the
tensor module does not import it, the package exposes it as ``rd.linalg``.
"""

from __future__ import annotations

from typing import Any

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


__all__ = ["cholesky", "det", "inv", "matrix_inverse", "slogdet", "solve", "solve_triangular"]
