"""Inspection views of term DAGs: infix text, LaTeX, SymPy conversion and Graphviz DOT.

Every view walks the DAG bottom-up in topological order and never recurses over its
depth, so graphs 10,000 deep print. Text is built in two passes: first each distinct
node gets a *template* (a list of literal strings and references to argument nodes, with
parentheses already decided from operator precedence); then the templates are expanded
with an explicit stack. A non-trivial node used more than once is bound to a numbered
name (``t1 = ...``) and referred to by that name, so shared subterms print once.

Ops the printers do not know print generically as ``name(args, attr=value)``.
"""

from __future__ import annotations

import heapq
import importlib
import re
import shutil
import subprocess
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewritediff.errors import RewriteDiffTypeError
from rewritediff.ops import REGISTRY
from rewritediff.rules.sympy_check import sympy_function
from rewritediff.terms import Constant, DisconnectedType, NullType, TensorType, Term, apply, constant, replace

# ---- precedence levels (Python's order; MAT is the LaTeX juxtaposed matrix product) -------
P_TOP, P_CMP, P_OR, P_AND, P_ADD, P_MUL, P_MAT, P_UNARY, P_POW, P_ATOM = range(10)

INLINE_CAP = 2000

_CMP_TEXT = {"lt": " < ", "gt": " > ", "le": " <= ", "ge": " >= ", "eq": " == ", "neq": " != "}
_CMP_LATEX = {"lt": " < ", "gt": " > ", "le": r" \leq ", "ge": r" \geq ", "eq": " = ", "neq": r" \neq "}
# unary wrappers around a leaf are cheap enough to repeat instead of binding
_CHEAP_WRAPPERS = frozenset({"neg", "dimshuffle", "cast", "reciprocal", "not_", "shape", "shape_i", "zeros_like", "ones_like", "specify_shape"})


# ---- walking -------------------------------------------------------------------------------
def _as_outputs(expr: Any) -> tuple[list[Term | None], bool]:
    """Normalise a term, a list of terms or a compiled Function to (outputs, single)."""
    if isinstance(expr, Term):
        return [expr], True
    if not isinstance(expr, list | tuple) and hasattr(expr, "outputs"):
        return list(expr.outputs), False
    if isinstance(expr, list | tuple):
        outs = list(expr)
        for i, o in enumerate(outs):
            if o is not None and not isinstance(o, Term):
                raise RewriteDiffTypeError(f"output {i} is {type(o).__name__}, not a term")
        return outs, False
    raise RewriteDiffTypeError(f"expected a term or a list of terms, got {type(expr).__name__}")


def _ordered(outputs: Iterable[Term | None]) -> list[Term]:
    """Every node reachable from ``outputs``, each after its arguments, ties broken by uid (no recursion)."""
    nodes: dict[int, Term] = {}
    stack = [o for o in outputs if o is not None]
    while stack:
        node = stack.pop()
        if node.uid in nodes:
            continue
        nodes[node.uid] = node
        stack.extend(a for a in node.args if a.uid not in nodes)
    pending = {uid: len({a.uid for a in n.args}) for uid, n in nodes.items()}
    users: dict[int, list[int]] = {}
    for uid, n in nodes.items():
        for a in {a.uid for a in n.args}:
            users.setdefault(a, []).append(uid)
    heap = [uid for uid, k in pending.items() if k == 0]
    heapq.heapify(heap)
    order: list[Term] = []
    while heap:
        uid = heapq.heappop(heap)
        order.append(nodes[uid])
        for u in users.get(uid, ()):
            pending[u] -= 1
            if pending[u] == 0:
                heapq.heappush(heap, u)
    return order


def _use_counts(order: list[Term], outputs: Iterable[Term | None]) -> dict[int, int]:
    """How many times each node is referenced (argument positions plus outputs)."""
    uses: dict[int, int] = {}
    for node in order:
        for a in node.args:
            uses[a.uid] = uses.get(a.uid, 0) + 1
    for o in outputs:
        if o is not None:
            uses[o.uid] = uses.get(o.uid, 0) + 1
    return uses


def _is_trivial(node: Term) -> bool:
    """Leaves and cheap wrappers of a leaf are repeated rather than bound to a name."""
    if not node.args:
        return True
    return node.op in _CHEAP_WRAPPERS and all(not a.args for a in node.args)


def _fresh_prefix(base: str, taken: set[str]) -> str:
    """A binding-name prefix none of whose numbered names clashes with a leaf name."""
    prefix = base
    while any(re.fullmatch(re.escape(prefix) + r"\d+", n) for n in taken):
        prefix = "_" + prefix
    return prefix


def _leaf_names(order: list[Term]) -> dict[int, str | None]:
    """Display names of named leaves; distinct leaves sharing a name are told apart by uid."""
    by_name: dict[str, list[Term]] = {}
    for n in order:
        if n.op in ("input", "shared") and n.name:
            by_name.setdefault(n.name, []).append(n)
    out: dict[int, str | None] = {}
    for name, leaves in by_name.items():
        for leaf in leaves:
            out[leaf.uid] = name if len(leaves) == 1 else f"{name}#{leaf.uid}"
    return out


# ---- shared formatting helpers -----------------------------------------------------------
def _scalar_text(arr: np.ndarray) -> str:
    """A 0-d array's value as short text (the dtype's own shortest repr)."""
    return str(arr[()])


def _shape_text(shape: tuple[int, ...]) -> str:
    """A shape as numpy's constructors take it: ``3`` for one dim, ``(3, 4)`` otherwise."""
    return str(shape[0]) if len(shape) == 1 else str(tuple(shape))


