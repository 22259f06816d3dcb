"""E-matching: rule patterns compiled into matchers over one e-graph.

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

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from rewritediff.engine.egraph import EGraph
from rewritediff.rules.ast import Call, NoneLit, Num, Str, Tuple, Var, names_in
from rewritediff.terms import Constant

CTX = "#ctx"
MAX_CONTEXT_ARGS = 24  # longest n-ary node tried for the two-argument-with-context match
_MISSING = object()


class Rest(NamedTuple):
    """An n-ary node of ``op`` over some classes, which may not exist in the e-graph yet."""

    op: str
    children: tuple


@dataclass(frozen=True)
class AttrVal:
    """A bound attribute value (kept apart from class ids, which are ints too)."""

    value: Any


def literal(expr: Any) -> Any:
    """The Python value of a literal pattern/attribute expression."""
    if isinstance(expr, Num | Str):
        return expr.value
    if isinstance(expr, NoneLit):
        return None
    if isinstance(expr, Tuple):
        return tuple(literal(e) for e in expr.items)
    raise TypeError(f"not a literal: {expr!r}")


def _attr_equal(a: Any, b: Any) -> bool:
    if isinstance(a, Constant) or isinstance(b, Constant):
        return a == b
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_attr_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return type(a) is type(b) and a == b or (isinstance(a, int | float) and isinstance(b, int | float) and a == b)


class Matcher:
    """Matches patterns against one e-graph."""

    def __init__(self, eg: EGraph) -> None:
        self.eg = eg
        self._with: dict[str, list[int]] = {}
        self._ops: dict[int, frozenset] = {}
        self._scalar: dict[int, Any] = {}
        self._rests: dict[Rest, Any] = {}
        self._users: dict[tuple[str, str], set[int]] = {}
        # matches of a call pattern against a class under no bindings, (pattern, class id) -> substitutions:
        # patterns of different rules (and the argument patterns of one rule, at every root) meet the same
        # classes again and again while the graph stands still; valid for the graph state in _memo_state
        self._memo: dict[tuple[int, int], list] = {}
        self._memo_state: tuple[int, int] = (-1, -1)

    def reset(self) -> None:
        """Forget what was cached about the graph (call after the graph changed)."""
        self._with = {}
        self._ops = {}
        self._scalar = {}
        self._rests = {}
        self._users = {}
        self._memo = {}
        self._memo_state = (-1, -1)

    def _check_memo(self) -> None:
        """Drop the memo of class matches if the graph changed since it was filled."""
        state = (len(self.eg.hashcons), self.eg.unions)
        if state != self._memo_state:
            self._memo = {}
            self._memo_state = state

    def _classes_with(self, op: str) -> list[int]:
        roots = self._with.get(op)
        if roots is None:
            roots = self._with[op] = self.eg.classes_with(op)
        return roots

    def _users_of(self, arg_op: str, op: str) -> set[int]:
        """The classes holding an ``op`` node one of whose arguments holds an ``arg_op`` node."""
        key = (arg_op, op)
        hit = self._users.get(key)
        if hit is None:
            eg = self.eg
            find = eg.find
            classes = eg.classes
            hit = self._users[key] = {find(pc) for c in self._classes_with(arg_op) for node, pc in classes[c].parents if node[0] == op}
        return hit

    def _class_ops(self, cid: int) -> frozenset:
        ops = self._ops.get(cid)
        if ops is None:
            ops = self._ops[cid] = frozenset(n[0] for n in self.eg.classes[self.eg.find(cid)].nodes)
        return ops

    def _const_is(self, cid: int, value: Any) -> bool:
        """Whether the class is a constant all of whose elements equal ``value``."""
        v = self._scalar.get(cid, _MISSING)
        if v is _MISSING:
            c = self.eg.data(cid).const
            v = None
            if c is not None and c.size:
                first = c.flat[0]
                if _all_equal(c, first):
                    v = first
            self._scalar[cid] = v
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
                ch = tuple(sorted(eg.find(c) for c in v.children))
                node = eg.hashcons.get((v.op, (), ch))
                hit = self._rests[v] = eg.find(node) if node is not None else Rest(v.op, ch)
            return hit
        if isinstance(v, int) and not isinstance(v, bool):
            return eg.find(v)
        return v

    def _bind(self, s: dict, name: str, value: Any) -> dict | None:
        old = s.get(name, _MISSING)
        if old is _MISSING:
            s2 = dict(s)
            s2[name] = value
            return s2
        if old is value or old == value and type(old) is int and type(value) is int:
            return s
        if type(old) is int and type(value) is int:
            return s if self.eg.find(old) == self.eg.find(value) else None
        return s if self._canon_binding(old) == self._canon_binding(value) else None

    # ---- matching -----------------------------------------------------------------------------
    def match_node(self, pat: Call, attrs: tuple, children: tuple, s: dict) -> Iterator[dict]:
        """All extensions of ``s`` under which ``pat`` matches an e-node with these attrs and children."""
        self._check_memo()
        return iter(_compiled(pat, self.eg.nary).node(self, attrs, children, s))

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
        self._check_memo()
        out: list[tuple[int, tuple, dict]] = []
        seen: set = set()
        op = lhs.op
        compiled = _compiled(lhs, eg.nary)
        node_match = compiled.node
        context = op in eg.nary and compiled.shared is not None
        roots = self._classes_with(op)
        if only is not None:
            roots = [c for c in roots if c in only]
        for arg_op in compiled.arg_ops:
            if not roots:
                break
            users = self._users_of(arg_op, op)
            roots = [c for c in roots if c in users]
        classes = eg.classes
        subst_key = self._subst_key
        for cid in roots:
            nodes = classes[cid].nodes
            ctx_node = None
            if context:
                # context matches on one node per class: the one with the fewest arguments (the
                # runner composes one iteration's rewrites of a class into one node, so that is
                # the most rewritten one); every other node would repeat its matches
                sizes = [(len(n[2]), i) for i, n in enumerate(nodes) if n[0] == op]
                ctx_node = nodes[min(sizes)[1]] if sizes else None
            for node in nodes:
                if node[0] != op:
                    continue
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
        shared = _compiled(lhs, self.eg.nary).shared or ()
        p_cls, q_cls = _compiled(p, self.eg.nary).cls, _compiled(q, self.eg.nary).cls
        out: list[dict] = []
        # the matches of p first (a call, or a variable that q binds): without one there is no pair
        p_hits = [(i, p_cls(self, c, {})) for i, c in enumerate(children)]
        if not any(h for _, h in p_hits):
            return out
        by_key: dict[tuple, list[tuple[int, dict]]] = {}
        for j, c in enumerate(children):
            for s2 in q_cls(self, c, {}):
                key = tuple(_hashable(self._canon_binding(s2[v])) for v in shared)
                by_key.setdefault(key, []).append((j, s2))
        if not by_key:
            return out
        for i, hits in p_hits:
            for s1 in hits:
                key = tuple(_hashable(self._canon_binding(s1[v])) for v in shared)
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


# ---- compiled patterns -------------------------------------------------------------------------
# Each pattern is compiled once into closures specialised on its shape: ``cls(m, cid, s)`` (the
# pattern against a class), ``rest(m, rest, s)`` (against a Rest), ``may(m, cid)`` (a cheap
# necessary condition, None when always true) and, for calls, ``node(m, attrs, children, s)``.
# Each returns the list of extended substitutions in the order of a depth-first enumeration.


def _nothing(m: Matcher, target: Any, s: dict) -> list:
    return []


class _Compiled:
    """A pattern compiled into matching closures."""

    __slots__ = ("pat", "cls", "rest", "may", "node", "arg_ops", "shared")

    def __init__(self, pat: Any, cls: Any, rest: Any, may: Any, node: Any = None) -> None:
        self.pat = pat
        self.cls = cls
        self.rest = rest
        self.may = may
        self.node = node
        self.arg_ops = _arg_ops(pat) if isinstance(pat, Call) else ()
        # for a binary pattern that may match two arguments of a longer n-ary node: the names its arguments share
        ok = isinstance(pat, Call) and len(pat.args) == 2 and _context_ok(pat)
        self.shared = tuple(sorted(_names(pat.args[0]) & _names(pat.args[1]))) if ok else None


_COMPILED: dict[tuple[int, frozenset], _Compiled] = {}


def _compiled(pat: Any, nary: frozenset) -> _Compiled:
    """The compiled form of ``pat`` for a graph whose n-ary ops are ``nary`` (cached while the pattern lives)."""
    key = (id(pat), nary)
    hit = _COMPILED.get(key)
    if hit is None or hit.pat is not pat:
        if len(_COMPILED) > 8192:
            _COMPILED.clear()
        hit = _COMPILED[key] = _compile(pat, nary)
    return hit


def _compile(pat: Any, nary: frozenset) -> _Compiled:
    if isinstance(pat, Var):
        return _compile_var(pat)
    if isinstance(pat, Num):
        value = pat.value

        def num_cls(m: Matcher, cid: int, s: dict) -> list:
            return [s] if m._const_is(cid, value) else []

        def num_may(m: Matcher, cid: int) -> bool:
            return m._const_is(cid, value)

        return _Compiled(pat, num_cls, _nothing, num_may)
    if isinstance(pat, Call):
        return _compile_call(pat, nary)
    return _Compiled(pat, _nothing, _nothing, None)


def _compile_var(pat: Var) -> _Compiled:
    name = pat.name

    def var_bind(m: Matcher, target: Any, s: dict) -> list:
        old = s.get(name, _MISSING)
        if old is _MISSING:
            s2 = s.copy()
            s2[name] = target
            return [s2]
        if type(old) is int and type(target) is int:
            if old == target:
                return [s]
            find = m.eg.find
            return [s] if find(old) == find(target) else []
        s2 = m._bind(s, name, target)
        return [] if s2 is None else [s2]

    return _Compiled(pat, var_bind, var_bind, None)


def _compile_attrs(pat: Call) -> Any:
    """A function ``(m, attrs, s) -> s or None`` checking and binding the pattern's attributes (None: no attributes)."""
    if not pat.attrs:
        return None
    specs: list[tuple[str, str | None, Any]] = []
    for name, e in pat.attrs:
        if isinstance(e, Var):
            specs.append((name, e.name, None))
            continue
        try:
            specs.append((name, None, literal(e)))
        except TypeError:
            # every match reaches this attribute (or fails before it): none succeeds
            return lambda m, attrs, s: None

    def match_attrs(m: Matcher, attrs: tuple, s: dict) -> dict | None:
        have = dict(attrs)
        for name, var, lit in specs:
            v = have.get(name, _MISSING)
            if v is _MISSING:
                return None
            if var is not None:
                s = m._bind(s, var, AttrVal(v))
                if s is None:
                    return None
            elif not _attr_equal(lit, v):
                return None
        return s

    return match_attrs


