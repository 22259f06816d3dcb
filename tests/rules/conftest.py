"""Fixtures for the rule-language tests: ops defined by a test are removed afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rewritediff.ops import REGISTRY, unregister


@pytest.fixture(autouse=True)
def _forget_new_ops() -> Iterator[None]:
    """Unregister any op a test registered (def rules and define_op write to the global registry)."""
    before = list(REGISTRY)
    yield
    for name in [n for n in REGISTRY if n not in before]:
        unregister(name)