def _const_structure(arr: np.ndarray) -> tuple[str, list[str], str | None] | None:
    """How a constant array is built, when it has a structure worth naming: ``(name, arguments,
    scale)`` for ``zeros(3)``, ``ones((2, 2))``, ``full(3, 2.5)``, ``eye(3)``, ``eye(3, 4, k=1)``,
    ``arange(5)``, or ``2.0 * eye(3)`` (scale ``"2.0"``); None for an array of no such structure.
    """
    shape = tuple(arr.shape)
    dtype = [] if arr.dtype.name in ("float64", "bool") else [f"dtype={arr.dtype.name}"]
    if arr.size == 0:
        return "zeros", [_shape_text(shape), *dtype], None
    flat = arr.reshape(-1)
    first = flat[0]
    if np.all(flat == first) and not (arr.dtype.kind == "f" and np.isnan(first)):
        if arr.dtype == bool:
            return "full", [_shape_text(shape), str(bool(first))], None
        if first == 0:
            return "zeros", [_shape_text(shape), *dtype], None
        if first == 1:
            return "ones", [_shape_text(shape), *dtype], None
        return "full", [_shape_text(shape), _scalar_text(np.asarray(first)), *dtype], None
    if arr.ndim == 1 and arr.dtype.kind in "iu" and np.array_equal(arr, np.arange(arr.size)):
        return "arange", [str(arr.size)], None
    if arr.ndim == 2 and arr.dtype != bool:
        n, m = shape
        for k in range(-n + 1, m):
            diag = np.diagonal(arr, offset=k)
            if diag.size and diag[0] != 0 and np.all(diag == diag[0]) and np.count_nonzero(arr) == diag.size:
                args = [str(n)] + ([str(m)] if m != n else []) + ([f"k={k}"] if k else []) + dtype
                scale = None if diag[0] == 1 else _scalar_text(np.asarray(diag[0]))
                return "eye", args, scale
    return None


def _const_text(node: Term, values: bool = False) -> str:
    """A constant: scalars as numbers; arrays by their structure (``eye(3)``, ``zeros(3)``, ``full((2, 2), 0.5)``),
    else small vectors as lists and others as ``const(shape)``, or with ``values`` their full values."""
    arr = node.value
    if arr.ndim == 0:
        return _scalar_text(arr)
    structure = _const_structure(arr)
    if structure is not None:
        name, args, scale = structure
        text = f"{name}({', '.join(args)})"
        if scale is None:
            return text
        return f"-{text}" if scale in ("-1", "-1.0") else f"{scale} * {text}"
    if arr.ndim == 1 and 0 < arr.size <= 4:
        return "[" + ", ".join(_scalar_text(v) for v in arr) + "]"
    if values:
        return f"array({arr.tolist()!r})"
    return f"const({_shape_text(tuple(arr.shape))})"


def _const_prec(text: str) -> int:
    """The precedence of a constant's text: a negative number is a unary minus, a scaled identity a product."""
    if text.startswith("-"):
        return P_MUL if " * " in text else P_UNARY
    return P_MUL if " * " in text else P_ATOM


def _attr_text(key: str, value: Any) -> str:
    """One attribute as ``key=value`` (a one-axis tuple shows as its int)."""
    if key == "axis" and isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, Constant):
        return f"{key}={value!r}"
    if isinstance(value, Term):
        return f"{key}={pprint_inline(value)}"
    return f"{key}={value!r}"


def _shown_attrs(node: Term) -> list[tuple[str, Any]]:
    """Attributes that differ from the op's defaults (all non-None ones for unregistered ops)."""

    opdef = REGISTRY.get(node.op)
    defaults = opdef.attrs if opdef is not None else {}
    sym = set(node.attr("sym", ()) or ()) | {"sym"}  # sizes given as arguments (eye(X.shape[1])) print as those
    shown = []
    for k, v in node.attrs:
        if k in sym and "sym" in defaults:
            continue
        if k == "dtype" and _dtype_is_implied(node):
            continue
        if k in defaults:
            try:
                same = bool(v == defaults[k])
            except Exception:  # noqa: BLE001 - an exotic attribute value: show it
                same = False
            if same:
                continue
        elif v is None:
            continue
        shown.append((k, v))
    return shown


def _dtype_is_implied(node: Term) -> bool:
    """The op would pick this dtype anyway (``eye(n)`` is floatX, ``arange(n)`` of ints int64): no need to print it."""

    attrs = {k: v for k, v in node.attrs if k != "dtype"}
    try:
        return apply(node.op, *node.args, **attrs) is node
    except Exception:  # noqa: BLE001 - an op that needs its dtype: print it
        return False


def _neg_scalar_const(node: Term) -> bool:
    """A 0-d numeric constant below zero (added as a subtraction)."""
    if node.op != "const" or node.ndim != 0 or node.dtype == "bool":
        return False
    v = node.value[()]
    return bool(v < 0)


def _is_minus_one(node: Term) -> bool:
    return node.op == "const" and node.ndim == 0 and node.dtype != "bool" and bool(node.value[()] == -1)


def _insertion_only(pattern: tuple) -> bool:
    """True if a dimshuffle pattern only inserts broadcastable dims, keeping the others in order."""
    dims = [p for p in pattern if p != "x"]
    return "x" in pattern and dims == list(range(len(dims)))


def _special_type_text(node: Term) -> str | None:
    """Text of a placeholder variable of DisconnectedType or NullType (else None)."""
    if isinstance(node.type, DisconnectedType):
        return f"<disconnected: {node.name}>" if node.name else "<disconnected>"
    if isinstance(node.type, NullType):
        why = node.type.why_null
        return f"<null {node.name}: {why}>" if node.name else f"<null: {why}>"
    return None


# ---- the layout engine -------------------------------------------------------------------
class _Layout:
    """Templates and precedences of every node, plus the names of bound shared subterms."""

    def __init__(self, outputs: list[Term | None], bind: bool, style: str, constants: bool = False) -> None:
        self.outputs = outputs
        self.constants = constants  # print the values of constants that have no structure to name
        self.order = _ordered(outputs)
        self.leaf_names = _leaf_names(self.order)
        self.style = style
        self.names: dict[int, str] = {}
        self.bound: list[Term] = []
        taken = {n for n in self.leaf_names.values() if n}
        self.prefix = _fresh_prefix("t", taken)
        self.out_prefix = _fresh_prefix("out", taken)
        if bind:
            uses = _use_counts(self.order, outputs)
            for node in self.order:
                if uses.get(node.uid, 0) > 1 and not _is_trivial(node):
                    self.bound.append(node)
                    k = len(self.bound)
                    self.names[node.uid] = f"{_latex_escape(self.prefix)}_{{{k}}}" if style == "latex" else f"{self.prefix}{k}"
        self.tmpl: dict[int, list] = {}
        self.prec: dict[int, int] = {}
        build = _text_template if style == "text" else _latex_template
        for node in self.order:
            parts, prec = build(node, self)
            self.tmpl[node.uid] = parts
            self.prec[node.uid] = prec

    # helpers used by the template builders
    def p(self, child: Term) -> int:
        """Effective precedence of a child reference (a bound name is atomic)."""
        return P_ATOM if child.uid in self.names else self.prec[child.uid]

    def is_open(self, child: Term, op: str) -> bool:
        """True if the child is an unbound node of ``op`` (so its structure is visible)."""
        return child.op == op and child.uid not in self.names

    def wrap(self, child: Term, minprec: int) -> list:
        """The child reference, parenthesised if it binds more loosely than ``minprec``."""
        if self.p(child) >= minprec:
            return [child]
        if self.style == "latex":
            return [r"\left(", child, r"\right)"]
        return ["(", child, ")"]

    def render(self, parts: list, cap: int | None = None) -> str:
        """Expand a template into text with an explicit stack (stopping past ``cap`` characters)."""
        out: list[str] = []
        size = 0
        stack = list(reversed(parts))
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                out.append(item)
                size += len(item)
                if cap is not None and size > cap:
                    return "".join(out)[:cap] + "..."
                continue
            name = self.names.get(item.uid)
            if name is not None:
                stack.append(name)
            else:
                stack.extend(reversed(self.tmpl[item.uid]))
        return "".join(out)

    def render_node(self, node: Term, cap: int | None = None) -> str:
        """A node's own text (its template expanded even when the node is bound)."""
        return self.render(self.tmpl[node.uid], cap)