def _seq2(m: Matcher, f0: Any, t0: Any, f1: Any, t1: Any, s: dict) -> list:
    r = f0(m, t0, s)
    if not r:
        return r
    if len(r) == 1:
        return f1(m, t1, r[0])
    out: list = []
    for s2 in r:
        out += f1(m, t1, s2)
    return out


def _seq(m: Matcher, fns: tuple, targets: tuple, s: dict) -> list:
    res = [s]
    for f, t in zip(fns, targets):
        nxt: list = []
        for s2 in res:
            nxt += f(m, t, s2)
        if not nxt:
            return nxt
        res = nxt
    return res


_IDENTS = iter(range(1 << 62))  # a distinct number per compiled call pattern (its key in Matcher._memo)


def _compile_call(pat: Call, nary: frozenset) -> _Compiled:
    op = pat.op
    ident = next(_IDENTS)
    args = pat.args
    subs = [_compiled(a, nary) for a in args]
    clss = tuple(c.cls for c in subs)
    mays = tuple(c.may for c in subs)
    att = _compile_attrs(pat)
    nargs = len(args)

    if op in nary and nargs == 2:
        a0, a1 = args
        f0, f1 = clss
        g0, g1 = subs[0].rest, subs[1].rest
        may0, may1 = mays
        # which argument patterns can match the rest (a sub-sum or sub-product): a variable or the same op
        r0 = isinstance(a0, Var) or isinstance(a0, Call) and a0.op == op
        r1 = isinstance(a1, Var) or isinstance(a1, Call) and a1.op == op
        # with two equal argument patterns the swapped assignment finds the same substitutions again
        # (the search keeps the first of equal substitutions): it is skipped
        swap = a0 != a1
        r0 = r0 and swap

        def node(m: Matcher, attrs: tuple, children: tuple, s: dict) -> list:
            if att is not None:
                s = att(m, attrs, s)
                if s is None:
                    return []
            n = len(children)
            out: list = []
            if n == 2:
                c0, c1 = children
                if (may0 is None or may0(m, c0)) and (may1 is None or may1(m, c1)):
                    out += _seq2(m, f0, c0, f1, c1, s)
                if swap and c0 != c1 and (may0 is None or may0(m, c1)) and (may1 is None or may1(m, c0)):
                    out += _seq2(m, f0, c1, f1, c0, s)
                return out
            if n < 2:
                return out
            prev = None
            for i in range(n):
                c = children[i]
                if i and c == prev:
                    continue
                prev = c
                # the argument against one pattern first; the rest (a slice of the node) only when that matched
                h0 = f0(m, c, s) if r1 and (may0 is None or may0(m, c)) else None
                h1 = f1(m, c, s) if r0 and (may1 is None or may1(m, c)) else None
                if not h0 and not h1:
                    continue
                rest = Rest(op, children[:i] + children[i + 1 :])
                if h0:
                    for s2 in h0:
                        out += g1(m, rest, s2)
                if h1:
                    for s2 in h1:
                        out += g0(m, rest, s2)
            return out

    elif op in nary:

        def node(m: Matcher, attrs: tuple, children: tuple, s: dict) -> list:
            if len(children) != nargs:
                return []
            if att is not None:
                s = att(m, attrs, s)
                if s is None:
                    return []
            return _seq(m, clss, children, s)

    elif nargs == 1:
        (f0,) = clss
        (may0,) = mays

        def node(m: Matcher, attrs: tuple, children: tuple, s: dict) -> list:
            if len(children) != 1 or may0 is not None and not may0(m, children[0]):
                return []
            if att is not None:
                s = att(m, attrs, s)
                if s is None:
                    return []
            return f0(m, children[0], s)

    elif nargs == 2:
        f0, f1 = clss
        may0, may1 = mays

        def node(m: Matcher, attrs: tuple, children: tuple, s: dict) -> list:
            if len(children) != 2:
                return []
            c0, c1 = children
            if may0 is not None and not may0(m, c0) or may1 is not None and not may1(m, c1):
                return []
            if att is not None:
                s = att(m, attrs, s)
                if s is None:
                    return []
            return _seq2(m, f0, c0, f1, c1, s)

    else:

        def node(m: Matcher, attrs: tuple, children: tuple, s: dict) -> list:
            if len(children) != nargs:
                return []
            for may, c in zip(mays, children):
                if may is not None and not may(m, c):
                    return []
            if att is not None:
                s = att(m, attrs, s)
                if s is None:
                    return []
            return _seq(m, clss, children, s) if nargs else [s]

    def call_cls(m: Matcher, cid: int, s: dict) -> list:
        eg = m.eg
        if not s:
            key = (ident, cid)
            hit = m._memo.get(key)
            if hit is not None:
                return hit
        out: list = []
        for nd in eg.classes[eg.find(cid)].nodes:
            if nd[0] == op:
                out += node(m, nd[1], nd[2], s)
        if not s:
            m._memo[key] = out
        return out

    def call_rest(m: Matcher, rest: Rest, s: dict) -> list:
        return node(m, (), rest.children, s) if rest.op == op else []

    def call_may(m: Matcher, cid: int) -> bool:
        ops = m._ops.get(cid)
        return op in (m._class_ops(cid) if ops is None else ops)

    return _Compiled(pat, call_cls, call_rest, call_may, node)


