"""Shared fixtures for the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny qwen2 bigram model (pipeline.models.tiny_model), built once per test session."""
    from pipeline.models.tiny_model import ensure_tiny_model

    return ensure_tiny_model(tmp_path_factory.mktemp("gencheck-cache"))
