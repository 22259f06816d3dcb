"""The pytensor.gradient API: grad, pullback/Lop, pushforward/Rop, jacobian, hessian, and friends
(numeric_grad and verify_grad, which compile functions, are in ``verify.py``, a layer above).

One deterministic reverse sweep (grad, pullback) or forward sweep (pushforward) over the
DAG, instantiating each node's rule once. The calculus is all in ``rules/*.rules``: for a
node the sweep asks the rule set for a ``vjp`` rule, else a ``transpose`` rule (linear
ops), else ``d`` partials (lifted by ``ad/lift.py``), else the expansion of a composite op.
An op with none of these gets a NullType gradient naming it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

from rewritediff.ad.forward import _forward
from rewritediff.ad.lift import broadcast_to_like, cast_to, float_dtype, zeros_for
from rewritediff.ad.reverse import _is_disc, _is_null, _relevant, _sum_contribs, _sweep
from rewritediff.ad.stable import _stabilized, _stabilized_seeds
from rewritediff.ad.vectorize import batched_jacobian
from rewritediff.errors import DisconnectedInputError, NullTypeGradError, PushforwardError
from rewritediff.ops.names import (
    DIMSHUFFLE_OP,
    DISCONNECTED_GRAD_OP,
    EXPAND_LIKE_OP,
    GRAD_CLIP_OP,
    GRAD_SCALE_OP,
    SPECIFY_SHAPE_LIKE_OP,
    SPECIFY_SHAPE_OP,
    UNDEFINED_GRAD_OP,
    ZERO_GRAD_OP,
)
from rewritediff.rules.ast import Special
from rewritediff.terms import DisconnectedType, NullType, TensorType, Term, apply, as_term, constant, gc_paused

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
    return apply(ZERO_GRAD_OP, as_term(x))


def consider_constant(x: Term) -> Term:
    """PyTensor's function form of ``consider_constant``: identity forward, a connected zero gradient (as ``zero_grad``)."""
    return zero_grad(x)


def disconnected_grad(x: Term) -> Term:
    """Identity forward; its gradient is disconnected."""
    return apply(DISCONNECTED_GRAD_OP, as_term(x))


def undefined_grad(x: Term) -> Term:
    """Identity forward; its gradient is undefined (NullType)."""
    return apply(UNDEFINED_GRAD_OP, as_term(x))


def grad_clip(x: Term, lower_bound: float, upper_bound: float) -> Term:
    """Identity forward; the gradient is clipped to [lower_bound, upper_bound]."""
    return apply(GRAD_CLIP_OP, as_term(x), lo=lower_bound, hi=upper_bound)


def grad_scale(x: Term, multiplier: float) -> Term:
    """Identity forward; the gradient is multiplied by ``multiplier``."""
    return apply(GRAD_SCALE_OP, as_term(x), multiplier=multiplier)


def grad_not_implemented(op: Any, x_pos: int, x: Any, comment: str = "") -> Term:
    """A NullType variable saying the gradient of input ``x_pos`` of ``op`` is not implemented."""
    return NullType(f"This variable is Null because the grad method for input {x_pos} ({x}) of the {op} op is not implemented. {comment}")()


def grad_undefined(op: Any, x_pos: int, x: Any, comment: str = "") -> Term:
    """A NullType variable saying the gradient of input ``x_pos`` of ``op`` is undefined."""
    return NullType(f"This variable is Null because the grad method for input {x_pos} ({x}) of the {op} op is undefined. {comment}")()


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
        cost = as_term(cost)
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
        seeds[cost] = apply(EXPAND_LIKE_OP, constant(1.0, float_dtype(cost)), cost)
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
    return apply(SPECIFY_SHAPE_OP, g, shape=tuple(d if d is not None else gd for d, gd in zip(w.static_shape, g.static_shape)))


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
    fs = [as_term(t) for t in (f if isinstance(f, list | tuple) else [f])]
    cts = [as_term(t) for t in (cotangents if isinstance(cotangents, list | tuple) else [cotangents])]
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
def pushforward(
    f: Term | Sequence[Term],
    wrt: Term | Sequence[Term],
    tangents: Any,
    disconnected_outputs: str = "raise",
    return_disconnected: str = "zero",
    use_op_pushforward: bool = False,
) -> Any:
    """Jacobian-vector product ``J . tangents`` by one forward sweep of JVP rules (PyTensor's ``pushforward``)."""
    fs = [as_term(t) for t in (f if isinstance(f, list | tuple) else [f])]
    wrt_list = [as_term(t) for t in (wrt if isinstance(wrt, list | tuple) else [wrt])]
    tans = [as_term(t) for t in (tangents if isinstance(tangents, list | tuple) else [tangents])]
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

    if not isinstance(expression, Term):
        raise TypeError(f"jacobian expects a rewritediff term as `expression`, got {type(expression).__name__}")
    wrt_list = list(wrt) if isinstance(wrt, list | tuple) else [wrt]
    if all(d == 1 for d in expression.static_shape):
        flat = expression.sum() if expression.ndim else expression
        gs = grad(flat, wrt_list, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
        out = [g if expression.ndim == 0 else _prepend_ones(g, expression.ndim) for g in gs]
        return _container(wrt, out)
    out = batched_jacobian(
        expression, wrt_list, lambda u: pullback(expression, wrt_list, u, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
    )
    return _container(wrt, out)


def _prepend_ones(g: Term, k: int) -> Term:
    """``g`` with k leading dims of length 1 (the Jacobian of an expression of one element)."""
    return apply(DIMSHUFFLE_OP, g, pattern=("x",) * k + tuple(range(g.ndim)))


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
        term = (g * apply(SPECIFY_SHAPE_LIKE_OP, as_term(v), w)).sum()
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
