"""The entry point from the rest of the package into simplification (the engine plugs in here)."""

from __future__ import annotations

from collections.abc import Sequence

from rewritediff.terms import Term


def simplify_terms(terms: Sequence[Term]) -> list[Term]:
    """Simplified equivalents of ``terms`` (currently the identity until the engine lands)."""
    return list(terms)