def _joined_args(layout: _Layout, node: Term, lp: str = "(", rp: str = ")", fmt_attr: Callable[[str, Any], str] = _attr_text) -> list:
    parts: list = [lp]
    for i, a in enumerate(node.args):
        if i:
            parts.append(", ")
        parts.append(a)
    for k, v in _shown_attrs(node):
        parts.append(", " if parts[-1] != lp else "")
        parts.append(fmt_attr(k, v))
    parts.append(rp)
    return parts


# ---- text templates ----------------------------------------------------------------------
def _text_leaf(node: Term, layout: _Layout) -> tuple[list, int]:
    special = _special_type_text(node)
    if special is not None:
        return [special], P_ATOM
    if node.op == "const":
        text = _const_text(node, layout.constants)
        return [text], _const_prec(text)
    name = layout.leaf_names.get(node.uid) or f"<{node.op}#{node.uid}>"
    return [name], P_ATOM


def _text_template(node: Term, L: _Layout) -> tuple[list, int]:  # noqa: N803
    op, args = node.op, node.args
    if not args and op in ("input", "shared", "const"):
        return _text_leaf(node, L)
    if op == "add":
        return _text_add(node, L), P_ADD
    if op == "mul":
        return _text_mul(node, L), P_MUL
    if op == "sub":
        return [*L.wrap(args[0], P_ADD), " - ", *L.wrap(args[1], P_MUL)], P_ADD
    if op == "true_div":
        return [*L.wrap(args[0], P_MUL), " / ", *L.wrap(args[1], P_UNARY)], P_MUL
    if op == "reciprocal":
        return ["1 / ", *L.wrap(args[0], P_UNARY)], P_MUL
    if op == "matmul":
        return [*L.wrap(args[0], P_MUL), " @ ", *L.wrap(args[1], P_UNARY)], P_MUL
    if op == "neg":
        return ["-", *L.wrap(args[0], P_UNARY)], P_UNARY
    if op == "not_":
        return ["~", *L.wrap(args[0], P_UNARY)], P_UNARY
    if op == "pow":
        return [*L.wrap(args[0], P_ATOM), " ** ", *L.wrap(args[1], P_UNARY)], P_POW
    if op in _CMP_TEXT and len(args) == 2:
        return [*L.wrap(args[0], P_CMP + 1), _CMP_TEXT[op], *L.wrap(args[1], P_CMP + 1)], P_CMP
    if op == "and_":
        return [*L.wrap(args[0], P_AND), " & ", *L.wrap(args[1], P_AND + 1)], P_AND
    if op == "or_":
        return [*L.wrap(args[0], P_OR), " | ", *L.wrap(args[1], P_OR + 1)], P_OR
    if op == "dimshuffle" and len(args) == 1:
        return _text_dimshuffle(node, L), P_ATOM
    if op == "shape_i" and len(args) == 1:
        return [*L.wrap(args[0], P_ATOM), f".shape[{node.attr('i')}]"], P_ATOM
    if op == "scan":
        return _text_scan(node, L), P_ATOM
    indexed = _indexing_parts(node, L, "[", "]")
    if indexed is not None:
        return indexed, P_ATOM
    return [op, *_joined_args(L, node)], P_ATOM


def _state_name(init: Term, k: int) -> str:
    """A recurrent output's display name: its initial state's name without a trailing 0 (``h0`` -> ``h``)."""
    base = init.args[0] if init.op in ("dimshuffle", "subtensor") and init.args else init
    name = base.name if base.op in ("input", "shared") and base.name else None
    if name and name.isidentifier():
        return name[:-1] if name.endswith("0") and len(name) > 1 else name + "_"
    return f"s{k}"


def _text_scan(node: Term, L: _Layout) -> list:  # noqa: N803
    """A loop as its recurrence: ``scan(h[t] = tanh(W @ h[t-1] + x[t])  for t in 0..n, h[-1] = h0)``."""

    body = node.attr("body")
    n, xs, zs, ns = body.split_args(node.args)
    ph_seqs, ph_states, ph_ns = body.split_inputs()
    mapping: dict = {}
    where: list = []  # sequences and non-sequences that are not variables: named, and shown after the loop
    for j, (v, p) in enumerate(zip(ns, ph_ns)):
        if v.op in ("input", "shared", "const"):
            mapping[p] = v
        else:
            mapping[p] = p.type(f"c{j}")
            where += [f", c{j} = ", v]
    for i, (x, offs, rev, phs) in enumerate(zip(xs, body.seq_offsets, body.seq_rev, ph_seqs)):
        xt = x.name if x.op in ("input", "shared") and x.name else f"xs{i}"
        if xt == f"xs{i}":
            where += [f", xs{i} = ", x]
        for o, p in zip(offs, phs):
            at = (f"n-1-t+{o}" if o else "n-1-t") if rev else (f"t+{o}" if o else "t")
            mapping[p] = p.type(f"{xt}[{at}]")
    names = [_state_name(z, k) for k, z in enumerate(zs)] + [f"y{j}" for j in range(len(body.outputs) - body.n_states)]
    for k, (taps, phs) in enumerate(zip(body.state_taps, ph_states)):
        for tap, p in zip(taps, phs):
            mapping[p] = p.type(f"{names[k]}[t{tap}]")
    shown = replace(list(body.outputs) + ([body.cond] if body.cond is not None else []), mapping)
    eqs = "; ".join(f"{names[k]}[t] = {pprint_inline(o, 400)}" for k, o in enumerate(shown[: len(body.outputs)]))
    if body.cond is not None:
        eqs += f"  until {pprint_inline(shown[-1], 200)}"
    parts: list = [f"scan({eqs}  for t in 0..", n]
    for k, (z, taps) in enumerate(zip(zs, body.state_taps)):
        lag = -min(taps)
        if lag == 1 and z.op == "dimshuffle" and tuple(z.attr("pattern"))[:1] == ("x",):
            parts += [f", {names[k]}[-1] = ", z.args[0]]
        else:
            parts += [f", {names[k]}[-{lag}:] = ", z]
    parts += where
    parts.append(")")
    if len(body.outputs) > 1:
        parts.append(f".{names[node.attr('out')]}")
    return parts


