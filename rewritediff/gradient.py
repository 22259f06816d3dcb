"""The pytensor.gradient API: grad, pullback/Lop, pushforward/Rop, jacobian, hessian, and friends
(numeric_grad and verify_grad live in ``verify.py`` and are re-exported here).

One deterministic reverse sweep (grad, pullback) or forward sweep (pushforward) over the
DAG, instantiating each node's rule once. The calculus is all in ``rules/*.rules``: for a
node the sweep asks the rule set for a ``vjp`` rule, else a ``transpose`` rule (linear
ops), else ``d`` partials (lifted by ``tensorize``), else the expansion of a composite op.
An op with none of these gets a NullType gradient naming it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

from rewritediff.errors import DisconnectedInputError, NullTypeGradError, PushforwardError, RewriteDiffError
from rewritediff.ops import get_op
from rewritediff.rules.ast import Call, Special
from rewritediff.rules.helpers import const_value, eval_guard
from rewritediff.rules.instantiate import components, instantiate, match
from rewritediff.tensorize import (
    broadcast_to_like,
    cast_to,
    float_dtype,
    lift_jvp,
    lift_vjp,
    linear_jvp,
    zeros_for,
)
from rewritediff.terms import DisconnectedType, NullType, TensorType, Term, apply, constant, gc_paused, toposort

__all__ = [
    "consider_constant",
    "grad",
    "pullback",
    "Lop",
    "pushforward",
    "Rop",
    "jacobian",
    "hessian",
    "hessian_vector_product",
    "verify_grad",
    "numeric_grad",
    "subgraph_grad",
    "zero_grad",
    "disconnected_grad",
    "grad_clip",
    "grad_scale",
    "undefined_grad",
    "grad_not_implemented",
    "grad_undefined",
]


# ---- gradient-only ops (their meaning is in rules/gradops.rules) -------------------------------------
def zero_grad(x: Term) -> Term:
    """Identity forward; its gradient is a connected zero."""
    return apply("zero_grad", _as_term(x))


def consider_constant(x: Term) -> Term:
    """PyTensor's function form of ``consider_constant``: identity forward, a connected zero gradient (as ``zero_grad``)."""
    return zero_grad(x)


def disconnected_grad(x: Term) -> Term:
    """Identity forward; its gradient is disconnected."""
    return apply("disconnected_grad", _as_term(x))


def undefined_grad(x: Term) -> Term:
    """Identity forward; its gradient is undefined (NullType)."""
    return apply("undefined_grad", _as_term(x))


def grad_clip(x: Term, lower_bound: float, upper_bound: float) -> Term:
    """Identity forward; the gradient is clipped to [lower_bound, upper_bound]."""
    return apply("grad_clip", _as_term(x), lo=lower_bound, hi=upper_bound)


def grad_scale(x: Term, multiplier: float) -> Term:
    """Identity forward; the gradient is multiplied by ``multiplier``."""
    return apply("grad_scale", _as_term(x), multiplier=multiplier)


def grad_not_implemented(op: Any, x_pos: int, x: Any, comment: str = "") -> Term:
    """A NullType variable saying the gradient of input ``x_pos`` of ``op`` is not implemented."""
    return NullType(f"This variable is Null because the grad method for input {x_pos} ({x}) of the {op} op is not implemented. {comment}")()


def grad_undefined(op: Any, x_pos: int, x: Any, comment: str = "") -> Term:
    """A NullType variable saying the gradient of input ``x_pos`` of ``op`` is undefined."""
    return NullType(f"This variable is Null because the grad method for input {x_pos} ({x}) of the {op} op is undefined. {comment}")()


def _as_term(x: Any) -> Term:
    from rewritediff.tensor import as_term

    return as_term(x)


def _rules() -> Any:
    from rewritediff.rules import default_rules

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


# ---- stable forms before differentiating --------------------------------------------------------------
_STABILIZE_RULES: dict[tuple[int, int, str], list[Any]] = {}


def _stabilize_rules(op: str) -> list[tuple[Any, frozenset]]:
    """The rules of ``stabilize*.rules`` files about ``op``, in load order, each with the ops its
    pattern's arguments must have (a cheap test before matching); cached per rule set."""
    rules = _rules()
    key = (id(rules), len(rules), op)
    hit = _STABILIZE_RULES.get(key)
    if hit is None:
        from pathlib import Path

        hit = [
            (r, frozenset(a.op for a in r.lhs.args if isinstance(a, Call)))
            for r in rules.rules_for(op, "rewrite")
            if Path(r.source.file).stem.startswith("stabiliz")
        ]
        _STABILIZE_RULES[key] = hit
    return hit


