"""The Graphviz view: a DOT description of the DAG, rendered by ``dot`` when it is installed."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

from rewritediff.ops import SHARED_OP
from rewritediff.printing.layout import _as_outputs, _const_text, _is_const, _is_variable, _leaf_names, _ordered, _shown_attrs, _special_type_text
from rewritediff.printing.text import _attr_text
from rewritediff.terms import Term

# the formats written as DOT text itself rather than rendered (Graphviz's names for its own language)
_DOT_TEXT_FORMATS = ("dot", "gv")
# Graphviz's renderer program
_DOT_PROGRAM = "dot"


# ---- Graphviz --------------------------------------------------------------------------------
def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot_label(node: Term, leaf_names: dict[int, str | None]) -> tuple[str, str]:
    """Label and shape of one DOT node."""
    ttype = str(node.type)
    if _is_variable(node):
        special = _special_type_text(node)
        if special is not None:
            return special, "octagon"
        name = leaf_names.get(node.uid) or f"<{node.op}#{node.uid}>"
        return f"{name}\n{ttype}" + ("\nshared" if node.op == SHARED_OP else ""), "ellipse"
    if _is_const(node):
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
    fmt = (fmt or path.suffix.lstrip(".") or _DOT_TEXT_FORMATS[0]).lower()
    if fmt in _DOT_TEXT_FORMATS:
        path.write_text(text)
        return
    try:
        import graphviz  # type: ignore[import-not-found]
    except ImportError:
        graphviz = None
    if graphviz is not None:
        path.write_bytes(graphviz.Source(text).pipe(format=fmt))
        return
    exe = shutil.which(_DOT_PROGRAM)
    if exe is not None:
        subprocess.run([exe, f"-T{fmt}", "-o", str(path)], input=text.encode(), check=True)
        return
    fallback = path.with_suffix(".dot")
    fallback.write_text(text)
    warnings.warn(f"dot_graph: no Graphviz renderer (install the graphviz package or program); wrote the DOT text to {fallback}", stacklevel=3)
