"""The rule language: loading ``rules/*.rules`` into a :class:`RuleSet`, and using its rules.

``default_rules()`` is the shipped rule set (every ``rewritediff/rules/*.rules`` file, sorted by
name, loaded once). ``load``/``load_string`` add to it (or to the rule set given as ``into``).
See ``rules.md`` at the repository root for the language.
"""

from __future__ import annotations

from pathlib import Path

from rewritediff.rules.ast import Call, NoneLit, Num, Rule, Source, Special, Star, Str, Tuple, Var
from rewritediff.rules.checking import check as _check
from rewritediff.rules.define import define_op, evaluate, op_function
from rewritediff.rules.helpers import ATTR_HELPERS, PREDICATES, eval_attr, eval_guard
from rewritediff.rules.instantiate import bind_arg, instantiate, instantiate_for_arg, is_variadic, match
from rewritediff.rules.parser import parse
from rewritediff.rules.ruleset import KINDS, RuleSet

__all__ = [
    "ATTR_HELPERS",
    "KINDS",
    "PREDICATES",
    "Call",
    "NoneLit",
    "Num",
    "Rule",
    "RuleSet",
    "Source",
    "Special",
    "Star",
    "Str",
    "Tuple",
    "Var",
    "bind_arg",
    "check",
    "default_rules",
    "define_op",
    "eval_attr",
    "eval_guard",
    "evaluate",
    "instantiate",
    "instantiate_for_arg",
    "is_variadic",
    "load",
    "load_string",
    "match",
    "op_function",
    "parse",
    "rule_files",
]

_DEFAULT: RuleSet | None = None


def rule_files() -> list[Path]:
    """The shipped rule files, sorted by name."""
    return sorted(Path(__file__).parent.glob("*.rules"), key=lambda p: p.name)


def default_rules() -> RuleSet:
    """The shipped rules (every ``rewritediff/rules/*.rules``), loaded once."""
    global _DEFAULT
    if _DEFAULT is None:
        rs = RuleSet()
        for path in rule_files():
            rs.load(path)
        _DEFAULT = rs
    return _DEFAULT


def load_string(text: str, filename: str = "<string>", into: RuleSet | None = None, replace: bool = False) -> list[Rule]:
    """Parse, validate and add rules to the default rule set (or ``into``); returns them in file order."""
    target = default_rules() if into is None else into
    return target.load_string(text, filename, replace=replace)


def load(path: str | Path, into: RuleSet | None = None, replace: bool = False, check: bool = False) -> list[Rule]:
    """Load a rule file into the default rule set (or ``into``); ``check=True`` refuses rules that give wrong values."""
    target = default_rules() if into is None else into
    return target.load(path, replace=replace, check=check)


def check(ruleset: RuleSet | None = None) -> list:
    """Check every rule of ``ruleset`` (default: the shipped rules) by its kind; the problems found (rules/checking.py)."""
    rs = default_rules() if ruleset is None else ruleset
    return _check(rs, rs)
