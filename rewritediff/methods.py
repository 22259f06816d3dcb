"""How a Term behaves as a Python and numpy object: its operators (``x + 1.0``, ``x @ W``,
``x[1:]``), its methods (``x.sum()``, ``x.T``, ``x.reshape(...)``) and numpy's protocols
(``np.exp(x)``, ``np.dot(A, x)`` build terms). Installed on :class:`~rewritediff.terms.Term` when
the package loads; the functions themselves are the frontend's (:mod:`rewritediff.tensor`).
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from rewritediff import tensor, terms
from rewritediff.compiled import function
from rewritediff.errors import RewriteDiffTypeError
from rewritediff.printing.tex import latex
from rewritediff.printing.text import pprint_inline
from rewritediff.terms import Term, apply


def eval_term(term: Term, inputs: dict | None = None) -> np.ndarray:
    """Evaluate ``term`` with the given {variable: value} mapping (``x.eval()``: compiles and caches)."""
    inputs = inputs or {}
    keys = sorted(inputs, key=lambda t: t.uid)
    f = function(keys, term, on_unused_input="ignore")
    return f(*[inputs[k] for k in keys])


def _no_setitem(self: Term, key: Any, value: Any) -> None:
    """Terms are immutable: item assignment is refused."""
    raise TypeError("terms do not support item assignment; use rd.set_subtensor(x[idx], y) or x[idx].set(y) (and inc_subtensor / .inc)")


# ---- numpy interoperability -----------------------------------------------------------------------
# numpy ufunc name -> the rewritediff function that builds the same elementwise term.
_UFUNC_OPS = {
    "logaddexp": "logaddexp",
    "isnan": "isnan",
    "isinf": "isinf",
    "add": "add",
    "subtract": "sub",
    "multiply": "mul",
    "divide": "true_div",
    "true_divide": "true_div",
    "power": "pow",
    "negative": "neg",
    "absolute": "abs",
    "exp": "exp",
    "expm1": "expm1",
    "log": "log",
    "log1p": "log1p",
    "sqrt": "sqrt",
    "square": "sqr",
    "reciprocal": "reciprocal",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "arcsin": "arcsin",
    "arccos": "arccos",
    "arctan": "arctan",
    "sinh": "sinh",
    "cosh": "cosh",
    "tanh": "tanh",
    "sign": "sign",
    "floor": "floor",
    "ceil": "ceil",
    "maximum": "maximum",
    "minimum": "minimum",
    "less": "lt",
    "greater": "gt",
    "less_equal": "le",
    "greater_equal": "ge",
    "equal": "eq",
    "not_equal": "neq",
    "logical_and": "and_",
    "logical_or": "or_",
    "logical_not": "not_",
    "clip": "clip",
    "matmul": "matmul",
}


def _ufunc_to_term(ufunc: Any, method: str, inputs: tuple, kwargs: dict) -> Term:
    """Build the term a numpy ufunc call on terms stands for, or say clearly why there is none.

    Without this, ``np.array([0., 1.]) * x`` makes numpy build an object array of terms and the
    user meets a confusing error far away; with it, numpy hands the operation to the term.
    """
    name = getattr(ufunc, "__name__", repr(ufunc))
    if builtins.any(isinstance(a, np.ndarray) and a.dtype == object for a in inputs):
        raise RewriteDiffTypeError(f"numpy ufunc {name}: an object array (of terms?) cannot be an operand; build one term with rd.stack or rd.as_term")
    if method != "__call__":
        raise RewriteDiffTypeError(
            f"numpy ufunc method {name}.{method} is not supported on rewritediff terms; use the rd.* function (e.g. rd.sum for np.add.reduce)"
        )
    defaults = {"where": True, "casting": "same_kind", "order": "K", "subok": True}
    bad = [k for k, v in sorted(kwargs.items()) if v is not None and not (k in defaults and v == defaults[k])]
    if bad:
        raise RewriteDiffTypeError(
            f"numpy ufunc {name} on rewritediff terms: keyword argument(s) {', '.join(bad)} are not supported (terms are immutable: build a new term instead)"
        )
    if name == "positive":
        return tensor.as_term(inputs[0])
    target = _UFUNC_OPS.get(name)
    if target is None:
        raise RewriteDiffTypeError(
            f"numpy ufunc {name!r} has no rewritediff counterpart and cannot be applied to a term; "
            f"write it with rd.* functions (see rd.{', rd.'.join(sorted(set(_UFUNC_OPS.values()))[:6])}, ...)"
        )
    return getattr(tensor, target)(*inputs)


# numpy function name -> the rewritediff function of the same meaning (numpy's argument order).
# numpy function name -> the rd function's name here, or the function itself (other frontend modules add theirs)
_ARRAY_FUNCTIONS: dict[str, Any] = {
    "dot": "dot",
    "sum": "sum",
    "prod": "prod",
    "mean": "mean",
    "var": "var",
    "std": "std",
    "max": "max",
    "amax": "max",
    "min": "min",
    "amin": "min",
    "argmax": "argmax",
    "argmin": "argmin",
    "all": "all",
    "any": "any",
    "clip": "clip",
    "where": "switch",
    "transpose": "transpose",
    "reshape": "reshape",
    "squeeze": "squeeze",
    "expand_dims": "expand_dims",
    "concatenate": "concatenate",
    "stack": "stack",
    "tensordot": "tensordot",
    "outer": "outer",
    "einsum": "einsum",
    "trace": "trace",
    "diag": "diag",
    "diagonal": "diagonal",
    "repeat": "repeat",
    "tile": "tile",
    "broadcast_to": "broadcast_to",
    "zeros_like": "zeros_like",
    "ones_like": "ones_like",
}


def _array_function(self: Term, func: Any, types: Any, args: tuple, kwargs: dict) -> Term:
    """numpy's hook for its functions (``np.dot(A, x)``, ``np.sum(x)``): build the rd term, or refuse clearly."""
    module, name = getattr(func, "__module__", "") or "", getattr(func, "__name__", repr(func))
    target = _ARRAY_FUNCTIONS.get(name) if module == "numpy" else None
    name = f"{module or 'numpy'}.{name}"
    if target is None:
        raise RewriteDiffTypeError(
            f"{name} cannot be applied to a rewritediff term; use the rd.* function of the same meaning (or compile the graph and call numpy on its values)"
        )
    bad = sorted(k for k, v in kwargs.items() if k in ("out", "dtype") and v is not None)
    if bad:
        raise RewriteDiffTypeError(f"{name} on rewritediff terms: keyword argument(s) {', '.join(bad)} are not supported")
    kw = {k: v for k, v in kwargs.items() if k not in ("out", "dtype")}
    return (target if callable(target) else getattr(tensor, target))(*args, **kw)


