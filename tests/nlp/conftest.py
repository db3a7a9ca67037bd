"""Shared fixtures for the nlp tests: one pipeline per session (building it loads the rules)."""

from __future__ import annotations

import pytest

from pipeline.nlp import make_nlp


@pytest.fixture(scope="session")
def nlp():
    return make_nlp()