_INDEXING_OPS = {"subtensor": 1, "set_subtensor": 2, "inc_subtensor": 2}


def _indexing_parts(node: Term, L: _Layout, lb: str, rb: str) -> list | None:  # noqa: N803
    """``x[1:3, None, i]`` for subtensor, ``set_subtensor(x[...], y)`` for writes; None if the index is unfamiliar."""
    first_array = _INDEXING_OPS.get(node.op)
    idx = node.attr("idx")
    if first_array is None or not isinstance(idx, tuple) or len(node.args) < first_array:
        return None
    items: list = []
    for e in idx:
        kind = e[0] if isinstance(e, tuple) and e else None
        if kind == "int" and len(e) == 2:
            items.append(str(e[1]))
        elif kind == "none":
            items.append("None" if L.style == "text" else r"\mathrm{None}")
        elif kind == "slice" and len(e) == 4:
            if any(isinstance(v, tuple) for v in e[1:]):  # bounds read at run time: the argument terms
                bound: list = []
                for k, v in enumerate(e[1:] if e[3] is not None else e[1:3]):
                    if k:
                        bound.append(":")
                    if isinstance(v, tuple) and 0 <= first_array + v[1] < len(node.args):
                        bound.append(node.args[first_array + v[1]])
                    elif v is not None:
                        bound.append(str(v))
                items.append(bound)
                continue
            start, stop, step = ("" if v is None else str(v) for v in e[1:])
            items.append(f"{start}:{stop}" + (f":{step}" if step else ""))
        elif kind in ("adv", "mask") and len(e) == 2 and 0 <= first_array + e[1] < len(node.args):
            items.append(node.args[first_array + e[1]])
        else:
            return None
    inner: list = []
    for i, item in enumerate(items):
        if i:
            inner.append(", ")
        inner.extend(item if isinstance(item, list) else [item])
    parts = [*L.wrap(node.args[0], P_ATOM), lb, *(inner or ["..."]), rb]
    if node.op == "subtensor":
        return parts
    return [node.op, "(" if L.style == "text" else r"\left(", *parts, ", ", node.args[1], ")" if L.style == "text" else r"\right)"]


def _text_add(node: Term, L: _Layout, number: Callable[[str], str] = str) -> list:  # noqa: N803
    signed: list[tuple[str, Any]] = []
    for a in node.args:
        if L.is_open(a, "neg"):
            signed.append(("-", a.args[0]))
        elif _neg_scalar_const(a):
            signed.append(("-", number(_scalar_text(-a.value))))
        else:
            signed.append(("+", a))
    if signed[0][0] == "-":
        first_pos = next((i for i, (s, _) in enumerate(signed) if s == "+"), None)
        if first_pos is not None:
            signed.insert(0, signed.pop(first_pos))
    parts: list = []
    for i, (sign, item) in enumerate(signed):
        if isinstance(item, str):
            body = [item]
        else:
            # a nested sum needs no parentheses anywhere in a sum (addition is associative)
            nested = sign == "+" and (L.is_open(item, "add") or L.is_open(item, "sub"))
            body = L.wrap(item, P_UNARY if (i == 0 and sign == "-") else (P_ADD if i == 0 or nested else P_MUL))
        if i == 0:
            parts.extend(["-", *body] if sign == "-" else body)
        else:
            parts.extend([f" {sign} ", *body])
    return parts


def _mul_factors(node: Term, L: _Layout) -> tuple[list[Term], list[Term]]:  # noqa: N803
    """Split a product into numerator and denominator factors (reciprocals and pow(d, -1) divide)."""
    num: list[Term] = []
    den: list[Term] = []
    for a in node.args:
        if L.is_open(a, "reciprocal"):
            den.append(a.args[0])
        elif L.is_open(a, "pow") and _is_minus_one(a.args[1]):
            den.append(a.args[0])
        else:
            num.append(a)
    return num, den


def _is_open_product(L: _Layout, a: Term) -> bool:  # noqa: N803
    """A nested product or quotient needs no parentheses as a factor (multiplication is associative)."""
    return L.is_open(a, "mul") or L.is_open(a, "true_div")


def _text_mul(node: Term, L: _Layout) -> list:  # noqa: N803
    num, den = _mul_factors(node, L)
    parts: list = []
    for i, a in enumerate(num):
        if i:
            parts.append(" * ")
        parts.extend(L.wrap(a, P_MUL if i == 0 or _is_open_product(L, a) else P_UNARY))
    if not num:
        parts.append("1")
    for d in den:
        parts.extend([" / ", *L.wrap(d, P_UNARY)])
    return parts


def _text_dimshuffle(node: Term, L: _Layout) -> list:  # noqa: N803
    x = node.args[0]
    pattern = tuple(node.attr("pattern", ()))
    base = L.wrap(x, P_ATOM)
    if pattern == (1, 0):
        return [*base, ".T"]
    if "x" not in pattern and sorted(pattern) == list(range(len(pattern))) and len(pattern) == x.ndim:
        return [*base, ".transpose(", ", ".join(str(p) for p in pattern), ")"]
    if _insertion_only(pattern) and len(pattern) - pattern.count("x") == x.ndim:
        idx = ["None" if p == "x" else ":" for p in pattern]
        while idx and idx[-1] == ":":
            idx.pop()
        return [*base, "[", ", ".join(idx), "]"]
    return ["dimshuffle(", x, *[f", {p!r}" for p in pattern], ")"]


