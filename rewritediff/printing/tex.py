"""The LaTeX view: a template per op, shared subterms bound in an ``aligned`` block."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rewritediff.ops import LEAF_OPS, PRODUCT_OP, REGISTRY, SUM_OP
from rewritediff.printing.layout import (
    P_ADD,
    P_ATOM,
    P_MAT,
    P_MUL,
    P_POW,
    P_UNARY,
    _as_outputs,
    _const_structure,
    _form,
    _is_const,
    _kind,
    _latex_escape,
    _Layout,
    _neg_scalar_const,
    _scalar_text,
    _shown_attrs,
)
from rewritediff.printing.text import _attr_text, _indexing_parts, _joined_args, _mul_factors, _text_add, _text_scan
from rewritediff.terms import DisconnectedType, NullType, Term

# ---- LaTeX templates ---------------------------------------------------------------------
_GREEK = frozenset(
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau upsilon phi chi psi omega "
    "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split()
)


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
    if _is_const(node):
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


def _latex_negation(node: Term, L: _Layout) -> tuple[list, int]:  # noqa: N803
    a = node.args[0]
    inner = L.wrap(a, P_MUL) if not (L.is_open_kind(a, "negation") or _neg_scalar_const(a)) else [r"\left(", a, r"\right)"]
    return ["-", *inner], P_MUL


def _latex_matrix_product(node: Term, L: _Layout) -> tuple[list, int] | None:  # noqa: N803
    r"""Juxtaposition ``A \, B``, a chain of matrix products unparenthesised."""
    if len(node.args) != 2:
        return None
    a, b = node.args
    left = L.wrap(a, P_MAT) if _kind(a) == "matrix_product" else L.wrap(a, P_UNARY)
    return [*left, r" \, ", *L.wrap(b, P_UNARY)], P_MAT


def _latex_axes(node: Term, L: _Layout) -> tuple[list, int] | None:  # noqa: N803
    """A transpose as ``x^{T}``; other axis patterns print as calls."""
    if tuple(node.attr("pattern", ())) != (1, 0):
        return None
    return [*L.wrap(node.args[0], P_ATOM), "^{T}"], P_POW


def _latex_loop(node: Term, L: _Layout) -> tuple[list, int]:  # noqa: N803
    """The recurrence as text, its outer arguments as LaTeX."""
    parts = _text_scan(node, L)
    return [r"\text{" + _latex_escape(p) + "}" if isinstance(p, str) else p for p in parts], P_ATOM


def _latex_reduction(node: Term, L: _Layout, symbol: str) -> tuple[list, int]:  # noqa: N803
    r"""``\sum_{axis=0} x``: the reduction's operator, its axes and keepdims as a subscript."""
    subs = []
    axis = node.attr("axis")
    if axis is not None:
        subs.append(r"\mathrm{axis}=" + ", ".join(str(a) for a in (axis if isinstance(axis, tuple) else (axis,))))
    if node.attr("keepdims"):
        subs.append(r"\mathrm{keepdims}")
    sub = "_{" + r",\,".join(subs) + "}" if subs else ""
    return [symbol, sub, " ", *L.wrap(node.args[0], P_POW)], P_ADD


# structured notations (OpDef.print_kind) the LaTeX view writes by its own code (None: as a call)
_LATEX_KINDS: dict[str, Callable[[Term, _Layout], tuple[list, int] | None]] = {
    "negation": _latex_negation,
    "matrix_product": _latex_matrix_product,
    "axes": _latex_axes,
    "loop": _latex_loop,
}


def _latex_template(node: Term, L: _Layout) -> tuple[list, int]:  # noqa: N803
    r"""A node's LaTeX template: the sum and product by their own code, then its op's structured
    notation (``OpDef.print_kind``), its LaTeX form, a reduction's operator, indexing, its LaTeX
    function name (``OpDef.latex_name``), else ``\operatorname{name}`` of the arguments."""
    op, args = node.op, node.args
    if not args and op in LEAF_OPS:
        return _latex_leaf(node, L)
    if op == SUM_OP:
        return _latex_add(node, L), P_ADD
    if op == PRODUCT_OP:
        return _latex_mul(node, L)
    kind = _kind(node)
    structured = _LATEX_KINDS.get(kind)
    if structured is not None:
        done = structured(node, L)
        if done is not None:
            return done
    form = _form(node, "latex")
    if form is not None:
        return L.fill(form, args)
    opdef = REGISTRY.get(op)
    latex_name = opdef.latex_name if opdef is not None else ""
    if latex_name and opdef.reduction and len(args) == 1:
        return _latex_reduction(node, L, latex_name)
    indexed = _indexing_parts(node, L, r"\left[", r"\right]")
    if indexed is not None:
        if kind != "indexed":
            indexed[0] = r"\operatorname{" + _latex_escape(op) + "}"
        return indexed, P_ATOM
    if latex_name and not _shown_attrs(node):
        return [latex_name, *_joined_args(L, node, r"\left(", r"\right)")], P_ATOM
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
        parts.extend(([r" \cdot "] if i else []) + L.wrap(a, P_MUL if i == 0 or L.is_open(a, PRODUCT_OP) else P_MAT))
    return parts, P_MUL


def latex(expr: Any) -> str:
    """LaTeX of a term or list of terms (shared subterms bound in an ``aligned`` block)."""
    outputs, single = _as_outputs(expr)
    layout = _Layout(outputs, bind=True, style="latex", build=_latex_template)
    finals = ["\\mathrm{None}" if o is None else layout.render([o]) for o in outputs]
    if single and not layout.bound:
        return finals[0]
    lines = [f"{layout.names[n.uid]} &= {layout.render_node(n)}" for n in layout.bound]
    if single:
        lines.append(f"& {finals[0]}")
    else:
        lines.extend(f"\\mathrm{{{layout.out_prefix}}}_{{{i}}} &= {t}" for i, t in enumerate(finals))
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"
