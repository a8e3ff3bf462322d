"""Workers: lease a job (:mod:`tenken.serve.queue`), run its items through the Inspector, commit each result.

Each item runs through the resumable run engine (:func:`tenken.core.runs.run_items`, ``resume=True``) with
the job's ``results.jsonl`` (``<data_dir>/jobs/<id>/results.jsonl``, the same lines ``tenken inspect --pairs``
writes). The database is the record of what is finished: an item's report, images and findings are committed
in one transaction guarded by ``status != 'done'`` *and* by the worker still holding the job's lease, so a
retried job skips finished items and no finding is ever written twice.

A heartbeat thread renews the lease every third of ``lease_seconds``; a worker that finds its lease gone
(it stalled and another worker took over) stops at the next item without writing anything more.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import exists, select, update

from tenken.align.match import FeatureCache
from tenken.core.artifacts import json_text
from tenken.core.errors import TenkenError
from tenken.core.runs import error_message, run_items
from tenken.serve.archive import site_archive
from tenken.serve.blobs import BlobStore
from tenken.serve.db import Database
from tenken.serve.models import Finding, Job, JobItem, utcnow
from tenken.serve.queue import Lease, finish, lease_job, renew
from tenken.serve.settings import ServeSettings

RESULTS = "results.jsonl"
log = logging.getLogger("tenken.serve.worker")


class LeaseLost(TenkenError):
    """This worker no longer holds the job's lease (another worker has taken the job over)."""


@dataclass(frozen=True)
class WorkItem:
    """One pending target of a leased job: its row id, unique name in the job, and image."""

    item_id: int
    name: str
    target_sha: str


def job_folder(settings: ServeSettings, job_id: int) -> Path:
    """``<data_dir>/jobs/<job_id>``: where the job's ``results.jsonl`` is kept."""
    return settings.data_dir / "jobs" / str(job_id)


class _Heartbeat(threading.Thread):
    """Renews a lease until stopped; ``lost`` is set when the renewal finds the lease gone."""

    def __init__(self, db: Database, lease: Lease, lease_seconds: float) -> None:
        super().__init__(daemon=True, name=f"lease-{lease.job_id}")
        self.db, self.lease, self.lease_seconds = db, lease, lease_seconds
        self.lost = threading.Event()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.lease_seconds / 3):
            try:
                if not renew(self.db, self.lease, self.lease_seconds):
                    self.lost.set()
                    return
            except Exception:  # a database hiccup: try again at the next beat (the lease has slack)
                continue


