"""The ``rewritediff`` command: gradients, R-ops, Jacobians and Hessians of expressions typed on the
command line, simplification with a trace, and listing or checking rules.

Expressions use the rule language's expression syntax (``rules.md``) plus subscripts (``x[1:]``), and
are parsed by a lark LALR grammar (``EXPR_GRAMMAR``), never by Python: ``sum(tanh(W @ x))``,
``mean(x){axis=0}``, ``dot(W, x)``. Every name in an expression
must be declared with ``--var NAME:KIND[:SHAPE]``. Mistakes in the expression or the declarations
print one line ``error: <expr>:LINE:COL: ...`` and exit with status 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import rewritediff as rd
import rewritediff.rules as rules_module
from rewritediff.errors import RuleError
from rewritediff.ops import REGISTRY
from rewritediff.rules import Call, NoneLit, Num, RuleSet, Str, Tuple, Var, default_rules, instantiate
from rewritediff.rules.parser import _syntax_error
from rewritediff.tensor import getitem
from rewritediff.terms import Term, inputs_of
from rewritediff.verify import central_directional, central_hessian, central_jacobian, max_errors

KINDS = {"scalar": 0, "vector": 1, "matrix": 2, "tensor3": 3, "tensor4": 4, "iscalar": 0, "ivector": 1, "imatrix": 2}
INT_KINDS = ("iscalar", "ivector", "imatrix")  # int64 variables, for indexing: x[idx], X[i, j]
EXPR_FILE = "<expr>"
DEFAULT_DIM = 3
TOLERANCE = 1e-4

DEMO_EXPR = "-mean(y * log(sigmoid(X @ w)) + (1 - y) * log(1 - sigmoid(X @ w)))"
DEMO_VARS = ["X:matrix", "y:vector", "w:vector"]  # sizes unknown: the printed gradient holds for every n


class CliError(Exception):
    """A user mistake: printed as one line ``error: ...``, exit status 2."""


# ---- declarations ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class VarSpec:
    """One declared variable: ``name:kind[:shape]`` with None for an unknown dim."""

    name: str
    kind: str
    shape: tuple[int | None, ...]

    @property
    def dtype(self) -> str:
        """float64, or int64 for the integer kinds (index variables)."""
        return "int64" if self.kind in INT_KINDS else "float64"


def parse_var(spec: str) -> list[VarSpec]:
    """``x:vector``, ``W:matrix:3,4``, ``W:matrix:3,?`` or ``a,b:scalar`` -> the declared variables (KIND defaults to scalar)."""
    parts = spec.split(":")
    if len(parts) > 3 or not parts[0]:
        raise CliError(f"--var {spec!r}: expected NAME:KIND[:SHAPE], e.g. x:vector or W:matrix:3,4")
    names = [n.strip() for n in parts[0].split(",")]
    kind = parts[1].strip() if len(parts) > 1 and parts[1].strip() else "scalar"
    if kind not in KINDS:
        hint = difflib.get_close_matches(kind, list(KINDS), n=1)
        raise CliError(f"--var {spec!r}: unknown kind {kind!r}" + (f" (did you mean {hint[0]}?)" if hint else f" (one of: {', '.join(KINDS)})"))
    ndim = KINDS[kind]
    shape: tuple[int | None, ...] = (None,) * ndim
    if len(parts) == 3:
        dims = [d.strip() for d in parts[2].split(",")] if parts[2].strip() else []
        if len(dims) != ndim:
            raise CliError(f"--var {spec!r}: a {kind} needs {ndim} dim(s) in SHAPE, got {len(dims)}")
        try:
            shape = tuple(None if d in ("?", "") else int(d) for d in dims)
        except ValueError:
            raise CliError(f"--var {spec!r}: SHAPE must be comma-separated integers or '?', e.g. 3,4 or 3,?") from None
        if any(d is not None and d < 0 for d in shape):
            raise CliError(f"--var {spec!r}: negative dim in SHAPE")
    out = []
    for name in names:
        if not name.isidentifier():
            raise CliError(f"--var {spec!r}: {name!r} is not a valid name")
        out.append(VarSpec(name, kind, shape))
    return out


def declare(specs: Sequence[str], static: bool = False, default_dim: int = DEFAULT_DIM) -> dict[str, Any]:
    """Symbolic variables for the ``--var`` declarations (with ``static``, unknown dims become ``default_dim``)."""
    variables: dict[str, Any] = {}
    for spec in specs:
        for v in parse_var(spec):
            if v.name in variables:
                raise CliError(f"--var {spec!r}: {v.name!r} is declared twice")
            shape = tuple(default_dim if (static and d is None) else d for d in v.shape)
            variables[v.name] = rd.tensor(v.name, shape=shape, dtype=v.dtype)
    return variables


# ---- expressions -----------------------------------------------------------------------------------
_KIND_HINT = "x:scalar, x:vector, x:matrix, ..."

# The rule language's expression syntax (rules/grammar.lark), plus Python-style subscripts:
# ``x[1:]``, ``x[:-1]``, ``X[i, j]``, ``x[idx]``, ``x[None, :]``, ``X[..., 0]``. Operators are named
# terminals so that every reduction sees the token it was built from (its position).
EXPR_GRAMMAR = r"""
start: expr

?expr: gand
     | expr OR gand                      -> g_or
?gand: gnot
     | gand AND gnot                     -> g_and
?gnot: comparison
     | NOT gnot                          -> g_not
?comparison: arith
     | arith COMP arith                  -> compare
