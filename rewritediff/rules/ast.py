"""The parsed form of the rule language: plain frozen dataclasses shared by the loader, the
gradient drivers and the engine. Infix operators are already desugared to ``Call``s of the
registry's op names (``+`` add, ``-`` sub, ``*`` mul, ``/`` true_div, ``**`` pow, ``@`` matmul,
unary ``-`` neg, ``<`` lt, ``>`` gt, ``<=`` le, ``>=`` ge, ``==`` eq, ``!=`` neq).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Var:
    """A pattern variable, a bound name (``out``, a cotangent, a tangent) or a bound attribute."""

    name: str


@dataclass(frozen=True)
class Num:
    """A numeric or boolean literal (weakly typed: it takes the dtype of its neighbour)."""

    value: float | int | bool


@dataclass(frozen=True)
class Str:
    """A string literal (attribute values, null's explanation)."""

    value: str


@dataclass(frozen=True)
class Tuple:
    """A tuple literal, for attribute values such as ``(1, 0)``."""

    items: tuple


@dataclass(frozen=True)
class Call:
    """``op(args){attr=expr, ...}``: an op application, or a helper/predicate call in attrs and guards."""

    op: str
    args: tuple = ()
    attrs: tuple = ()  # tuple[tuple[str, Expr], ...]; in patterns an attr Expr is Var (bind) or a literal (match)


@dataclass(frozen=True)
class Special:
    """A non-term gradient: ``zero`` (connected, zero), ``disconnected``, or ``null("why")``."""

    kind: str  # "zero" | "disconnected" | "null"
    why: str = ""


Expr = Var | Num | Str | Tuple | Call | Special


@dataclass(frozen=True)
class Source:
    """Where a rule was written."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


#: The tag of a stabilization rule (``@stable rule log(1 + exp(x)) => softplus(x)``).
STABLE_TAG = "stable"


@dataclass(frozen=True)
class Rule:
    """One rule.

    kind: "d" (scalar partials, one rhs per argument), "vjp" (one adjoint per argument, ``cot``
    names the output cotangent), "jvp" (one rhs, ``cot`` names the argument tangents),
    "transpose" (linear op: one adjoint per argument, ``cot`` names the cotangent),
    "rewrite" (``lhs => rhs``), "equal" (``lhs <=> rhs``), "def" (a composite op: ``lhs`` is
    ``name(params)``, rhs its expansion). ``tags`` are the names written before the rule
    (``@finite``: it assumes finite values).
    """

    kind: str
    lhs: Call
    rhs: tuple  # tuple[Expr, ...]
    cot: tuple = ()  # tuple[str, ...]
    guard: Expr | None = None
    source: Source = field(default_factory=lambda: Source("<string>", 0, 0))
    text: str = ""
    tags: tuple = ()  # tuple[str, ...], without the "@"

    @property
    def op(self) -> str:
        """The op this rule is about (the head of its left-hand side)."""
        return self.lhs.op


@dataclass(frozen=True)
class Star:
    """A variadic pattern argument ``*xs`` (only as the sole argument of a ``d``/``vjp``/``jvp``/``transpose`` pattern).

    For the argument ``i`` being differentiated, the right-hand side sees ``xs_i`` (that argument) and
    ``rest`` (the op applied to the other arguments; the single other argument when there are two).
    """

    name: str


@dataclass(frozen=True)
class NoneLit:
    """The literal ``None`` (attribute values and attribute patterns such as ``{axis=None}``)."""


def names_in(expr: Any) -> set[str]:
    """Every name an expression mentions (arguments, attributes and tuples; no recursion)."""
    out: set[str] = set()
    stack = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, Var):
            out.add(e.name)
        elif isinstance(e, Call):
            stack.extend(e.args)
            stack.extend(v for _, v in e.attrs)
        elif isinstance(e, Tuple):
            stack.extend(e.items)
        elif isinstance(e, tuple):
            stack.extend(e)
    return out