def _stabilize_node(node: Term, keep: set[int]) -> Term:
    """``node`` rewritten by the first stabilization rule that matches it (repeatedly), else itself.

    A match may not look inside a term of ``keep`` (a wrt, a known or constant gradient): such a
    term can only be bound whole to a pattern variable, so it stays in the graph.
    """
    for _ in range(8):  # a rewritten node may match again (log(1 - x) after x became sigmoid): bounded
        ops = {a.op for a in node.args}
        for rule, needs in _stabilize_rules(node.op):
            if not needs <= ops:
                continue
            env = match(rule.lhs, node)
            if env is None:
                continue
            bound = {v.uid for v in env.values() if isinstance(v, Term)}
            stack, seen, inside_keep = list(node.args), set(), False
            while stack:
                t = stack.pop()
                if t.uid in bound or t.uid in seen or not t.args:
                    continue
                if t.uid in keep:
                    inside_keep = True
                    break
                seen.add(t.uid)
                if const_value(t) is None:
                    stack.extend(t.args)
            try:
                if inside_keep or not eval_guard(rule.guard, env):
                    continue
                new = instantiate(rule.rhs[0], env, like=node)
            except Exception:  # noqa: BLE001 - a stabilization is an improvement, never a reason to fail
                continue
            if isinstance(new, Term) and new.type == node.type:
                node = new
                break
        else:
            return node
    return node


