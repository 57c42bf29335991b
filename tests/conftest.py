"""Shared fixtures for the kit's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.manifest import Kit

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"


@pytest.fixture(scope="session")
def kit() -> Kit:
    return Kit.load(ROOT)
