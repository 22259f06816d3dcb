"""The infix text view: a template per op (precedence decides the parentheses), ``pprint`` and ``pprint_inline``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rewritediff.ops import LEAF_OPS, PRODUCT_OP, SUM_OP
from rewritediff.printing.layout import (
    INLINE_CAP,
    P_ADD,
    P_ATOM,
    P_MUL,
    P_UNARY,
    _as_outputs,
    _const_prec,
    _const_text,
    _form,
    _insertion_only,
    _is_const,
    _is_minus_one,
    _is_variable,
    _kind,
    _Layout,
    _neg_scalar_const,
    _scalar_text,
    _shown_attrs,
    _special_type_text,
)
from rewritediff.terms import Constant, Term, replace


def _attr_text(key: str, value: Any) -> str:
    """One attribute as ``key=value`` (a one-axis tuple shows as its int)."""
    if key == "axis" and isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, Constant):
        return f"{key}={value!r}"
    if isinstance(value, Term):
        return f"{key}={pprint_inline(value)}"
    return f"{key}={value!r}"


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
    if _is_const(node):
        text = _const_text(node, layout.constants)
        return [text], _const_prec(text)
    name = layout.leaf_names.get(node.uid) or f"<{node.op}#{node.uid}>"
    return [name], P_ATOM


def _text_length(node: Term, L: _Layout) -> list:  # noqa: N803
    return [*L.wrap(node.args[0], P_ATOM), f".shape[{node.attr('i')}]"]


def _text_template(node: Term, L: _Layout) -> tuple[list, int]:  # noqa: N803
    """A node's text template: the sum and product by their own code, then its op's structured
    notation (``OpDef.print_kind``), its infix form (``OpDef.text_form``), indexing, else a call."""
    op, args = node.op, node.args
    if not args and op in LEAF_OPS:
        return _text_leaf(node, L)
    if op == SUM_OP:
        return _text_add(node, L), P_ADD
    if op == PRODUCT_OP:
        return _text_mul(node, L), P_MUL
    structured = _TEXT_KINDS.get(_kind(node))
    if structured is not None:
        return structured(node, L), P_ATOM
    form = _form(node, "text")
    if form is not None:
        return L.fill(form, args)
    indexed = _indexing_parts(node, L, "[", "]")
    if indexed is not None:
        return indexed, P_ATOM
    return [op, *_joined_args(L, node)], P_ATOM


def _state_name(init: Term, k: int) -> str:
    """A recurrent output's display name: its initial state's name without a trailing 0 (``h0`` -> ``h``)."""
    base = init.args[0] if _kind(init) in ("axes", "indexed") and init.args else init
    name = base.name if _is_variable(base) and base.name else None
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
        if v.op in LEAF_OPS:
            mapping[p] = v
        else:
            mapping[p] = p.type(f"c{j}")
            where += [f", c{j} = ", v]
    for i, (x, offs, rev, phs) in enumerate(zip(xs, body.seq_offsets, body.seq_rev, ph_seqs)):
        xt = x.name if _is_variable(x) and x.name else f"xs{i}"
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
        if lag == 1 and _kind(z) == "axes" and tuple(z.attr("pattern"))[:1] == ("x",):
            parts += [f", {names[k]}[-1] = ", z.args[0]]
        else:
            parts += [f", {names[k]}[-{lag}:] = ", z]
    parts += where
    parts.append(")")
    if len(body.outputs) > 1:
        parts.append(f".{names[node.attr('out')]}")
    return parts


# where the index arrays start among the arguments: after x (a read), after x and y (a write)
_FIRST_INDEX_ARRAY = {"indexed": 1, "indexed_update": 2}


def _indexing_parts(node: Term, L: _Layout, lb: str, rb: str) -> list | None:  # noqa: N803
    """``x[1:3, None, i]`` for a read, ``set_subtensor(x[...], y)`` for writes; None if the index is unfamiliar."""
    notation = _kind(node)
    first_array = _FIRST_INDEX_ARRAY.get(notation)
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
    if notation == "indexed":
        return parts
    return [node.op, "(" if L.style == "text" else r"\left(", *parts, ", ", node.args[1], ")" if L.style == "text" else r"\right)"]


def _text_add(node: Term, L: _Layout, number: Callable[[str], str] = str) -> list:  # noqa: N803
    signed: list[tuple[str, Any]] = []
    for a in node.args:
        if L.is_open_kind(a, "negation"):
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
            nested = sign == "+" and (L.is_open(item, SUM_OP) or _is_open_difference(L, item))
            body = L.wrap(item, P_UNARY if (i == 0 and sign == "-") else (P_ADD if i == 0 or nested else P_MUL))
        if i == 0:
            parts.extend(["-", *body] if sign == "-" else body)
        else:
            parts.extend([f" {sign} ", *body])
    return parts


def _is_open_difference(L: _Layout, a: Term) -> bool:  # noqa: N803
    """An unbound ``x - y``: an op whose infix form binds at the sum's level (it needs no parentheses as a term of a sum)."""
    form = _form(a, "text")
    return form is not None and form.level == "additive" and a.uid not in L.names


def _mul_factors(node: Term, L: _Layout) -> tuple[list[Term], list[Term]]:  # noqa: N803
    """Split a product into numerator and denominator factors (reciprocals and pow(d, -1) divide)."""
    num: list[Term] = []
    den: list[Term] = []
    for a in node.args:
        if L.is_open_kind(a, "inverse"):
            den.append(a.args[0])
        elif L.is_open_kind(a, "power") and _is_minus_one(a.args[1]):
            den.append(a.args[0])
        else:
            num.append(a)
    return num, den


def _is_open_product(L: _Layout, a: Term) -> bool:  # noqa: N803
    """A nested product or quotient needs no parentheses as a factor (multiplication is associative)."""
    return L.is_open(a, PRODUCT_OP) or L.is_open_kind(a, "quotient")


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


# structured notations (OpDef.print_kind) the text view writes by its own code
_TEXT_KINDS: dict[str, Callable[[Term, _Layout], list]] = {"axes": _text_dimshuffle, "length": _text_length, "loop": _text_scan}


# ---- public text views ---------------------------------------------------------------------
def pprint_inline(term: Term, cap: int = INLINE_CAP) -> str:
    """One-line infix text of a term, shared subterms repeated, cut with '...' past ``cap`` characters."""
    layout = _Layout([term], bind=False, style="text", build=_text_template)
    return layout.render_node(term, cap)


def pprint(expr: Any, constants: bool = False) -> str:
    """Infix text of a term or list of terms; shared subterms are bound once as ``t1 = ...``.

    Constant arrays print by their structure (``eye(3)``, ``zeros(3)``, ``full((2, 2), 0.5)``), else
    as ``const(shape)`` so that a large array does not drown the formula; ``constants=True`` prints
    those with their values.
    """
    outputs, single = _as_outputs(expr)
    layout = _Layout(outputs, bind=True, style="text", build=_text_template, constants=constants)
    lines = [f"{layout.names[n.uid]} = {layout.render_node(n)}" for n in layout.bound]
    for i, o in enumerate(outputs):
        text = "None" if o is None else layout.render([o])
        lines.append(text if single else f"{layout.out_prefix}{i} = {text}")
    return "\n".join(lines)