class Worker:
    """Takes jobs from the queue and runs them, one at a time.

    Args:
        settings: the service settings (data folder, database, lease length, attempts).
        db: an open :class:`Database` (default: one on ``settings.url``).
        name: the lease owner name (default ``host:pid:random``).
    """

    def __init__(self, settings: ServeSettings, db: Database | None = None, name: str | None = None) -> None:
        self.settings = settings
        self.db = db or Database(settings.url)
        self.blobs = BlobStore(settings.data_dir / "blobs")
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.cache = FeatureCache()
        self._vlms: dict[tuple[str, str | None], Any] = {}

    def run(self, stop: threading.Event | None = None, poll_seconds: float = 0.5, max_jobs: int | None = None) -> int:
        """Work until ``stop`` is set (or ``max_jobs`` jobs are done); returns the number of jobs run."""
        stop = stop or threading.Event()
        n = 0
        while not stop.is_set() and (max_jobs is None or n < max_jobs):
            try:
                job = self.run_once()
            except Exception:  # the database is unreachable or restarting: wait and ask again
                log.exception("worker %s: cannot take a job", self.name)
                stop.wait(max(poll_seconds, 2.0))
                continue
            if job is None:
                stop.wait(poll_seconds)
            else:
                n += 1
        return n

    def run_once(self) -> int | None:
        """Lease one job and run it; its id, or None when the queue was empty."""
        lease = lease_job(self.db, self.name, self.settings.lease_seconds, self.settings.max_attempts)
        if lease is None:
            return None
        beat = _Heartbeat(self.db, lease, self.settings.lease_seconds)
        beat.start()
        try:
            self._run_job(lease, beat.lost)
        except LeaseLost:
            pass
        except Exception as exc:  # the job cannot run at all (model will not load, archive empty): record why
            finish(self.db, lease, "failed", error_message(exc))
        finally:
            beat.stopped.set()
        return lease.job_id

    def _inspector(self, job: Job, archive: Any) -> Any:
        from tenken.inspect.pipeline import Inspector

        vlm = None
        if job.model:
            key = (job.model, job.family)
            if key not in self._vlms:
                from tenken.vlm.loader import load_vlm

                self._vlms[key] = load_vlm(job.model, family=job.family)
            vlm = self._vlms[key]
        options: dict[str, Any] = {"index": archive.index} if archive.index is not None else {"telemetry": None}
        return Inspector(job.detector, lang=job.lang, vlm=vlm, cache=self.cache, align_options=options)  # type: ignore[arg-type]

    def _run_job(self, lease: Lease, lost: threading.Event) -> None:
        with self.db.read() as s:
            job = s.get(Job, lease.job_id)
            assert job is not None
            items = [
                WorkItem(i.id, i.name, i.target_sha)
                for i in s.execute(select(JobItem).where(JobItem.job_id == job.id).order_by(JobItem.position)).scalars()
            ]
        archive = site_archive(self.db, self.blobs, job.site_id)
        if not archive.paths:
            raise TenkenError(f"site {job.site_id} has no reference photos: upload some before inspecting")
        inspector = self._inspector(job, archive)

        def work(item: WorkItem) -> dict[str, Any]:
            if lost.is_set():
                raise LeaseLost(f"job {lease.job_id}: lease lost")
            with self.db.read() as s:
                row = s.get(JobItem, item.item_id)
                if row is not None and row.status == "done" and row.report:
                    return json.loads(row.report)  # finished by an earlier attempt: not redone
            try:
                return self._inspect(lease, inspector, archive, item)
            except LeaseLost:
                raise
            except Exception as exc:
                self._fail_item(lease, item, error_message(exc))
                raise

        run_items(items, work, job_folder(self.settings, lease.job_id) / RESULTS, key=lambda it: it.name, resume=True)
        if lost.is_set():
            raise LeaseLost(f"job {lease.job_id}: lease lost")
        finish(self.db, lease, "done")

    def _inspect(self, lease: Lease, inspector: Any, archive: Any, item: WorkItem) -> dict[str, Any]:
        from tenken.inspect.render import render_annotated

        inspection = inspector.run(str(self.blobs.path(item.target_sha)), archive.paths, id=item.name)
        report = inspection.report
        report.target.path = item.name
        ref_path = report.reference.path
        report.reference.path = archive.names.get(ref_path, ref_path) if ref_path else None
        report.reference.candidates = [archive.names.get(c, c) for c in report.reference.candidates]
        aligned = inspection.alignment.warped_reference
        aligned_sha = self.blobs.put_array(aligned).sha256 if inspection.alignment.ok and aligned is not None else None
        picture = render_annotated(inspection, inspector.classes, inspector.lang, max_side=1280)
        annotated_sha = self.blobs.put_array(picture, quality=85).sha256
        ref_sha = Path(ref_path).name if ref_path else None
        data = report.to_json()
        self._commit_item(lease, item, data, ref_sha, aligned_sha, annotated_sha)
        return data

    def _owns(self, lease: Lease) -> Any:
        return exists().where(Job.id == lease.job_id, Job.lease_owner == lease.owner, Job.status == "running")

    def _commit_item(
        self,
        lease: Lease,
        item: WorkItem,
        report: dict[str, Any],
        reference_sha: str | None,
        aligned_sha: str | None,
        annotated_sha: str | None,
    ) -> None:
        """Write the item's result and its findings at once, only if the item is not done and we hold the lease."""
        with self.db.write() as s:
            n = s.execute(
                update(JobItem)
                .where(JobItem.id == item.item_id, JobItem.status != "done", self._owns(lease))
                .values(
                    status="done",
                    report=json_text(report),
                    reference_sha=reference_sha,
                    aligned_sha=aligned_sha,
                    annotated_sha=annotated_sha,
                    error=None,
                    finished_at=utcnow(),
                )
            ).rowcount
            if n != 1:
                raise LeaseLost(f"job {lease.job_id}: item {item.name} not committed (lease lost or already done)")
            for d in report["detections"]:
                x1, y1, x2, y2 = d["box"]
                s.add(
                    Finding(
                        item_id=item.item_id,
                        job_id=lease.job_id,
                        x1=x1,
                        y1=y1,
                        x2=x2,
                        y2=y2,
                        label=d["label"],
                        score=d["score"],
                        source=d["source"],
                    )
                )
            s.execute(update(Job).where(Job.id == lease.job_id).values(updated_at=utcnow()))

    def _fail_item(self, lease: Lease, item: WorkItem, message: str) -> None:
        with self.db.write() as s:
            s.execute(
                update(JobItem)
                .where(JobItem.id == item.item_id, JobItem.status != "done", self._owns(lease))
                .values(status="failed", error=message, finished_at=utcnow())
            )


def run_worker(settings: ServeSettings, stop: threading.Event | None = None) -> None:
    """Run a worker process until ``stop`` is set (``tenken serve worker``). Migrates the database first."""
    db = Database(settings.url)
    db.migrate()
    try:
        Worker(settings, db).run(stop)
    finally:
        db.dispose()
