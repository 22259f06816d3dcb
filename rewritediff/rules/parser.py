"""Parsing rule text into :mod:`rewritediff.rules.ast` objects with the lark grammar ``grammar.lark``.

``parse`` returns the rules in file order and a table of source positions keyed by ``id`` of the
AST nodes (names, calls), which the validator uses to point at the offending token.
"""

from __future__ import annotations

import ast as pyast
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from rewritediff.errors import RuleError
from rewritediff.rules.ast import Call, NoneLit, Num, Rule, Source, Special, Star, Str, Tuple, Var

_OPEN = ("LPAR", "LSQB", "LBRACE")
_CLOSE = ("RPAR", "RSQB", "RBRACE")
COMPARISONS = {"==": "eq", "!=": "neq", "<": "lt", ">": "gt", "<=": "le", ">=": "ge"}


class _BracketNewlines:
    """Post-lexer: newlines inside brackets do not end a rule."""

    always_accept = ("_NL",)

    def process(self, stream: Any) -> Any:
        """Drop ``_NL`` tokens while any bracket is open."""
        depth = 0
        for tok in stream:
            if tok.type in _OPEN:
                depth += 1
            elif tok.type in _CLOSE:
                depth = max(0, depth - 1)
            elif tok.type == "_NL" and depth:
                continue
            yield tok


_PARSER: Lark | None = None


def grammar_text() -> str:
    """The grammar source (``rules/grammar.lark``)."""
    return (Path(__file__).with_name("grammar.lark")).read_text()


def _parser() -> Lark:
    global _PARSER
    if _PARSER is None:
        _PARSER = Lark(grammar_text(), parser="lalr", lexer="contextual", postlex=_BracketNewlines(), propagate_positions=True, maybe_placeholders=False)
    return _PARSER


@dataclass
class Parsed:
    """The rules of one text, in order, with the positions of their names and calls."""

    rules: list[Rule]
    positions: dict[int, tuple[int, int]] = field(default_factory=dict)
    keep: list = field(default_factory=list)

    def pos(self, node: Any, rule: Rule) -> tuple[int, int]:
        """(line, col) of ``node``, or of its rule when unknown."""
        return self.positions.get(id(node), (rule.source.line, rule.source.col))


def _num(text: str) -> int | float:
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


@v_args(inline=True)
class _ToAst(Transformer):
    """lark tree -> rules.ast, recording token positions."""

    def __init__(self, filename: str, text: str, positions: dict, keep: list) -> None:
        super().__init__()
        self.filename = filename
        self.lines = text.splitlines()
        self.positions = positions
        self.keep = keep

    def _at(self, node: Any, tok: Token) -> Any:
        self.positions[id(node)] = (tok.line, tok.column)
        self.keep.append(node)
        return node

    # ---- expressions ---------------------------------------------------------------------
    def num(self, tok: Token) -> Num:
        return self._at(Num(_num(str(tok))), tok)

    def string(self, tok: Token) -> Str:
        return self._at(Str(pyast.literal_eval(str(tok))), tok)

    def true(self) -> Num:
        return Num(True)

    def false(self) -> Num:
        return Num(False)

    def none(self) -> NoneLit:
        return NoneLit()

    def zero(self) -> Special:
        return Special("zero")

    def disconnected(self) -> Special:
        return Special("disconnected")

    def null(self, tok: Token | None = None) -> Special:
        return Special("null", pyast.literal_eval(str(tok)) if tok is not None else "")

    def var(self, tok: Token) -> Var:
        return self._at(Var(str(tok)), tok)

    def args(self, *items: Any) -> tuple:
        return tuple(items)

    def splat(self, tok: Token) -> Star:
        return self._at(Star(str(tok)), tok)

    def attr(self, name: Token, value: Any = None) -> tuple:
        val = value if value is not None else self._at(Var(str(name)), name)
        return (str(name), val)

    def attrs(self, *items: Any) -> tuple:
        return tuple(items)

    def call(self, name: Token, args: tuple, attrs: tuple = ()) -> Call:
        return self._at(Call(str(name), args, attrs), name)

    def empty_tuple(self) -> Tuple:
        return Tuple(())

    def tuple(self, *items: Any) -> Tuple:
        return Tuple(tuple(items))

    def _binary(op: str) -> Any:  # noqa: N805 - a factory used in the class body
        def method(self: _ToAst, a: Any, b: Any) -> Call:
            node = Call(op, (a, b))
            if id(a) in self.positions:
                self.positions[id(node)] = self.positions[id(a)]
                self.keep.append(node)
            return node

        return method

    add = _binary("add")
    sub = _binary("sub")
    mul = _binary("mul")
    true_div = _binary("true_div")
    matmul = _binary("matmul")
    pow = _binary("pow")

    def neg(self, a: Any) -> Any:
        if isinstance(a, Num) and not isinstance(a.value, bool):
            return Num(-a.value)
        return Call("neg", (a,))

    def compare(self, a: Any, op: Token, b: Any) -> Call:
        return self._at(Call(COMPARISONS[str(op)], (a, b)), op)

    g_or = _binary("or")
    g_and = _binary("and")

    def g_not(self, a: Any) -> Call:
        return Call("not", (a,))

    # ---- rule parts ----------------------------------------------------------------------
    def pvar(self, tok: Token) -> Var:
        return self._at(Var(str(tok)), tok)

    def pstar(self, tok: Token) -> Star:
        return self._at(Star(str(tok)), tok)

    def pargs(self, *items: Any) -> tuple:
        return tuple(items)

    def params(self, *toks: Token) -> tuple:
        return tuple(self._at(Var(str(t)), t) for t in toks)

    def pattern(self, name: Token, pargs: tuple, attrs: tuple = ()) -> Call:
        return self._at(Call(str(name), pargs, attrs), name)

    def cot(self, *toks: Token) -> tuple:
        for t in toks:
            self.positions[("cot", str(t))] = (t.line, t.column)  # type: ignore[index]
        return tuple(str(t) for t in toks)

    def rhs(self, *exprs: Any) -> tuple:
        return tuple(exprs)

    def guard(self, g: Any) -> Any:
        return g


