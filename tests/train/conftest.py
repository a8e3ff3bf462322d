"""Shared fixtures: small colour-grounding datasets (written once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenken.train.synthetic import write_colour_grounding


@pytest.fixture(scope="session")
def colour_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``train.jsonl`` of 12 colour-grounding scenes (EN and JA), 32x32 images."""
    return write_colour_grounding(tmp_path_factory.mktemp("colour"), 12)[0]


@pytest.fixture(scope="session")
def colour_val(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``train.jsonl`` of 4 other scenes, for validation."""
    return write_colour_grounding(tmp_path_factory.mktemp("colour_val"), 4, seed=1)[0]