?arith: term
      | arith PLUS term                  -> add
      | arith MINUS term                 -> sub
?term: factor
     | term STAR factor                  -> mul
     | term SLASH factor                 -> true_div
     | term AT factor                    -> matmul
?factor: power
       | MINUS factor                    -> neg
?power: postfix
      | postfix POW factor               -> pow
?postfix: atom
        | postfix LSQB items RSQB        -> subscript
?atom: NUMBER                            -> num
     | STRING                            -> string
     | TRUE                              -> true
     | FALSE                             -> false
     | NONE                              -> none
     | NAME                              -> var
     | NAME LPAR args RPAR attrs?        -> call
     | LPAR expr RPAR                    -> paren
     | LPAR RPAR                         -> empty_tuple
     | LPAR expr COMMA (expr (COMMA expr)* COMMA?)? RPAR -> tuple

args: (expr (COMMA expr)*)?
attrs: LBRACE (attr (COMMA attr)*)? RBRACE
attr: NAME EQUAL expr

items: item (COMMA item)* COMMA?
?item: expr
     | ELLIPSIS                          -> ellipsis
     | [expr] COLON [expr] [COLON [expr]] -> slice

OR: "or"
AND: "and"
NOT: "not"
TRUE: "True"
FALSE: "False"
NONE: "None"
COMP: "==" | "!=" | "<=" | ">=" | "<" | ">"
PLUS: "+"
MINUS: "-"
STAR: "*"
POW: "**"
SLASH: "/"
AT: "@"
LPAR: "("
RPAR: ")"
LSQB: "["
RSQB: "]"
LBRACE: "{"
RBRACE: "}"
COMMA: ","
COLON: ":"
EQUAL: "="
ELLIPSIS: "..."
NAME: /[A-Za-z_][A-Za-z_0-9]*/
NUMBER: /(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?/
STRING: /"([^"\\\n]|\\.)*"/ | /'([^'\\\n]|\\.)*'/

%ignore /[ \t\f\r\n]+/
"""

_COMPARISONS = {"==": "eq", "!=": "neq", "<": "lt", ">": "gt", "<=": "le", ">=": "ge"}


@dataclass(frozen=True)
class _Val:
    """A parsed sub-expression: a Term, or a literal of the rule language's AST (Num, Str, Tuple, NoneLit), or an index item; with where it starts."""

    value: Any
    line: int
    col: int


class _Slice:
    """An index item ``start:stop:step`` (each a _Val or None)."""

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts


