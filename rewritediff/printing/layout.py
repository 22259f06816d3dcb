"""The layout shared by the text and LaTeX views: walking the DAG, naming shared subterms, templates expanded with an explicit stack."""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from rewritediff.errors import RewriteDiffTypeError
from rewritediff.ops import CONST_OP, LEVELS, REGISTRY, SIZES_ATTR, VARIABLE_OPS, Form
from rewritediff.terms import DisconnectedType, NullType, Term, apply

# ---- precedence levels (rewritediff.ops.LEVELS, loosest first; MAT is the LaTeX juxtaposed matrix product) ----
P_TOP, P_CMP, P_OR, P_AND, P_ADD, P_MUL, P_MAT, P_UNARY, P_POW, P_ATOM = range(len(LEVELS))
_LEVEL = {name: i for i, name in enumerate(LEVELS)}

INLINE_CAP = 2000
# numpy's array constructors, whose calls a constant array's text is written as
_NUMPY_BUILDERS = ("zeros", "ones", "full", "arange", "eye")
_ZEROS, _ONES, _FULL, _ARANGE, _EYE = _NUMPY_BUILDERS


def _kind(node: Term) -> str:
    """The op's structured notation (``OpDef.print_kind``; "" for plain ops and unregistered ones)."""
    opdef = REGISTRY.get(node.op)
    return opdef.print_kind if opdef is not None else ""


def _form(node: Term, style: str) -> Form | None:
    """The op's template for this view (``OpDef.text_form`` or ``latex_form``), if it has one for this many arguments."""
    opdef = REGISTRY.get(node.op)
    if opdef is None:
        return None
    form = opdef.latex_form if style == "latex" else opdef.text_form
    return form if form is not None and form.nargs == len(node.args) else None


def _is_variable(node: Term) -> bool:
    """An input or shared variable (a leaf named by the user)."""
    return node.op in VARIABLE_OPS


def _is_const(node: Term) -> bool:
    """A constant leaf (its value is ``node.value``)."""
    return node.op == CONST_OP


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
    opdef = REGISTRY.get(node.op)
    return opdef is not None and opdef.cheap and all(not a.args for a in node.args)


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
        if _is_variable(n) and n.name:
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
        return _ZEROS, [_shape_text(shape), *dtype], None
    flat = arr.reshape(-1)
    first = flat[0]
    if np.all(flat == first) and not (arr.dtype.kind == "f" and np.isnan(first)):
        if arr.dtype == bool:
            return _FULL, [_shape_text(shape), str(bool(first))], None
        if first == 0:
            return _ZEROS, [_shape_text(shape), *dtype], None
        if first == 1:
            return _ONES, [_shape_text(shape), *dtype], None
        return _FULL, [_shape_text(shape), _scalar_text(np.asarray(first)), *dtype], None
    if arr.ndim == 1 and arr.dtype.kind in "iu" and np.array_equal(arr, np.arange(arr.size)):
        return _ARANGE, [str(arr.size)], None
    if arr.ndim == 2 and arr.dtype != bool:
        n, m = shape
        for k in range(-n + 1, m):
            diag = np.diagonal(arr, offset=k)
            if diag.size and diag[0] != 0 and np.all(diag == diag[0]) and np.count_nonzero(arr) == diag.size:
                args = [str(n)] + ([str(m)] if m != n else []) + ([f"k={k}"] if k else []) + dtype
                scale = None if diag[0] == 1 else _scalar_text(np.asarray(diag[0]))
                return _EYE, args, scale
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


def _shown_attrs(node: Term) -> list[tuple[str, Any]]:
    """Attributes that differ from the op's defaults (all non-None ones for unregistered ops)."""

    opdef = REGISTRY.get(node.op)
    defaults = opdef.attrs if opdef is not None else {}
    sym = set(node.attr(SIZES_ATTR, ()) or ()) | {SIZES_ATTR}  # sizes given as arguments (eye(X.shape[1])) print as those
    shown = []
    for k, v in node.attrs:
        if k in sym and SIZES_ATTR in defaults:
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
    if not _is_const(node) or node.ndim != 0 or node.dtype == "bool":
        return False
    v = node.value[()]
    return bool(v < 0)


def _is_minus_one(node: Term) -> bool:
    return _is_const(node) and node.ndim == 0 and node.dtype != "bool" and bool(node.value[()] == -1)


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

    def __init__(self, outputs: list[Term | None], bind: bool, style: str, build: Callable[[Term, _Layout], tuple[list, int]], constants: bool = False) -> None:
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

    def is_open_kind(self, child: Term, kind: str) -> bool:
        """True if the child is an unbound node whose op has this structured notation (``OpDef.print_kind``)."""
        return _kind(child) == kind and child.uid not in self.names

    def fill(self, form: Form, args: tuple) -> tuple[list, int]:
        """A template and its precedence from an op's :class:`Form` (arguments parenthesised as its slots say)."""
        parts: list = []
        for p in form.parts:
            if isinstance(p, str):
                parts.append(p)
            elif isinstance(p, int):
                parts.append(args[p])
            else:
                parts.extend(self.wrap(args[p[0]], _LEVEL[p[1]]))
        return parts, _LEVEL[form.level]

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