# ---- LaTeX templates ---------------------------------------------------------------------
_GREEK = frozenset(
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau upsilon phi chi psi omega "
    "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split()
)
_LATEX_FUNCS = {
    "exp": r"\exp",
    "log": r"\log",
    "sin": r"\sin",
    "cos": r"\cos",
    "tan": r"\tan",
    "tanh": r"\tanh",
    "sinh": r"\sinh",
    "cosh": r"\cosh",
    "arcsin": r"\arcsin",
    "arccos": r"\arccos",
    "arctan": r"\arctan",
    "sigmoid": r"\sigma",
    "maximum": r"\max",
    "minimum": r"\min",
}
_LATEX_REDUCE = {"sum": r"\sum", "prod": r"\prod", "max": r"\max", "min": r"\min", "mean": r"\operatorname{mean}"}


def _latex_escape(text: str) -> str:
    """Escape LaTeX's special characters in plain text."""
    out = []
    for ch in text:
        if ch in "_{}#%&$":
            out.append("\\" + ch)
        elif ch == "\\":
            out.append(r"\backslash ")
        elif ch in "^~":
            out.append(r"\text{" + ch + "}")
        else:
            out.append(ch)
    return "".join(out)


def _latex_word(word: str) -> str:
    if word in _GREEK:
        return "\\" + word
    if len(word) == 1:
        return word
    return r"\mathrm{" + _latex_escape(word) + "}"


def _latex_name(name: str) -> str:
    """A variable name as LaTeX: ``W1`` -> ``W_{1}``, ``alpha`` -> ``\\alpha``, ``loss`` -> ``\\mathrm{loss}``."""
    m = re.fullmatch(r"([A-Za-z]+)_?([0-9]+|[A-Za-z])", name)
    if m and (m.group(2).isdigit() or "_" in name):
        return f"{_latex_word(m.group(1))}_{{{m.group(2)}}}"
    if re.fullmatch(r"[A-Za-z]+", name):
        return _latex_word(name)
    return r"\mathrm{" + _latex_escape(name) + "}"


def _latex_number(text: str) -> str:
    if text in ("inf", "-inf"):
        return text.replace("inf", r"\infty")
    if text == "nan":
        return r"\mathrm{NaN}"
    m = re.fullmatch(r"(-?[0-9.]+)e([+-]?)0*([0-9]+)", text)
    if m:
        sign = "-" if m.group(2) == "-" else ""
        return rf"{m.group(1)} \cdot 10^{{{sign}{m.group(3)}}}"
    if text.endswith(".0"):
        return text[:-2]
    return text


def _latex_leaf(node: Term, L: _Layout) -> tuple[list, int]:  # noqa: N803
    if isinstance(node.type, DisconnectedType):
        return [r"\mathrm{disconnected}"], P_ATOM
    if isinstance(node.type, NullType):
        return [r"\mathrm{null}"], P_ATOM
    if node.op == "const":
        arr = node.value
        if arr.ndim == 0:
            text = _latex_number(_scalar_text(arr))
            return [text], (P_MUL if text.startswith("-") or r"\cdot" in text else P_ATOM)
        structure = _const_structure(arr)
        if structure is not None:
            name, args, scale = structure
            text = rf"\mathrm{{{name}}}\left(" + _latex_escape(", ".join(args)) + r"\right)"
            if scale is None:
                return [text], P_ATOM
            return [_latex_number(scale) + r" \cdot " + text], P_MUL
        if arr.ndim == 1 and 0 < arr.size <= 4:
            return [r"\left[" + ", ".join(_latex_number(_scalar_text(v)) for v in arr) + r"\right]"], P_ATOM
        return [r"\mathrm{const}\left(" + r" \times ".join(str(d) for d in arr.shape) + r"\right)"], P_ATOM
    name = node.name
    if not name:
        return [rf"\mathrm{{{node.op}}}_{{{node.uid}}}"], P_ATOM
    text = _latex_name(name)
    if L.leaf_names.get(node.uid) != name:
        text = f"{{{text}}}_{{\\#{node.uid}}}"
    return [text], P_ATOM


def _latex_attr(key: str, value: Any) -> str:
    return _latex_escape(_attr_text(key, value))


