"""The leased job queue and workers on SQLite and PostgreSQL: one owner per job, a dead worker's job is
taken over, finished items are not redone, a worker that lost its lease writes nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tenken.serve.archive import add_reference, store_image
from tenken.serve.blobs import BlobStore
from tenken.serve.db import Database
from tenken.serve.models import Finding, Job, JobItem, Site
from tenken.serve.queue import finish, lease_job, renew
from tenken.serve.settings import ServeSettings
from tenken.serve.worker import LeaseLost, Worker, WorkItem

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "walkway"


@pytest.fixture
def setup(tmp_path: Path, database_url: str):
    settings = ServeSettings(data_dir=tmp_path / "data", database_url=database_url, lease_seconds=1.0)
    db = Database(settings.url)
    db.migrate()
    yield settings, db
    db.dispose()


def _jobs(db: Database, n: int, items: int = 0, settings: ServeSettings | None = None) -> list[int]:
    with db.write() as s:
        site = Site(name=f"site-{time.time_ns()}")
        s.add(site)
        s.flush()
        site_id = site.id
    if settings is not None:
        blobs = BlobStore(settings.data_dir / "blobs")
        add_reference(db, blobs, site_id, (EXAMPLE / "reference.jpg").read_bytes(), "reference.jpg", settings)
        target = store_image(db, blobs, (EXAMPLE / "target.jpg").read_bytes(), "target.jpg", settings)
    ids = []
    with db.write() as s:
        for _ in range(n):
            job = Job(site_id=site_id)
            s.add(job)
            s.flush()
            ids.append(job.id)
            for pos in range(items):
                s.add(JobItem(job_id=job.id, position=pos, name=f"t{pos}", target_sha=target.sha256))
    return ids


def test_concurrent_workers_never_share_a_job(setup) -> None:
    _settings, db = setup
    ids = _jobs(db, 12)
    got: list[int] = []
    lock = threading.Lock()

    def grab(name: str) -> None:
        while (lease := lease_job(db, name, 60, 3)) is not None:
            with lock:
                got.append(lease.job_id)

    threads = [threading.Thread(target=grab, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == ids  # every job leased exactly once


def test_expired_lease_is_taken_over_and_abandoned_after_max_attempts(setup) -> None:
    _, db = setup
    (job_id,) = _jobs(db, 1)
    first = lease_job(db, "a", 0.2, max_attempts=2)
    assert first is not None and first.attempt == 1
    assert lease_job(db, "b", 0.2, 2) is None  # still leased
    time.sleep(0.3)
    second = lease_job(db, "b", 0.2, 2)
    assert second is not None and second.job_id == job_id and second.attempt == 2
    assert not renew(db, first, 10) and not finish(db, first)  # the first owner lost it
    time.sleep(0.3)
    assert lease_job(db, "c", 0.2, 2) is None  # died twice: abandoned, not leased again
    with db.read() as s:
        job = s.get(Job, job_id)
        assert job.status == "failed" and "stopped 2 time(s)" in job.error


def test_retried_job_does_not_redo_finished_items(setup, monkeypatch: pytest.MonkeyPatch) -> None:
    settings, db = setup
    (job_id,) = _jobs(db, 1, items=3, settings=settings)
    calls: list[str] = []
    real = Worker._inspect

    def dies_after_first(self, lease, inspector, archive, item: WorkItem):
        if calls:
            raise KeyboardInterrupt  # the worker process dies mid-job (nothing after this runs)
        calls.append(item.name)
        return real(self, lease, inspector, archive, item)

    monkeypatch.setattr(Worker, "_inspect", dies_after_first)
    with pytest.raises(KeyboardInterrupt):
        Worker(settings, db, "doomed").run_once()
    monkeypatch.setattr(Worker, "_inspect", lambda self, *a: (calls.append(a[-1].name), real(self, *a))[1])
    with db.read() as s:
        first_done = s.execute(select(JobItem.finished_at).where(JobItem.name == "t0")).scalar()
    assert Worker(settings, db, "survivor").run_once() is None  # the dead worker's lease has not expired yet
    time.sleep(settings.lease_seconds + 0.2)
    assert Worker(settings, db, "survivor").run_once() == job_id
    assert calls == ["t0", "t1", "t2"]  # t0 was not inspected again
    with db.read() as s:
        job = s.get(Job, job_id)
        assert job.status == "done" and job.attempts == 2
        assert s.execute(select(JobItem.finished_at).where(JobItem.name == "t0")).scalar() == first_done
        per_item = dict(s.execute(select(Finding.item_id, func.count()).group_by(Finding.item_id)).all())
    assert len(per_item) == 3 and len(set(per_item.values())) == 1  # the same findings once per item
    lines = (settings.data_dir / "jobs" / str(job_id) / "results.jsonl").read_text().splitlines()
    assert len(lines) == 3  # one results.jsonl line per item, as `tenken inspect --pairs` writes


def test_worker_that_lost_its_lease_commits_nothing(setup) -> None:
    settings, db = setup
    (job_id,) = _jobs(db, 1, items=1, settings=settings)
    worker = Worker(settings, db, "slow")
    lease = lease_job(db, "slow", 0.1, 3)
    time.sleep(0.2)
    assert lease_job(db, "fast", 30, 3) is not None  # another worker took the job over
    with db.read() as s:
        item = s.execute(select(JobItem).where(JobItem.job_id == job_id)).scalar_one()
    with pytest.raises(LeaseLost):
        worker._commit_item(lease, WorkItem(item.id, item.name, item.target_sha), _report(), None, None, None)
    with db.read() as s:
        assert s.get(JobItem, item.id).status == "pending"
        assert s.execute(select(func.count()).select_from(Finding)).scalar() == 0


def _report() -> dict:
    return {"detections": [{"box": [0, 0, 1, 1], "label": "change", "score": 0.5, "source": "classical"}]}


def test_migrations_match_the_models(setup) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from tenken.serve.models import Base

    _, db = setup
    with db.read_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
