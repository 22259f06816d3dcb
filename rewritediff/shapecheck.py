"""Run-time checks of the broadcasting contract: a dim of unknown static length never stretches.

PyTensor's rule, which rewritediff follows: only a dim declared of length 1 (``rd.row``,
``rd.col``, ``shape=(1, None)``, ``broadcastable=``, ``dimshuffle('x', ...)``) broadcasts. Two
aligned dims of an elementwise op that are not declared 1 are the same length, and so are a
contraction's inner dims. The simplifier relies on these equalities (``sum_to(g, x)`` is ``g``
once g and x are proved the same shape), so a compiled function checks them on its inputs:
a length-1 array where an undeclared dim would need stretching raises :class:`BroadcastError`
instead of giving a silently different number.

The equalities are collected from the graph the user gave (before simplification: a rewrite
may remove the very op that forced them), through the ops' ``OpDef.dims`` and
``OpDef.equal_dims`` (see ``ops/dims.py``), joined in a union-find; each union that joins two
classes becomes one comparison of input lengths in the generated code.
"""

from __future__ import annotations

from typing import Any

from rewritediff.errors import BroadcastError
from rewritediff.ops import get_op
from rewritediff.ops.dims import leaf_dims
from rewritediff.terms import TensorType, Term, toposort

HOW_TO_BROADCAST = (
    "A dim whose static length is unknown is never broadcast at run time. To broadcast it, declare it of length 1: "
    "rd.tensor(name, shape=(1, None)), rd.row / rd.col, broadcastable=(True, False), or x.dimshuffle('x', 0)."
)


class _DimSets:
    """Union-find over dim tokens; remembers the op that joined each pair of classes."""

    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}
        self.joins: list[tuple[Any, Any, Term]] = []

    def find(self, d: Any) -> Any:
        while d in self.parent:
            d = self.parent[d]
        return d

    def union(self, a: Any, b: Any, where: Term) -> None:
        if a is None or b is None:
            return
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if isinstance(ra, int) and isinstance(rb, int):
            self.joins.append((a, b, where))  # two different static lengths: type inference lets none through
            return
        if isinstance(ra, int):
            ra, rb = rb, ra
        self.parent[ra] = rb
        self.joins.append((a, b, where))


def term_dims(order: list[Term], sets: _DimSets | None = None) -> dict[int, tuple]:
    """Dim tokens of every term of ``order`` (topological), as the engine's analysis computes them.

    With ``sets``, each op's forced equalities (``OpDef.equal_dims``) are joined there before its
    result's dims are read, from the representatives: ``y * u`` then has one token for its length,
    which an assertion further up (``specify_shape_like(y * u, x)``) can join with ``x``'s.
    """
    out: dict[int, tuple] = {}
    for t in order:
        ttype = t.type
        if not isinstance(ttype, TensorType):
            out[t.uid] = ()
            continue
        shape = ttype.shape
        if not t.args:
            out[t.uid] = tuple(shape) if t.op == "const" else leaf_dims(t.uid, shape)
            continue
        opdef = get_op(t.op)
        res = None
        kids = [out.get(a.uid) for a in t.args]
        if sets is not None and opdef.equal_dims is not None:
            for a, b in opdef.equal_dims(t.attr_dict, kids):
                sets.union(a, b, t)
            kids = [None if k is None else tuple(sets.find(d) for d in k) for k in kids]
        if opdef.dims is not None:
            res = opdef.dims(t.attr_dict, kids)
        if res is None or len(res) != len(shape):
            out[t.uid] = tuple(shape)
        else:
            out[t.uid] = tuple(s if s is not None else d for s, d in zip(shape, res))
    return out


def _length_source(tok: Any, names: dict[int, str]) -> str | None:
    """Python source for the run-time length a token names, from the function's inputs (None if it cannot)."""
    if isinstance(tok, int):
        return str(tok)
    if not isinstance(tok, tuple) or not tok:
        return None
    if tok[0] == "d":
        name = names.get(tok[1])
        return None if name is None else f"{name}.shape[{tok[2]}]"
    if tok[0] in ("off", "min"):
        inner = _length_source(tok[1], names)
        if inner is None:
            return None
        return f"max(0, {inner} - {tok[2]})" if tok[0] == "off" else f"min({inner}, {tok[2]})"
    return None


def _describe(tok: Any, leaves: dict[int, Term]) -> str:
    """A token as the user would write the length (``X.shape[0]``, ``max(0, x.shape[0] - 1)``)."""
    if isinstance(tok, int):
        return str(tok)
    if tok[0] == "d":
        leaf = leaves.get(tok[1])
        return f"{leaf.name or 'input'}.shape[{tok[2]}]" if leaf is not None else "a length"
    if tok[0] == "off":
        return f"max(0, {_describe(tok[1], leaves)} - {tok[2]})"
    if tok[0] == "min":
        return f"min({_describe(tok[1], leaves)}, {tok[2]})"
    return "a broadcast length"


def _which_args(term: Term, tok: Any, dims: dict[int, tuple]) -> str:
    """The arguments of ``term`` having dim token ``tok`` (for the error message)."""
    found = []
    for i, a in enumerate(term.args):
        if tok in dims.get(a.uid, ()):
            label = a.name if a.name else a.op
            found.append(f"argument {i} ({label})")
    return " and ".join(found[:2]) if found else "an argument"


def dim_checks(roots: list[Term], names: dict[int, str]) -> list[tuple[str, str, str]]:
    """The comparisons a compiled function makes on entry: (length source, length source, error message).

    ``names`` maps input and shared leaves' uids to source expressions of their run-time arrays.
    Only equalities whose two lengths can both be read off the inputs are checked; the others
    (a length from an index array's values, say) are never used by the simplifier either.
    """
    order = toposort(roots)
    sets = _DimSets()
    dims = term_dims(order, sets)
    leaves = {t.uid: t for t in order if not t.args}
    checks: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for a, b, where in sets.joins:
        sa, sb = _length_source(a, names), _length_source(b, names)
        if sa is None or sb is None or sa == sb or (sa, sb) in seen or (isinstance(a, int) and isinstance(b, int)):
            continue
        seen.add((sa, sb))
        # an assertion (a gradient's "this adjoint has its argument's shape") is not an op the user
        # wrote: name what it asserts instead
        head = "equal shapes required" if get_op(where.op).same_shape_noop else where.op
        msg = (
            f"{head}: {_which_args(where, a, dims)} has length {{0}} ({_describe(a, leaves)}) where "
            f"{_which_args(where, b, dims)} has length {{1}} ({_describe(b, leaves)})"
        )
        checks.append((sa, sb, msg))
    return checks


def broadcast_error(message: str, a: int, b: int) -> BroadcastError:
    """The error a failed entry check raises (called from generated code)."""
    text = message.format(a, b)
    return BroadcastError(f"{text}. {HOW_TO_BROADCAST}" if 1 in (a, b) else f"{text}: the lengths must be equal")