def _latex_template(node: Term, L: _Layout) -> tuple[list, int]:  # noqa: N803
    op, args = node.op, node.args
    if not args and op in ("input", "shared", "const"):
        return _latex_leaf(node, L)
    if op == "scan":  # the recurrence as text, its outer arguments as LaTeX
        parts = _text_scan(node, L)
        return [r"\text{" + _latex_escape(p) + "}" if isinstance(p, str) else p for p in parts], P_ATOM
    if op == "add":
        return _latex_add(node, L), P_ADD
    if op == "mul":
        return _latex_mul(node, L)
    if op == "sub":
        return [*L.wrap(args[0], P_ADD), " - ", *L.wrap(args[1], P_MUL)], P_ADD
    if op == "true_div":
        return [r"\frac{", args[0], "}{", args[1], "}"], P_UNARY
    if op == "reciprocal":
        return [r"\frac{1}{", args[0], "}"], P_UNARY
    if op == "neg":
        a = args[0]
        inner = L.wrap(a, P_MUL) if not (L.is_open(a, "neg") or _neg_scalar_const(a)) else [r"\left(", a, r"\right)"]
        return ["-", *inner], P_MUL
    if op == "pow":
        return [*L.wrap(args[0], P_ATOM), "^{", args[1], "}"], P_POW
    if op == "sqr":
        return [*L.wrap(args[0], P_ATOM), "^{2}"], P_POW
    if op == "sqrt":
        return [r"\sqrt{", args[0], "}"], P_ATOM
    if op == "abs":
        return [r"\left|", args[0], r"\right|"], P_ATOM
    if op == "floor":
        return [r"\left\lfloor ", args[0], r" \right\rfloor"], P_ATOM
    if op == "ceil":
        return [r"\left\lceil ", args[0], r" \right\rceil"], P_ATOM
    if op in ("dot", "matmul"):
        left = L.wrap(args[0], P_MAT) if args[0].op in ("dot", "matmul") else L.wrap(args[0], P_UNARY)
        return [*left, r" \, ", *L.wrap(args[1], P_UNARY)], P_MAT
    if op in _CMP_LATEX and len(args) == 2:
        return [*L.wrap(args[0], P_CMP + 1), _CMP_LATEX[op], *L.wrap(args[1], P_CMP + 1)], P_CMP
    if op == "and_":
        return [*L.wrap(args[0], P_AND), r" \land ", *L.wrap(args[1], P_AND + 1)], P_AND
    if op == "or_":
        return [*L.wrap(args[0], P_OR), r" \lor ", *L.wrap(args[1], P_OR + 1)], P_OR
    if op == "not_":
        return [r"\lnot ", *L.wrap(args[0], P_UNARY)], P_UNARY
    if op == "switch" and len(args) == 3:
        return [r"\begin{cases} ", args[1], r" & \text{if } ", args[0], r" \\ ", args[2], r" & \text{otherwise} \end{cases}"], P_ATOM
    if op == "dimshuffle" and tuple(node.attr("pattern", ())) == (1, 0):
        return [*L.wrap(args[0], P_ATOM), "^{T}"], P_POW
    if op in _LATEX_REDUCE and len(args) == 1:
        subs = []
        axis = node.attr("axis")
        if axis is not None:
            subs.append(r"\mathrm{axis}=" + ", ".join(str(a) for a in (axis if isinstance(axis, tuple) else (axis,))))
        if node.attr("keepdims"):
            subs.append(r"\mathrm{keepdims}")
        sub = "_{" + r",\,".join(subs) + "}" if subs else ""
        return [_LATEX_REDUCE[op], sub, " ", *L.wrap(args[0], P_POW)], P_ADD
    indexed = _indexing_parts(node, L, r"\left[", r"\right]")
    if indexed is not None:
        if op != "subtensor":
            indexed[0] = r"\operatorname{" + _latex_escape(op) + "}"
        return indexed, P_ATOM
    if op in _LATEX_FUNCS and not _shown_attrs(node):
        return [_LATEX_FUNCS[op], *_joined_args(L, node, r"\left(", r"\right)")], P_ATOM
    return [r"\operatorname{" + _latex_escape(op) + "}", *_joined_args(L, node, r"\left(", r"\right)", _latex_attr)], P_ATOM


def _latex_add(node: Term, L: _Layout) -> list:  # noqa: N803
    return _text_add(node, L, _latex_number)


def _latex_mul(node: Term, L: _Layout) -> tuple[list, int]:  # noqa: N803
    num, den = _mul_factors(node, L)
    if den:
        top: list = ["1"] if not num else []
        for i, a in enumerate(num):
            top.extend(([r" \cdot "] if i else []) + L.wrap(a, P_MUL if i == 0 else P_MAT))
        bottom: list = []
        for i, d in enumerate(den):
            bottom.extend(([r" \cdot "] if i else []) + L.wrap(d, P_MUL if i == 0 else P_MAT))
        return [r"\frac{", *top, "}{", *bottom, "}"], P_UNARY
    parts: list = []
    for i, a in enumerate(num):
        parts.extend(([r" \cdot "] if i else []) + L.wrap(a, P_MUL if i == 0 or L.is_open(a, "mul") else P_MAT))
    return parts, P_MUL


# ---- public text views ---------------------------------------------------------------------
def pprint_inline(term: Term, cap: int = INLINE_CAP) -> str:
    """One-line infix text of a term, shared subterms repeated, cut with '...' past ``cap`` characters."""
    layout = _Layout([term], bind=False, style="text")
    return layout.render_node(term, cap)


def pprint(expr: Any, constants: bool = False) -> str:
    """Infix text of a term or list of terms; shared subterms are bound once as ``t1 = ...``.

    Constant arrays print by their structure (``eye(3)``, ``zeros(3)``, ``full((2, 2), 0.5)``), else
    as ``const(shape)`` so that a large array does not drown the formula; ``constants=True`` prints
    those with their values.
    """
    outputs, single = _as_outputs(expr)
    layout = _Layout(outputs, bind=True, style="text", constants=constants)
    lines = [f"{layout.names[n.uid]} = {layout.render_node(n)}" for n in layout.bound]
    for i, o in enumerate(outputs):
        text = "None" if o is None else layout.render([o])
        lines.append(text if single else f"{layout.out_prefix}{i} = {text}")
    return "\n".join(lines)


def latex(expr: Any) -> str:
    """LaTeX of a term or list of terms (shared subterms bound in an ``aligned`` block)."""
    outputs, single = _as_outputs(expr)
    layout = _Layout(outputs, bind=True, style="latex")
    finals = ["\\mathrm{None}" if o is None else layout.render([o]) for o in outputs]
    if single and not layout.bound:
        return finals[0]
    lines = [f"{layout.names[n.uid]} &= {layout.render_node(n)}" for n in layout.bound]
    if single:
        lines.append(f"& {finals[0]}")
    else:
        lines.extend(f"\\mathrm{{{layout.out_prefix}}}_{{{i}}} &= {t}" for i, t in enumerate(finals))
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


# ---- SymPy ---------------------------------------------------------------------------------
def _sympy_number(arr: np.ndarray) -> Any:
    import sympy as sp

    v = arr[()]
    if arr.dtype == np.bool_:
        return sp.true if v else sp.false
    if arr.dtype.kind in "iu":
        return sp.Integer(int(v))
    f = float(v)
    if np.isfinite(f) and f == int(f):
        return sp.Integer(int(f))
    if np.isnan(f):
        return sp.nan
    if np.isinf(f):
        return sp.oo if f > 0 else -sp.oo
    return sp.Float(f)


