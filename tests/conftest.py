"""Shared fixtures for the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.paths import FIXTURES

# Hypothesis' per-example deadline and its too-slow health check are timings: on two busy cores
# they fail tests whose logic is right (a 200 ms deadline missed at 330 ms under load). Speed is
# measured in bench/, never asserted in a unit test, so every property test runs without them.
settings.register_profile("gencheck", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("gencheck")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny qwen2 bigram model (pipeline.models.tiny_model), built once per test session."""
    from pipeline.models.tiny_model import ensure_tiny_model

    return ensure_tiny_model(tmp_path_factory.mktemp("gencheck-cache"))
