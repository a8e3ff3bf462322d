"""The service end to end through its HTTP API, on SQLite and on a real PostgreSQL: upload, run, review,
export; scoping, limits and JSON errors."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from tenken.eval.formats import read_detection_truth
from tenken.serve.app import create_app
from tenken.serve.db import Database
from tenken.serve.keys import create_key
from tenken.serve.settings import ServeSettings
from tenken.serve.worker import Worker

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "walkway"


class Service:
    """A running app with an admin key, one site and its key."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.db = Database(settings.url)
        self.client = TestClient(create_app(settings, self.db))
        self.client.__enter__()  # runs the lifespan: migrations
        self.admin_key, _ = create_key(self.db, "admin", admin=True)
        site = self.call("post", "/api/v1/sites", self.admin_key, json={"name": "plant-a"})
        self.site_id = site["id"]
        self.site_key = self.call("post", "/api/v1/keys", self.admin_key, json={"name": "op", "site_id": self.site_id})[
            "key"
        ]

    def call(self, method: str, url: str, key: str | None = None, status: int | None = None, **kw: object) -> object:
        r = self.client.request(method, url, headers={"X-API-Key": key} if key else {}, **kw)  # type: ignore[arg-type]
        if status is not None:
            assert r.status_code == status, r.text
        elif r.status_code >= 400:
            raise AssertionError(f"{method} {url}: {r.status_code} {r.text}")
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r

    def worker(self) -> Worker:
        return Worker(self.settings, self.db, name="test-worker")

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.db.dispose()


@pytest.fixture
def service(tmp_path: Path, database_url: str):
    svc = Service(ServeSettings(data_dir=tmp_path / "data", database_url=database_url, import_roots=[EXAMPLE]))
    yield svc
    svc.close()


def _files(*paths: Path) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in paths]


def test_upload_run_review_export(service: Service, tmp_path: Path) -> None:
    key, sid = service.site_key, service.site_id
    refs = service.call("post", f"/api/v1/sites/{sid}/references", key, 201, files=_files(EXAMPLE / "reference.jpg"))
    assert refs[0]["filename"] == "reference.jpg" and len(refs[0]["image_sha"]) == 64
    job = service.call("post", f"/api/v1/sites/{sid}/jobs", key, 201, files=_files(EXAMPLE / "target.jpg"))
    assert job["status"] == "queued" and job["progress"] == {"total": 1, "done": 0, "failed": 0, "pending": 1}
    assert service.worker().run_once() == job["id"]
    job = service.call("get", f"/api/v1/jobs/{job['id']}", key)
    assert job["status"] == "done" and job["progress"]["done"] == 1 and job["attempts"] == 1
    (item,) = service.call("get", f"/api/v1/jobs/{job['id']}/items", key)
    assert item["aligned_sha"] and item["annotated_sha"] and item["width"] == 1280
    findings = item["findings"]
    assert len(findings) >= 2 and all(f["status"] == "pending" for f in findings)
    first, second = findings[0], findings[1]
    service.call("post", f"/api/v1/findings/{first['id']}/review", key, json={"action": "relabel", "label": "tool"})
    service.call("post", f"/api/v1/findings/{second['id']}/review", key, json={"action": "reject", "comment": "影"})
    for f in findings[2:]:
        service.call("post", f"/api/v1/findings/{f['id']}/review", key, json={"action": "confirm"})
    added = service.call(
        "post", f"/api/v1/items/{item['id']}/findings", key, 201, json={"box": [10, 20, 60, 90], "label": "glove"}
    )
    assert added["origin"] == "operator" and added["status"] == "confirmed"
    # the images behind the review page
    img = service.call("get", f"/api/v1/images/{item['aligned_sha']}", key)
    assert Image.open(io.BytesIO(img.content)).size == (1280, 853)

    gt_text = service.call("get", f"/api/v1/jobs/{job['id']}/export/ground_truth.jsonl", key).text
    (gt,) = [json.loads(line) for line in gt_text.splitlines()]
    assert gt["id"] == "target" and gt["boxes"][0] == first["box"] and gt["labels"][0] == "tool"
    assert gt["boxes"][-1] == [10.0, 20.0, 60.0, 90.0] and len(gt["boxes"]) == len(findings)  # one rejected, one added
    (tmp_path / "gt.jsonl").write_text(gt_text, encoding="utf-8")
    truths, report = read_detection_truth(tmp_path / "gt.jsonl")  # what `tenken eval detection --gt` reads
    assert report.clean and len(truths[0].truth) == len(findings)

    reports = service.call("get", f"/api/v1/jobs/{job['id']}/export/reports.json", key)
    assert reports[0]["schema"] == "tenken.report/1" and reports[0]["review"]["complete"]
    assert next(d["label"] for d in reports[0]["detections"]) == "tool"
    rows = list(
        csv.DictReader(io.StringIO(service.call("get", f"/api/v1/jobs/{job['id']}/export/findings.csv", key).text))
    )
    assert {r["status"] for r in rows} == {"confirmed", "rejected"} and rows[1]["comment"] == "影"

    zipped = zipfile.ZipFile(
        io.BytesIO(service.call("get", f"/api/v1/jobs/{job['id']}/export/training.zip", key).content)
    )
    zipped.extractall(tmp_path / "train")
    from tenken.data.format import read_samples

    (sample,) = read_samples(tmp_path / "train" / "samples.jsonl")
    assert sample.task == "anomaly" and len(sample.boxes) == len(findings)
    assert all(p.is_file() for p in sample.image_paths(tmp_path / "train"))


