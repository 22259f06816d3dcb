"""Lengths of the e-graph: dim tokens that the computation forces equal, and classes whose value is a product of lengths.

A mixin of :class:`rewritediff.engine.egraph.EGraph` (which sets up ``dim_parent``, ``_dim_memo``,
``_dim_values``, ``_dim_values_done`` and ``_dims_changed``): ``dot(X, w)`` proves X's second
dim equal to w's, and ``count(dot(X, w))`` is ``X.shape[0]``, merged with that length's class.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewritediff.ops import CONST_OP, LENGTH_OP, PRODUCT_OP, REGISTRY
from rewritediff.terms import Term, apply, constant

_NO_DIM = object()


class Lengths:
    """Dim-token union-find and the materialisation of run-time lengths (mixed into the e-graph)."""

    dim_parent: dict[Any, Any]
    _dim_memo: dict[Any, Any]
    _dim_values: list[int]
    _dim_values_done: dict[int, int]
    _dims_changed: bool
    leaves: dict[int, Term]
    classes: dict

    # ---- dims that the computation forces equal ----------------------------------------------
    def dim_find(self, d: Any) -> Any:
        """The representative of a dim token (an int when the dim is known to be that length).

        A broadcast of a set of lengths (``("bcast", a, b, ...)``) is the one length when all its
        members are known to be equal.
        """
        memo = self._dim_memo
        hit = memo.get(d, _NO_DIM)
        if hit is not _NO_DIM:
            return hit
        key = d
        while d in self.dim_parent:
            d = self.dim_parent[d]
        if isinstance(d, tuple) and d and d[0] == "bcast":
            members = {self.dim_find(m) for m in d[1:]}
            d = next(iter(members)) if len(members) == 1 else ("bcast", *sorted(members, key=repr))
        while d in self.dim_parent:
            d = self.dim_parent[d]
        memo[key] = d
        return d

    def dim_union(self, a: Any, b: Any) -> None:
        """Record that two dims are equal wherever the graph runs; ints win as representatives."""
        if a is None or b is None:
            return
        a, b = self.dim_find(a), self.dim_find(b)
        if a == b or (isinstance(a, int) and isinstance(b, int)):
            return
        if isinstance(a, int):
            a, b = b, a
        elif not isinstance(b, int) and repr(b) > repr(a):
            a, b = b, a
        self.dim_parent[a] = b
        self._dim_memo.clear()
        self._dims_changed = True

    def dim_term(self, d: Any) -> Term | None:
        """A term whose value is the length a dim token names (an input's ``shape_i``), or None."""
        d = self.dim_find(d)
        if isinstance(d, int):
            return constant(np.int64(d))
        if isinstance(d, tuple) and d and d[0] == "d" and d[1] in self.leaves:
            return apply(LENGTH_OP, self.leaves[d[1]], i=d[2])
        return None

    def _materialize_dim_values(self) -> None:
        """Merge each ``shape_i`` / ``count`` class with the product of input lengths it equals.

        This is constant folding for lengths known only at run time: ``count(dot(X, w))`` is
        ``X.shape[0]``, so rules see one term for one length whichever expression computed it.
        """
        for cid in list(self._dim_values):
            cid = self.find(cid)
            cls = self.classes.get(cid)
            if cls is None or cls.data.const is not None:
                continue
            node = next((n for n in cls.nodes if REGISTRY.get(n[0]) is not None and REGISTRY[n[0]].dim_product is not None), None)
            if node is None:
                continue
            op, attrs, ch = node
            kids = [self.classes[self.find(c)].data.dims for c in ch]
            lengths = REGISTRY[op].dim_product(dict(attrs), kids)
            if lengths is None or any(d is None for d in lengths):
                continue
            factors = [self.dim_term(d) for d in lengths]
            if any(f is None for f in factors):
                continue
            consts = [f for f in factors if f.op == CONST_OP]
            syms = [f for f in factors if f.op != CONST_OP]
            scale = int(np.prod([int(c.value) for c in consts])) if consts else 1
            if not syms or scale == 0:
                term = constant(np.int64(scale))
            else:
                parts = syms if scale == 1 else [*syms, constant(np.int64(scale))]
                term = parts[0] if len(parts) == 1 else apply(PRODUCT_OP, *parts)
            if term.type != cls.data.type:
                continue
            target = self.add_term(term)
            if self._dim_values_done.get(cid) == target:
                continue
            self._dim_values_done[cid] = target
            self.union(cid, target)
