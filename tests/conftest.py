"""Shared test fixtures.

Real development images live in ``../shared/data/dev`` beside the repository (override the location with
``TENKEN_DEV_DATA``). Tests that need them are skipped with a clear reason when the folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEV_DATA = Path(os.environ.get("TENKEN_DEV_DATA", REPO.parent / "shared" / "data" / "dev"))


@pytest.fixture(scope="session")
def dev_data() -> Path:
    """Path of the real development images (``shared/data/dev``)."""
    if not DEV_DATA.is_dir():
        pytest.skip(f"development data not found at {DEV_DATA} (set TENKEN_DEV_DATA)")
    return DEV_DATA


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return REPO


# Tiny random-weight VLM checkpoints (tiny_llava, tiny_llava_path, tiny_qwen25_path), built once per session.
pytest_plugins = ["tests.vlm.tiny_models"]
