"""User-defined ops: ``def name(params) = expansion`` in the rule language, and :func:`define_op` from Python.

A ``def`` op is registered in the op registry with ``expand`` set (so the gradient drivers can
differentiate its expansion), a type inferred from the expansion, a numpy ``impl`` that evaluates
the expansion, and a SymPy counterpart built from the expansion (so ``check`` covers its ``d`` rules).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from rewritediff.errors import RewriteDiffTypeError, UnknownOpError
from rewritediff.ops import REGISTRY, OpDef, register, unregister
from rewritediff.ops.infer import as_float, broadcast_shapes, promote
from rewritediff.rules.ast import Call, Rule
from rewritediff.rules.helpers import literal_value
from rewritediff.rules.instantiate import instantiate
from rewritediff.rules.sympy_check import expr_to_sympy
from rewritediff.terms import TensorType, Term, apply, as_term, toposort, variable


def _expansion_ops(expr: Any) -> list[str]:
    out: list[str] = []
    stack = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, Call):
            out.append(e.op)
            stack.extend(e.args)
    return out


def evaluate(term: Term, values: dict[int, np.ndarray]) -> np.ndarray:
    """Evaluate a term DAG with numpy through each op's ``impl`` (``values`` maps leaf uids to arrays)."""
    vals: dict[int, Any] = dict(values)
    for node in toposort([term]):
        if node.uid in vals:
            continue
        if node.op == "const" or node.op == "shared":
            vals[node.uid] = node.value
            continue
        if not node.args and node.op == "input":
            raise RewriteDiffTypeError(f"no value for input {node!r}")
        od = REGISTRY[node.op]
        vals[node.uid] = od.impl(*[vals[a.uid] for a in node.args], **dict(node.attrs))
    return vals[term.uid]


def _make_def_op(rule: Rule) -> OpDef:

    name = rule.lhs.op
    params = [a.name for a in rule.lhs.args]
    attr_defaults = {k: literal_value(e) for k, e in rule.lhs.attrs}
    body = rule.rhs[0]

    def expand(args: tuple, attrs: dict) -> Term:
        env: dict[str, Any] = dict(zip(params, args))
        full = dict(attr_defaults)
        full.update(attrs)
        env.update(full)
        out = instantiate(body, env, like=args[0] if args else None)
        if not isinstance(out, Term):
            raise RewriteDiffTypeError(f"{name}: the expansion is not a term")
        return out

    def infer(args: tuple, attrs: dict) -> Any:
        return expand(args, attrs).type

    def impl(*arrays: np.ndarray, **attrs: Any) -> np.ndarray:
        arrays = tuple(np.asarray(a) for a in arrays)
        holders = tuple(variable(TensorType(a.dtype.name, tuple(a.shape)), f"arg{i}") for i, a in enumerate(arrays))
        term = expand(holders, attrs)
        return evaluate(term, {h.uid: a for h, a in zip(holders, arrays)})

    def to_sympy(*sym_args: Any, **attrs: Any) -> Any:

        env = dict(zip(params, sym_args))
        return expr_to_sympy(body, env)

    elementwise = all(REGISTRY[o].elementwise for o in _expansion_ops(body) if o in REGISTRY)
    return OpDef(
        name=name,
        infer=infer,
        impl=impl,
        arity=len(params),
        attrs=attr_defaults,
        emit=None,
        elementwise=elementwise,
        sympy=to_sympy,
        doc=f"defined by rule: {rule.text}",
        group="defined",
        expand=expand,
    )


def register_def(rule: Rule) -> OpDef:
    """Register the op a ``def`` rule defines (redefining a ``def`` op replaces it)."""
    name = rule.lhs.op
    old = REGISTRY.get(name)
    if old is not None and old.expand is not None:
        unregister(name)
    od = _make_def_op(rule)
    od.def_rule = rule  # type: ignore[attr-defined]
    return register(od)


def define_op(
    name: str,
    impl: Callable[..., Any],
    *,
    arity: int | tuple[int, int | None] | None = None,
    like: int = 0,
    infer: Callable[[tuple, dict], Any] | None = None,
    elementwise: bool = True,
    sympy: str | Callable | None = None,
    attrs: dict[str, Any] | None = None,
    emit: str | Callable | None = None,
    doc: str = "",
    replace: bool = False,
) -> OpDef:
    """Register a Python-defined op so rules can mention it (``load_string("d logcosh(x) = tanh(x)")``).

    The output type is ``infer(args, attrs)`` if given; else, for an elementwise op, the broadcast
    shape with the promoted dtype made float; else the type of argument ``like``.
    """
    if arity is None:
        params = [p for p in inspect.signature(impl).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
        arity = len(params) or 1
    if infer is None:

        def infer(args: tuple, attrs: dict) -> Any:
            if elementwise:
                return TensorType(as_float(promote([a.dtype for a in args])), broadcast_shapes(name, [a.static_shape for a in args]))
            return args[like].type

    if name in REGISTRY:
        if not replace:
            raise ValueError(f"op {name!r} is already registered (pass replace=True to redefine it)")
        unregister(name)
    return register(
        OpDef(
            name=name,
            infer=infer,
            impl=impl,
            arity=arity,
            attrs=dict(attrs or {}),
            emit=emit,
            elementwise=elementwise,
            sympy=sympy,
            doc=doc or (impl.__doc__ or "").strip().splitlines()[0] if (doc or impl.__doc__) else "",
            group="defined",
        )
    )


def op_function(name: str) -> Callable[..., Term]:
    """A frontend function for op ``name``: ``op_function("logcosh")(x)`` (Python scalars are weakly typed)."""
    if name not in REGISTRY:
        raise UnknownOpError(f"unknown op {name!r}")

    def fn(*xs: Any, **attrs: Any) -> Term:
        like = next((x for x in xs if isinstance(x, Term)), None)
        return apply(name, *[as_term(x, like) for x in xs], **attrs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = REGISTRY[name].doc or f"The op {name}."
    return fn