class _Reduce:
    """The callbacks lark's LALR parser calls at each reduction, bottom-up: terms are built as the
    parser's own stack unwinds, so no step of parsing or building recurses over the nesting depth."""

    def __init__(self, variables: dict[str, Any], filename: str, implicit: bool = False) -> None:
        self.variables = variables
        self.filename = filename
        self.implicit = implicit  # undeclared names become float64 scalars (no --var given at all)

    # ---- helpers ------------------------------------------------------------------------------------
    def fail(self, where: Any, what: str) -> CliError:
        line, col = (where.line, where.col) if isinstance(where, _Val) else (where.line, where.column)
        return CliError(f"{self.filename}:{line}:{col}: {what}")

    def tensor_or_num(self, v: _Val) -> Any:
        """``v`` as an operand of an op: a Term or a weakly typed number (Num); anything else is an error."""

        val = v.value
        if isinstance(val, Num) or _is_term(val):
            return val
        if isinstance(val, Str):
            raise self.fail(v, f"a string ({val.value!r}) is not a tensor; strings are only allowed as attribute values")
        if isinstance(val, Tuple):
            raise self.fail(v, "a tuple is not a tensor; tuples are only allowed as attribute values")
        if isinstance(val, _Slice) or val is Ellipsis:
            raise self.fail(v, "slices and '...' are only allowed inside [...]")
        raise self.fail(v, "None is not a tensor")

    def apply(self, op: str, operands: list[_Val], attrs: tuple, at: _Val) -> _Val:
        """The term ``op(*operands){attrs}``, built by the rule language's instantiation (weak literals take their sibling's dtype)."""

        if op not in REGISTRY:
            close = difflib.get_close_matches(op, sorted(REGISTRY), n=1)
            hint = f" (did you mean {close[0]}?)" if close else " (`rewritediff rules list` shows the ops that have rules)"
            raise self.fail(at, f"unknown op {op!r}{hint}")
        od = REGISTRY[op]
        for name, _ in attrs:
            if name not in od.attrs:
                known = ", ".join(sorted(od.attrs)) or "none"
                raise self.fail(at, f"{op}: unknown attribute {name!r} (attributes: {known})")
        env: dict[str, Any] = {}
        args = []
        for i, v in enumerate(operands):
            val = self.tensor_or_num(v)
            if isinstance(val, Num):
                args.append(val)
            else:
                env[f"#{i}"] = val
                args.append(Var(f"#{i}"))
        like = next(iter(env.values()), None)
        if op == "matmul" and len(args) == 2 and len(env) == 2 and all(1 <= t.ndim <= 2 for t in env.values()):
            op = "dot"  # the frontend's canonical form of a 1-D/2-D product (rd.matmul does the same)
        try:
            return _Val(instantiate(Call(op, tuple(args), attrs), env, like=like), at.line, at.col)
        except Exception as exc:  # noqa: BLE001 - every construction error becomes one positioned line
            raise self.fail(at, _one_line(exc)) from exc

    def at(self, tok: Any) -> tuple[int, int]:
        """(line, column) of a token."""
        return tok.line, tok.column

    def binary(self, op: str, c: list) -> _Val:
        a, b = c[0], c[2]
        return self.apply(op, [a, b], (), a)

    # ---- expressions --------------------------------------------------------------------------------
    def r_start(self, c: list) -> _Val:
        return c[0]

    def r_g_or(self, c: list) -> _Val:
        raise self.fail(c[1], "'or' is for rule guards; use or_(a, b) (elementwise) in expressions")

    def r_g_and(self, c: list) -> _Val:
        raise self.fail(c[1], "'and' is for rule guards; use and_(a, b) (elementwise) in expressions")

    def r_g_not(self, c: list) -> _Val:
        raise self.fail(c[0], "'not' is for rule guards; use not_(a) (elementwise) in expressions")

    def r_compare(self, c: list) -> _Val:
        return self.apply(_COMPARISONS[str(c[1])], [c[0], c[2]], (), c[0])

    def r_add(self, c: list) -> _Val:
        return self.binary("add", c)

    def r_sub(self, c: list) -> _Val:
        return self.binary("sub", c)

    def r_mul(self, c: list) -> _Val:
        return self.binary("mul", c)

    def r_true_div(self, c: list) -> _Val:
        return self.binary("true_div", c)

    def r_matmul(self, c: list) -> _Val:
        return self.binary("matmul", c)

    def r_pow(self, c: list) -> _Val:
        return self.binary("pow", c)

    def r_neg(self, c: list) -> _Val:

        line, col = self.at(c[0])
        val = c[1].value
        if isinstance(val, Num) and not isinstance(val.value, bool):
            return _Val(Num(-val.value), line, col)
        return self.apply("neg", [c[1]], (), _Val(None, line, col))

    def r_num(self, c: list) -> _Val:

        text = str(c[0])
        return _Val(Num(float(text) if any(ch in text for ch in ".eE") else int(text)), *self.at(c[0]))

    def r_string(self, c: list) -> _Val:
        import ast as pyast

        return _Val(Str(pyast.literal_eval(str(c[0]))), *self.at(c[0]))

    def r_true(self, c: list) -> _Val:

        return _Val(Num(True), *self.at(c[0]))

    def r_false(self, c: list) -> _Val:

        return _Val(Num(False), *self.at(c[0]))

    def r_none(self, c: list) -> _Val:

        return _Val(NoneLit(), *self.at(c[0]))

    def r_var(self, c: list) -> _Val:
        name = str(c[0])
        if name not in self.variables and self.implicit:
            self.variables[name] = rd.tensor(name, shape=(), dtype="float64")
        if name not in self.variables:
            hint = f"declare it with --var {name}:KIND, e.g. {_KIND_HINT.replace('x:', name + ':')}"
            raise self.fail(c[0], f"unknown name {name!r} ({hint})")
        return _Val(self.variables[name], *self.at(c[0]))

    def r_call(self, c: list) -> _Val:
        name = str(c[0])
        at = _Val(None, *self.at(c[0]))
        if name in ("and", "or", "not"):
            raise self.fail(at, f"{name!r} is for rule guards; use {name}_ (elementwise) in expressions")
        args = c[2]
        attrs = c[4] if len(c) > 4 else ()
        return self.apply(name, args, attrs, at)

    def r_args(self, c: list) -> list:
        return [x for x in c if isinstance(x, _Val)]

    def r_attrs(self, c: list) -> tuple:
        return tuple(x for x in c if isinstance(x, tuple))

    def r_attr(self, c: list) -> tuple:

        v = c[2]
        if not isinstance(v.value, Num | Str | Tuple | NoneLit):
            raise self.fail(v, f"attribute {str(c[0])!r}: the value must be a number, string, tuple or None")
        return (str(c[0]), v.value)

    def r_paren(self, c: list) -> _Val:
        v = c[1]
        return _Val(v.value, *self.at(c[0]))

    def r_empty_tuple(self, c: list) -> _Val:

        return _Val(Tuple(()), *self.at(c[0]))

    def r_tuple(self, c: list) -> _Val:

        parts = [x for x in c if isinstance(x, _Val)]
        for p in parts:
            if not isinstance(p.value, Num | Str | Tuple | NoneLit):
                raise self.fail(p, "a tuple may hold only numbers, strings, tuples and None (tuples are attribute values)")
        return _Val(Tuple(tuple(p.value for p in parts)), *self.at(c[0]))

    # ---- subscripts ---------------------------------------------------------------------------------
    def r_items(self, c: list) -> list:
        return [x for x in c if isinstance(x, _Val)]

    def r_ellipsis(self, c: list) -> _Val:
        return _Val(Ellipsis, *self.at(c[0]))

    def r_slice(self, c: list) -> _Val:
        # maybe_placeholders: [start, COLON, stop, COLON-or-None, step]
        start, colon, stop, step = c[0], c[1], c[2], c[4]
        return _Val(_Slice([start, stop, step]), *self.at(colon))

    def index_item(self, v: _Val) -> Any:
        """One subscript item as numpy would take it (ints, slices of ints, None, ..., integer or boolean tensors)."""

        val = v.value
        if val is Ellipsis:
            return Ellipsis
        if isinstance(val, NoneLit):
            return None
        if isinstance(val, _Slice):
            bounds = []
            for b in val.parts:
                if b is None:
                    bounds.append(None)
                elif isinstance(b.value, Num) and isinstance(b.value.value, int) and not isinstance(b.value.value, bool):
                    bounds.append(b.value.value)
                else:
                    raise self.fail(b, "slice bounds must be integer literals such as x[1:-1] or x[::2]")
            return slice(*bounds)
        if isinstance(val, Num):
            if isinstance(val.value, bool) or not isinstance(val.value, int):
                raise self.fail(v, f"an index must be an integer, a slice or an integer tensor, got {val.value!r}")
            return val.value
        if _is_term(val):
            if not (val.dtype.startswith(("int", "uint")) or val.dtype == "bool"):
                raise self.fail(v, f"an index tensor must be integer or boolean, got {val.dtype} (declare it with --var NAME:ivector or NAME:iscalar)")
            return val
        return self.tensor_or_num(v)

    def r_subscript(self, c: list) -> _Val:

        base = c[0]
        if not _is_term(base.value):
            raise self.fail(c[1], "only tensors can be indexed")
        key = tuple(self.index_item(v) for v in c[2])
        try:
            return _Val(getitem(base.value, key[0] if len(key) == 1 else key), base.line, base.col)
        except Exception as exc:  # noqa: BLE001 - positioned at the '['
            raise self.fail(c[1], _one_line(exc)) from exc


