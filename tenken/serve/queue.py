"""The job queue, kept in the service's own database: workers *lease* jobs.

Why the database and not a queue library: the jobs, their items and their findings live in the database
already, and a job must change state in the same transaction as its results; a separate broker (Redis, a
Celery/RQ/Dramatiq stack) would add a second system to install, back up and keep consistent with the first,
and none of the well-kept ones runs on both SQLite (zero set-up) and PostgreSQL. The database's own locking
does the job:

- **PostgreSQL**: ``SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1`` picks a claimable job that no other worker
  is claiming at that instant (no waiting, no double claim), then the row is updated in the same transaction.
- **SQLite**: one guarded ``UPDATE jobs SET lease... WHERE id = (SELECT ... claimable ...) AND <claimable>``;
  SQLite runs it under its single write lock, so two workers can never both claim one job.

A job is *claimable* when it is ``queued``, or ``running`` with a lease that has expired (its worker died).
A worker renews its lease while it works (:func:`renew`); every write it makes is guarded by
``lease_owner = me``, so a worker that lost its lease (it stalled and another took over) changes nothing.
A job whose workers died ``max_attempts`` times is marked failed. Items already finished are never redone:
each item's result is committed with ``status = 'done'`` the moment it is ready (see :mod:`tenken.serve.worker`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select, update

from tenken.serve.db import Database
from tenken.serve.models import Job, utcnow


@dataclass(frozen=True)
class Lease:
    """A worker's claim on a job until ``expires`` (epoch seconds); ``attempt`` counts claims, from 1."""

    job_id: int
    owner: str
    expires: float
    attempt: int


def _claimable(now: float) -> ColumnElement[bool]:
    return or_(Job.status == "queued", and_(Job.status == "running", Job.lease_expires < now))


def lease_job(db: Database, owner: str, lease_seconds: float, max_attempts: int) -> Lease | None:
    """Claim the oldest claimable job for ``owner``; None when there is none.

    A claimable job that has already been claimed ``max_attempts`` times is marked ``failed`` instead (its
    workers keep dying on it) and the next one is tried.
    """
    while True:
        now = time.time()
        expires = now + lease_seconds
        with db.write() as s:
            if db.dialect == "postgresql":
                job = s.execute(
                    select(Job).where(_claimable(now)).order_by(Job.id).limit(1).with_for_update(skip_locked=True)
                ).scalar_one_or_none()
                if job is None:
                    return None
                job_id = job.id
                attempts = job.attempts
            else:
                picked = select(Job.id).where(_claimable(now)).order_by(Job.id).limit(1).scalar_subquery()
                row = s.execute(
                    update(Job)
                    .where(Job.id == picked, _claimable(now))
                    .values(lease_owner=owner, lease_expires=expires, status="running", updated_at=utcnow())
                    .returning(Job.id, Job.attempts)
                ).first()
                if row is None:
                    return None
                job_id, attempts = row
            if attempts >= max_attempts:
                s.execute(
                    update(Job)
                    .where(Job.id == job_id)
                    .values(
                        status="failed",
                        lease_owner=None,
                        lease_expires=None,
                        error=f"abandoned: its worker stopped {attempts} time(s) before finishing it",
                        updated_at=utcnow(),
                    )
                )
                continue
            s.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(
                    lease_owner=owner,
                    lease_expires=expires,
                    status="running",
                    attempts=attempts + 1,
                    updated_at=utcnow(),
                )
            )
            return Lease(job_id, owner, expires, attempts + 1)


def renew(db: Database, lease: Lease, lease_seconds: float) -> bool:
    """Extend ``lease``; False when the worker no longer holds it (another worker took the job over)."""
    with db.write() as s:
        n = s.execute(
            update(Job)
            .where(Job.id == lease.job_id, Job.lease_owner == lease.owner, Job.status == "running")
            .values(lease_expires=time.time() + lease_seconds)
        ).rowcount
    return n == 1


def finish(db: Database, lease: Lease, status: str = "done", error: str | None = None) -> bool:
    """Mark the leased job ``done`` (or ``failed`` with ``error``) and release it; False if the lease was lost."""
    with db.write() as s:
        n = s.execute(
            update(Job)
            .where(Job.id == lease.job_id, Job.lease_owner == lease.owner, Job.status == "running")
            .values(status=status, error=error, lease_owner=None, lease_expires=None, updated_at=utcnow())
        ).rowcount
    return n == 1
