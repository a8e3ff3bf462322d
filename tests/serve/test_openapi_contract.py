"""The service's OpenAPI document is its contract with clients: paths, methods, operation ids, parameters and
schemas stay what ``tests/serve/fixtures/openapi.json`` records unless a change is meant (then regenerate it
with ``python tests/serve/test_openapi_contract.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

from tenken.serve.app import create_app
from tenken.serve.db import Database
from tenken.serve.settings import ServeSettings

SNAPSHOT = Path(__file__).with_name("fixtures") / "openapi.json"


def openapi(root: Path) -> dict:
    settings = ServeSettings(data_dir=root)
    return create_app(settings, Database(settings.url)).openapi()


def test_openapi_document_is_unchanged(tmp_path: Path) -> None:
    assert openapi(tmp_path) == json.loads(SNAPSHOT.read_text())


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        SNAPSHOT.write_text(json.dumps(openapi(Path(d)), indent=1, sort_keys=True) + "\n")
    sys.exit(0)