def _is_term(value: Any) -> bool:

    return isinstance(value, Term)


_RULE_NAMES = ("start", "g_or", "g_and", "g_not", "compare", "add", "sub", "mul", "true_div", "matmul", "neg", "pow", "subscript", "num")
_RULE_NAMES += ("string", "true", "false", "none", "var", "call", "paren", "empty_tuple", "tuple", "args", "attrs", "attr", "items", "ellipsis", "slice")


class _Dispatch:
    """The transformer lark binds once, at construction: each rule's callback forwards to the _Reduce of the parse under way."""

    def __init__(self) -> None:
        self.target: _Reduce | None = None


for _name in _RULE_NAMES:
    setattr(_Dispatch, _name, lambda self, children, _n=_name: getattr(self.target, "r_" + _n)(children))

_EXPR_PARSER: Any = None
_DISPATCH = _Dispatch()
_LOCK = threading.Lock()


def _expr_parser() -> Any:
    """The LALR parser of EXPR_GRAMMAR, its reductions calling _DISPATCH (built once)."""
    global _EXPR_PARSER
    if _EXPR_PARSER is None:
        from lark import Lark

        _EXPR_PARSER = Lark(EXPR_GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=True, transformer=_DISPATCH)
    return _EXPR_PARSER


_TOKEN_TEXT = {"'colon'": "':'", "'pow'": "'**'", "'at'": "'@'", "'ellipsis'": "'...'", "'lbrace'": "'{'", "'rbrace'": "'}'"}


def _readable_expected(message: str) -> str:
    """A syntax error's list of expected tokens with the command grammar's operator names shown as the operators."""
    head, sep, tail = message.partition("(expected one of: ")
    for name, shown in _TOKEN_TEXT.items():
        tail = tail.replace(name, shown)
    return head + sep + tail


def build_expression(text: str, variables: dict[str, Any], filename: str = EXPR_FILE, implicit: bool = False) -> Any:
    """The term an expression denotes, with its names bound to ``variables``; mistakes raise CliError with file:line:col.

    With ``implicit``, a name not in ``variables`` is added to it as a float64 scalar (in order of
    first appearance) instead of being an error.

    Terms are built by the LALR parser's reduction callbacks, bottom-up, as lark's explicit parse
    stack unwinds: no parse tree is built and nothing recurses over the nesting depth, so an
    expression nested 10,000 deep or a sum of 10,000 terms parses like a short one.
    """
    from lark.exceptions import UnexpectedInput

    parser = _expr_parser()
    reduce = _Reduce(variables, filename, implicit)
    with _LOCK:
        _DISPATCH.target = reduce
        try:
            result = parser.parse(text)
        except UnexpectedInput as exc:
            raise CliError(_readable_expected(str(_syntax_error(exc, filename, text)).splitlines()[0])) from None
        finally:
            _DISPATCH.target = None
    value = reduce.tensor_or_num(result)
    return instantiate(value, {}) if isinstance(value, Num) else value


