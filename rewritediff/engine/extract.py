"""Cost model and extraction: pick the cheapest term of each e-class and rebuild it as Terms.

Costs come from static shapes (unknown dims count as :data:`UNKNOWN_DIM`) and OpDef fields:
every non-leaf node pays a fixed dispatch overhead plus, by its ``OpDef.cost_kind``: for
elementwise ops its output size times a weight (cheap arithmetic 1, ``OpDef.transcendental``
ones — exp, log, sigmoid, ... — :data:`TRANSCENDENTAL`), for reductions its input size, for
products ``2*m*n*k``, for factorisations the cube of the matrix side, and for shape ops the
size they touch. Leaves cost nothing.

Extraction is greedy and DAG-aware for graphs up to :data:`DAG_LIMIT` classes: a class's
cost is the sum over the *set* of classes its choice needs, so a shared subterm is paid once.
Larger graphs use tree costs (capped, so deep sharing cannot overflow). The chosen nodes are
rebuilt with :func:`rewritediff.terms.apply` (type-checked, hash-consed) with an explicit
stack.
"""

from __future__ import annotations

import math
from typing import Any

from rewritediff.engine.egraph import EGraph, ENode, is_leaf_node
from rewritediff.ops import REGISTRY
from rewritediff.terms import TensorType, Term, apply, toposort

UNKNOWN_DIM = 100
OVERHEAD = 64.0
TRANSCENDENTAL = 8.0
DAG_LIMIT = 600
CAP = 1e200
UNSTABLE = 1e9  # extra cost of an e-node that a stabilization rule rewrote


def _size(ttype: Any) -> float:
    shape = getattr(ttype, "shape", None)
    if shape is None:
        return 1.0
    return float(math.prod(UNKNOWN_DIM if d is None else d for d in shape))


def elementwise_weight(op: str) -> float:
    """Per-element work of an elementwise op: 1 for arithmetic, more for function calls (``OpDef.transcendental``)."""
    od = REGISTRY.get(op)
    return TRANSCENDENTAL if od is None or od.transcendental else 1.0


_COST_CACHE: dict[tuple, float] = {}


def op_cost(op: str, attrs: tuple, out_type: Any, arg_types: list[Any]) -> float:
    """Cost of one node: dispatch overhead plus flops and elements moved, from static shapes."""
    key = (op, out_type, *arg_types)
    try:
        return _COST_CACHE[key]
    except KeyError:
        pass
    except TypeError:
        return _op_cost(op, attrs, out_type, arg_types)
    c = _COST_CACHE[key] = _op_cost(op, attrs, out_type, arg_types)
    return c


def _op_cost(op: str, attrs: tuple, out_type: Any, arg_types: list[Any]) -> float:
    od = REGISTRY.get(op)
    if od is None:
        return OVERHEAD + _size(out_type)
    kind = od.cost_kind
    if kind == "free":
        return 0.0
    out = _size(out_type)
    ins = [_size(t) for t in arg_types]
    if kind == "elementwise" and out == 1 and all(i == 1 for i in ins):
        return OVERHEAD / 8  # scalar arithmetic (lengths read at run time, say): a Python float op
    if kind == "elementwise":
        return OVERHEAD + out * (elementwise_weight(op) + 1.0) + 0.25 * sum(ins)
    if kind == "reduction":
        return OVERHEAD + sum(ins) + out
    if kind == "product":
        shapes = [getattr(t, "shape", ()) or () for t in arg_types]
        k = shapes[0][-1] if shapes and shapes[0] else 1
        k = UNKNOWN_DIM if k is None else k
        return OVERHEAD + 2.0 * out * k + sum(ins)
    if kind == "cubic":
        side = max([math.sqrt(s) for s in ins] or [1.0])
        return OVERHEAD + 2.0 * side**3 + out
    if od.same_shape_noop and ins and ins[0] != out:
        return OVERHEAD + sum(ins) + out  # sum_to / broadcast_like that change the shape do a reduction's work
    if kind == "layout":
        return OVERHEAD / 2 + 0.5 * max([out, *ins])
    if kind == "constructor":
        return OVERHEAD / 2 + out
    return OVERHEAD + TRANSCENDENTAL * out + sum(ins)


def _is_leaf(t: Term) -> bool:
    od = REGISTRY.get(t.op)
    return od is not None and od.leaf and not t.args


def term_cost(t: Term) -> float:
    """Cost of one term node (its arguments excluded)."""
    if _is_leaf(t):
        return 0.0
    return op_cost(t.op, t.attrs, t.type, [a.type for a in t.args])


