"""Associativity of the n-ary ops: flattened variants of nested sums and products added to their classes.

The e-graph keeps ``add`` and ``mul`` n-ary with sorted arguments (their canonical AC forms); a
rewrite that merges a class with a sum nests its users again, and this pass splices such
arguments back in (egg's rules would instead enumerate every association).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewritediff.engine.egraph import MAX_FLAT, EClass, EGraph, ENode
from rewritediff.ops import REGISTRY
from rewritediff.terms import constant


def normalize_nary(eg: EGraph, budget: int, touched: set[int] | None = None) -> int:
    """Add flattened forms of n-ary float nodes whose argument classes hold a node of the same op.

    A class that a rewrite merged with a sum (or product) makes its users' nodes nested again:
    ``mul(a, B)`` with ``B`` now also ``mul(b1, b2)``. For each such node one variant with every
    nestable argument spliced in (the first same-op node of that argument's class, none that
    refers back to itself or to the user, and only from an argument class with no other user, so
    no shared work is duplicated) is added to the user's class, 0-d constants of the node's
    dtype are folded into one and a 0-d identity (0 of a sum, 1 of a product) is dropped.
    Only float dtypes (reassociation does not change what is computed beyond rounding; bool
    and integer sums and products could). At most ``budget`` new nodes; with ``touched``, only
    nodes of those classes and of their users are looked at. Returns how many were added.
    """
    added = 0
    near: set[int] | None = None
    if touched is not None:
        uf, find = eg.uf, eg.find
        near = {c if uf[c] == c else find(c) for c in touched}
        near |= eg.users_of(near)
    for op in sorted(eg.nary):
        ids = eg.classes_with(op)
        if near is not None:
            ids = sorted(near.intersection(ids))
        for cid in ids:
            if added >= budget:
                return added
            cls = eg.classes.get(cid)
            if cls is None or not str(getattr(cls.data.type, "dtype", "")).startswith("float"):
                continue
            for node in list(cls.nodes):
                if node[0] != op:
                    continue
                if eg.uf[cid] != cid:
                    cid = eg.find(cid)  # an insertion below merged this class into another
                new = _flat_variant(eg, cid, node)
                if new is not None and eg.insert(new, cid):
                    added += 1
    return added


def _flat_variant(eg: EGraph, cid: int, node: ENode) -> ENode | None:
    op, attrs, ch = node
    dtype = eg.classes[cid].data.type.dtype
    find = eg.find
    out: list[int] = []
    changed = False
    has_const = False  # some argument is a 0-d constant of the dtype (folding or dropping may apply)
    classes = eg.classes
    uf = eg.uf
    for i, c in enumerate(ch):
        if uf[c] != c:
            c = find(c)
        sub = None
        cdata = classes[c].data
        if cdata.const is not None and cdata.const.shape == () and cdata.type.dtype == dtype:
            has_const = True
        if c != cid:
            ccls = classes[c]
            if ccls.data.type.dtype == dtype:
                # the first same-op node, or better the first with a 0-d factor (a constant or a
                # length read at run time): splicing it gathers the scalars of a product in one node
                for n in ccls.nodes:
                    if n[0] != op or n[1] != attrs or not n[2]:
                        continue
                    for k in n[2]:
                        if uf[k] != k:
                            k = find(k)
                        if k == c or k == cid:
                            break
                    else:
                        if sub is None:
                            sub = n
                        if any(getattr(classes[k if uf[k] == k else find(k)].data.type, "shape", None) == () for k in n[2]):
                            sub = n
                            break
                # shared work is never duplicated, except 0-d arithmetic (a scale such as -1 / n)
                if sub is not None and ccls.data.type.shape != () and not _single_user(eg, ccls):
                    sub = None
        if sub is not None and len(out) + len(sub[2]) + len(ch) - i - 1 <= MAX_FLAT:
            out.extend(find(k) for k in sub[2])
            changed = True
        else:
            out.append(c)
    if not changed and not has_const:
        return None
    known = {}
    for c in out:
        d = classes[c].data  # (out holds canonical ids)
        known[c] = d.const if d.const is not None and d.const.shape == () and d.type.dtype == dtype else None
    consts = [c for c in out if known[c] is not None]
    if len(consts) >= 2:
        vals = [known[c] for c in consts]
        with np.errstate(all="ignore"):
            v = getattr(np, REGISTRY[op].ufunc).reduce(vals, dtype=dtype)  # the n-ary op folded by its ufunc
        if np.isfinite(v):
            folded = eg.add_term(constant(np.asarray(v, dtype=dtype), dtype))
            drop = set(consts)
            out = [c for c in out if c not in drop] + [folded]
            known[folded] = _scalar_const(eg, folded, dtype)
            changed = True
    # the identity (0 of a sum, 1 of a product) as a 0-d constant changes neither value nor type
    if consts:
        unit = REGISTRY[op].unit
        kept = [c for c in out if not (known[c] is not None and known[c] == unit)]
        if len(kept) < len(out) and kept:
            out, changed = kept, True
    if len(consts) >= 2 and len(out) == 1 and classes[find(out[0])].data.type == classes[cid].data.type:
        eg.union(out[0], cid)  # the constants cancelled to the identity: x * 0.5 * 2.0 is x
        return None
    if not changed or len(out) < 2:
        return None
    return (op, attrs, tuple(sorted(out)))


def _single_user(eg: EGraph, cls: EClass) -> bool:
    """Whether every node using the class belongs to one class (splicing it in then duplicates no work)."""
    uf, find = eg.uf, eg.find
    me = find(cls.id)
    user = None
    for _, pc in cls.parents:
        u = pc if uf[pc] == pc else find(pc)
        if u == me or u == user:
            continue
        if user is not None:
            return False
        user = u
    return True


def _scalar_const(eg: EGraph, cid: int, dtype: str) -> Any:
    d = eg.classes[eg.find(cid)].data
    if d.const is None or d.const.shape != () or d.type.dtype != dtype:
        return None
    return d.const