def _context_ok(lhs: Call) -> bool:
    """Whether a binary n-ary pattern may match two arguments of a longer node: no argument is a free variable.

    ``x * y + x * z`` qualifies, and so does ``(x / y) * y`` (its variable argument is bound by the
    other argument); ``x * 1`` does not (its ``x`` is the whole rest of the node).
    """
    p, q = lhs.args
    if isinstance(p, Var) and isinstance(q, Var):
        return False
    if isinstance(p, Var):
        return p.name in _names(q)
    if isinstance(q, Var):
        return q.name in _names(p)
    return True


def _hashable(v: Any) -> Any:
    if isinstance(v, Rest):
        return ("rest", v.op, v.children)
    try:
        hash(v)
    except TypeError:
        return repr(v)
    return v


def _arg_ops(pat: Call) -> tuple[str, ...]:
    """Ops that some argument of every node matching ``pat`` holds: those of its call arguments.

    An argument pattern ``f(...)`` matches one argument class of the node (never, for an n-ary node, its
    rest, unless ``f`` is the node's own op, which is left out), so a matching node has an argument
    holding an ``f`` node. Sorted, so the filtering order is fixed.
    """
    return tuple(sorted({a.op for a in pat.args if isinstance(a, Call) and a.op != pat.op}))


@functools.lru_cache(maxsize=4096)
def _names(pat: Any) -> frozenset:
    """The names in a (hashable, immutable) pattern, computed once per pattern."""
    return frozenset(names_in(pat))


def _all_equal(c: np.ndarray, value: Any) -> bool:
    try:
        with np.errstate(all="ignore"):
            return bool(np.all(c == value))
    except (TypeError, ValueError):
        return False
