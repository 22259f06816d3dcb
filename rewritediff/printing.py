"""Printing terms as text."""

from __future__ import annotations

from rewritediff.terms import Term, toposort

_INFIX = {"add": " + ", "mul": " * ", "sub": " - ", "true_div": " / ", "pow": " ** ", "matmul": " @ "}


def pprint_inline(term: Term) -> str:
    """One-line infix text of a term (shared subterms repeated); no recursion over depth."""
    text: dict[int, str] = {}
    for node in toposort([term]):
        if node.op in ("input", "shared"):
            text[node.uid] = node.name or f"<{node.op}#{node.uid}>"
        elif node.op == "const":
            text[node.uid] = repr(node.attr("value"))
        elif node.op in _INFIX:
            text[node.uid] = "(" + _INFIX[node.op].join(text[a.uid] for a in node.args) + ")"
        elif node.op == "neg":
            text[node.uid] = f"-{text[node.args[0].uid]}"
        else:
            attrs = "".join(f", {k}={v!r}" for k, v in node.attrs if v is not None and v is not False and v != ())
            text[node.uid] = f"{node.op}({', '.join(text[a.uid] for a in node.args)}{attrs})"
    return text[term.uid]