def _array_ufunc(self: Term, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Term:
    """numpy's hook: a ufunc (and so every ndarray operator) with a term operand builds a term."""
    return _ufunc_to_term(ufunc, method, inputs, kwargs)


# ---- Term methods --------------------------------------------------------------------------------
def _install_methods() -> None:
    def r(op: str) -> Any:
        return lambda self, other: tensor._binary(op)(other, self)

    methods = {
        "__add__": lambda s, o: tensor.add(s, o),
        "__radd__": lambda s, o: tensor.add(o, s),
        "__sub__": tensor._binary("sub"),
        "__rsub__": r("sub"),
        "__mul__": lambda s, o: tensor.mul(s, o),
        "__rmul__": lambda s, o: tensor.mul(o, s),
        "__truediv__": tensor._binary("true_div"),
        "__rtruediv__": r("true_div"),
        "__pow__": tensor._binary("pow"),
        "__rpow__": r("pow"),
        "__matmul__": lambda s, o: tensor.matmul(s, o),
        "__rmatmul__": lambda s, o: tensor.matmul(o, s),
        "__neg__": lambda s: apply("neg", s),
        "__abs__": lambda s: apply("abs", s),
        "__lt__": tensor._binary("lt"),
        "__gt__": tensor._binary("gt"),
        "__le__": tensor._binary("le"),
        "__ge__": tensor._binary("ge"),
        "__invert__": lambda s: apply("not_", s),
        "__and__": tensor._binary("and_"),
        "__or__": tensor._binary("or_"),
        "sum": tensor.sum,
        "prod": tensor.prod,
        "max": tensor.max,
        "min": tensor.min,
        "mean": tensor.mean,
        "var": tensor.var,
        "std": tensor.std,
        "argmax": tensor.argmax,
        "argmin": tensor.argmin,
        "all": tensor.all,
        "any": tensor.any,
        "dot": tensor.dot,
        "reshape": lambda s, *shape, ndim=None: tensor.reshape(s, shape[0] if len(shape) == 1 else shape),
        "dimshuffle": tensor.dimshuffle,
        "transpose": lambda s, *axes: tensor.transpose(s, (axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes) or None),
        "flatten": tensor.flatten,
        "squeeze": tensor.squeeze,
        "astype": tensor.cast,
        "eval": eval_term,
        "T": property(lambda s: tensor.transpose(s)),
        "broadcastable": property(lambda s: s.type.broadcastable),
        "shape": property(tensor.shape),
        "size": property(lambda s: tensor.prod(tensor.shape(s))),
        "clip": tensor.clip,
        "exp": lambda s: apply("exp", s),
        "log": lambda s: apply("log", s),
        "__getitem__": tensor.getitem,
        "__setitem__": _no_setitem,
        "set": lambda s, y: tensor.set_subtensor(s, y),
        "inc": lambda s, y: tensor.inc_subtensor(s, y),
        "trace": tensor.trace,
        "repeat": tensor.repeat,
        "ravel": lambda s: tensor.flatten(s),
        "__array_ufunc__": _array_ufunc,
        "__array_function__": _array_function,
        "__array_priority__": 1000.0,
        "diagonal": tensor.diagonal,
        "get_value": tensor.get_value,
        "set_value": tensor.set_value,
    }
    for k, v in methods.items():
        setattr(Term, k, v)


_install_methods()
terms.inline_printer = pprint_inline  # repr(term) and the notebook's LaTeX are the printing package's
terms.latex_printer = latex