def class_type(eg: EGraph, cid: int) -> Any:
    """A class's type with the dims the graph proves to be known lengths filled in.

    A rewrite may trade a term of static shape (5, ?) for an equal one typed (?, ?) (``eye(5) @
    X.T`` for ``X.T``, where dot(X, w) with a static w fixes X's second dim): costs must not see
    that as a more expensive shape.
    """
    data = eg.classes[cid if eg.uf[cid] == cid else eg.find(cid)].data
    t = data.type
    if isinstance(t, TensorType) and None in t.shape and len(data.dims) == len(t.shape):
        dims: list = []
        for s, d in zip(t.shape, data.dims):
            if s is None:
                d = eg.dim_find(d)
                s = d if isinstance(d, int) else None
            dims.append(s)
        shape = tuple(dims)
        if shape != t.shape:
            t = TensorType(t.dtype, shape)
    # one object per distinct type: the cost cache's keys then compare by identity
    if len(_TYPES) > 4096:
        _TYPES.clear()
    try:
        return _TYPES.setdefault(t, t)
    except TypeError:  # an unhashable type is costed as it is
        return t


_TYPES: dict[Any, Any] = {}


def _int_or_none(d: Any) -> int | None:
    return d if isinstance(d, int) else None


def dag_cost(terms: list[Term], eg: EGraph | None = None, classes: dict[int, int] | None = None, types: dict[int, Any] | None = None) -> float:
    """Total cost of a DAG, each distinct node counted once (with ``eg``, plus the penalty of unstable nodes).

    With ``eg``, a term whose class is known (``classes``: term uid -> class, else the graph's own
    record of the terms added to it) is costed with its class's refined type (:func:`class_type`;
    ``types``: those already computed for canonical class ids, as :attr:`Extractor.types`, read and extended).
    """
    order = toposort(terms)
    if eg is None:
        return sum(term_cost(t) for t in order)
    where = eg.term_class if classes is None else {**eg.term_class, **classes}
    refined: dict[int, Any] = {} if types is None else types
    uf, find = eg.uf, eg.find

    def type_of(t: Term) -> Any:
        cid = where.get(t.uid)
        if cid is None:
            return t.type
        if uf[cid] != cid:
            cid = find(cid)
        hit = refined.get(cid)
        if hit is None:
            hit = refined[cid] = class_type(eg, cid)
        return hit

    total = 0.0
    for t in order:
        if _is_leaf(t):
            continue
        total += op_cost(t.op, t.attrs, type_of(t), [type_of(a) for a in t.args])
    if eg.unstable:
        bad = {eg.canon(n) for n in eg.unstable}
        for t in order:
            if t.uid in eg.term_class and t.args and all(a.uid in eg.term_class for a in t.args) and eg.node_of(t) in bad:
                total += UNSTABLE
    return total


def _shapes_compatible(a: tuple, b: tuple) -> bool:
    """Same ndim, and no static dim that contradicts the other's (rewrites may learn or lose static dims)."""
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


