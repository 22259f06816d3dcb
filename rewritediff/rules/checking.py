"""Checking rules of every kind: rewrite rules by value (and SymPy), derivative rules by the dot-product test.

A rule is only as good as the numbers it gives, so each kind is checked against an independent
reading of what it claims:

* ``rule lhs => rhs`` / ``<=>``: both sides evaluated (numpy, through each op's ``impl``) at random
  inputs of several shapes and dtypes, drawn so that the guard holds (the guard is read on the
  values: ``positive(x)`` means every drawn element is > 0); samples where the guard fails are
  drawn too and counted (they show whether the guard is needed). Where both sides are
  elementwise, SymPy must also find ``simplify(lhs - rhs) == 0`` (or agree numerically). A rule
  not marked ``@finite`` must also keep NaN inputs NaN (``x * 0 => 0`` does not).
* ``vjp`` / ``jvp`` / ``transpose``: the dot-product test ``<u, J v> == <J^T u, v>`` for random
  ``u`` and ``v``, each side against central differences of the op's own value.
* ``d``: against ``sympy.diff`` (:mod:`rewritediff.rules.sympy_check`).

Inputs are built from a rule's own left-hand side (:func:`structures`): every pattern variable gets
a fresh input of a shape and kind from a small palette, every bound attribute a value from a
palette keyed by the attribute's name, until the pattern builds and the guard holds on the terms.
The same witnesses drive the rule-coverage test of the engine.

The kinds are checked in ``check_rewrite.py`` and ``check_derivative.py``, from the values of
``check_sampling.py``, into the report of ``check_report.py``; this module runs them all.
"""

from __future__ import annotations

from typing import Any

from rewritediff.rules import ruleset, sympy_check
from rewritediff.rules.check_derivative import CONVENTION_SKIP, FD_STEP, HARD_INPUTS, SPARSE_SKIP, check_derivative
from rewritediff.rules.check_report import Problem, Report
from rewritediff.rules.check_rewrite import SAMPLES, check_rewrite
from rewritediff.rules.check_sampling import VALUE_FACTS, evaluate_term

# ---- everything -----------------------------------------------------------------------------------


def check_rules(rules: Any, ruleset: Any = None, seed: int = 0) -> Report:
    """Check every rule in ``rules`` (a RuleSet or a list of Rules) by its kind; a :class:`Report`."""

    report = Report()
    items = list(rules.rules() if hasattr(rules, "rules") else rules)
    if ruleset is None and hasattr(rules, "rules"):
        ruleset = rules
    for rule in items:
        if rule.kind == "d":
            found = sympy_check.check_rule(rule)
            if found is None:
                report.skipped.append((rule, "no SymPy form"))
            else:
                report.checked.append(rule)
                report.problems.extend(found)
        elif rule.kind in ("rewrite", "equal"):
            report.problems.extend(check_rewrite(rule, seed, report))
        elif rule.kind in ("vjp", "jvp", "transpose"):
            report.problems.extend(check_derivative(rule, ruleset, seed, report))
    return report


def check(rules: Any, ruleset: Any = None, seed: int = 0) -> list:
    """The problems of every rule in ``rules``, each naming its ``file:line:col``, the inputs and both values."""
    return check_rules(rules, ruleset, seed).problems


ruleset.value_checker = check  # RuleSet.check() and load(..., check=True) run this checker

__all__ = [
    "CONVENTION_SKIP",
    "FD_STEP",
    "HARD_INPUTS",
    "SAMPLES",
    "SPARSE_SKIP",
    "VALUE_FACTS",
    "Problem",
    "Report",
    "check",
    "check_derivative",
    "check_rewrite",
    "check_rules",
    "evaluate_term",
]