def _one_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when the message is empty)."""
    text = str(exc).strip()
    if isinstance(exc, KeyError) and text.startswith("'") and text.endswith("'"):
        text = text[1:-1]
    return text.splitlines()[0] if text else type(exc).__name__


# ---- user rule files ---------------------------------------------------------------------------------
@contextlib.contextmanager
def user_rules(paths: Sequence[str]) -> Iterator[None]:
    """Use the shipped rules plus the rule files ``paths`` (``--rules``) while the block runs.

    The files are loaded into a copy of the shipped rule set, which stands in for the default rule
    set until the block ends; then the shipped set and the op registry (``def`` ops the files
    define) are restored, so running the command in a Python process leaves no trace.
    """
    if not paths:
        yield
        return
    shipped = rules_module.default_rules()
    registry = dict(REGISTRY)
    mine = shipped.copy()
    try:
        for name in paths:
            if not Path(name).is_file():
                raise CliError(f"--rules {name}: no such file")
            try:
                mine.load(name)
            except RuleError as exc:
                raise CliError(f"--rules {name}: {_one_line(exc)}") from exc
            except ValueError as exc:  # a def of an op that is already built in
                raise CliError(f"--rules {name}: {_one_line(exc)}") from exc
        rules_module._DEFAULT = mine
        yield
    finally:
        rules_module._DEFAULT = shipped
        for op in [n for n in REGISTRY if n not in registry]:
            del REGISTRY[op]
        REGISTRY.update(registry)


# ---- shared pieces of the commands -------------------------------------------------------------------
@dataclass
class _Problem:
    """The parsed expression, its declared variables and the variables differentiated."""

    text: str
    expr: Any
    variables: dict[str, Any]
    wrt: list[Any]

    @property
    def inputs(self) -> list[Any]:
        """The declared variables the expression uses, in declaration order."""

        used = {t.uid for t in inputs_of([self.expr])}
        return [v for v in self.variables.values() if v.uid in used]


def _problem(args: argparse.Namespace, static: bool = False, need_wrt: bool = True) -> _Problem:
    if args.expr.startswith(" -"):  # see _protect_negative_expressions
        args.expr = args.expr[1:]
    variables = declare(args.var or [], static=static, default_dim=args.dim)
    expr = build_expression(args.expr, variables, implicit=not args.var)
    wrt = []
    if need_wrt and not args.wrt:  # every float variable the expression uses
        used = {t.uid for t in inputs_of([expr])}
        wrt = [v for v in variables.values() if v.uid in used and v.dtype == "float64"]
        if not wrt:
            raise CliError(f"{args.expr!r} uses no float variable to differentiate with respect to")
    elif need_wrt:
        names = [n.strip() for spec in args.wrt for n in spec.split(",") if n.strip()]
        if not names:
            raise CliError("--wrt needs a variable name")
        for name in names:
            if name not in variables:
                raise CliError(f"--wrt {name}: unknown name {name!r} (declare it with --var {name}:KIND)")
            if variables[name] in wrt:
                raise CliError(f"--wrt {name}: given twice")
            if variables[name].dtype != "float64":
                raise CliError(f"--wrt {name}: {name} is an integer variable; derivatives are taken with respect to float variables")
            wrt.append(variables[name])
    return _Problem(args.expr, expr, variables, wrt)


def _short_path(where: str) -> str:
    """A rule location with the package's parent directory stripped (``rewritediff/rules/x.rules:3``)."""
    root = str(Path(__file__).resolve().parent.parent) + "/"
    return where[len(root) :] if where.startswith(root) else where


def _simplified(terms: list[Any], args: argparse.Namespace, out: Callable[[str], None]) -> list[Any]:
    """``terms`` simplified (unless --no-simplify); with --trace, print the rules that fired."""
    if getattr(args, "no_simplify", False):
        return terms
    try:
        expl = rd.explain(list(terms))
    except Exception as exc:  # noqa: BLE001 - a failure of the simplifier must not hide a correct result
        if getattr(args, "debug", False):
            raise
        out(f"# simplification failed ({type(exc).__name__}: {_one_line(exc)}); the result is printed as the rules built it")
        return terms
    if getattr(args, "trace", False):
        _print_trace(expl, out)
    return list(expl.result)


def _print_trace(expl: Any, out: Callable[[str], None]) -> None:
    steps = list(getattr(expl, "steps", []))
    out(f"# rules that fired while simplifying ({len(steps)}):" if steps else "# no simplification rule changed the result")
    for s in steps:
        rule = getattr(s.rewrite, "rule", None)
        text = rule.text.strip() if rule is not None and rule.text else s.rewrite.name
        out(f"#   {_short_path(s.rewrite.where)}: {text}")


def _show(args: argparse.Namespace, header: str, labels: list[str], outs: list[Any], inputs: list[Any], out: Callable[[str], None]) -> None:
    """Print the outputs (pprint, and the --latex, --dot, --source views)."""
    out(f"# {header}")
    values = getattr(args, "debug", False)  # constants of no nameable structure: their values, not const(shape)
    if len(outs) == 1:
        out(rd.pprint(outs[0], constants=values))
    else:
        out("# " + ", ".join(f"out{i} = {label}" for i, label in enumerate(labels)))
        out(rd.pprint(outs, constants=values))
    if getattr(args, "latex", False):
        out("# LaTeX")
        out(rd.latex(outs[0] if len(outs) == 1 else outs))
    if getattr(args, "dot", None):
        rd.dot_graph(outs[0] if len(outs) == 1 else outs, args.dot)
        out(f"# wrote the graph to {args.dot}")
    if getattr(args, "source", False):
        f = _compile(inputs, outs, on_unused_input="ignore")
        out(f"# generated code: compiled({', '.join(v.name for v in inputs)})")
        out(f.source.rstrip("\n"))


def _compile(inputs: list[Any], outputs: Any, on_unused_input: str = "raise") -> Any:
    """``rd.function`` for the command (ops defined by ``--rules`` files fuse like any other: they lower as their expansions)."""
    return rd.function(inputs, outputs, on_unused_input=on_unused_input)


def random_inputs(variables: Sequence[Any], seed: int, default_dim: int = DEFAULT_DIM) -> list[np.ndarray]:
    """Seeded random values of the variables' shapes (unknown dims: ``default_dim``): floats in [0.5, 1.5) (positive, so log
    and sqrt are defined); integers (indices) in [0, the smallest dim of any variable), so they index every axis."""
    rng = np.random.default_rng(seed)
    shapes = [tuple(default_dim if d is None else d for d in v.static_shape) for v in variables]
    bound = min([default_dim, *(d for shape in shapes for d in shape)])
    out = []
    for v, shape in zip(variables, shapes):
        if v.dtype.startswith(("int", "uint")):
            out.append(rng.integers(0, max(bound, 1), size=shape).astype(v.dtype))
        else:
            out.append(rng.uniform(0.5, 1.5, size=shape))
    return out