def to_sympy(expr: Term, symbols: dict[Term, Any] | None = None) -> Any:
    """The SymPy expression of an elementwise term (variables become Symbols named after the terms)."""
    import sympy as sp

    if not isinstance(expr, Term):
        raise RewriteDiffTypeError(f"to_sympy: expected a term, got {type(expr).__name__}")

    order = _ordered([expr])
    names = _leaf_names(order)
    given = {t.uid: s for t, s in (symbols or {}).items()}
    done: dict[int, Any] = {}
    for node in order:
        if node.uid in given:
            done[node.uid] = given[node.uid]
            continue
        if node.op in ("input", "shared"):
            if not isinstance(node.type, TensorType):
                raise RewriteDiffTypeError(f"to_sympy: {_special_type_text(node)} has no value to express")
            name = names.get(node.uid) or f"{node.op}{node.uid}"
            done[node.uid] = sp.Symbol(name.replace("#", "_"))
            continue
        if node.op == "const":
            if node.ndim != 0:
                raise RewriteDiffTypeError(f"to_sympy: constant {_const_text(node)} is not a scalar")
            done[node.uid] = _sympy_number(node.value)
            continue
        args = [done[a.uid] for a in node.args]
        if node.op == "cast":
            if node.dtype.startswith("float") or node.dtype == node.args[0].dtype:
                done[node.uid] = args[0]
                continue
            raise RewriteDiffTypeError(f"to_sympy: op 'cast' to {node.dtype} has no SymPy equivalent")
        fn = sympy_function(node.op)
        if fn is None:
            raise RewriteDiffTypeError(f"to_sympy: op {node.op!r} has no SymPy equivalent (only elementwise ops convert)")
        attrs = dict(node.attrs)
        done[node.uid] = fn(*args, **attrs) if attrs else fn(*args)
    return done[expr.uid]


def _from_sympy_number(e: Any) -> int | float | bool:
    import sympy as sp

    if isinstance(e, sp.logic.boolalg.BooleanAtom):
        return bool(e)
    if e.is_Integer:
        return int(e)
    try:
        z = complex(sp.N(e))
    except (TypeError, ValueError) as exc:
        raise RewriteDiffTypeError(f"from_sympy: cannot evaluate {e} to a number") from exc
    if z.imag != 0:
        raise RewriteDiffTypeError(f"from_sympy: {e} is not real")
    return z.real


_SYMPY_UNARY = {
    "exp": "exp",
    "log": "log",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "tanh": "tanh",
    "sinh": "sinh",
    "cosh": "cosh",
    "asin": "arcsin",
    "acos": "arccos",
    "atan": "arctan",
    "Abs": "abs",
    "sign": "sign",
    "floor": "floor",
    "ceiling": "ceil",
    "log1p": "log1p",
    "expm1": "expm1",
    "Not": "not_",
}
_SYMPY_RECIPROCAL = {"sec": "cos", "csc": "sin", "cot": "tan", "sech": "cosh", "csch": "sinh", "coth": "tanh"}
_SYMPY_BINARY = {
    "StrictLessThan": "lt",
    "StrictGreaterThan": "gt",
    "LessThan": "le",
    "GreaterThan": "ge",
    "Equality": "eq",
    "Unequality": "neq",
}
_SYMPY_FOLD = {"Max": "maximum", "Min": "minimum", "And": "and_", "Or": "or_", "Add": "add", "Mul": "mul"}


def _frontend() -> Any:
    """The frontend module (its name is shadowed on the package by the ``tensor`` constructor)."""
    return importlib.import_module("rewritediff.tensor")


class _Pending:
    """A numeric SymPy subexpression, turned into a constant once a sibling term gives its dtype."""

    __slots__ = ("expr",)

    def __init__(self, expr: Any) -> None:
        self.expr = expr


def _terms(values: Sequence[Any]) -> list[Term]:
    """Converted arguments as terms, numbers taking the dtype of the first term among them (weakly)."""
    as_term = _frontend().as_term
    like = next((v for v in values if isinstance(v, Term)), None)
    return [v if isinstance(v, Term) else as_term(_from_sympy_number(v.expr), like) for v in values]


def from_sympy(expr: Any, mapping: dict[Any, Term] | None = None) -> Term:
    """The term of a SymPy expression; ``mapping`` sends each Symbol (or its name) to a term."""
    mapping = mapping or {}
    by_name = {(k if isinstance(k, str) else str(k)): v for k, v in mapping.items()}
    done: dict[int, Any] = {}
    keep: list[Any] = []  # holds every visited object so ids stay unique during the walk
    stack: list[tuple[Any, bool]] = [(expr, False)]
    while stack:
        e, expanded = stack.pop()
        if id(e) in done:
            continue
        if not expanded:
            keep.append(e)
            stack.append((e, True))
            stack.extend((a, False) for a in reversed(e.args) if id(a) not in done)
            continue
        done[id(e)] = _convert_sympy_node(e, [done[id(a)] for a in e.args], by_name, lambda obj: done[id(obj)])
    out = done[id(expr)]
    if isinstance(out, _Pending):
        return constant(_from_sympy_number(out.expr))
    if not isinstance(out, Term):
        raise RewriteDiffTypeError(f"from_sympy: {expr} is not an expression")
    return out


def _convert_sympy_node(e: Any, kids: list[Any], by_name: dict[str, Term], lookup: Callable[[Any], Any]) -> Any:
    """Convert one SymPy node whose arguments are already converted (``kids``)."""
    import sympy as sp

    T = _frontend()

    if e.is_Symbol:
        term = by_name.get(e.name)
        if term is None:
            raise RewriteDiffTypeError(f"from_sympy: no term given for symbol {e.name!r}")
        return term
    if isinstance(e, sp.logic.boolalg.BooleanAtom) or e.is_Number or e.is_NumberSymbol:
        return _Pending(e)
    name = type(e).__name__
    if name == "ExprCondPair":
        return tuple(kids)
    if name == "Piecewise":
        return _piecewise_from_sympy(e, kids)
    if kids and all(isinstance(k, _Pending) for k in kids):
        return _Pending(e)
    if name == "Mul":
        return _mul_from_sympy(e, kids, lookup)
    if name == "Pow":
        return _pow_from_sympy(kids[0], kids[1])
    if name in _SYMPY_FOLD:
        terms = _terms(kids)
        if name in ("Add", "Mul"):
            return apply(_SYMPY_FOLD[name], *terms)
        out = terms[0]
        for t in terms[1:]:
            out = apply(_SYMPY_FOLD[name], out, t)
        return out
    if name in _SYMPY_UNARY and len(kids) == 1:
        return apply(_SYMPY_UNARY[name], *_terms(kids))
    if name in _SYMPY_RECIPROCAL and len(kids) == 1:
        return T.reciprocal(apply(_SYMPY_RECIPROCAL[name], *_terms(kids)))
    if name in _SYMPY_BINARY and len(kids) == 2:
        return apply(_SYMPY_BINARY[name], *_terms(kids))
    if name in ("asinh", "acosh", "atanh") and len(kids) == 1:
        (x,) = _terms(kids)
        if name == "asinh":
            return T.log(x + T.sqrt(T.sqr(x) + 1.0))
        if name == "acosh":
            return T.log(x + T.sqrt(T.sqr(x) - 1.0))
        return 0.5 * T.log((1.0 + x) / (1.0 - x))
    opdef = REGISTRY.get(name)
    if opdef is not None and opdef.elementwise and opdef.arity_ok(len(kids)):
        return apply(name, *_terms(kids))
    raise RewriteDiffTypeError(f"from_sympy: no rewritediff op for SymPy {name} (in {e})")


