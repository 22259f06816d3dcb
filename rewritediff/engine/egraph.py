"""The e-graph: e-classes of hash-consed e-nodes, union-find, and a deferred congruence rebuild.

An e-node is a tuple ``(op, attrs, children)``: the op's registry name, its frozen attribute
tuple (as on :class:`~rewritediff.terms.Term`) and the ids of its argument classes. Leaves
(variables, shared variables, constants) are ``(op, (("#leaf", uid),), ())`` and keep their
term in :attr:`EGraph.leaves`. Children of the n-ary ``add``/``mul`` are sorted by class id,
so commutativity is free; nested ``add``/``mul`` terms are flattened into one e-node (up to
:data:`MAX_FLAT` arguments), and the AC matcher handles the rest of associativity.

Every class keeps a representative term (the first term added to it), so a rule's right-hand
side is built with :func:`rewritediff.terms.apply` from representatives: type-checked and
hash-consed. Unions are cheap; the congruence closure is restored once per iteration by
:meth:`EGraph.rebuild` (egg's deferred rebuilding). Nothing here recurses over graph depth.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from rewritediff.engine import analysis as an
from rewritediff.engine.lengths import Lengths
from rewritediff.errors import BUILD_ERRORS
from rewritediff.ops import CONST_OP, LEAF_OPS, REGISTRY
from rewritediff.ops.dims import leaf_dims, merge_dims
from rewritediff.ops.signs import closure as close_signs
from rewritediff.terms import TensorType, Term, constant

ENode = tuple  # (op, attrs, children)
MAX_FLAT = 32  # nested n-ary terms are flattened into one e-node up to this many arguments


def is_leaf_node(node: ENode) -> bool:
    """Whether an e-node stands for a variable, shared variable or constant."""
    return node[0] in LEAF_OPS and not node[2]


class ClassData:
    """Facts about one e-class: type, representative term, constant value, sign bits, dim tokens."""

    __slots__ = ("type", "rep", "const", "signs", "dims", "length")

    def __init__(self, ttype: Any, rep: Term, const: np.ndarray | None, signs: int, dims: tuple, length: Any = None) -> None:
        self.type, self.rep, self.const, self.signs, self.dims = ttype, rep, const, signs, dims
        # for a 0-d integer class: the dim token of the length its value is (``X.shape[0]``), else None
        self.length = length


class EClass:
    """One equivalence class: its e-nodes, the (node, class) pairs that use it, and its facts."""

    __slots__ = ("id", "nodes", "parents", "data")

    def __init__(self, cid: int, node: ENode, data: ClassData) -> None:
        self.id = cid
        self.nodes: list[ENode] = [node]
        self.parents: list[tuple[ENode, int]] = []
        self.data = data


class EGraph(Lengths):
    """Equivalence classes of terms with congruence closure."""

    def __init__(self) -> None:
        self.uf: list[int] = []
        self.classes: dict[int, EClass] = {}
        self.hashcons: dict[ENode, int] = {}
        self.term_class: dict[int, int] = {}
        self.leaves: dict[int, Term] = {}
        self.by_op: dict[str, list[int]] = {}
        self._facts_memo: dict[tuple, Any] = {}  # (op, attrs, arguments' facts) -> sign or dim facts of the node (pure functions)
        self._by_op_dirty: set[str] = set()  # ops whose list may hold a merged-away or repeated id (compacted when read, classes_with)
        self.nary = frozenset(n for n, od in REGISTRY.items() if od.nary)
        self._pending: list[int] = []
        self._analysis_pending: list[int] = []
        self._fold_queue: list[int] = []
        self.const_classes: list[int] = []  # every class that has had a constant value (ids as added: use find)
        self._stale: list[int] = []  # classes that may hold non-canonical or duplicate nodes (compacted in rebuild)
        self._dirty = False
        self.unions = 0
        # fallbacks taken ("what: exception type" -> count): guards left undecided, right-hand sides
        # not built, values not made constants; the runner copies them into its report
        self.fallbacks: Counter[str] = Counter()
        self.touched: set[int] = set()  # classes whose nodes, members or facts changed since take_touched()
        self.probing = False  # a guard is read ahead of its turn: it must not add to the graph (guards.GuardNeedsRest)
        self.unstable: list[ENode] = []  # e-nodes a stabilization rule rewrote (penalised in extraction)
        self.dim_parent: dict[Any, Any] = {}  # dims that must be equal for the graph to run (e.g. dot's contraction)
        self._dim_memo: dict[Any, Any] = {}  # dim_find's answers while dim_parent stays as it is
        self._dim_values: list[int] = []  # classes of ops whose value is a product of lengths (OpDef.dim_product)
        self._dim_values_done: dict[int, int] = {}  # such a class -> the class of the input lengths it was merged with
        self._dims_changed = False

    # ---- union-find ----------------------------------------------------------------------
    def find(self, cid: int) -> int:
        """The canonical id of ``cid``'s class (path halving, no recursion)."""
        uf = self.uf
        while uf[cid] != cid:
            uf[cid] = uf[uf[cid]]
            cid = uf[cid]
        return cid

    def canon(self, node: ENode) -> ENode:
        """``node`` with canonical child ids (sorted for n-ary ops)."""
        op, attrs, ch = node
        if not ch:
            return node
        uf = self.uf
        if op in self.nary:
            prev = -1
            for c in ch:
                if uf[c] != c or c < prev:
                    break
                prev = c
            else:
                return node  # every child canonical and in order: the node is its own canonical form
            find = self.find
            return (op, attrs, tuple(sorted([c if uf[c] == c else find(c) for c in ch])))
        for c in ch:
            if uf[c] != c:
                break
        else:
            return node
        find = self.find
        return (op, attrs, tuple([c if uf[c] == c else find(c) for c in ch]))

    def data(self, cid: int) -> ClassData:
        """Facts of ``cid``'s class."""
        return self.classes[cid if self.uf[cid] == cid else self.find(cid)].data

    def rep(self, cid: int) -> Term:
        """The representative term of ``cid``'s class."""
        return self.classes[cid if self.uf[cid] == cid else self.find(cid)].data.rep

    @property
    def num_nodes(self) -> int:
        """Number of distinct e-nodes."""
        return len(self.hashcons)

    @property
    def num_classes(self) -> int:
        """Number of e-classes."""
        return len(self.classes)

    def lookup(self, node: ENode) -> int | None:
        """The class holding ``node`` (canonicalised), if any."""
        cid = self.hashcons.get(self.canon(node))
        return None if cid is None else self.find(cid)

    # ---- adding --------------------------------------------------------------------------
    def node_of(self, t: Term) -> ENode:
        """The e-node of a term whose arguments are already in the graph."""
        if t.op in LEAF_OPS and not t.args:
            return (t.op, (("#leaf", t.uid),), ())
        tc = self.term_class
        if t.op in self.nary:
            ch: list[int] = []
            stack = list(reversed(t.args))
            while stack:
                a = stack.pop()
                if a.op == t.op and len(ch) + len(stack) + len(a.args) <= MAX_FLAT:
                    stack.extend(reversed(a.args))
                else:
                    ch.append(tc[a.uid])
            return self.canon((t.op, t.attrs, tuple(ch)))
        return self.canon((t.op, t.attrs, tuple([tc[a.uid] for a in t.args])))

    def add_term(self, term: Term) -> int:
        """Add ``term`` and its sub-terms (explicit stack), returning its class id."""
        tc = self.term_class
        hit = tc.get(term.uid)
        if hit is not None:
            return self.find(hit)
        # depth first, the arguments of a term from the last one back (the order the classes get their ids in)
        stack = [(term, reversed(term.args))]
        while stack:
            t, todo = stack[-1]
            for a in todo:
                if a.uid not in tc:
                    stack.append((a, reversed(a.args)))
                    break
            else:
                stack.pop()
                if t.uid in tc:
                    continue
                node = self.node_of(t)
                if is_leaf_node(node):
                    self.leaves[t.uid] = t
                tc[t.uid] = self._add_node(node, t)
        return self.find(tc[term.uid])

    def _add_node(self, node: ENode, term: Term) -> int:
        hit = self.hashcons.get(node)
        if hit is not None:
            return self.find(hit)
        cid = len(self.uf)
        self.uf.append(cid)
        data = self._make(node, term)
        self.classes[cid] = EClass(cid, node, data)
        self.touched.add(cid)
        self.hashcons[node] = cid
        for c in dict.fromkeys(node[2]):
            self.classes[c].parents.append((node, cid))
        self.by_op.setdefault(node[0], []).append(cid)  # a new id, larger than any listed: a clean list stays clean
        if data.const is not None:
            self.const_classes.append(cid)
            if not is_leaf_node(node):
                self._fold_queue.append(cid)
        opdef = REGISTRY.get(node[0])
        if opdef is not None and opdef.dim_product is not None:
            self._dim_values.append(cid)
            self._dims_changed = True
        return cid

    # ---- analysis ------------------------------------------------------------------------
    def _make(self, node: ENode, term: Term) -> ClassData:
        op, attrs, ch = node
        ttype = term.type
        if not isinstance(ttype, TensorType):
            return ClassData(ttype, term, None, 0, ())
        if op in LEAF_OPS and not ch:
            if op == CONST_OP:
                v = term.value
                return ClassData(ttype, term, v, an.const_signs(v), tuple(ttype.shape))
            return ClassData(ttype, term, None, 0, leaf_dims(term.uid, ttype.shape))
        classes, find = self.classes, self.find
        uf = self.uf
        kids = [classes[c if uf[c] == c else find(c)].data for c in ch]
        consts = [k.const for k in kids]
        unknown = [c is None for c in consts].count(True)  # (constants are arrays: no == with None)
        const = None
        if ch:
            if not unknown:
                const = an.fold(op, attrs, consts, ttype)
            if const is None and not ttype.shape:
                const = an.fold_shape_only(op, attrs, [k.type for k in kids], ttype)
        elif REGISTRY.get(op) is not None and REGISTRY[op].constructor:
            const = an.fold(op, attrs, [], ttype)
        kid_signs = tuple([k.signs for k in kids])
        if unknown == len(kids):
            # sign and dim facts are functions of the arguments' facts: many nodes share them
            skey = (op, kid_signs, ttype.dtype)
            signs = self._facts_memo.get(skey)
            if signs is None:
                signs = self._facts_memo[skey] = an.node_signs(op, list(kid_signs), None, ttype.dtype)
        else:
            signs = an.node_signs(op, list(kid_signs), list(consts), ttype.dtype)
        if const is not None:
            signs |= an.const_signs(const)
        kid_dims = [k.dims for k in kids]
        lengths = [k.length for k in kids]
        dkey = (op, attrs, tuple(kid_dims), ttype.shape, tuple(lengths))
        try:
            hit = self._facts_memo.get(dkey)
        except TypeError:  # an unhashable attribute: computed each time
            dkey = hit = None
        if hit is None:
            hit = (an.node_dims(op, attrs, kid_dims, ttype.shape, lengths), an.forced_equal_dims(op, attrs, kid_dims))
            if dkey is not None:
                self._facts_memo[dkey] = hit
            for a, b in hit[1]:
                self.dim_union(a, b)
        # (on a hit, the dims it forces equal were made equal when it was computed: unions of dims are never undone)
        dims = hit[0]
        return ClassData(ttype, term, const, signs, dims, an.node_length(op, attrs, kid_dims, ttype, const))

    @staticmethod
    def _merge_data(a: ClassData, b: ClassData) -> ClassData:
        const = a.const if a.const is not None else b.const
        dims = merge_dims(a.dims, b.dims) if len(a.dims) == len(b.dims) else a.dims
        length = a.length if a.length is not None else b.length
        return ClassData(a.type, a.rep, const, close_signs(a.signs | b.signs), dims, length)

    def _same_facts(self, a: ClassData, b: ClassData) -> bool:
        """Whether two descriptions of a class say the same to its users: constness, signs, length, and dims up to the dims known equal.

        Guards and costs read dims through :meth:`dim_find`, so tokens it maps to one representative
        are the same dim: a merge that only renames dims leaves the users' facts as they are.
        """
        if a.signs != b.signs or (a.const is None) != (b.const is None) or a.length != b.length:
            return False
        da, db = a.dims, b.dims
        if da == db:
            return True
        if len(da) != len(db):
            return False
        find = self.dim_find
        for x, y in zip(da, db):
            if x != y and (x is None or y is None or find(x) != find(y)):
                return False
        return True

    # ---- union and rebuild ---------------------------------------------------------------
    def union(self, a: int, b: int) -> bool:
        """Merge the classes of ``a`` and ``b`` (the older id stays canonical); False if already one."""
        uf = self.uf
        if uf[a] != a:
            a = self.find(a)
        if uf[b] != b:
            b = self.find(b)
        if a == b:
            return False
        if b < a:
            a, b = b, a
        ca, cb = self.classes[a], self.classes[b]
        self.uf[b] = a
        # the nodes that name b are no longer canonical: their classes are compacted in rebuild
        self._stale.extend([pc for _, pc in cb.parents])
        self._stale.append(a)
        self._by_op_dirty.update([n[0] for n in cb.nodes])
        ca.nodes.extend(cb.nodes)
        ca.parents.extend(cb.parents)
        merged = self._merge_data(ca.data, cb.data)
        if ca.data.length is not None and cb.data.length is not None:
            self.dim_union(ca.data.length, cb.data.length)  # one value, two names for its length
        if not self._same_facts(merged, ca.data) or not self._same_facts(merged, cb.data):
            self._analysis_pending.append(a)
        if merged.const is not None and (ca.data.const is None or cb.data.const is None):
            self._fold_queue.append(a)
        ca.data = merged
        del self.classes[b]
        self._pending.append(a)
        self.touched.add(a)
        self._dirty = True
        self.unions += 1
        return True

    def rebuild(self) -> None:
        """Restore congruence and propagate facts (once per iteration, egg-style)."""
        while self._pending or self._analysis_pending or self._fold_queue or self._dims_changed:
            todo = sorted({self.find(c) for c in self._pending})
            self._pending.clear()
            for c in todo:
                self._repair(self.find(c))
            todo = sorted({self.find(c) for c in self._analysis_pending})
            self._analysis_pending.clear()
            for c in todo:
                self._propagate(self.find(c))
            folds = sorted({self.find(c) for c in self._fold_queue})
            self._fold_queue.clear()
            for c in folds:
                self._materialize_const(c)
            if self._dims_changed and not (self._pending or self._analysis_pending):
                self._dims_changed = False
                self._materialize_dim_values()
        if self._dirty:
            self._compact()
            self._dirty = False

    def _repair(self, cid: int) -> None:
        cls = self.classes.get(cid)
        if cls is None:
            return
        hc = self.hashcons
        uf = self.uf
        newp: dict[ENode, int] = {}
        for node, pc in cls.parents:
            if hc.get(node) is not None:
                del hc[node]
            cn = self.canon(node)
            if uf[pc] != pc:
                pc = self.find(pc)
            prev = newp.get(cn)
            if prev is not None and self.find(prev) != pc:
                self.union(prev, pc)
                pc = self.find(pc)
            other = hc.get(cn)
            if other is not None and self.find(other) != pc:
                self.union(other, pc)
                pc = self.find(pc)
            newp[cn] = pc
            hc[cn] = pc
        cls = self.classes.get(cid if self.uf[cid] == cid else self.find(cid))
        if cls is not None and cls.id == cid:
            cls.parents = list(newp.items())

    def _propagate(self, cid: int) -> None:
        cls = self.classes.get(cid)
        if cls is None:
            return
        for node, pc in list(cls.parents):
            pc = self.find(pc)
            pcls = self.classes[pc]
            node = self.canon(node)
            fresh = self._make(node, pcls.data.rep)
            old = pcls.data
            merged = self._merge_data(old, fresh)
            if not self._same_facts(merged, old):
                pcls.data = merged
                self.touched.add(pc)
                self._analysis_pending.append(pc)
                if merged.const is not None and old.const is None:
                    self._fold_queue.append(pc)
                    self.const_classes.append(pc)

    def _materialize_const(self, cid: int) -> None:
        cls = self.classes.get(cid)
        if cls is None or cls.data.const is None:
            return
        if any(n[0] == CONST_OP and is_leaf_node(n) for n in cls.nodes):
            return
        try:
            t = constant(cls.data.const, cls.data.type.dtype)
        except BUILD_ERRORS as exc:  # a value we cannot make a constant of stays unfolded
            self.fallbacks[f"constant not made: {type(exc).__name__}"] += 1
            return
        if t.type != cls.data.type:
            return
        self.union(cid, self.add_term(t))

    def _compact(self) -> None:
        """Canonicalise and deduplicate the nodes of the classes unions touched (the op index is compacted when read).

        Only a class holding a node that names a merged-away class (a parent of it) or the class a
        merge extended can hold a non-canonical or duplicate node: the others are left as they are.
        """
        find, canon, classes, uf = self.find, self.canon, self.classes, self.uf
        for cid in sorted({c if uf[c] == c else find(c) for c in self._stale}):
            cls = classes[cid]
            cls.nodes = list(dict.fromkeys(map(canon, cls.nodes)))
        self._stale.clear()

    def insert(self, node: ENode, cid: int) -> bool:
        """Put ``node`` (canonical) into class ``cid``; True if the graph changed."""
        node = self.canon(node)
        hit = self.hashcons.get(node)
        if hit is not None:
            return self.union(hit, cid)
        cid = self.find(cid)
        cls = self.classes[cid]
        cls.nodes.append(node)
        self.touched.add(cid)
        self.hashcons[node] = cid
        for c in dict.fromkeys(node[2]):
            self.classes[self.find(c)].parents.append((node, cid))
        self.by_op.setdefault(node[0], []).append(cid)
        self._by_op_dirty.add(node[0])
        return True

    def take_touched(self) -> set[int]:
        """The canonical ids of the classes touched since the last call (and forget them)."""
        uf, find = self.uf, self.find
        out = {c if uf[c] == c else find(c) for c in self.touched}
        self.touched = set()
        return out

    def parent_classes(self, cid: int) -> set[int]:
        """Canonical ids of the classes holding a node that uses class ``cid``."""
        cls = self.classes.get(cid if self.uf[cid] == cid else self.find(cid))
        if cls is None:
            return set()
        uf, find = self.uf, self.find
        return {pc if uf[pc] == pc else find(pc) for _, pc in cls.parents}

    def users_of(self, cids: Any) -> set[int]:
        """Canonical ids of the classes holding a node that uses one of the classes ``cids`` (canonical ids)."""
        uf, find, classes = self.uf, self.find, self.classes
        return {pc if uf[pc] == pc else find(pc) for c in cids for _, pc in classes[c].parents}

    def classes_with(self, op: str) -> list[int]:
        """Canonical ids of the classes holding an ``op`` node, sorted (the op's list is compacted first if a merge or insertion left it stale)."""
        ids = self.by_op.get(op)
        if ids is None:
            return []
        if op in self._by_op_dirty:  # (a clean list is canonical, sorted and unique)
            uf, find = self.uf, self.find
            ids[:] = sorted({c if uf[c] == c else find(c) for c in ids})
            self._by_op_dirty.discard(op)
        return list(ids)
