"""The ``rewritediff`` command: gradients, R-ops, Jacobians and Hessians of expressions typed on the
command line, simplification with a trace, and listing or checking rules.

Expressions use the rule language's expression syntax (``rules.md``) plus subscripts (``x[1:]``), and
are parsed by a lark LALR grammar (``EXPR_GRAMMAR``), never by Python: ``sum(tanh(W @ x))``,
``mean(x){axis=0}``, ``dot(W, x)``. Every name in an expression
must be declared with ``--var NAME:KIND[:SHAPE]``. Mistakes in the expression or the declarations
print one line ``error: <expr>:LINE:COL: ...`` and exit with status 2 (``--debug`` shows the traceback).

Modules: ``declare`` (variables), ``expression`` (the grammar), ``commands`` (one function per
subcommand) and here the argument parser and ``main``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any

from rewritediff.cli.commands import (
    cmd_demo,
    cmd_grad,
    cmd_hessian,
    cmd_jacobian,
    cmd_rop,
    cmd_rules_check,
    cmd_rules_list,
    cmd_simplify,
    user_rules,
)
from rewritediff.cli.declare import DEFAULT_DIM, KINDS, CliError, _one_line, declare, parse_var
from rewritediff.cli.expression import build_expression

__all__ = ["CliError", "build_expression", "declare", "main", "parse_var"]


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