def compare(analytic: Sequence[Any], numeric: Sequence[Any], tol: float = TOLERANCE) -> tuple[float, float, bool]:
    """Max absolute and relative errors, and whether every element is within ``tol`` (absolute or relative)."""
    try:
        return max_errors(analytic, numeric, tol)
    except ValueError as exc:  # shapes that differ
        raise CliError(f"evaluation: {exc}") from exc


def _call(f: Any, values: list[np.ndarray]) -> Any:
    try:
        return f(*values)
    except Exception as exc:  # noqa: BLE001 - shape mismatches of the random inputs
        raise CliError(f"evaluation at random inputs failed: {_one_line(exc)} (give consistent shapes with --var NAME:KIND:SHAPE)") from exc


def _report(ok: bool, max_abs: float, max_rel: float, what: str, args: argparse.Namespace, out: Callable[[str], None]) -> int:
    verdict = "ok" if ok else "MISMATCH"
    out(f"# check against {what} at random inputs (seed {args.seed}): max abs error {max_abs:.2e}, max rel error {max_rel:.2e}: {verdict}")
    return 0 if ok else 1


def _with(values: list[np.ndarray], positions: list[int], new: Sequence[np.ndarray]) -> list[np.ndarray]:
    vals = list(values)
    for p, v in zip(positions, new):
        vals[p] = v
    return vals


def _wrt_positions(prob: _Problem, inputs: list[Any]) -> list[int]:
    return [next(i for i, v in enumerate(inputs) if v is w) for w in prob.wrt]


def _require_used(prob: _Problem, inputs: list[Any]) -> None:
    for w in prob.wrt:
        if all(v is not w for v in inputs):
            raise CliError(f"--wrt {w.name}: the expression does not depend on {w.name}")


