"""Declarations of the command's variables (``--var NAME:KIND[:SHAPE]``), its constants, and CliError."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import rewritediff as rd

KINDS = {"scalar": 0, "vector": 1, "matrix": 2, "tensor3": 3, "tensor4": 4, "iscalar": 0, "ivector": 1, "imatrix": 2}
INT_KINDS = ("iscalar", "ivector", "imatrix")  # int64 variables, for indexing: x[idx], X[i, j]
EXPR_FILE = "<expr>"
DEFAULT_DIM = 3
TOLERANCE = 1e-4

DEMO_EXPR = "-mean(y * log(sigmoid(X @ w)) + (1 - y) * log(1 - sigmoid(X @ w)))"
DEMO_VARS = ["X:matrix", "y:vector", "w:vector"]  # sizes unknown: the printed gradient holds for every n


class CliError(Exception):
    """A user mistake: printed as one line ``error: ...``, exit status 2."""


# ---- declarations ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class VarSpec:
    """One declared variable: ``name:kind[:shape]`` with None for an unknown dim."""

    name: str
    kind: str
    shape: tuple[int | None, ...]

    @property
    def dtype(self) -> str:
        """float64, or int64 for the integer kinds (index variables)."""
        return "int64" if self.kind in INT_KINDS else "float64"


def parse_var(spec: str) -> list[VarSpec]:
    """``x:vector``, ``W:matrix:3,4``, ``W:matrix:3,?`` or ``a,b:scalar`` -> the declared variables (KIND defaults to scalar)."""
    parts = spec.split(":")
    if len(parts) > 3 or not parts[0]:
        raise CliError(f"--var {spec!r}: expected NAME:KIND[:SHAPE], e.g. x:vector or W:matrix:3,4")
    names = [n.strip() for n in parts[0].split(",")]
    kind = parts[1].strip() if len(parts) > 1 and parts[1].strip() else "scalar"
    if kind not in KINDS:
        hint = difflib.get_close_matches(kind, list(KINDS), n=1)
        raise CliError(f"--var {spec!r}: unknown kind {kind!r}" + (f" (did you mean {hint[0]}?)" if hint else f" (one of: {', '.join(KINDS)})"))
    ndim = KINDS[kind]
    shape: tuple[int | None, ...] = (None,) * ndim
    if len(parts) == 3:
        dims = [d.strip() for d in parts[2].split(",")] if parts[2].strip() else []
        if len(dims) != ndim:
            raise CliError(f"--var {spec!r}: a {kind} needs {ndim} dim(s) in SHAPE, got {len(dims)}")
        try:
            shape = tuple(None if d in ("?", "") else int(d) for d in dims)
        except ValueError:
            raise CliError(f"--var {spec!r}: SHAPE must be comma-separated integers or '?', e.g. 3,4 or 3,?") from None
        if any(d is not None and d < 0 for d in shape):
            raise CliError(f"--var {spec!r}: negative dim in SHAPE")
    out = []
    for name in names:
        if not name.isidentifier():
            raise CliError(f"--var {spec!r}: {name!r} is not a valid name")
        out.append(VarSpec(name, kind, shape))
    return out


def declare(specs: Sequence[str], static: bool = False, default_dim: int = DEFAULT_DIM) -> dict[str, Any]:
    """Symbolic variables for the ``--var`` declarations (with ``static``, unknown dims become ``default_dim``)."""
    variables: dict[str, Any] = {}
    for spec in specs:
        for v in parse_var(spec):
            if v.name in variables:
                raise CliError(f"--var {spec!r}: {v.name!r} is declared twice")
            shape = tuple(default_dim if (static and d is None) else d for d in v.shape)
            variables[v.name] = rd.tensor(v.name, shape=shape, dtype=v.dtype)
    return variables


def _one_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when the message is empty)."""
    text = str(exc).strip()
    if isinstance(exc, KeyError) and text.startswith("'") and text.endswith("'"):
        text = text[1:-1]
    return text.splitlines()[0] if text else type(exc).__name__
