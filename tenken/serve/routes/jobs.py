"""Inspection jobs: queue one target or a flight, list, status and progress, a job's items."""

from pathlib import Path as FsPath
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from sqlalchemy import select

from tenken.core.errors import InputError
from tenken.serve import archive
from tenken.serve.deps import DB, Blobs, Classes, Id, Settings, Uploader, Who, job_of, read_upload, site_of
from tenken.serve.models import Job, JobItem
from tenken.serve.responses import item_out, job_out
from tenken.serve.schemas import ItemOut, JobOut

router = APIRouter(tags=["jobs"])


@router.post("/api/v1/sites/{site_id}/jobs", status_code=201)
async def create_job(
    site_id: Id,
    files: Annotated[list[UploadFile], File(description="target photos: one, or a whole flight")],
    who: Uploader,
    db: DB,
    blobs: Blobs,
    settings: Settings,
    detector: Annotated[Literal["classical", "vlm", "hybrid"], Form()] = "classical",
    model: Annotated[str | None, Form(max_length=500, description="VLM spec, e.g. openai:NAME@URL")] = None,
    family: Annotated[str | None, Form(max_length=40, description="VLM family (needed over a server)")] = None,
    lang: Annotated[Literal["ja", "en"], Form()] = "ja",
) -> JobOut:
    """Queue an inspection of one target or a flight against the site's references."""
    site_of(db, who, site_id)
    model = (model or "").strip() or None
    if detector in ("vlm", "hybrid") and not model:
        raise InputError(f"detector {detector!r} needs a model (a VLM spec, e.g. openai:NAME@URL)")
    stored, seen = [], set()
    for i, f in enumerate(files):
        data, name = await read_upload(f, f"target-{i}")
        stem = FsPath(name).stem or f"target-{i}"
        unique, n = stem, 1
        while unique in seen:
            n += 1
            unique = f"{stem}#{n}"
        seen.add(unique)
        stored.append((unique, archive.store_image(db, blobs, data, name, settings)))
    with db.write() as s:
        job = Job(site_id=site_id, detector=detector, model=model, family=family or None, lang=lang)
        s.add(job)
        s.flush()
        for pos, (name, img) in enumerate(stored):
            s.add(JobItem(job_id=job.id, position=pos, name=name, target_sha=img.sha256))
    return job_out(db, job)


@router.get("/api/v1/jobs")
def list_jobs(
    who: Who,
    db: DB,
    site_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    status: Annotated[Literal["queued", "running", "done", "failed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[JobOut]:
    """Jobs, newest first (filter by site and status)."""
    with db.read() as s:
        q = select(Job).order_by(Job.id.desc()).limit(limit)
        if site_id is not None:
            q = q.where(Job.site_id == site_id)
        if not who.admin:
            q = q.where(Job.site_id == who.site_id)
        if status is not None:
            q = q.where(Job.status == status)
        jobs = list(s.execute(q).scalars())
    return [job_out(db, j) for j in jobs]


@router.get("/api/v1/jobs/{job_id}")
def get_job(job_id: Id, who: Who, db: DB) -> JobOut:
    """A job's status and progress."""
    return job_out(db, job_of(db, who, job_id))


@router.get("/api/v1/jobs/{job_id}/items")
def job_items(job_id: Id, who: Who, db: DB, classes: Classes) -> list[ItemOut]:
    """A job's targets with their findings (reports left out: see ``/items/{id}``)."""
    job_of(db, who, job_id)
    with db.read() as s:
        items = list(s.execute(select(JobItem).where(JobItem.job_id == job_id).order_by(JobItem.position)).scalars())
    return [item_out(db, i, classes, with_report=False) for i in items]