def _strip_line(line: str) -> str:
    """A source line without its comment and continuation backslash."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            line = line[:i]
            break
    line = line.rstrip()
    return line[:-1] if line.endswith("\\") else line


class _Rules(Transformer):
    """Statement trees -> Rule objects with their Source."""

    def __init__(self, filename: str, lines: list[str], positions: dict, keep: list) -> None:
        super().__init__()
        self.filename = filename
        self.lines = lines
        self.positions = positions
        self.keep = keep

    def _rule(self, kind: str, meta: Any, lhs: Any, rhs: tuple, cot: tuple = (), guard: Any = None) -> Rule:
        line, col = meta.line, meta.column
        end = getattr(meta, "end_line", line)
        text = " ".join(_strip_line(s) for s in self.lines[line - 1 : end]) if self.lines else ""
        text = " ".join(text.split())
        return Rule(kind, lhs, rhs, cot, guard, Source(self.filename, line, col), text)

    @v_args(meta=True)
    def d_rule(self, meta: Any, items: list) -> Rule:
        return self._rule("d", meta, items[0], items[1], (), items[2] if len(items) > 2 else None)

    @v_args(meta=True)
    def vjp_rule(self, meta: Any, items: list) -> Rule:
        return self._rule("vjp", meta, items[0], items[2], items[1], items[3] if len(items) > 3 else None)

    @v_args(meta=True)
    def jvp_rule(self, meta: Any, items: list) -> Rule:
        return self._rule("jvp", meta, items[0], items[2], items[1], items[3] if len(items) > 3 else None)

    @v_args(meta=True)
    def transpose_rule(self, meta: Any, items: list) -> Rule:
        return self._rule("transpose", meta, items[0], items[2], items[1], items[3] if len(items) > 3 else None)

    @v_args(meta=True)
    def rewrite_rule(self, meta: Any, items: list) -> Rule:
        return self._rule("rewrite", meta, items[0], (items[1],), (), items[2] if len(items) > 2 else None)

    @v_args(meta=True)
    def equal_rule(self, meta: Any, items: list) -> Rule:
        return self._rule("equal", meta, items[0], (items[1],), (), items[2] if len(items) > 2 else None)

    @v_args(meta=True)
    def def_rule(self, meta: Any, items: list) -> Rule:
        name, params = items[0], items[1]
        attrs = items[2] if len(items) > 3 else ()
        lhs = Call(str(name), params, attrs)
        self.positions[id(lhs)] = (name.line, name.column)
        self.keep.append(lhs)
        return self._rule("def", meta, lhs, (items[-1],))

    def tagged_rule(self, items: list) -> Rule:
        *tags, rule = items
        tagged = dataclasses.replace(rule, tags=tuple(str(t)[1:] for t in tags), source=Source(self.filename, tags[0].line, tags[0].column))
        self.positions[("tags", id(tagged))] = tuple((str(t)[1:], t.line, t.column) for t in tags)  # type: ignore[index]
        return tagged

    def start(self, items: list) -> list:
        return list(items)


def _syntax_error(exc: UnexpectedInput, filename: str, text: str) -> RuleError:
    line, col = getattr(exc, "line", 0) or 0, getattr(exc, "column", 0) or 0
    if isinstance(exc, UnexpectedEOF) or line in (0, -1):
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
        what = "unexpected end of input"
    elif isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            what = "unexpected end of input"
        elif tok.type == "_NL":
            what = "unexpected end of line"
        else:
            what = f"unexpected {str(tok)!r}"
        expected = sorted(exc.expected)
        if expected:
            what += f" (expected one of: {', '.join(_pretty(e) for e in expected[:12])})"
    elif isinstance(exc, UnexpectedCharacters):
        ch = text.splitlines()[line - 1][col - 1 : col] if line > 0 else "?"
        what = f"unexpected character {ch!r}"
    else:
        what = "syntax error"
    src = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
    caret = f"\n    {src}\n    {' ' * (col - 1)}^" if src else ""
    return RuleError(f"{filename}:{line}:{col}: syntax error: {what}{caret}")


_TERMINAL_TEXT = {
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "EQUAL": "'='",
    "SEMICOLON": "';'",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "_NL": "end of line",
    "COMP": "a comparison",
    "TAG": "a tag (@finite)",
}


def _pretty(name: str) -> str:
    if name in _TERMINAL_TEXT:
        return _TERMINAL_TEXT[name]
    if name in ("TRUE", "FALSE", "NONE"):
        return name.capitalize()
    return repr(name.lower()) if name.isupper() else name


def parse(text: str, filename: str = "<string>") -> Parsed:
    """Parse rule text into Rules (no validation beyond syntax); syntax errors are RuleErrors with file:line:col."""
    if not text.endswith("\n"):
        text = text + "\n"
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, filename, text) from None
    positions: dict = {}
    keep: list = []
    try:
        tree = _ToAst(filename, text, positions, keep).transform(tree)
        rules = _Rules(filename, text.splitlines(), positions, keep).transform(tree)
    except VisitError as exc:  # pragma: no cover - the grammar only produces valid trees
        raise RuleError(f"{filename}:0:0: {exc.orig_exc}") from None
    return Parsed(rules if isinstance(rules, list) else [], positions, keep)


# ---- single expressions (the command line) -----------------------------------------------------
_EXPR_PARSER: Lark | None = None


def _expr_parser() -> Lark:
    global _EXPR_PARSER
    if _EXPR_PARSER is None:
        _EXPR_PARSER = Lark(
            grammar_text(),
            parser="lalr",
            lexer="contextual",
            start="expr_start",
            postlex=_BracketNewlines(),
            propagate_positions=True,
            maybe_placeholders=False,
        )
    return _EXPR_PARSER


@dataclass
class ParsedExpression:
    """One expression in the rule language's syntax, with the positions of its names and calls."""

    expr: Any
    text: str
    filename: str = "<expr>"
    positions: dict[int, tuple[int, int]] = field(default_factory=dict)
    keep: list = field(default_factory=list)

    def pos(self, node: Any) -> tuple[int, int]:
        """(line, col) of ``node``, or (1, 1) when unknown."""
        return self.positions.get(id(node), (1, 1))


def parse_expression(text: str, filename: str = "<expr>") -> ParsedExpression:
    """Parse one expression (``sum(tanh(W @ x)){axis=0}``) with the rule grammar; syntax errors are RuleErrors with file:line:col."""
    try:
        tree = _expr_parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, filename, text) from None
    positions: dict = {}
    keep: list = []
    tree = _ToAst(filename, text, positions, keep).transform(tree)
    return ParsedExpression(tree.children[0], text, filename, positions, keep)
