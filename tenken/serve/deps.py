"""What the service's routes share, as FastAPI dependencies on ``request.app.state`` (set by
:func:`tenken.serve.app.create_app`): the database, blob store, settings, anomaly classes and upload limiter;
the caller's API key (any key, an admin key, a key within its upload rate); and the lookups that scope a site,
job or item to the key (another site's object answers 404, as if absent)."""

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, UploadFile
from fastapi.security import APIKeyHeader

from tenken.configs import AnomalyClasses
from tenken.core.errors import InputError
from tenken.serve import archive
from tenken.serve.blobs import BlobStore
from tenken.serve.db import Database
from tenken.serve.keys import Principal, authenticate
from tenken.serve.limits import RateLimiter
from tenken.serve.models import Job, JobItem, Site
from tenken.serve.review import NotFoundError
from tenken.serve.settings import ServeSettings

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
"""A database id in a URL path."""
SHA = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]
"""A stored image's SHA-256 in a URL path."""

_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key made by an admin")


def _db(request: Request) -> Database:
    return request.app.state.db


def _blobs(request: Request) -> BlobStore:
    return request.app.state.blobs


def _settings(request: Request) -> ServeSettings:
    return request.app.state.settings


def _classes(request: Request) -> AnomalyClasses:
    return request.app.state.classes


DB = Annotated[Database, Depends(_db)]
Blobs = Annotated[BlobStore, Depends(_blobs)]
Settings = Annotated[ServeSettings, Depends(_settings)]
Classes = Annotated[AnomalyClasses, Depends(_classes)]


def principal(db: DB, key: Annotated[str | None, Depends(_header)]) -> Principal:
    """The caller's key (401 when missing or unknown)."""
    who = authenticate(db, key)
    if who is None:
        raise HTTPException(401, "missing or unknown API key (header X-API-Key)")
    return who


def admin(who: Annotated[Principal, Depends(principal)]) -> Principal:
    """The caller's key, which must be an admin key (403 otherwise)."""
    if not who.admin:
        raise HTTPException(403, "this needs an admin key")
    return who


def uploads(request: Request, who: Annotated[Principal, Depends(principal)]) -> Principal:
    """The caller's key, charged one upload of its rate (429 with ``Retry-After`` when over it)."""
    limiter: RateLimiter = request.app.state.limiter
    wait = limiter.take(who.key_id)
    if wait > 0:
        raise HTTPException(429, f"too many uploads: retry in {wait:.1f} s", headers={"Retry-After": f"{wait:.0f}"})
    return who


Who = Annotated[Principal, Depends(principal)]
Admin = Annotated[Principal, Depends(admin)]
Uploader = Annotated[Principal, Depends(uploads)]


def site_of(db: Database, who: Principal, site_id: int) -> Site:
    """Site ``site_id`` if ``who`` may use it (:class:`NotFoundError` otherwise)."""
    with db.read() as s:
        site = s.get(Site, site_id)
    if site is None or not who.may_use(site_id):
        raise NotFoundError(f"site {site_id} not found")
    return site


def job_of(db: Database, who: Principal, job_id: int) -> Job:
    """Job ``job_id`` if ``who`` may use its site (:class:`NotFoundError` otherwise)."""
    with db.read() as s:
        job = s.get(Job, job_id)
    if job is None or not who.may_use(job.site_id):
        raise NotFoundError(f"job {job_id} not found")
    return job


def item_of(db: Database, who: Principal, item_id: int) -> JobItem:
    """Job item ``item_id`` if ``who`` may use its job's site (:class:`NotFoundError` otherwise)."""
    with db.read() as s:
        item = s.get(JobItem, item_id)
        site_id = s.get(Job, item.job_id).site_id if item is not None else None  # type: ignore[union-attr]
    if item is None or site_id is None or not who.may_use(site_id):
        raise NotFoundError(f"item {item_id} not found")
    return item


async def read_upload(f: UploadFile, fallback: str) -> tuple[bytes, str]:
    """An uploaded file's bytes and a safe file name (``fallback`` when it has none); an empty file is an
    :class:`InputError` naming it."""
    data = await f.read()
    if not data:
        raise InputError(f"{f.filename or fallback}: empty file")
    return data, archive.safe_name(f.filename, fallback)
