"""The saturation loop: search every rule, apply the matches, rebuild; a back-off scheduler and hard limits.

The scheduler behaves like egg's ``BackoffScheduler``: a rule whose matches in one iteration
exceed its limit (1,000 by default) is banned for some iterations (5); every further ban
doubles both its limit and its ban. Hard limits on e-nodes, iterations and wall time stop the
run; :class:`RunReport` says why it stopped and how often each rule matched and fired.
"""

from __future__ import annotations

import time
from collections import Counter
from enum import Enum
from typing import Any

from rewritediff.engine.egraph import EGraph
from rewritediff.engine.ematch import CTX, Matcher, Rest
from rewritediff.engine.guards import GuardNeedsRest, eval_guard
from rewritediff.engine.nary import normalize_nary
from rewritediff.engine.report import RunReport, Step, StopReason
from rewritediff.engine.rewrite import Rewrite
from rewritediff.engine.rhs import Unbuildable, instantiate, lookup_rhs
from rewritediff.errors import BUILD_ERRORS
from rewritediff.terms import TensorType, apply

# Iterations are the deterministic limit (the same input always gives the same graph); the time
# limit is only a safety net. Measured on W1-W9: past 4 iterations no gradient shrinks further.
DEFAULT_ITER_LIMIT = 4
DEFAULT_NODE_LIMIT = 10_000
DEFAULT_TIME_LIMIT = 10.0  # a safety net only: iterations and nodes are the limits that decide, so output never depends on machine load
# Before the main iterations, up to this many iterations of the reducing rules alone (those whose
# right-hand side is smaller: x * 1 => x, x + -y => x - y, ...): raw gradients are full of such
# redexes, and clearing them first leaves the main iterations for the rewrites that need them.
DEFAULT_PRE_ITERS = 4


class Outcome(Enum):
    """What applying one match did (:meth:`Runner._apply`).

    Every outcome but GUARD is final: the same match (same root class, same classes bound) applied
    again changes nothing, as the class already holds the right-hand side or the right-hand side
    cannot be built with the class's dtype and rank.
    """

    FIRED = "fired"
    NOOP = "no-op"
    MARKED = "marked"  # a no-op that marked the root node unstable
    GUARD = "guard"  # the guard did not hold (or the right-hand side does not fit this match)


FIRED, NOOP, MARKED, GUARD = Outcome.FIRED, Outcome.NOOP, Outcome.MARKED, Outcome.GUARD


class _Stats:
    __slots__ = ("times_banned", "banned_until", "searched", "done", "applied", "ready")

    def __init__(self) -> None:
        self.times_banned = 0
        self.banned_until = 0
        self.searched = -1  # the iteration of the last complete search whose matches were all applied (-1: none)
        self.done: set = set()  # canonical root nodes searched since (valid while searched >= 0)
        # keys (class id, canonical substitution) of matches applied before: applying them again changes
        # nothing (class ids only ever name growing classes, so a key names the same classes forever)
        self.applied: dict[tuple, bool] = {}
        self.ready = False  # every op the pattern needs is in the graph


def _rebase(eg: EGraph, current: list[int] | None, node: tuple, ctx: Rest) -> list[int] | None:
    """The context of a two-argument match moved onto the class's latest sum (or product) of this iteration.

    A context match names two arguments of ``node`` and carries the others (``ctx``). Once a match
    of the same rule rewrote the class in this iteration, its arguments are ``current`` (a list of
    classes whose sum, or product, is the class's value); the next match applies to that, so the
    rewrites of one iteration compose into one node instead of one node per rewrite. None when the
    two arguments are no longer both there.
    """
    find = eg.find
    pair = Counter(find(c) for c in node[2])
    pair.subtract(find(c) for c in ctx.children)
    if current is None:
        return [find(c) for c in ctx.children]
    rest = Counter(find(c) for c in current)
    for c, m in pair.items():
        if m > 0:
            if rest[c] < m:
                return None
            rest[c] -= m
    return sorted(rest.elements())


def _closure(eg: EGraph, touched: set[int], depth: int) -> list[set[int]]:
    """``touched`` and its ancestors: entry d holds the classes at most d uses above a touched class."""
    levels = [set(touched)]
    frontier = touched
    for _ in range(depth):
        nxt = eg.users_of(frontier)
        nxt -= levels[-1]
        levels.append(levels[-1] | nxt)
        frontier = nxt
    return levels


