"""Inspection views of term DAGs: infix text, LaTeX, SymPy conversion and Graphviz DOT.

Every view walks the DAG bottom-up in topological order and never recurses over its
depth, so graphs 10,000 deep print. Text is built in two passes: first each distinct
node gets a *template* (a list of literal strings and references to argument nodes, with
parentheses already decided from operator precedence); then the templates are expanded
with an explicit stack. A non-trivial node used more than once is bound to a numbered
name (``t1 = ...``) and referred to by that name, so shared subterms print once.

Ops the printers do not know print generically as ``name(args, attr=value)``.

One module per view: ``layout`` (what the text and LaTeX views share), ``text``, ``tex`` (LaTeX),
``sympy_forms`` and ``graphviz``.
"""

from __future__ import annotations

from rewritediff.printing.graphviz import dot_graph
from rewritediff.printing.sympy_forms import from_sympy, to_sympy
from rewritediff.printing.tex import latex
from rewritediff.printing.text import INLINE_CAP, pprint, pprint_inline

__all__ = ["INLINE_CAP", "dot_graph", "from_sympy", "latex", "pprint", "pprint_inline", "to_sympy"]
