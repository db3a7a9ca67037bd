"""Shared fixtures: small synthetic exports made once per test session."""

from __future__ import annotations

import pytest

from pipeline.synth import generate


@pytest.fixture(scope="session")
def small_synth():
    """A small export for format and structure tests."""
    return generate(40, seed=11, workers=1)


@pytest.fixture(scope="session")
def culture_synth():
    """Enough cases for every region to show every label and for parameter recovery tests."""
    return generate(1200, seed=5, workers=2)
