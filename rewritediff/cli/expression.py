"""The command's expression language: a lark LALR grammar read into terms (never evaluated by Python)."""

from __future__ import annotations

import difflib
import threading
from dataclasses import dataclass
from typing import Any

import rewritediff as rd
from rewritediff.cli.declare import EXPR_FILE, CliError, _one_line
from rewritediff.ops import REGISTRY
from rewritediff.rules import Call, NoneLit, Num, Str, Tuple, Var, instantiate
from rewritediff.rules.parser import _syntax_error
from rewritediff.tensor import getitem
from rewritediff.terms import Term

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