def _mul_from_sympy(e: Any, kids: list[Any], lookup: Callable[[Any], Any]) -> Term:
    """A SymPy product as numerator / denominator, a -1 coefficient becoming a negation."""
    T = _frontend()

    coeff = 1.0
    num: list[Term] = []
    den: list[Term] = []
    for a, k in zip(e.args, kids):
        if isinstance(k, _Pending):
            coeff *= float(_from_sympy_number(k.expr))
        elif a.is_Pow and a.exp.is_Number and a.exp.is_negative and isinstance(lookup(a.base), Term):
            den.append(_pow_from_sympy(lookup(a.base), _Pending(-a.exp)))
        else:
            num.append(k)
    negate = coeff < 0
    coeff = abs(coeff)
    if coeff != 1.0 or not (num or den):
        num.insert(0, T.as_term(coeff, (num or den or [None])[0]))
    top = (num[0] if len(num) == 1 else T.mul(*num)) if num else None
    if den:
        bottom = den[0] if len(den) == 1 else T.mul(*den)
        out = T.reciprocal(bottom) if top is None else T.true_div(top, bottom)
    else:
        out = top
    return T.neg(out) if negate else out


def _pow_from_sympy(b: Any, k: Any) -> Term:
    """``b ** k`` with the common exponents as their own ops (sqr, sqrt, reciprocal)."""
    T = _frontend()

    if isinstance(b, Term) and isinstance(k, _Pending):
        v = _from_sympy_number(k.expr)
        special = {1: lambda: b, 2: lambda: T.sqr(b), 0.5: lambda: T.sqrt(b), -1: lambda: T.reciprocal(b), -0.5: lambda: T.reciprocal(T.sqrt(b))}
        if v in special:
            return special[v]()
    b_t, k_t = _terms([b, k])
    return T.pow(b_t, k_t)


def _piecewise_from_sympy(e: Any, kids: list[Any]) -> Any:
    """Nested switches from a Piecewise whose last branch is the otherwise branch."""
    T = _frontend()

    *rest, (out, last_cond) = kids
    if not (isinstance(last_cond, _Pending) and _from_sympy_number(last_cond.expr) is True):
        raise RewriteDiffTypeError(f"from_sympy: Piecewise without an otherwise branch: {e}")
    for val, cond in reversed(rest):
        if isinstance(cond, _Pending):
            if _from_sympy_number(cond.expr):
                out = val
            continue
        val_t, out_t = _terms([val, out])
        out = T.switch(cond, val_t, out_t)
    return out


# ---- Graphviz --------------------------------------------------------------------------------
def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot_label(node: Term, leaf_names: dict[int, str | None]) -> tuple[str, str]:
    """Label and shape of one DOT node."""
    ttype = str(node.type)
    if node.op in ("input", "shared"):
        special = _special_type_text(node)
        if special is not None:
            return special, "octagon"
        name = leaf_names.get(node.uid) or f"<{node.op}#{node.uid}>"
        return f"{name}\n{ttype}" + ("\nshared" if node.op == "shared" else ""), "ellipse"
    if node.op == "const":
        return f"{_const_text(node)}\n{ttype}", "plaintext"
    attrs = "".join("\n" + _attr_text(k, v) for k, v in _shown_attrs(node))
    return f"{node.op}{attrs}\n{ttype}", "box"


def dot_graph(expr: Any, path: str | Path | None = None, format: str | None = None) -> str:  # noqa: A002 - graphviz's name
    """Graphviz DOT text of the DAG (one node per distinct term, edges labelled by argument position).

    With ``path``, the graph is also written there: rendered to ``format`` (default: the
    path's suffix, e.g. svg or png) when the optional ``graphviz`` Python package or the
    ``dot`` program is installed; otherwise (or for a ``.dot``/``.gv`` path) the DOT text
    itself is written, to ``path`` with its suffix replaced by ``.dot``, with a warning.
    """
    outputs, _ = _as_outputs(expr)
    order = _ordered(outputs)
    leaf_names = _leaf_names(order)
    lines = ["digraph rewritediff {", '  node [fontname="Helvetica", fontsize=11];', '  edge [fontname="Helvetica", fontsize=9];']
    for node in order:
        label, shape = _dot_label(node, leaf_names)
        lines.append(f"  n{node.uid} [label={_dot_quote(label)}, shape={shape}];")
    for node in order:
        for i, a in enumerate(node.args):
            lines.append(f'  n{a.uid} -> n{node.uid} [label="{i}"];')
    for i, o in enumerate(outputs):
        if o is not None:
            lines.append(f'  out{i} [label="out{i}", shape=plaintext];')
            lines.append(f"  n{o.uid} -> out{i} [style=bold];")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if path is not None:
        _write_graph(text, Path(path), format)
    return text


def _write_graph(text: str, path: Path, fmt: str | None) -> None:
    """Render DOT text to ``path`` if a Graphviz renderer is available, else write the text."""
    fmt = (fmt or path.suffix.lstrip(".") or "dot").lower()
    if fmt in ("dot", "gv"):
        path.write_text(text)
        return
    try:
        import graphviz  # type: ignore[import-not-found]
    except ImportError:
        graphviz = None
    if graphviz is not None:
        path.write_bytes(graphviz.Source(text).pipe(format=fmt))
        return
    exe = shutil.which("dot")
    if exe is not None:
        subprocess.run([exe, f"-T{fmt}", "-o", str(path)], input=text.encode(), check=True)
        return
    fallback = path.with_suffix(".dot")
    fallback.write_text(text)
    warnings.warn(f"dot_graph: no Graphviz renderer (install the graphviz package or program); wrote the DOT text to {fallback}", stacklevel=3)
