"""Shared helpers for the op tests: seeded random inputs and compiled evaluation."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator so failures reproduce."""
    return np.random.default_rng(12345)
