"""The reverse sweep: which arguments each node depends on, and adjoints accumulated from VJP, transpose and ``d`` rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewritediff.ad.lift import cast_to, float_dtype, lift_vjp, zeros_for
from rewritediff.errors import RewriteDiffError
from rewritediff.ops import SUM_OP, get_op
from rewritediff.rules import default_rules
from rewritediff.rules.ast import Special
from rewritediff.rules.instantiate import components
from rewritediff.terms import DisconnectedType, NullType, TensorType, Term, apply, toposort


def _rules() -> Any:

    return default_rules()


def _is_null(t: Any) -> bool:
    return isinstance(t, Term) and isinstance(t.type, NullType)


def _is_disc(t: Any) -> bool:
    return isinstance(t, Term) and isinstance(t.type, DisconnectedType)


# ---- connection patterns --------------------------------------------------------------------------------
def connection(term: Term) -> list[bool]:
    """Which arguments of ``term`` its output depends on differentiably (PyTensor's connection_pattern).

    Read off the rules statically: an argument whose rule component is ``disconnected`` is
    not connected; ``zero`` is connected (PyTensor: integer-valued paths are connected with
    zero gradient). Ops that are not differentiable and have no rule are disconnected.
    """
    rules = _rules()
    for kind in ("vjp", "transpose", "d"):
        hit = rules.find(kind, term)
        if hit is not None:
            rule, _ = hit
            return [not (isinstance(c, Special) and c.kind == "disconnected") for c in components(rule, len(term.args))]
    opdef = get_op(term.op)
    if getattr(opdef, "expand", None) is not None:
        return [True] * len(term.args)
    return [opdef.differentiable] * len(term.args)


def _vjp(term: Term, g: Term) -> list[Any]:
    """Adjoint contributions of ``term``'s arguments (Terms, Specials)."""
    rules = _rules()
    got = rules.vjp(term, g)
    if got is None:
        got = rules.transpose(term, g)
    if got is None:
        partials = rules.partials(term)
        if partials is not None:
            got = lift_vjp(term, g, partials)
    if got is None:
        expand = getattr(get_op(term.op), "expand", None)
        if expand is not None:
            body = expand(term.args, term.attr_dict)
            got = _backprop_through(body, list(term.args), g)
    if got is None:
        why = f"no derivative rule for op {term.op!r} (add a vjp, transpose or d rule in a .rules file)"
        return [NullType(why)() for _ in term.args]
    return list(got)


def _backprop_through(body: Term, args: list[Term], g: Term) -> list[Any]:
    """Adjoints of ``args`` for the expansion ``body`` of a composite op, seeded by ``g``.

    The sweep stops at the arguments: when one argument depends on another (``f(x, exp(x))``), the
    path between them is the outer sweep's to take, once."""
    grads = _sweep({body: g}, args, consider={a.uid for a in args}, override={})
    # an argument given twice (``f(x, x)``) has its whole adjoint at its first place only
    first = {a.uid: k for k, a in reversed(list(enumerate(args)))}
    return [grads.get(a.uid, Special("disconnected")) if first[a.uid] == k else Special("disconnected") for k, a in enumerate(args)]


# ---- the reverse sweep ----------------------------------------------------------------------------------
def _relevant(roots: Sequence[Term], wrt: Sequence[Term], consider: set[int]) -> tuple[list[Term], set[int]]:
    """Topological order of the nodes on a connected path from ``wrt`` up to ``roots``, and their uids.

    Upward, a node counts when some connected argument descends from a wrt; downward, only
    connected arguments of nodes that are not in ``consider`` (consider_constant) are followed.
    """
    order = toposort(roots)
    wrt_ids = {w.uid for w in wrt}
    conn: dict[int, list[bool]] = {n.uid: connection(n) for n in order if n.args and n.uid not in consider}
    reach: set[int] = set()
    for node in order:
        if node.uid in wrt_ids:
            reach.add(node.uid)
        elif node.uid in conn and any(c and a.uid in reach for a, c in zip(node.args, conn[node.uid])):
            reach.add(node.uid)
    needed: set[int] = {r.uid for r in roots}
    for node in reversed(order):
        if node.uid in needed and node.uid in conn:
            for a, c in zip(node.args, conn[node.uid]):
                if c:
                    needed.add(a.uid)
    keep = reach & needed
    return [n for n in order if n.uid in keep], keep


def _sweep(seeds: dict[Term, Term], wrt: Sequence[Term], consider: set[int], override: dict[int, Term]) -> dict[int, Any]:
    """Reverse-mode accumulation from ``seeds`` down to ``wrt``; returns {uid: gradient} (Term, null Term)."""
    order, reach = _relevant(list(seeds), wrt, consider)
    contribs: dict[int, list[Any]] = {}
    for root, seed in seeds.items():
        contribs.setdefault(root.uid, []).append(seed)
    grads: dict[int, Any] = {}
    # ops whose pullback is built in Python (scan): the results of one loop are sibling terms, and
    # their cotangents are taken back together, at the sibling the reverse order reaches last
    groups: dict[tuple, list[Term]] = {}
    for node in order:
        if node.args and get_op(node.op).pullback is not None:
            groups.setdefault(_group_key(node), []).append(node)
    pending: dict[tuple, dict[int, Any]] = {}
    for node in reversed(order):
        if node.uid in override:
            total = override[node.uid]
        else:
            total = _sum_contribs(contribs.get(node.uid, []))
        if node.args and node.uid not in consider and get_op(node.op).pullback is not None:
            if total is not None:
                grads[node.uid] = total
            _group_pullback(node, total, groups, pending, reach, contribs)
            continue
        if total is None:
            continue
        grads[node.uid] = total
        if node.uid in consider or not node.args:
            continue
        if not any(a.uid in reach for a in node.args):
            continue
        if _is_null(total):
            for a, c in zip(node.args, connection(node)):
                if c and a.uid in reach:
                    contribs.setdefault(a.uid, []).append(total)
            continue
        if _is_disc(total):
            continue
        g = total
        vnode, perm = _real_valued(node, reach)
        if vnode.type.is_float and g.type.is_float and g.dtype != vnode.dtype:
            g = cast_to(g, vnode.dtype)
        adjs = _vjp(vnode, g)
        _add_adjoints(node, [adjs[k] for k in perm], reach, contribs)
    return grads


def _group_key(node: Term) -> tuple:
    """Sibling results of one multi-result op share the op, the arguments and every attribute but ``out``."""
    return (node.op, tuple(a.uid for a in node.args), tuple((k, v) for k, v in node.attrs if k != "out"))


def _group_pullback(node: Term, total: Any, groups: dict, pending: dict, reach: set[int], contribs: dict[int, list[Any]]) -> None:
    """Record a sibling's cotangent; at the last sibling reached, build the op's pullback for them all (``OpDef.pullback``)."""
    key = _group_key(node)
    members = groups[key]
    pending.setdefault(key, {})[node.uid] = total
    if node is not members[0]:
        return
    totals = [pending[key].get(m.uid) for m in members]
    null = next((t for t in totals if _is_null(t)), None)
    if null is not None:
        for a, c in zip(node.args, connection(node)):
            if c and a.uid in reach:
                contribs.setdefault(a.uid, []).append(null)
        return
    cots = [None if t is None or _is_disc(t) else (cast_to(t, m.dtype) if m.type.is_float and t.dtype != m.dtype else t) for m, t in zip(members, totals)]
    if all(c is None for c in cots) or not any(a.uid in reach for a in node.args):
        return
    wanted = [a.uid in reach for a in node.args]
    _add_adjoints(node, get_op(node.op).pullback(members, cots, wanted), reach, contribs)


def _add_adjoints(node: Term, adjs: list[Any], reach: set[int], contribs: dict[int, list[Any]]) -> None:
    """Add each argument's adjoint (Terms, Specials) to its contributions, in the argument's dtype."""
    for a, adj in zip(node.args, adjs):
        if a.uid not in reach or adj is None:
            continue
        if isinstance(adj, Special):
            if adj.kind == "disconnected":
                continue
            if adj.kind == "null":
                adj = NullType(adj.why or f"the gradient of {node.op} is undefined")()
            else:
                adj = zeros_for(a)
        elif isinstance(adj.type, TensorType) and a.type.is_float and adj.type.is_float and adj.dtype != a.dtype:
            adj = cast_to(adj, a.dtype)
        elif isinstance(adj.type, TensorType) and not adj.type.is_float:
            adj = cast_to(adj, float_dtype(a))
        contribs.setdefault(a.uid, []).append(adj)


def _real_valued(node: Term, reach: set[int]) -> tuple[Term, list[int]]:
    """The node to differentiate in place of an integer-valued ``node`` that has integer arguments to differentiate.

    PyTensor's convention: the gradient with respect to an integer is the real-valued
    derivative, as if the integer were real, and a gradient is never of integer dtype. An
    integer node's gradient is float, but its rules build adjoints of the node's own dtype
    (``inc_subtensor(zeros_like(x), g)`` for ``x[t]``), which cannot hold it. So the node is
    rebuilt with its connected integer arguments cast to float (index arguments, which are
    not connected, stay integer) and that real-valued node is differentiated. Returns the
    node and, for each argument of ``node``, the position of its counterpart among the new
    node's arguments (``add`` and ``mul`` sort theirs). Float nodes are returned unchanged.
    """
    same = (node, list(range(len(node.args))))
    if node.type.is_float or not isinstance(node.type, TensorType):
        return same
    conn = connection(node)
    swap = [c and a.uid in reach and isinstance(a.type, TensorType) and not a.type.is_float for a, c in zip(node.args, conn)]
    if not any(swap):
        return same
    args = [cast_to(a, float_dtype(a)) if sw else a for a, sw in zip(node.args, swap)]
    try:
        real = apply(node.op, *args, **node.attr_dict)
    except (RewriteDiffError, TypeError, ValueError):
        return same  # the op does not take float arguments there: its own rules decide
    if real.op != node.op or len(real.args) != len(node.args):
        return same  # canonicalised away (a cast to the dtype it already has): nothing to gain
    free = list(range(len(real.args)))
    perm = []
    for a in args:
        k = next((k for k in free if real.args[k] is a), None)
        if k is None:
            return same
        free.remove(k)
        perm.append(k)
    return real, perm


def _sum_contribs(terms: list[Any]) -> Any:
    """Sum gradient terms: any null makes the total null, disconnected ones are skipped."""
    live = []
    for t in terms:
        if _is_null(t):
            return t
        if _is_disc(t):
            continue
        live.append(t)
    if not live:
        return None
    if len(live) == 1:
        return live[0]
    return apply(SUM_OP, *live)
