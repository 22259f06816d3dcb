"""The LaTeX view: a template per op, shared subterms bound in an ``aligned`` block."""

from __future__ import annotations

import re
from typing import Any

from rewritediff.printing.layout import (
    _CMP_LATEX,
    P_ADD,
    P_AND,
    P_ATOM,
    P_CMP,
    P_MAT,
    P_MUL,
    P_OR,
    P_POW,
    P_UNARY,
    _as_outputs,
    _const_structure,
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