class Extractor:
    """Chooses one node per class, greedily, and rebuilds the choice as Terms."""

    def __init__(self, eg: EGraph) -> None:
        self.eg = eg
        self.choice: dict[int, ENode] = {}
        self.built_class: dict[int, int] = {}  # uid of each rebuilt term -> its class
        self.types: dict[int, Any] = {}  # canonical class id -> its refined type (class_type), for the classes costed

    def unstable_nodes(self) -> set:
        """Canonical forms of the e-nodes that stabilization rules rewrote."""
        return {self.eg.canon(n) for n in self.eg.unstable}

    def run(self, roots: list[int]) -> None:
        """Choose nodes for every class reachable from ``roots``."""
        eg = self.eg
        find, classes, uf = eg.find, eg.classes, eg.uf
        bad = self.unstable_nodes()
        reach = self._reachable(roots)
        dag = len(reach) <= DAG_LIMIT
        own: dict[tuple[int, ENode], float] = {}
        # per class: (node, its own cost, its distinct argument classes), in the class's node order
        rows: dict[int, list[tuple[ENode, float, tuple]]] = {}
        types = self.types
        for cid in reach:
            types[cid] = class_type(eg, cid)
        for cid in reach:
            ttype = types[cid]
            mine: list[tuple[ENode, float, tuple]] = []
            for node in classes[cid].nodes:
                if is_leaf_node(node):
                    cost = 0.0
                else:
                    kids = [c if uf[c] == c else find(c) for c in node[2]]
                    cost = op_cost(node[0], node[1], ttype, [types[c] for c in kids])
                    if node in bad:
                        cost += UNSTABLE
                own[(cid, node)] = cost
                if dag:
                    mine.append((node, cost, tuple(dict.fromkeys(kids)) if node[2] else ()))
            rows[cid] = mine
        if dag:
            self._dag(reach, rows)
        else:
            self._tree(reach, own)

    def _reachable(self, roots: list[int]) -> list[int]:
        eg = self.eg
        seen: dict[int, None] = {}
        stack = [eg.find(r) for r in roots]
        uf, find, classes = eg.uf, eg.find, eg.classes
        while stack:
            c = stack.pop()
            if c in seen:
                continue
            seen[c] = None
            for node in classes[c].nodes:
                for ch in node[2]:
                    if uf[ch] != ch:
                        ch = find(ch)
                    if ch not in seen:
                        stack.append(ch)
        return sorted(seen)

    def _parents_map(self, reach: list[int]) -> dict[int, list[int]]:
        eg = self.eg
        users: dict[int, list[int]] = {c: [] for c in reach}
        for cid in reach:
            for node in eg.classes[cid].nodes:
                for ch in dict.fromkeys(eg.find(c) for c in node[2]):
                    users[ch].append(cid)
        return users

    def _tree(self, reach: list[int], own: dict) -> None:
        eg = self.eg
        best: dict[int, float] = {}
        users = self._parents_map(reach)
        work = list(reach)
        queued = set(work)
        while work:
            nxt: list[int] = []
            for cid in work:
                queued.discard(cid)
                cur = best.get(cid, math.inf)
                improved = False
                for node in eg.classes[cid].nodes:
                    ch = [eg.find(c) for c in node[2]]
                    if any(c not in best for c in ch):
                        continue
                    cost = min(CAP, own[(cid, node)] + sum(best[c] for c in ch))
                    if cost < cur:
                        cur = cost
                        self.choice[cid] = node
                        improved = True
                if improved:
                    best[cid] = cur
                    for u in users[cid]:
                        if u not in queued:
                            queued.add(u)
                            nxt.append(u)
            work = nxt

    def _dag(self, reach: list[int], rows: dict[int, list[tuple[ENode, float, tuple]]]) -> None:
        best: dict[int, tuple[float, frozenset]] = {}
        chosen_cost: dict[int, float] = {}
        users: dict[int, list[int]] = {c: [] for c in reach}
        for cid in reach:
            for _, _, kids in rows[cid]:
                for ch in kids:
                    users[ch].append(cid)
        work = list(reach)
        queued = set(work)
        rounds = 0
        cost_of = chosen_cost.__getitem__
        best_get = best.get
        empty: frozenset = frozenset()
        while work and rounds < 64:
            rounds += 1
            nxt: list[int] = []
            for cid in work:
                queued.discard(cid)
                cur = best.get(cid)
                improved = False
                for node, mine, kids in rows[cid]:
                    got = list(map(best_get, kids))
                    if None in got:
                        continue
                    n = len(got)
                    if n == 1:
                        deps = got[0][1]
                    elif n == 2:
                        deps = got[0][1] | got[1][1]
                    else:
                        deps = empty.union(*[k[1] for k in got]) if got else empty
                    if cid in deps:  # (a node needing its own class)
                        continue
                    total = mine + sum(map(cost_of, deps))
                    if cur is None or total < cur[0] - 1e-9:
                        cur = (total, deps | {cid})
                        self.choice[cid] = node
                        chosen_cost[cid] = mine
                        improved = True
                if improved:
                    best[cid] = cur  # type: ignore[assignment]
                    for u in users[cid]:
                        if u not in queued:
                            queued.add(u)
                            nxt.append(u)
            work = nxt

    def build(self, roots: list[int]) -> list[Term] | None:
        """Rebuild the chosen nodes under ``roots`` as Terms (None if the choice has a cycle or fails)."""
        eg = self.eg
        made: dict[int, Term] = {}
        for root in roots:
            root = eg.find(root)
            stack: list[tuple[int, bool]] = [(root, False)]
            on_path: set[int] = set()
            while stack:
                cid, expanded = stack.pop()
                if cid in made:
                    continue
                node = self.choice.get(cid)
                if node is None:
                    return None
                if not expanded:
                    if cid in on_path:
                        return None
                    on_path.add(cid)
                    stack.append((cid, True))
                    for ch in node[2]:
                        ch = eg.find(ch)
                        if ch not in made:
                            if ch in on_path:
                                return None
                            stack.append((ch, False))
                    continue
                on_path.discard(cid)
                if is_leaf_node(node):
                    made[cid] = eg.leaves[dict(node[1])["#leaf"]]
                    continue
                t = apply(node[0], *[made[eg.find(c)] for c in node[2]], **dict(node[1]))
                want = eg.classes[cid].data.type
                if not isinstance(t.type, TensorType) or t.type.dtype != want.dtype or not _shapes_compatible(t.type.shape, want.shape):
                    return None
                made[cid] = t
                self.built_class[t.uid] = cid
        return [made[eg.find(r)] for r in roots]
