"""Shared helpers for the engine tests: rules from rule-language text, numeric evaluation."""

from __future__ import annotations

import numpy as np

import rewritediff as rd
from rewritediff.engine.rewrite import Rewrite, compile_rules
from rewritediff.rules import RuleSet


def rewrites(text: str) -> list[Rewrite]:
    """Compile rules written in the rule language (in a fresh rule set)."""
    rs = RuleSet()
    rs.load_string(text, "<test>")
    return compile_rules(rs.rules("rewrite") + rs.rules("equal"))


def evaluate(term: rd.Term, env: dict) -> np.ndarray:
    """Evaluate a term without simplification."""
    keys = sorted(env, key=lambda t: t.uid)
    f = rd.function(keys, term, on_unused_input="ignore", simplify=False)
    return f(*[env[k] for k in keys])
