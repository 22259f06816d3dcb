"""Witnesses: inputs built from a rule's pattern, so a rule can be tried on terms it applies to.

For a pattern (``x * (y / x)``) the builder enumerates structures (which variables are
leaves of which ranks and dtypes, which attributes they take), builds terms that match the
pattern and pass its guard, and respects the preconditions an op documents but its type
inference does not enforce. The rule checker (``checking.py``) and the rule-coverage test use it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewritediff.rules.ast import Call, Var
from rewritediff.rules.helpers import eval_guard
from rewritediff.rules.instantiate import instantiate, match
from rewritediff.terms import TensorType, Term, apply, constant, toposort, variable

# ---- witnesses: inputs built from a pattern --------------------------------------------------------

#: How a pattern variable becomes a term: ``pos`` an input through ``exp`` (positive and nonzero to
#: the engine; a free input for the numeric check, whose values the guard then constrains),
#: ``any`` a plain input, ``eye`` an identity constant, ``const`` a constant.
TERM_OPTIONS: tuple = (
    ("pos", (3, 3)),
    ("pos", (3,)),
    ("pos", ()),
    ("any", (3, 3)),
    ("eye", (3, 3)),
    ("const", ()),
    ("pos", (2, 3, 3)),
    ("any", (3,)),
    ("any", ()),
)

#: Values tried for an attribute bound to a name in a pattern, by the attribute's name.
ATTR_VALUES: dict[str, tuple] = {
    "axis": (None, 1, 0, (0, 1)),
    "keepdims": (False, True),
    "pattern": ((1, 0), (0, 1), (0, "x"), ("x", 0), (0,), ("x",)),
    "shape": ((3, 3), (9,), (3, 1, 3)),
    "batch": (0, 1),
    "idx": ((("int", 0),), (("slice", 1, None, None),), (("slice", None, None, None), ("int", 1))),
    "dtype": ("float64", "float32", "int64"),
    "k": (0,),
    "subscripts": ("ij,jk,kl->il", "ij,jk->ik", "ij,ij->"),
    "i": (0, 1),
}
DEFAULT_ATTR_VALUES: tuple = (None, 0, 1)

MAX_TRIES = 3000  # assignments tried per pattern before giving up
MORE_TRIES = 300  # assignments tried for further witnesses (other shapes) once one is found


@dataclass(frozen=True)
class Structure:
    """One way to instantiate a pattern: a (kind, shape) per term variable and a value per bound attribute."""

    terms: tuple  # ((name, kind, shape), ...)
    attrs: tuple  # ((name, value), ...)

    def describe(self) -> str:
        """``x: (3, 3), c: identity (3, 3), a=1`` for messages."""
        kinds = {"eye": "identity ", "const": "constant "}
        parts = [f"{n}: {kinds.get(k, '')}{s}" for n, k, s in self.terms] + [f"{n}={v!r}" for n, v in self.attrs]
        return ", ".join(parts)


def pattern_vars(pattern: Any) -> tuple[list[str], list[tuple[str, str]]]:
    """The term variables of a pattern (in order of first appearance) and its bound attributes ``(name, attribute)``."""
    terms: list[str] = []
    attrs: list[tuple[str, str]] = []
    stack = [pattern]
    while stack:
        e = stack.pop()
        if isinstance(e, Var):
            if e.name not in terms:
                terms.append(e.name)
        elif isinstance(e, Call):
            for key, v in e.attrs:
                if isinstance(v, Var) and v.name not in [a for a, _ in attrs]:
                    attrs.append((v.name, key))
            stack.extend(reversed(e.args))
    return terms, attrs


class _Leaves:
    """Fresh inputs, one per (variable, kind, shape, dtype), reused across the assignments tried."""

    def __init__(self) -> None:
        self.inputs: dict[tuple, Term] = {}

    def input(self, name: str, shape: tuple, dtype: str) -> Term:
        key = (name, shape, dtype)
        if key not in self.inputs:
            self.inputs[key] = variable(TensorType(dtype, shape), name)
        return self.inputs[key]

    def term(self, name: str, kind: str, shape: tuple, dtype: str, free: bool) -> Term:
        if kind == "eye":
            return constant(np.eye(shape[0], dtype=dtype))
        if kind == "const":
            return constant(np.full(shape, 2.5, dtype=dtype))
        x = self.input(name, shape, dtype)
        return apply("exp", x) if kind == "pos" and not free else x


def build(pattern: Any, struct: Structure, dtype: str = "float64", free: bool = False, leaves: _Leaves | None = None) -> tuple[Term, dict]:
    """The term a structure gives a pattern, and the bindings (variables to terms, attribute names to values)."""

    leaves = leaves or _Leaves()
    env: dict[str, Any] = {n: leaves.term(n, k, s, dtype, free) for n, k, s in struct.terms}
    env.update(dict(struct.attrs))
    term = instantiate(pattern, env)
    if not isinstance(term, Term):
        raise TypeError("the pattern does not build a term")
    return term, env


def structures(pattern: Any, guard: Any = None, max_tries: int = MAX_TRIES, on_found: int | None = None) -> Iterator[Structure]:
    """Assignments under which ``pattern`` builds a term of its own shape and ``guard`` holds on the terms.

    ``on_found``: once one is found, try at most this many more assignments.
    """

    tvars, avars = pattern_vars(pattern)
    leaves = _Leaves()
    options = [TERM_OPTIONS] * len(tvars) + [ATTR_VALUES.get(key, DEFAULT_ATTR_VALUES) for _, key in avars]
    budget = max_tries
    for combo in itertools.product(*options):
        budget -= 1
        if budget < 0:
            return
        struct = Structure(
            tuple((n, k, s) for n, (k, s) in zip(tvars, combo[: len(tvars)])),
            tuple((n, v) for (n, _), v in zip(avars, combo[len(tvars) :])),
        )
        try:
            term, env = build(pattern, struct, leaves=leaves)
        except Exception:  # noqa: BLE001 - an assignment the op rejects is simply not a witness
            continue
        if match(pattern, term) is None:
            continue  # the constructor normalised the term away from the pattern
        if not all(_contract_holds(t) for t in toposort([term]) if t.args):
            continue  # an op's documented precondition fails somewhere inside
        try:
            ok = eval_guard(guard, env)
        except Exception:  # noqa: BLE001 - a guard that cannot be read on these terms does not hold
            continue
        if ok:
            if on_found is not None and budget > on_found:
                budget = on_found
            yield struct


def _contract_holds(term: Term) -> bool:
    """Preconditions an op documents but its type inference does not enforce (the builder must respect them)."""
    if term.op == "expand_like":
        # g is the result of reducing x over axis: its static shape is x's reduced shape
        g, x = term.args
        axis, keepdims = term.attr("axis"), term.attr("keepdims")
        axes = range(x.ndim) if axis is None else axis
        want = (
            tuple(1 if i in axes else d for i, d in enumerate(x.static_shape)) if keepdims else tuple(d for i, d in enumerate(x.static_shape) if i not in axes)
        )
        return g.static_shape[term.attr("batch", 0) :] == want
    return True