def _stabilized(roots: list[Term], keep: set[int]) -> list[Term]:
    """``roots`` with the stabilization rules applied bottom-up (terms of ``keep`` and below them untouched).

    The gradient of a stable form is as stable as its value (``log_softmax``'s adjoint has no
    division by ``softmax``), so the sweeps differentiate the stabilized graph: a naive loss gets
    the gradient of the form the simplifier would give its value.
    """
    new: dict[int, Term] = {}
    stack: list[tuple[Term, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        node, expanded = stack.pop()
        if node.uid in new:
            continue
        if not node.args or node.uid in keep:
            new[node.uid] = node
            continue
        if not expanded:
            stack.append((node, True))
            stack.extend((a, False) for a in reversed(node.args) if a.uid not in new)
            continue
        args = tuple(new[a.uid] for a in node.args)
        built = node if all(a is b for a, b in zip(args, node.args)) else apply(node.op, *args, **dict(node.attrs))
        new[node.uid] = _stabilize_node(built, keep)
    return [new[r.uid] for r in roots]


def _stabilized_seeds(seeds: dict[Term, Term], keep: set[int]) -> dict[Term, Term]:
    """The seeds re-keyed by the stabilized roots (roots that became the same term add their seeds)."""
    roots = list(seeds)
    out: dict[Term, Term] = {}
    for old, root in zip(roots, _stabilized(roots, keep)):
        out[root] = _sum_contribs([out[root], seeds[old]]) if root in out else seeds[old]
    return out


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
    return apply("add", *live)


def _handle_disconnected(var: Term, option: str) -> None:
    msg = f"grad method was asked to compute the gradient with respect to a variable that is not part of the computational graph of the cost, or is used only by a non-differentiable operator: {var!r}"
    if option == "ignore":
        return
    if option == "warn":
        warnings.warn(msg, stacklevel=3)
        return
    if option == "raise":
        raise DisconnectedInputError(msg)
    raise ValueError(f"Invalid value for keyword 'disconnected_inputs', valid values are 'ignore', 'warn' and 'raise', got {option!r}")


def _container(wrt: Any, values: list[Any]) -> Any:
    if isinstance(wrt, tuple):
        return tuple(values)
    if isinstance(wrt, list):
        return list(values)
    return values[0]


def _check_grad_value(v: Any, what: str) -> Term:
    if not isinstance(v, Term):
        raise TypeError(f"{what}: output grads must be rewritediff terms, got {type(v).__name__}")
    if isinstance(v.type, NullType | DisconnectedType):
        return v
    if not v.type.is_float:
        raise TypeError(f"{what}: output grads must be of a float dtype or NullType/DisconnectedType, got {v.type}")
    return v


def grad(
    cost: Term | None,
    wrt: Term | Sequence[Term],
    consider_constant: Iterable[Term] | None = None,
    disconnected_inputs: str = "raise",
    add_names: bool = True,
    known_grads: dict[Term, Term] | None = None,
    return_disconnected: str = "zero",
    null_gradients: str = "raise",
) -> Any:
    """Gradient of a scalar ``cost`` with respect to ``wrt`` (PyTensor's ``grad``, option for option)."""
    if cost is None and known_grads is None:
        raise ValueError("cost and known_grads can't both be None.")
    if cost is not None:
        cost = _as_term(cost)
        if isinstance(cost.type, NullType):
            raise ValueError(f"Can't differentiate a NaN cost. cost is NaN because {cost.type.why_null}")
        if cost.ndim != 0:
            raise TypeError("Cost must be a scalar.")
    wrt_list = list(wrt) if isinstance(wrt, list | tuple) else [wrt]
    for w in wrt_list:
        if not isinstance(w, Term):
            raise TypeError(f"Expected a rewritediff term in wrt, got {type(w).__name__}")
    consider = _consider_set(consider_constant)
    seeds: dict[Term, Term] = {}
    override: dict[int, Term] = {}
    if known_grads is not None:
        for var, g in known_grads.items():
            if not isinstance(var, Term):
                raise TypeError(f"known_grads keys must be terms, got {type(var).__name__}")
            g = _check_grad_value(g, "grad")
            override[var.uid] = g
            seeds[var] = g
    if cost is not None and cost.uid not in override:
        # 1 shaped like the 0-d cost, as PyTensor's ones_like(cost): the gradient graph keeps the cost
        # (and so the inputs it reads) in it, so rd.function([x], rd.grad(2 * x, x)) knows x is used
        seeds[cost] = apply("expand_like", constant(1.0, float_dtype(cost)), cost)
    exempt = set(override) | ({cost.uid} if cost is not None else set())
    results = _reverse(seeds, wrt_list, consider, override, exempt, disconnected_inputs, return_disconnected, null_gradients)
    for w, g in zip(wrt_list, results):
        named = isinstance(g, Term) and isinstance(g.type, TensorType) and g.name is None and w.uid not in override
        if add_names and named and cost is not None and cost.name and w.name and g is not seeds.get(cost):
            g.name = f"(d{cost.name}/d{w.name})"
    return _container(wrt, results)


def _reverse(
    seeds: dict[Term, Term],
    wrt_list: list[Term],
    consider: set[int],
    override: dict[int, Term],
    exempt: set[int],
    disconnected_inputs: str,
    return_disconnected: str,
    null_gradients: str,
) -> list[Any]:
    """The reverse sweep and PyTensor's post-processing of each requested gradient (shared by grad and pullback)."""
    seeds = _stabilized_seeds(seeds, {w.uid for w in wrt_list} | consider | set(override))
    _, reach = _relevant(list(seeds), wrt_list, consider)
    for w in wrt_list:
        if w.uid not in reach and w.uid not in exempt:
            _handle_disconnected(w, disconnected_inputs)
    with gc_paused():
        grads = _sweep(seeds, wrt_list, consider, override)
    results: list[Any] = []
    for w in wrt_list:
        g = grads.get(w.uid)
        if g is not None and _is_null(g):
            if null_gradients == "raise":
                raise NullTypeGradError(f"`grad` encountered a NaN. {g.type.why_null}")
            results.append(g)
            continue
        if g is None or _is_disc(g):
            _handle_disconnected(w, disconnected_inputs)
            results.append(_disconnected_value(w, return_disconnected))
            continue
        if w.type.is_float and g.dtype != w.dtype:
            g = cast_to(g, w.dtype)
        results.append(_with_static_shape(g, w))
    return results


def _with_static_shape(g: Term, w: Term) -> Term:
    """``g`` (which has ``w``'s run-time shape by construction) carrying ``w``'s static dims too."""
    if g.static_shape == w.static_shape or all(d is None for d in w.static_shape):
        return g
    return apply("specify_shape", g, shape=tuple(d if d is not None else gd for d, gd in zip(w.static_shape, g.static_shape)))


def _consider_set(consider_constant: Any) -> set[int]:
    """The uids of consider_constant, validated as PyTensor does."""
    consider: set[int] = set()
    if consider_constant is not None:
        if not isinstance(consider_constant, Iterable):
            raise TypeError("consider_constant must be an iterable of variables")
        for c in consider_constant:
            if not isinstance(c, Term):
                raise TypeError(f"consider_constant elements must be variables, got {type(c).__name__}")
            consider.add(c.uid)
    return consider


def _disconnected_value(w: Term, option: str) -> Any:
    opt = option.lower() if isinstance(option, str) else option
    if opt == "zero":
        return zeros_for(w)
    if opt == "none":
        return None
    if opt == "disconnected":
        return DisconnectedType()()
    raise ValueError(f"Invalid value for keyword 'return_disconnected', valid values are 'zero', 'none' and 'disconnected', got {option!r}")


# ---- pullback / Lop -----------------------------------------------------------------------------------
def pullback(
    f: Term | Sequence[Term],
    wrt: Term | Sequence[Term],
    cotangents: Term | Sequence[Term],
    consider_constant: Iterable[Term] | None = None,
    disconnected_inputs: str = "raise",
    return_disconnected: str = "zero",
) -> Any:
    """Vector-Jacobian product ``sum_i cotangents[i] . df[i]/dwrt`` (outputs feeding outputs add up correctly)."""
    fs = [_as_term(t) for t in (f if isinstance(f, list | tuple) else [f])]
    cts = [_as_term(t) for t in (cotangents if isinstance(cotangents, list | tuple) else [cotangents])]
    if len(fs) != len(cts):
        raise ValueError(f"pullback: {len(fs)} outputs but {len(cts)} cotangents")
    wrt_list = list(wrt) if isinstance(wrt, list | tuple) else [wrt]
    consider = _consider_set(consider_constant)
    seeds: dict[Term, Term] = {}
    for y, u in zip(fs, cts):
        _check_grad_value(u, "pullback")
        if u.type.is_float and y.ndim != u.ndim:
            raise ValueError(f"pullback: cotangent of ndim {u.ndim} for an output of ndim {y.ndim}")
        seeds[y] = _sum_contribs([seeds[y], u]) if y in seeds else u
    return _container(wrt, _reverse(seeds, wrt_list, consider, {}, set(), disconnected_inputs, return_disconnected, "raise"))


def Lop(
    f: Term | Sequence[Term],
    wrt: Term | Sequence[Term],
    eval_points: Term | Sequence[Term],
    consider_constant: Iterable[Term] | None = None,
    disconnected_inputs: str = "raise",
    return_disconnected: str = "zero",
) -> Any:
    """PyTensor's name for :func:`pullback` (same signature)."""
    return pullback(f, wrt, eval_points, consider_constant, disconnected_inputs, return_disconnected)


# ---- pushforward / Rop ----------------------------------------------------------------------------------
def _jvp(term: Term, tangents: list[Term | None]) -> Any:
    """The tangent of ``term`` given its arguments' tangents (None = zero)."""
    rules = _rules()
    got = rules.jvp(term, tangents)
    if got is not None:
        return got
    hit = rules.find("transpose", term)
    if hit is not None:
        rule, _ = hit
        linear = [not (isinstance(c, Special) and c.kind == "disconnected") for c in components(rule, len(term.args))]
        return linear_jvp(term, tangents, linear)
    partials = rules.partials(term)
    if partials is not None:
        return lift_jvp(term, tangents, partials)
    expand = getattr(get_op(term.op), "expand", None)
    if expand is not None:
        body = expand(term.args, term.attr_dict)
        tmap = {a.uid: t for a, t in zip(term.args, tangents) if t is not None}
        return _forward(body, tmap)
    return Special("null", f"op {term.op!r} has no forward derivative (add a jvp, transpose or d rule for {term.op!r} in a .rules file)")


def _forward(root: Term, tangents: dict[int, Term], memo: dict | None = None) -> Any:
    """Forward sweep: the tangent of ``root`` (None for zero) given tangents of some of its ancestors.

    ``memo`` is shared by the sweeps of one pushforward, so the sibling results of one loop
    (``OpDef.pushforward``) get their tangents from one tangent loop.
    """
    memo = {} if memo is None else memo
    tan: dict[int, Any] = {}
    for node in toposort([root]):
        if node.uid in tangents:
            tan[node.uid] = tangents[node.uid]
            continue
        if not node.args:
            continue
        arg_t = [tan.get(a.uid) if c else None for a, c in zip(node.args, connection(node))]
        if any(isinstance(t, Special) for t in arg_t):
            bad = next(t for t in arg_t if isinstance(t, Special))
            if bad.kind == "null":
                tan[node.uid] = bad
                continue
            arg_t = [None if isinstance(t, Special) else t for t in arg_t]
        if all(t is None for t in arg_t):
            continue
        push = get_op(node.op).pushforward
        res = push(node, arg_t, memo) if push is not None else _jvp(node, arg_t)
        if isinstance(res, Special):
            if res.kind == "zero":
                continue
            tan[node.uid] = res
            continue
        if res is None:
            continue
        if node.type.is_float and res.dtype != node.dtype:
            res = cast_to(res, node.dtype)
        tan[node.uid] = res
    return tan.get(root.uid)


def pushforward(
    f: Term | Sequence[Term],
    wrt: Term | Sequence[Term],
    tangents: Any,
    disconnected_outputs: str = "raise",
    return_disconnected: str = "zero",
    use_op_pushforward: bool = False,
) -> Any:
    """Jacobian-vector product ``J . tangents`` by one forward sweep of JVP rules (PyTensor's ``pushforward``)."""
    fs = [_as_term(t) for t in (f if isinstance(f, list | tuple) else [f])]
    wrt_list = [_as_term(t) for t in (wrt if isinstance(wrt, list | tuple) else [wrt])]
    tans = [_as_term(t) for t in (tangents if isinstance(tangents, list | tuple) else [tangents])]
    if len(wrt_list) != len(tans):
        raise ValueError(f"`wrt` must be the same length as `eval_points`: {len(wrt_list)} != {len(tans)}")
    for w, t in zip(wrt_list, tans):
        if w.ndim != t.ndim:
            raise ValueError(f"Elements of wrt and eval_points have mismatched dimensions: {w.ndim} and {t.ndim} ({w!r}, {t!r})")
    tmap = {w.uid: (cast_to(t, w.dtype) if w.type.is_float and t.dtype != w.dtype else t) for w, t in zip(wrt_list, tans)}
    _, reach = _relevant(fs, wrt_list, set())
    for w in wrt_list:
        if w.uid not in reach:
            _handle_disconnected_outputs(w, disconnected_outputs)
    results = []
    memo: dict = {}
    for y, stable in zip(fs, _stabilized(fs, set(tmap))):
        t = _forward(stable, tmap, memo)
        if isinstance(t, Special) and t.kind == "null":
            raise PushforwardError(
                f"pushforward: the path from {', '.join(map(repr, wrt_list))} to an output goes through an op without a forward derivative: {t.why}"
            )
        if t is None or isinstance(t, Special):
            results.append(_disconnected_value(y, return_disconnected))
            continue
        results.append(broadcast_to_like(t, y) if t.static_shape != y.static_shape else t)
    return _container(f, results)


def _handle_disconnected_outputs(var: Term, option: str) -> None:
    if option not in ("raise", "warn", "ignore"):
        raise ValueError(f"Invalid value for keyword 'disconnected_outputs', valid values are 'ignore', 'warn' and 'raise', got {option!r}")
    _handle_disconnected(var, option)


def Rop(
    f: Term | Sequence[Term],
    wrt: Term | Sequence[Term],
    eval_points: Any,
    disconnected_outputs: str = "raise",
    return_disconnected: str = "zero",
    use_op_rop_implementation: bool = False,
) -> Any:
    """PyTensor's name for :func:`pushforward` (same signature)."""
    return pushforward(f, wrt, eval_points, disconnected_outputs, return_disconnected)


# ---- jacobian, hessian --------------------------------------------------------------------------------
def jacobian(
    expression: Term,
    wrt: Term | Sequence[Term],
    consider_constant: Iterable[Term] | None = None,
    disconnected_inputs: str = "raise",
    vectorize: bool = False,
) -> Any:
    """Jacobian of ``expression`` with respect to ``wrt``: shape ``expression.shape + wrt.shape``."""
    from rewritediff.tensorize import batched_jacobian

    if not isinstance(expression, Term):
        raise TypeError(f"jacobian expects a rewritediff term as `expression`, got {type(expression).__name__}")
    wrt_list = list(wrt) if isinstance(wrt, list | tuple) else [wrt]
    if all(d == 1 for d in expression.static_shape):
        flat = expression.sum() if expression.ndim else expression
        gs = grad(flat, wrt_list, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
        out = [g if expression.ndim == 0 else _prepend_ones(g, expression.ndim) for g in gs]
        return _container(wrt, out)
    out = batched_jacobian(expression, wrt_list, consider_constant, disconnected_inputs)
    return _container(wrt, out)


def _prepend_ones(g: Term, k: int) -> Term:
    """``g`` with k leading dims of length 1 (the Jacobian of an expression of one element)."""
    return apply("dimshuffle", g, pattern=("x",) * k + tuple(range(g.ndim)))


def hessian(cost: Term, wrt: Term | Sequence[Term], consider_constant: Iterable[Term] | None = None, disconnected_inputs: str = "raise") -> Any:
    """Hessian of a scalar cost with respect to ``wrt``: shape ``w.shape + w.shape`` (diagonal blocks for a list, as PyTensor)."""
    if not isinstance(cost, Term):
        raise TypeError(f"hessian: cost must be a term, got {type(cost).__name__}")
    if cost.ndim != 0:
        raise ValueError("hessian: cost must be a scalar")
    wrt_list = list(wrt) if isinstance(wrt, list | tuple) else [wrt]
    out = []
    for w in wrt_list:
        if not isinstance(w, Term):
            raise TypeError(f"hessian: wrt elements must be terms, got {type(w).__name__}")
        g = grad(cost, w, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
        out.append(jacobian(g, w, consider_constant=consider_constant, disconnected_inputs="ignore"))
    return _container(wrt, out)


def hessian_vector_product(cost: Term, wrt: Term | Sequence[Term], p: Term | Sequence[Term], **grad_kwargs: Any) -> Any:
    """Hessian-vector product by reverse mode applied twice: grad(sum_k grad(cost, wrt_k) . p_k, wrt).

    Each p_k must have wrt_k's shape; saying so (checked at run time) lets the simplifier drop
    the broadcast bookkeeping a product of two unrelated shapes would need.
    """
    wrt_list = list(wrt) if isinstance(wrt, list | tuple) else [wrt]
    ps = list(p) if isinstance(p, list | tuple) else [p]
    if len(ps) != len(wrt_list):
        raise ValueError(f"hessian_vector_product: {len(ps)} vector(s) p for {len(wrt_list)} variable(s) wrt")
    gs = grad(cost, wrt_list, **grad_kwargs)
    total = None
    for g, w, v in zip(gs, wrt_list, ps):
        term = (g * apply("specify_shape_like", _as_term(v), w)).sum()
        total = term if total is None else total + term
    return _container(wrt, list(grad(total, wrt_list, **grad_kwargs)))


# ---- subgraph_grad --------------------------------------------------------------------------------------
def subgraph_grad(wrt: list[Term], end: list[Term], start: dict[Term, Term] | None = None, cost: Term | None = None, details: bool = False) -> Any:
    """Gradients of ``wrt`` and ``end`` for backpropagating layer by layer (PyTensor's subgraph_grad)."""
    if cost is None and start is None:
        raise ValueError("cost and start can't both be None.")
    if not isinstance(end, list):
        raise TypeError("end should be a list of variables")
    if not isinstance(wrt, list):
        raise TypeError("wrt should be a list of variables")
    if start is not None and not isinstance(start, dict):
        raise TypeError("start should be a dict of variables to their gradients")
    params: list[Term] = []
    for v in wrt + end:
        if all(v is not p for p in params):
            params.append(v)
    start_grads = cost_grads = None
    if start is not None:
        start_grads = list(grad(None, params, known_grads=start, consider_constant=end, disconnected_inputs="ignore"))
    if cost is not None:
        cost_grads = list(grad(cost, params, consider_constant=end, disconnected_inputs="ignore"))
    if start_grads is None:
        grads = cost_grads
    elif cost_grads is None:
        grads = start_grads
    else:
        grads = [a + b for a, b in zip(start_grads, cost_grads)]
    by_uid = {p.uid: g for p, g in zip(params, grads)}
    wrt_grads = [by_uid[v.uid] for v in wrt]
    end_grads = [by_uid[v.uid] for v in end]
    if details:
        return wrt_grads, end_grads, start_grads, cost_grads
    return wrt_grads, end_grads


from rewritediff.verify import numeric_grad, verify_grad  # noqa: E402  (re-exported: PyTensor has them in gradient)