def _refines(new: TensorType, old: TensorType) -> bool:
    """Whether a rewrite's result type may stand for the matched term's: same dtype and ndim, and
    every static dim of the old type kept (an unknown dim may become known, as the guard proved)."""
    return new.dtype == old.dtype and len(new.shape) == len(old.shape) and all(o is None or n == o for n, o in zip(new.shape, old.shape))


def _compatible(new: TensorType, old: TensorType) -> bool:
    return new.dtype == old.dtype and len(new.shape) == len(old.shape)


def _dims_agree(eg: EGraph, a: int, b: int) -> bool:
    """Whether two classes' dims are provably the same lengths (through the dims the graph forces equal)."""
    da, db = eg.data(a).dims, eg.data(b).dims
    return len(da) == len(db) and all(x is not None and y is not None and eg.dim_find(x) == eg.dim_find(y) for x, y in zip(da, db))


class Runner:
    """Equality saturation over an e-graph with back-off scheduling and hard limits."""

    def __init__(
        self,
        rewrites: list[Rewrite],
        *,
        iter_limit: int = DEFAULT_ITER_LIMIT,
        node_limit: int = DEFAULT_NODE_LIMIT,
        time_limit: float = DEFAULT_TIME_LIMIT,
        match_limit: int = 1000,
        ban_length: int = 5,
        attr_helpers: dict | None = None,
        pre_iters: int = DEFAULT_PRE_ITERS,
    ) -> None:
        self.rewrites = rewrites
        self.iter_limit = iter_limit
        self.node_limit = node_limit
        self.time_limit = time_limit
        self.match_limit = match_limit
        self.ban_length = ban_length
        self.attr_helpers = attr_helpers
        self.pre_iters = pre_iters
        self._rhs_class: int | None = None  # class of the last applied right-hand side (before its context was added)

    def run(self, eg: EGraph, start: float | None = None) -> RunReport:
        """Saturate ``eg`` until no rule changes it or a limit is hit."""
        t0 = time.perf_counter() if start is None else start
        deadline = t0 + self.time_limit
        report = RunReport()
        stats = [_Stats() for _ in self.rewrites]
        matcher = Matcher(eg)
        eg.rebuild()
        if normalize_nary(eg, self.node_limit - eg.num_nodes):
            eg.rebuild()
        max_depth = max((rw.depth for rw in self.rewrites), default=1)
        # Incremental matching: a match rooted in class c can only be new if some class within the
        # pattern's depth below c gained a node, was merged or changed its facts since the rule's last
        # search. changed[e][d] holds the classes touched in iteration e and their ancestors up to d levels.
        changed: list[list[set[int]]] = []
        eg.take_touched()
        reason = StopReason.RUNNING
        it = 0
        pre = [k for k, rw in enumerate(self.rewrites) if rw.reduces]
        phases = [(pre, min(self.pre_iters, self.iter_limit)), (list(range(len(self.rewrites))), self.iter_limit)]
        for phase, (active, phase_limit) in enumerate(phases):
            if reason in (StopReason.TIME_LIMIT, StopReason.NODE_LIMIT) or not active or not phase_limit:
                continue
            reason, n = self._phase(eg, matcher, stats, active, phase_limit, it, changed, max_depth, deadline, report)
            it += n
            if phase == 0:
                report.pre_iterations = n
        report.stop_reason = reason
        report.fallbacks = dict(sorted(eg.fallbacks.items()))
        report.iterations = it - report.pre_iterations
        report.nodes = eg.num_nodes
        report.classes = eg.num_classes
        report.seconds = time.perf_counter() - t0
        return report

    def _phase(
        self,
        eg: EGraph,
        matcher: Matcher,
        stats: list,
        active: list[int],
        iters: int,
        it: int,
        changed: list,
        max_depth: int,
        deadline: float,
        report: RunReport,
    ) -> tuple[StopReason, int]:
        """Iterations of the rules ``active`` from global iteration ``it``: why they stopped, and how many ran."""
        reason = StopReason.RUNNING
        start = it
        rewrites = self.rewrites
        while not reason:
            if it - start >= iters:
                reason = StopReason.ITERATION_LIMIT
                break
            if it:
                changed.append(_closure(eg, eg.take_touched(), max_depth))
            matcher.reset()
            since: dict[tuple[int, int], set[int]] = {}  # classes changed since an iteration, to a depth
            before = (eg.num_nodes, eg.unions)
            found: list[tuple[int, list, list]] = []
            banned_any = False
            by_op = eg.by_op
            uf, find = eg.uf, eg.find
            present: frozenset | None = None  # the ops the graph holds (read once per iteration, when a rule is not ready)
            for k in active:
                st = stats[k]
                if st.banned_until > it:
                    banned_any = True
                    continue
                rw = rewrites[k]
                if not st.ready:
                    # the ops a pattern needs, once all in the graph, stay there (nodes are never removed)
                    if rw.needs:
                        if present is None:
                            present = frozenset(op for op, ids in by_op.items() if ids)
                        if not rw.needs <= present:
                            continue
                    st.ready = True
                only = dirty = None
                if st.searched >= 0:
                    d = rw.depth  # (at most max_depth, the largest)
                    only = since.get((st.searched, d))
                    if only is None:
                        only = since[(st.searched, d)] = {c if uf[c] == c else find(c) for e in range(st.searched, it) for c in changed[e][d]}
                    if not only or only.isdisjoint(matcher.classes_with(rw.lhs.op)):
                        st.searched = it  # no root to search again: the search would find nothing
                        continue
                    dirty = since.get((st.searched, d - 1))
                    if dirty is None:
                        dirty = since[(st.searched, d - 1)] = {c if uf[c] == c else find(c) for e in range(st.searched, it) for c in changed[e][d - 1]}
                else:
                    st.done = set()  # (nodes recorded in an older canonical form never equal a current node: searched again)
                keys: list = []
                limit = self.match_limit << st.times_banned
                ms = matcher.search(rw.lhs, limit, only, dirty, st.done, keys)
                report.matches[rw.where] = report.matches.get(rw.where, 0) + len(ms)
                if len(ms) > limit:
                    st.banned_until = it + (self.ban_length << st.times_banned)
                    st.times_banned += 1
                    st.searched = -1
                    report.bans[rw.where] = report.bans.get(rw.where, 0) + 1
                    banned_any = True
                else:
                    st.searched = it
                    if ms:
                        found.append((k, ms, keys))
                if time.perf_counter() > deadline:
                    reason = StopReason.TIME_LIMIT
                    break
            it += 1
            unions_at_search = eg.unions  # keys are in canonical ids until the next union
            for k, ms, keys in found:
                if reason:
                    break
                rw = self.rewrites[k]
                applied = stats[k].applied
                uf = eg.uf
                sums: dict[int, list[int]] = {}
                for n, (cid, node, s) in enumerate(ms):
                    ctx = s.get(CTX)
                    args: list[int] | None = None
                    key = keys[n]
                    if isinstance(ctx, Rest):
                        args = _rebase(eg, sums.get(eg.find(cid)), node, ctx)
                        if args is None:
                            continue
                        s = {**s, CTX: Rest(ctx.op, tuple(args))}
                        key = (eg.find(cid), matcher._subst_key(s))
                    elif eg.unions != unions_at_search:
                        stale = uf[cid] != cid
                        if not stale:
                            for _, v in key[1]:
                                if type(v) is int and uf[v] != v:
                                    stale = True
                                    break
                        if stale:
                            # classes merged by this iteration's earlier matches: the key in today's ids
                            key = (eg.find(cid), matcher._subst_key(s))
                    marked = applied.get(key)
                    if marked is not None:
                        if marked:
                            eg.unstable.append(node)
                        continue
                    status = self._apply(eg, rw, cid, node, s, it, report)
                    if status is not GUARD:
                        applied[key] = status is MARKED or status is FIRED and rw.stabilizes
                    if status is FIRED:
                        report.fired[rw.where] = report.fired.get(rw.where, 0) + 1
                        if args is not None and self._rhs_class is not None:
                            sums[eg.find(cid)] = sorted(eg.find(c) for c in [*args, self._rhs_class])
                    if n % 32 == 31 and time.perf_counter() > deadline:
                        reason = StopReason.TIME_LIMIT
                        break
                    if eg.num_nodes > self.node_limit:
                        reason = StopReason.NODE_LIMIT
                        break
            eg.rebuild()
            if not reason and normalize_nary(eg, self.node_limit - eg.num_nodes, eg.touched):
                eg.rebuild()
            if reason:
                break
            if eg.num_nodes > self.node_limit:
                reason = StopReason.NODE_LIMIT
            elif time.perf_counter() > deadline:
                reason = StopReason.TIME_LIMIT
            elif (eg.num_nodes, eg.unions) == before:
                if not banned_any:
                    reason = StopReason.SATURATED
                else:
                    for st in stats:
                        st.banned_until = min(st.banned_until, it)
        return reason, it - start

    def _guard_first(self, eg: EGraph, rw: Rewrite, s: dict) -> bool | None:
        """The guard read before looking the right-hand side up, when reading it changes nothing: None otherwise.

        Most matches that reach a guard fail it, and the look-up of the right-hand side costs more
        than the guard. Reading the guard first gives the same graph when it has no effect: the rule
        is no stabilization (whose match marks the root even when the class already holds the
        right-hand side), every rest of a product the guard reads is already in the graph (reading
        one adds it) and no fallback is counted (else the guard is read again, in order). A match
        whose guard fails then reports GUARD where it reported NOOP when the class already held the
        right-hand side: both leave the graph as it is.
        """
        if rw.stabilizes:
            return None
        fallbacks = eg.fallbacks
        before = dict(fallbacks)
        eg.probing = True
        try:
            held = eval_guard(eg, rw.guard, s) is True
        except GuardNeedsRest:
            return None
        finally:
            eg.probing = False
            if len(fallbacks) != len(before) or fallbacks != before:
                fallbacks.clear()
                fallbacks.update(before)
                held = None
        return held

    def _apply(self, eg: EGraph, rw: Rewrite, cid: int, node: tuple, s: dict, it: int, report: RunReport) -> Outcome:
        like = eg.rep(cid)
        held = None if rw.guard is None else self._guard_first(eg, rw, s)
        if held is False:
            return GUARD
        if self._present(eg, rw, cid, s, like):
            if rw.stabilizes:
                eg.unstable.append(node)
                return MARKED
            return NOOP
        if rw.guard is not None and held is None and eval_guard(eg, rw.guard, s) is not True:
            return GUARD
        try:
            term = rhs = instantiate(eg, rw.rhs, s, like, self.attr_helpers)
            ctx = s.get(CTX)
            if isinstance(ctx, Rest):
                term = apply(ctx.op, term, *[eg.rep(c) for c in ctx.children])
        except Unbuildable as exc:  # a right-hand side that cannot be built for this match is not applied
            cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "Unbuildable"
            eg.fallbacks[f"right-hand side not built ({rw.where}: {cause})"] += 1
            return GUARD
        except BUILD_ERRORS as exc:  # the context does not combine with the right-hand side
            eg.fallbacks[f"right-hand side not built ({rw.where}: {type(exc).__name__})"] += 1
            return GUARD
        if not isinstance(term.type, TensorType) or not _compatible(term.type, like.type):
            return NOOP
        new = eg.add_term(term)
        if not _refines(term.type, like.type) and not _dims_agree(eg, new, cid):
            return GUARD
        self._rhs_class = eg.term_class.get(rhs.uid)
        if rw.stabilizes:
            eg.unstable.append(node)
        if eg.union(cid, new):
            report.steps.append(Step(it, rw, eg.find(cid), term))
            return FIRED
        return MARKED if rw.stabilizes else NOOP

    def _present(self, eg: EGraph, rw: Rewrite, cid: int, s: dict, like: Any) -> bool:
        """Whether the class already holds the right-hand side (then applying the match changes nothing)."""
        hit = lookup_rhs(eg, rw.rhs, s, like, self.attr_helpers)
        if hit is None:
            return False
        ctx = s.get(CTX)
        if isinstance(ctx, Rest):
            # the node the match would add, op(rhs, *context), with the right-hand side's class as one
            # argument: looked up by its representative term, a class holding a sum (or product) would be
            # spliced in and find the matched node itself, and the class would never get the rewritten node
            node = eg.hashcons.get(eg.canon((ctx.op, (), (hit, *ctx.children))))
            return node is not None and eg.find(node) == eg.find(cid)
        return hit is not None and hit == eg.find(cid)
