"""Fuzz every operation of the service's OpenAPI spec with schemathesis (generated bodies, paths, queries,
uploads; with an admin key, so requests get past authentication): no answer is a 5xx, and every error is the
documented JSON ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (tenken[dev])")
from hypothesis import HealthCheck, settings  # noqa: E402

from tenken.serve.app import create_app  # noqa: E402
from tenken.serve.db import Database  # noqa: E402
from tenken.serve.keys import create_key  # noqa: E402
from tenken.serve.models import Site  # noqa: E402
from tenken.serve.settings import ServeSettings  # noqa: E402

_DATA = Path(tempfile.mkdtemp(prefix="tenken-fuzz-"))
_SETTINGS = ServeSettings(data_dir=_DATA, upload_rate=1e6, upload_burst=10**6, import_roots=[_DATA])
_DB = Database(_SETTINGS.url)
_DB.migrate()
with _DB.write() as _s:
    _s.add(Site(name="fuzz-site"))
_KEY, _ = create_key(_DB, "fuzzer", admin=True)
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_SETTINGS, _DB))


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case) -> None:
    response = case.call(headers={"X-API-Key": _KEY})
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body["error"]) >= {"code", "message"}, body