# ---- commands --------------------------------------------------------------------------------------
def cmd_grad(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """``rewritediff grad``: the simplified gradient of a scalar expression."""
    prob = _problem(args)
    inputs = prob.inputs
    _require_used(prob, inputs)
    if prob.expr.ndim != 0:
        raise CliError(f"grad needs a scalar expression; {args.expr!r} has ndim {prob.expr.ndim} (wrap it in sum(...), or use `rewritediff jacobian`)")
    grads = _simplified(list(rd.grad(prob.expr, prob.wrt)), args, out)
    names = [w.name for w in prob.wrt]
    _show(args, f"gradient of {args.expr} with respect to {', '.join(names)}", [f"d/d{n}" for n in names], grads, inputs, out)
    if not args.eval:
        return 0
    values = random_inputs(inputs, args.seed, args.dim)
    pos = _wrt_positions(prob, inputs)
    f = _compile(inputs, prob.expr)
    g = _compile(inputs, grads, on_unused_input="ignore")
    analytic = _call(g, values)
    if not np.isfinite(_call(f, values)):
        raise CliError("evaluation at random inputs gives a non-finite value")
    num = rd.numeric_grad(lambda *ws: f(*_with(values, pos, ws)), [values[p] for p in pos])
    numeric = num.gf if isinstance(num.gf, list) else [num.gf]
    return _report(*_errors(analytic, numeric), "finite differences", args, out)


def _errors(analytic: Sequence[Any], numeric: Sequence[Any]) -> tuple[bool, float, float]:
    max_abs, max_rel, ok = compare(analytic, numeric)
    return ok, max_abs, max_rel


def _tangent_name(name: str, taken: set[str]) -> str:
    cand = f"d{name}"
    while cand in taken:
        cand = "d" + cand
    return cand


def cmd_rop(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """``rewritediff rop``: the R-operator (Jacobian times an eval point ``d<NAME>``)."""
    prob = _problem(args)
    inputs = prob.inputs
    _require_used(prob, inputs)
    taken = set(prob.variables)
    points = []
    for w in prob.wrt:
        name = _tangent_name(w.name, taken)
        taken.add(name)
        points.append(rd.tensor(name, shape=w.static_shape, dtype=w.dtype))
    res = rd.Rop(prob.expr, prob.wrt, points)
    res = _simplified(list(res) if isinstance(res, list | tuple) else [res], args, out)
    total = res[0] if len(res) == 1 else rd.add(*res)
    header = f"R-op of {args.expr}: " + " + ".join(f"J_{w.name} @ {p.name}" for w, p in zip(prob.wrt, points))
    all_inputs = inputs + points
    _show(args, header, [header], [total], all_inputs, out)
    if not args.eval:
        return 0
    values = random_inputs(all_inputs, args.seed, args.dim)
    f = _compile(inputs, prob.expr)
    r = _compile(all_inputs, total, on_unused_input="ignore")
    analytic = _call(r, values)
    base = values[: len(inputs)]
    pos = _wrt_positions(prob, inputs)
    tangents = values[len(inputs) :]
    numeric = central_directional(lambda *ws: _call(f, _with(base, pos, ws)), [base[p] for p in pos], tangents)
    return _report(*_errors([analytic], [numeric]), "central differences", args, out)


def cmd_jacobian(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """``rewritediff jacobian``: the Jacobian, with unknown dims kept symbolic (``--dim`` only sizes ``--eval``'s inputs)."""
    prob = _problem(args)
    inputs = prob.inputs
    _require_used(prob, inputs)
    jacs = rd.jacobian(prob.expr, prob.wrt)
    jacs = _simplified(list(jacs) if isinstance(jacs, list | tuple) else [jacs], args, out)
    names = [w.name for w in prob.wrt]
    _show(args, f"Jacobian of {args.expr} with respect to {', '.join(names)}", [f"J_{n}" for n in names], jacs, inputs, out)
    if not args.eval:
        return 0
    values = random_inputs(inputs, args.seed, args.dim)
    f = _compile(inputs, prob.expr)
    j = _compile(inputs, jacs, on_unused_input="ignore")
    analytic = _call(j, values)
    numeric = [central_jacobian(lambda x, p=p: f(*_with(values, [p], [x])), values[p]) for p in _wrt_positions(prob, inputs)]
    return _report(*_errors(analytic, numeric), "central differences", args, out)


def cmd_hessian(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """``rewritediff hessian``: the Hessian of a scalar expression (shape ``w.shape + w.shape`` for each wrt ``w``)."""
    prob = _problem(args)
    inputs = prob.inputs
    _require_used(prob, inputs)
    if prob.expr.ndim != 0:
        raise CliError(f"hessian needs a scalar expression; {args.expr!r} has ndim {prob.expr.ndim}")
    hs = rd.hessian(prob.expr, prob.wrt)
    hs = _simplified(list(hs) if isinstance(hs, list | tuple) else [hs], args, out)
    names = [w.name for w in prob.wrt]
    _show(args, f"Hessian of {args.expr} with respect to {', '.join(names)}", [f"H_{n}" for n in names], hs, inputs, out)
    if not args.eval:
        return 0
    values = random_inputs(inputs, args.seed, args.dim)
    f = _compile(inputs, prob.expr)
    hf = _compile(inputs, hs, on_unused_input="ignore")
    analytic = _call(hf, values)
    numeric = [central_hessian(lambda x, p=p: float(f(*_with(values, [p], [x]))), values[p]) for p in _wrt_positions(prob, inputs)]
    max_abs, max_rel, ok = compare(analytic, numeric, tol=1e-3)
    return _report(ok, max_abs, max_rel, "central differences", args, out)


def cmd_simplify(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """``rewritediff simplify``: the simplified expression, with ``--trace`` the rules that fired."""
    prob = _problem(args, need_wrt=False)
    expl = rd.explain(prob.expr)
    result = expl.result
    _show(args, f"simplified {args.expr}  ({rd.count_ops(prob.expr)} -> {rd.count_ops(result)} ops)", ["result"], [result], prob.inputs, out)
    if args.trace:
        _print_trace(expl, out)
    return 0


def _rule_line(rule: Any) -> str:
    return f"{_short_path(f'{rule.source.file}:{rule.source.line}')}: {rule.text}"


def cmd_rules_list(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """``rewritediff rules list [OP]``: the rules (of one op) with file:line."""
    from rewritediff.rules import KINDS as RULE_KINDS

    rs = default_rules()
    if args.kind is not None and args.kind not in RULE_KINDS:
        raise CliError(f"--kind {args.kind!r}: one of {', '.join(RULE_KINDS)}")
    if args.op is None:
        rules = rs.rules(args.kind)
    else:
        if args.op not in REGISTRY:
            close = difflib.get_close_matches(args.op, sorted(REGISTRY), n=3)
            raise CliError(f"unknown op {args.op!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        rules = rs.rules_for(args.op, args.kind)
        if not rules:
            out(f"# no rules for {args.op}" + (f" of kind {args.kind}" if args.kind else ""))
            return 0
    for rule in rules:
        out(_rule_line(rule))
    return 0


def _count(problems: list) -> str:
    return "no problems" if not problems else f"{len(problems)} problem(s)"


def cmd_rules_check(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """``rewritediff rules check [FILE]...``: validate rule files against the shipped rules and check every rule by value (and SymPy)."""

    shipped = default_rules()
    if not args.files:
        problems = shipped.check()
        for p in problems:
            out(_short_path(str(p)))
        out(f"# {len(shipped)} shipped rules checked (values at random inputs, dot-product tests, SymPy where it has the ops): {_count(problems)}")
        return 1 if problems else 0
    fresh = shipped.copy()
    loaded = []
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            raise CliError(f"{name}: no such file")
        try:
            loaded += fresh.load(path, replace=args.replace)
        except RuleError as exc:
            out(str(exc))
            return 1
    mine = RuleSet()
    for rule in loaded:
        mine.add(rule, replace=True)
    problems = mine.check()
    for p in problems:
        out(str(p))
    out(f"# {len(loaded)} rule(s) loaded from {', '.join(args.files)} and checked: {_count(problems)}")
    return 1 if problems else 0


def cmd_demo(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """``rewritediff demo``: the gradient of a logistic-regression loss, its generated code and a finite-difference check."""
    out("# rewritediff demo: logistic regression, written naively")
    out(f"#   loss = {DEMO_EXPR}")
    out(f"#   {', '.join(DEMO_VARS)}")
    out("# the same as: rewritediff grad '<loss>' --wrt w " + " ".join(f"--var {v}" for v in DEMO_VARS) + " --trace --source --eval")
    demo = argparse.Namespace(**vars(args))
    demo.expr, demo.var, demo.wrt = DEMO_EXPR, list(DEMO_VARS), ["w"]
    demo.source, demo.eval, demo.trace, demo.latex, demo.dot, demo.no_simplify = True, True, True, False, None, False
    return cmd_grad(demo, out)


# ---- argument parsing --------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show Python tracebacks on errors")

    def expr_parser(sub: Any, name: str, help_text: str, wrt: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.add_argument("expr", metavar="EXPR", help="an expression in the rule language's syntax, e.g. 'sum(tanh(W @ x))'")
        if wrt:
            p.add_argument(
                "--wrt",
                action="append",
                metavar="NAME",
                help="the variable(s) to differentiate with respect to (repeat or NAME,NAME; default: every float variable EXPR uses)",
            )
        p.add_argument(
            "--var",
            action="append",
            metavar="NAME:KIND[:SHAPE]",
            help=f"declare a variable; KIND is one of {', '.join(KINDS)} (default scalar; the i-kinds are int64, for indexing); SHAPE like 3,4 or 3,? (repeatable)",
        )
        p.add_argument(
            "--rules", action="append", metavar="FILE", help="load a rule file on top of the shipped rules (def ops, their derivatives, rewrites; repeatable)"
        )
        p.add_argument("--no-simplify", action="store_true", help="print the result as the rules build it, before simplification")
        p.add_argument("--trace", action="store_true", help="list the simplification rules that fired, with file:line")
        p.add_argument("--source", action="store_true", help="also print the generated numpy code")
        p.add_argument("--latex", action="store_true", help="also print LaTeX")
        p.add_argument("--dot", metavar="FILE", help="write the Graphviz graph to FILE (.dot, or .svg/.png when Graphviz is installed)")
        p.add_argument(
            "--dim",
            type=int,
            default=DEFAULT_DIM,
            metavar="N",
            help=f"size of unknown dims in --eval's random inputs; printed formulas keep them symbolic (default {DEFAULT_DIM})",
        )
        if wrt:
            p.add_argument(
                "--eval", action="store_true", help="evaluate at seeded random inputs in [0.5, 1.5) and compare with finite differences (exit 1 on mismatch)"
            )
            p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
        return p

    parser = argparse.ArgumentParser(
        prog="rewritediff",
        description="Differentiate tensor expressions by term rewriting. Names in EXPR are declared with --var NAME:KIND[:SHAPE] "
        "(without any --var, every name is a float scalar).",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    expr_parser(sub, "grad", "the simplified gradient of a scalar expression").set_defaults(func=cmd_grad)
    expr_parser(sub, "rop", "the R-op: the Jacobian of EXPR times an eval point named d<NAME>").set_defaults(func=cmd_rop)
    expr_parser(sub, "jacobian", "the Jacobian of EXPR").set_defaults(func=cmd_jacobian)
    expr_parser(sub, "hessian", "the Hessian of a scalar EXPR").set_defaults(func=cmd_hessian)
    p = expr_parser(sub, "simplify", "simplify EXPR with the shipped rules", wrt=False)
    p.set_defaults(func=cmd_simplify)
    rules = sub.add_parser("rules", parents=[common], help="list or check rules", description="list or check rules")
    rsub = rules.add_subparsers(dest="rules_command", metavar="ACTION")
    rsub.required = True
    p = rsub.add_parser(
        "list", parents=[common], help="the shipped rules (of one op) with file:line", description="the shipped rules (of one op) with file:line"
    )
    p.add_argument("op", nargs="?", metavar="OP", help="an op name, e.g. tanh")
    p.add_argument("--kind", help="only rules of this kind (d, vjp, jvp, transpose, rewrite, equal, def)")
    p.set_defaults(func=cmd_rules_list)
    p = rsub.add_parser(
        "check",
        parents=[common],
        help="validate rule files and check d rules against SymPy (exit 1 on problems)",
        description="validate rule files (loaded on top of the shipped rules) and check their d rules against SymPy; without FILE, check the shipped rules",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="rule files (default: the shipped rules)")
    p.add_argument("--replace", action="store_true", help="let the files override shipped rules of the same kind and op")
    p.set_defaults(func=cmd_rules_check)
    p = sub.add_parser("demo", parents=[common], help="the gradient of a logistic-regression loss, its code and a check", description="a short demonstration")
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--dim", type=int, default=DEFAULT_DIM, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_demo)
    return parser


_EXPR_COMMANDS = ("grad", "rop", "jacobian", "hessian", "simplify")
_LONG_OPTION = re.compile(r"--[A-Za-z][-A-Za-z]*(=.*)?")


def _protect_negative_expressions(argv: list[str]) -> list[str]:
    """Arguments of an expression command that start with ``-`` but are no option (``-x*x``), prefixed with a space.

    argparse takes any argument starting with ``-`` for an option; a leading space makes it a
    positional (or an option's value) and the expression grammar ignores it. The only options are
    ``-h`` and long ``--name`` ones, so anything else starting with ``-`` is an expression.
    """
    if not argv or argv[0] not in _EXPR_COMMANDS:
        return argv
    out = [argv[0]]
    rest = iter(argv[1:])
    for arg in rest:
        if arg == "--":  # everything after it is positional already
            out.append(arg)
            out.extend(rest)
            break
        if arg.startswith("-") and arg != "-h" and not _LONG_OPTION.fullmatch(arg):
            arg = " " + arg
        out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rewritediff`` console script; returns the exit status."""
    argv = _protect_negative_expressions(sys.argv[1:] if argv is None else list(argv))
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error (argparse has printed it)
        return exc.code if isinstance(exc.code, int) else 2
    debug = getattr(args, "debug", False)

    def out(text: str) -> None:
        print(text, flush=True)

    try:
        with user_rules(getattr(args, "rules", None) or []):
            return args.func(args, out)
    except CliError as exc:
        if debug:
            raise
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `rewritediff demo | head`: stop quietly
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except Exception as exc:  # noqa: BLE001 - the command prints one line; --debug shows the traceback
        if debug:
            raise
        print(f"error: {type(exc).__name__}: {_one_line(exc)} (run with --debug for the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
