"""Rule patterns compiled into matching closures, once per pattern (used by :mod:`rewritediff.engine.ematch`).

A pattern's closures are specialised on its shape; they read the e-graph through the
:class:`~rewritediff.engine.ematch.Matcher` passed to them and return the extended
substitutions in the order of a depth-first enumeration. Bindings are class ids, a
:class:`Rest` (the other arguments of an n-ary node) or an :class:`AttrVal` (an attribute).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from rewritediff.rules.ast import Call, NoneLit, Num, Str, Tuple, Var, names_in
from rewritediff.terms import Constant

if TYPE_CHECKING:
    from rewritediff.engine.ematch import Matcher

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


# ---- compiled patterns -------------------------------------------------------------------------
# Each pattern is compiled once into closures specialised on its shape: ``cls(m, cid, s)`` (the
# pattern against a class), ``rest(m, rest, s)`` (against a Rest), ``may(m, cid)`` (a cheap
# necessary condition, None when always true) and, for calls, ``node(m, attrs, children, s)``.
# Each returns the list of extended substitutions in the order of a depth-first enumeration.


def _nothing(m: Matcher, target: Any, s: dict) -> list:
    return []


class _Compiled:
    """A pattern compiled into matching closures."""

    __slots__ = ("pat", "cls", "rest", "may", "node", "arg_ops", "shared", "arg_filters", "filter_keys")

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
        # (key, compiled argument pattern) for each argument pattern that every match meets in an
        # argument class of the node: a call (for an n-ary op, one of another op: a call of the node's
        # own op may match the rest) or a literal; set by _compile_call
        self.arg_filters: tuple = ()
        self.filter_keys: tuple = ()  # their keys (equal argument patterns share one)


_CACHE: dict[tuple[int, frozenset], _Compiled] = {}


def compile_pattern(pat: Any, nary: frozenset) -> _Compiled:
    """The compiled form of ``pat`` for a graph whose n-ary ops are ``nary`` (cached while the pattern lives)."""
    key = (id(pat), nary)
    hit = _CACHE.get(key)
    if hit is None or hit.pat is not pat:
        if len(_CACHE) > 8192:
            _CACHE.clear()
        hit = _CACHE[key] = _compile(pat, nary)
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
            return [{**s, name: target}]
        if type(old) is int and type(target) is int:
            if old == target:
                return [s]
            uf, find = m.eg.uf, m.eg.find
            return [s] if (old if uf[old] == old else find(old)) == (target if uf[target] == target else find(target)) else []
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


def _join_key(m: Matcher, s: dict, names: tuple) -> tuple | None:
    """The canonical values of ``names`` in ``s`` (None if one is neither a class nor a Rest)."""
    out = []
    for n in names:
        v = s[n]
        if type(v) is int:
            out.append(v if m.eg.uf[v] == v else m.eg.find(v))
        elif isinstance(v, Rest):
            c = m._canon_binding(v)
            out.append(c if type(c) is int else ("rest", c.op, c.children))
        else:
            return None
    return tuple(out)


def _join2(m: Matcher, f0: Any, t0: Any, f1: Any, t1: Any, s: dict, shared: tuple) -> list:
    """``_seq2`` for two argument patterns sharing the variables ``shared``: a hash join.

    The second pattern is matched once without the first one's bindings (under ``s`` alone, so
    the match of a class is memoised across roots) and its matches are joined with the first
    one's on the canonical values of the shared variables. Binding a variable and then comparing
    it prunes the same branches as comparing it at once, so the result is ``_seq2``'s, in the
    same order; the cost is linear in the two sides' matches instead of their product.
    """
    r = f0(m, t0, s)
    if len(r) <= 1:
        return f1(m, t1, r[0]) if r else r
    names = tuple(n for n in shared if n not in s)
    if names:
        q = f1(m, t1, s)
        if not q:
            return q
        index: dict[tuple, list] = {}
        for s2 in q:
            k = _join_key(m, s2, names)
            if k is None:
                break
            index.setdefault(k, []).append(s2)
        else:
            out: list = []
            for s1 in r:
                k = _join_key(m, s1, names)
                if k is None:
                    break
                for s2 in index.get(k, ()):
                    merged = s1.copy()
                    for name, v in s2.items():
                        if name not in merged:
                            merged[name] = v
                    out.append(merged)
            else:
                return out
    out = []
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
    subs = [compile_pattern(a, nary) for a in args]
    clss = tuple(c.cls for c in subs)
    mays = tuple(c.may for c in subs)
    att = _compile_attrs(pat)
    nargs = len(args)

    # variables both arguments of a binary pattern name: their matches are joined on them
    shared2 = tuple(sorted(_names(args[0]) & _names(args[1]))) if nargs == 2 else ()
    seq2 = functools.partial(_join2, shared=shared2) if shared2 else _seq2

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
        # op(x, x) against a longer node: x is an argument class that must also be the rest, so it must
        # hold a node of the op (else Matcher._bind refuses the rest); while x is unbound, that is read first
        twin = a0.name if isinstance(a0, Var) and not swap else None

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
                    out += seq2(m, f0, c0, f1, c1, s)
                if swap and c0 != c1 and (may0 is None or may0(m, c1)) and (may1 is None or may1(m, c0)):
                    out += seq2(m, f0, c1, f1, c0, s)
                return out
            if n < 2 or not (r0 or r1):  # (neither argument pattern can match a rest: no one-against-rest match)
                return out
            prev = None
            for i in range(n):
                c = children[i]
                if i and c == prev:
                    continue
                prev = c
                if twin is not None and twin not in s and op not in m._class_ops(c):
                    continue
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
            return seq2(m, f0, c0, f1, c1, s)

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
        for nd in eg.classes[cid if eg.uf[cid] == cid else eg.find(cid)].nodes:
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

    out = _Compiled(pat, call_cls, call_rest, call_may, node)
    filters = {}
    for a, sub in zip(args, subs):
        if isinstance(a, Call) and (a.op != op or op not in nary):
            filters.setdefault(a, (a, sub))
        elif isinstance(a, Num):
            filters.setdefault(("num", type(a.value).__name__, repr(a.value)), (a, sub))
    out.arg_filters = tuple(_arg_filter(a, sub, nary) for _, (a, sub) in sorted(filters.items(), key=lambda kv: repr(kv[0])))
    out.filter_keys = tuple(f[0] for f in out.arg_filters)
    return out


_FILTER_KEYS: dict[Any, int] = {}


def _arg_filter(a: Any, sub: _Compiled, nary: frozenset) -> tuple:
    """``(key, op, check)`` for an argument pattern: the classes that may match it are those holding ``op``
    (all classes with a constant value when None) that pass ``check`` (None: all of them).

    Equal argument patterns share a key (the root lists and their users are computed once per
    iteration for them all); a call checked by its op alone is keyed by the op.
    """
    if isinstance(a, Num):
        return (_filter_key(("num", type(a.value).__name__, repr(a.value))), None, sub.may)
    check = _shape_check(a, nary)
    if check is None:
        return (_filter_key(("op", a.op)), a.op, None)
    return (_filter_key(a), a.op, check)


def _shape_check(pat: Call, nary: frozenset) -> Any:
    """A cheap necessary condition for a class holding ``pat``'s op to match it, read off ops alone: ``(m, cid) -> bool``.

    The class holds a node of the pattern's op and arity whose argument classes hold the ops of the
    call patterns in their places (and so on down). None when holding the op is all it checks: an
    n-ary op (whose arguments match in any order) or no call argument.
    """
    op = pat.op
    n = len(pat.args)
    subs = tuple((i, a.op, _shape_check(a, nary)) for i, a in enumerate(pat.args) if isinstance(a, Call))
    if op in nary or not subs:
        return None

    def has_shape(m: Matcher, cid: int) -> bool:
        eg = m.eg
        for nd in eg.classes[cid if eg.uf[cid] == cid else eg.find(cid)].nodes:
            if nd[0] == op and len(nd[2]) == n:
                ch = nd[2]
                for i, sub_op, f in subs:
                    if sub_op not in m._class_ops(ch[i]) or f is not None and not f(m, ch[i]):
                        break
                else:
                    return True
        return False

    return has_shape


def _filter_key(pat: Any) -> int:
    """A small number per distinct argument pattern (equal patterns have equal matches: one key)."""
    hit = _FILTER_KEYS.get(pat)
    if hit is None:
        hit = _FILTER_KEYS[pat] = len(_FILTER_KEYS)
    return hit


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


def hashable(v: Any) -> Any:
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