def test_site_keys_see_only_their_site(service: Service) -> None:
    other = service.call("post", "/api/v1/sites", service.admin_key, 201, json={"name": "plant-b"})
    r = service.call("get", f"/api/v1/sites/{other['id']}/references", service.site_key, 404)
    assert r["error"]["code"] == "not_found"
    assert [s["id"] for s in service.call("get", "/api/v1/sites", service.site_key)] == [service.site_id]
    service.call("post", "/api/v1/sites", service.site_key, 403, json={"name": "mine"})
    assert service.call("get", "/api/v1/sites", None, 401)["error"]["code"] == "unauthorized"
    assert service.call("get", "/api/v1/sites", "tk_not-a-key", 401)


def test_uploads_are_sniffed_and_limited(service: Service, tmp_path: Path) -> None:
    url, key = f"/api/v1/sites/{service.site_id}/references", service.site_key
    fake = [("files", ("photo.jpg", b"#!/bin/sh\nrm -rf /\n", "image/jpeg"))]
    assert service.call("post", url, key, 415, files=fake)["error"]["code"] == "unsupported_media_type"
    big = io.BytesIO()
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(big, format="PNG")
    service.settings.max_pixels = 100  # the limit is read at upload time
    r = service.call("post", url, key, 413, files=[("files", ("a.png", big.getvalue(), "image/png"))])
    assert "pixels" in r["error"]["message"]
    traversal = [("files", ("../../etc/passwd.png", big.getvalue(), "image/png"))]
    service.settings.max_pixels = 10_000
    (ref,) = service.call("post", url, key, 201, files=traversal)
    assert ref["filename"] == "passwd.png"  # only the last name component is kept; storage is by content hash


def test_register_folder_refuses_paths_outside_the_import_roots(service: Service) -> None:
    url = f"/api/v1/sites/{service.site_id}/references/register"
    ok = service.call("post", url, service.admin_key, 200, json={"folder": str(EXAMPLE)})
    assert {r["filename"] for r in ok["references"]} >= {"reference.jpg", "target.jpg"}
    for bad in ("../", "/etc", str(EXAMPLE / ".." / "..")):
        r = service.call("post", url, service.admin_key, 400, json={"folder": bad})
        assert "outside the import roots" in r["error"]["message"]
    service.call("post", url, service.site_key, 403, json={"folder": str(EXAMPLE)})


def test_errors_are_json_never_tracebacks(service: Service) -> None:
    key = service.site_key
    assert service.call("get", "/api/v1/jobs/999999", key, 404)["error"]["message"] == "job 999999 not found"
    assert service.call("get", f"/api/v1/jobs/{2**40}", key, 422)["error"]["code"] == "invalid_request"
    r = service.call("post", "/api/v1/findings/1/review", key, 422, json={"action": "explode"})
    assert "action" in r["error"]["message"]
    r = service.call("post", f"/api/v1/sites/{service.site_id}/jobs", key, 400, files=_files(EXAMPLE / "target.jpg"),
                     data={"detector": "vlm"})  # fmt: skip
    assert "needs a model" in r["error"]["message"]
    assert service.call("get", "/static/", None, 404)  # no directory listing


def test_body_limit_and_rate_limit(tmp_path: Path) -> None:
    settings = ServeSettings(data_dir=tmp_path / "d", max_upload_bytes=10_000, upload_rate=0.001, upload_burst=2)
    svc = Service(settings)
    try:
        url = f"/api/v1/sites/{svc.site_id}/references"
        r = svc.call("post", url, svc.site_key, 413, files=[("files", ("a.jpg", b"x" * 20_000, "image/jpeg"))])
        assert r["error"]["code"] == "too_large"
        small = [("files", ("a.jpg", b"x", "image/jpeg"))]
        svc.call("post", url, svc.site_key, 415, files=small)
        svc.call("post", url, svc.site_key, 415, files=small)
        r = svc.client.post(url, headers={"X-API-Key": svc.site_key}, files=small)
        assert r.status_code == 429 and "Retry-After" in r.headers
    finally:
        svc.close()


def test_openapi_documents_every_route(service: Service) -> None:
    spec = service.call("get", "/openapi.json")
    assert "/api/v1/findings/{finding_id}/review" in spec["paths"]
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
