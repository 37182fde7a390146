"""Shared fixtures (minimal; the lead reconciles conftest files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data; skip when missing (fail under CI=true)."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared data missing: {SHARED_DATA}")
        pytest.skip(f"shared data missing: {SHARED_DATA}")
    return SHARED_DATA
