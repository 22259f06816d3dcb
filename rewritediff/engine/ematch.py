"""E-matching: searching one e-graph for the matches of rule patterns (compiled by :mod:`rewritediff.engine.matchers`).

Patterns are the rule AST (:mod:`rewritediff.rules.ast`): ``Var`` binds a class (or, in an
attribute position, the attribute's value), ``Num`` matches a class whose constant value is
that number everywhere, ``Call(op, args, attrs)`` matches an e-node of ``op`` whose
attribute literals agree. The n-ary ``add``/``mul`` are matched modulo AC: a binary pattern
``mul(p, q)`` matches an n-ary ``mul`` node when one argument matches ``p`` (or ``q``) and the
rest, as one argument or as a sub-``mul`` (a :class:`Rest`, created only if a rule uses it),
matches the other. At the root, a binary n-ary pattern whose two arguments are both calls or
literals may also match any two arguments of a longer node, the others being carried along
as context (``x*y + x*z + w`` factors to ``x*(y+z) + w``). Pattern recursion is bounded by the
pattern's depth, never by the graph's. Guards are read by :mod:`rewritediff.engine.guards`,
right-hand sides built by :mod:`rewritediff.engine.rhs`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from rewritediff.engine.egraph import EGraph
from rewritediff.engine.matchers import Rest, compile_pattern, hashable
from rewritediff.rules.ast import Call, Var

CTX = "#ctx"
MAX_CONTEXT_ARGS = 24  # longest n-ary node tried for the two-argument-with-context match
_MISSING = object()


class Matcher:
    """Matches patterns against one e-graph."""

    def __init__(self, eg: EGraph) -> None:
        self.eg = eg
        self._with: dict[str, list[int]] = {}
        self._ops: dict[int, frozenset] = {}
        self._scalar: dict[int, tuple] = {}  # class id -> (its constant, the one value of all its elements or None)
        self._rests: dict[Rest, Any] = {}
        self._users: dict[tuple, set[int]] = {}
        self._matched: dict[int, list[int]] = {}  # argument filter key -> the classes that pass it (this iteration)
        self._matched_sets: dict[int, frozenset] = {}  # the same as sets
        self._root_lists: dict[tuple, tuple] = {}  # (op, arg ops, id of only) -> (only, the roots to search)
        self._op_nodes: dict[tuple, tuple] = {}  # (class id, op) -> (the class's op nodes, the first with the fewest arguments)
        # matches of a call pattern against a class under no bindings, (pattern, class id) -> substitutions:
        # patterns of different rules (and the argument patterns of one rule, at every root) meet the same
        # classes again and again while the graph stands still; valid for the graph state in _memo_state
        self._memo: dict[tuple[int, int], list] = {}
        self._memo_state: tuple[int, int] = (-1, -1)

    def reset(self) -> None:
        """Forget what was cached about the graph (call after the graph changed).

        What was read off a class's constant is kept, with the constant it was read from: a
        class's constant, once known, stays (a merge may only replace it by an equal one).
        """
        self._with = {}
        self._ops = {}
        self._scalar = {c: v for c, v in self._scalar.items() if v[0] is not None}
        self._rests = {}
        self._users = {}
        self._matched = {}
        self._matched_sets = {}
        self._root_lists = {}
        self._op_nodes = {}
        self._memo = {}
        self._memo_state = (-1, -1)

    def _check_memo(self) -> None:
        """Drop the memo of class matches if the graph changed since it was filled."""
        state = (len(self.eg.hashcons), self.eg.unions)
        if state != self._memo_state:
            self._memo = {}
            self._memo_state = state

    def classes_with(self, op: str) -> list[int]:
        """The canonical ids of the classes holding an ``op`` node, sorted (read once per iteration)."""
        roots = self._with.get(op)
        if roots is None:
            roots = self._with[op] = self.eg.classes_with(op)
        return roots

    def _matching(self, key: int, arg_op: str | None, check: Any) -> list[int]:
        """The classes that pass an argument filter (``_Compiled.arg_filters``), once per iteration.

        ``check`` (None: none) is a necessary condition for an argument pattern to match a class: a
        call's ops (``matchers._shape_check``) among the classes holding ``arg_op``, or a literal's
        value among the classes with a constant value (with or without a constant node).
        """
        hit = self._matched.get(key)
        if hit is None:
            eg = self.eg
            if arg_op is None:
                cands: Any = sorted({eg.find(c) for c in eg.const_classes})
            else:
                cands = self.classes_with(arg_op)
            hit = self._matched[key] = cands if check is None else [c for c in cands if check(self, c)]
        return hit

    def _users_of(self, key: int, matched: list[int], op: str) -> set[int]:
        """The classes holding an ``op`` node one of whose argument classes is in ``matched`` (the classes of filter ``key``)."""
        ukey = (key, op)
        hit = self._users.get(ukey)
        if hit is None:
            eg = self.eg
            find, uf, classes = eg.find, eg.uf, eg.classes
            hit = self._users[ukey] = {pc if uf[pc] == pc else find(pc) for c in matched for node, pc in classes[c].parents if node[0] == op}
        return hit

    def _using(self, roots: Any, op: str, key: int, matched: list[int]) -> set[int]:
        """The classes of ``roots`` holding an ``op`` node that has an argument among ``matched`` (the graph is rebuilt: nodes are canonical)."""
        mset = self._matched_sets.get(key)
        if mset is None:
            mset = self._matched_sets[key] = frozenset(matched)
        classes = self.eg.classes
        out = set()
        for c in roots:
            for n in classes[c].nodes:
                if n[0] == op and not mset.isdisjoint(n[2]):
                    out.add(c)
                    break
        return out

    def _roots(self, op: str, filters: tuple, filter_keys: tuple, only: set[int] | None) -> list[int]:
        """The classes holding an ``op`` node, in ``only`` (when given) and using a class that passes each of ``filters``, sorted.

        ``filters`` are a pattern's argument patterns that every match meets in an argument class
        (``_Compiled.arg_filters``). Rules of one root op search the same classes since the same
        iteration (the runner shares ``only`` between them): the filtered list is computed once per
        iteration for all rules with the same argument patterns.
        """
        key = (op, filter_keys, None if only is None else id(only))
        hit = self._root_lists.get(key)
        if hit is not None and hit[0] is only:
            return hit[1]
        roots: Any = self.classes_with(op)
        if only is not None:
            roots = only.intersection(roots)  # (sets of canonical ids: sorted below)
        for akey, arg_op, check in filters:
            if not roots:
                break
            matched = self._matching(akey, arg_op, check)
            users = self._users.get((akey, op))
            if users is None and len(roots) <= len(matched):
                roots = self._using(roots, op, akey, matched)  # few roots: their nodes read instead of the users of every class
                continue
            roots = self._users_of(akey, matched, op).intersection(roots)
        if type(roots) is not list:
            roots = sorted(roots)
        self._root_lists[key] = (only, roots)
        return roots

    def _class_ops(self, cid: int) -> frozenset:
        ops = self._ops.get(cid)
        if ops is None:
            eg = self.eg
            ops = self._ops[cid] = frozenset([n[0] for n in eg.classes[cid if eg.uf[cid] == cid else eg.find(cid)].nodes])
        return ops

    def _const_is(self, cid: int, value: Any) -> bool:
        """Whether the class is a constant all of whose elements equal ``value``."""
        hit = self._scalar.get(cid)
        if hit is not None and (hit[0] is None or self.eg.data(cid).const is hit[0]):
            v = hit[1]
        else:
            c = self.eg.data(cid).const
            v = None
            if c is not None and c.size:
                first = c.flat[0]
                if _all_equal(c, first):
                    v = first
            self._scalar[cid] = (c, v)
        if v is None:
            return False
        try:
            return bool(v == value)
        except (TypeError, ValueError):
            return False

    # ---- bindings ---------------------------------------------------------------------------
    def _canon_binding(self, v: Any) -> Any:
        eg = self.eg
        if type(v) is int:
            return eg.find(v)
        if isinstance(v, Rest):
            hit = self._rests.get(v, _MISSING)
            if hit is _MISSING:
                uf, find = eg.uf, eg.find
                ch = tuple(sorted([c if uf[c] == c else find(c) for c in v.children]))
                node = eg.hashcons.get((v.op, (), ch))
                hit = self._rests[v] = eg.find(node) if node is not None else Rest(v.op, ch)
            return hit
        if isinstance(v, int) and not isinstance(v, bool):
            return eg.find(v)
        return v

    def _bind(self, s: dict, name: str, value: Any) -> dict | None:
        old = s.get(name, _MISSING)
        if old is _MISSING:
            return {**s, name: value}
        if old is value or old == value and type(old) is int and type(value) is int:
            return s
        if type(old) is int and type(value) is int:
            return s if self.eg.find(old) == self.eg.find(value) else None
        # a rest is a class only if the graph holds a node of its op over its arguments: a class
        # without a node of that op cannot be it (no rest to canonicalise)
        if type(old) is int and isinstance(value, Rest):
            if value.op not in self._class_ops(old):
                return None
        elif type(value) is int and isinstance(old, Rest) and old.op not in self._class_ops(value):
            return None
        return s if self._canon_binding(old) == self._canon_binding(value) else None

    # ---- matching -----------------------------------------------------------------------------
    def match_node(self, pat: Call, attrs: tuple, children: tuple, s: dict) -> Iterator[dict]:
        """All extensions of ``s`` under which ``pat`` matches an e-node with these attrs and children."""
        self._check_memo()
        return iter(compile_pattern(pat, self.eg.nary).node(self, attrs, children, s))

    def search(
        self,
        lhs: Call,
        limit: int,
        only: set[int] | None = None,
        dirty: set[int] | None = None,
        done: set | None = None,
        keys: list | None = None,
    ) -> list[tuple[int, tuple, dict]]:
        """Matches ``(class id, root e-node, substitution)`` of ``lhs`` in the graph (stops past ``limit``).

        Incremental search: with ``only``, only nodes of those classes are roots; with ``done`` (the
        canonical root nodes searched before, updated here) and ``dirty`` (the classes whose
        sub-graph, to the pattern's depth less one, changed since), a root node searched before
        is searched again only if one of its arguments is dirty, and its context matches
        (two of its arguments, the others carried along) only for pairs with a dirty argument.
        With ``keys``, each match's key ``(class id, canonical substitution)`` is appended to it.
        """
        eg = self.eg
        if (len(eg.hashcons), eg.unions) != self._memo_state:
            self._check_memo()
        out: list[tuple[int, tuple, dict]] = []
        seen: set = set()
        op = lhs.op
        compiled = compile_pattern(lhs, eg.nary)
        node_match = compiled.node
        context = op in eg.nary and compiled.shared is not None
        roots = self._roots(op, compiled.arg_filters, compiled.filter_keys, only)
        classes = eg.classes
        subst_key = self._subst_key
        op_nodes = self._op_nodes
        for cid in roots:
            hit = op_nodes.get((cid, op))
            if hit is None:
                nodes = [n for n in classes[cid].nodes if n[0] == op]
                # context matches on one node per class: the first with the fewest arguments (the
                # runner composes one iteration's rewrites of a class into one node, so that is
                # the most rewritten one); every other node would repeat its matches
                hit = op_nodes[(cid, op)] = (nodes, nodes[0] if len(nodes) == 1 else min(nodes, key=_arity) if nodes else None)
            nodes, smallest = hit
            ctx_node = smallest if context else None
            for node in nodes:
                fresh = True
                if done is not None:
                    n_done = len(done)
                    done.add(node)
                    if len(done) == n_done:  # searched before
                        if dirty is None or dirty.isdisjoint(node[2]):
                            continue
                        fresh = False
                found = node_match(self, node[1], node[2], {})
                if node is ctx_node and 2 < len(node[2]) <= MAX_CONTEXT_ARGS:
                    found = found + self._context_matches(lhs, node[2], None if fresh else dirty)
                for s in found:
                    key = (cid, subst_key(s))
                    if key in seen:
                        continue
                    seen.add(key)
                    out.append((cid, node, s))
                    if keys is not None:
                        keys.append(key)
                    if len(out) > limit:
                        return out
        return out

    def _context_matches(self, lhs: Call, children: tuple, dirty: set[int] | None = None) -> list[dict]:
        """Matches of ``op(p, q)`` against two of the node's arguments, the others carried as context.

        A hash join on the variables p and q share: each argument is matched once against p
        and once against q, so the cost is linear in the arguments, not quadratic. With
        ``dirty``, only pairs with at least one argument in it.
        """
        p, q = lhs.args
        shared = compile_pattern(lhs, self.eg.nary).shared or ()
        p_cls, q_cls = compile_pattern(p, self.eg.nary).cls, compile_pattern(q, self.eg.nary).cls
        out: list[dict] = []
        # the side that can fail first: a variable p matches every argument, so then q's matches come
        # first (without one there is no pair); the pairs are enumerated in the same order either way
        p_var = isinstance(p, Var)
        if not p_var:
            p_hits = [(i, p_cls(self, c, {})) for i, c in enumerate(children)]
            if not any(h for _, h in p_hits):
                return out
        by_key: dict[tuple, list[tuple[int, dict]]] = {}
        for j, c in enumerate(children):
            for s2 in q_cls(self, c, {}):
                key = tuple(hashable(self._canon_binding(s2[v])) for v in shared)
                by_key.setdefault(key, []).append((j, s2))
        if not by_key:
            return out
        if p_var:
            p_hits = [(i, p_cls(self, c, {})) for i, c in enumerate(children)]
        for i, hits in p_hits:
            for s1 in hits:
                key = tuple(hashable(self._canon_binding(s1[v])) for v in shared)
                for j, s2 in by_key.get(key, ()):
                    if j == i or dirty is not None and children[i] not in dirty and children[j] not in dirty:
                        continue
                    merged = dict(s1)
                    for k, v in s2.items():
                        if k not in merged:
                            merged[k] = v
                    rest = children[: min(i, j)] + children[min(i, j) + 1 : max(i, j)] + children[max(i, j) + 1 :]
                    merged[CTX] = Rest(lhs.op, rest)
                    out.append(merged)
        return out

    def _subst_key(self, s: dict) -> tuple:
        find = self.eg.find
        uf = self.eg.uf
        out = []
        for k in sorted(s):
            v = s[k]
            if type(v) is int:
                out.append((k, v if uf[v] == v else find(v)))
                continue
            v = self._canon_binding(v)
            out.append((k, (v.op, v.children) if isinstance(v, Rest) else v))
        return tuple(out)


def _arity(node: tuple) -> int:
    return len(node[2])


def _all_equal(c: np.ndarray, value: Any) -> bool:
    try:
        with np.errstate(all="ignore"):
            return bool(np.all(c == value))
    except (TypeError, ValueError):
        return False
