"""The inspection service's HTTP API (FastAPI): sites, reference archives, jobs, review, exports, the
review page. ``create_app(settings)`` builds it; ``tenken serve`` runs it with uvicorn and its workers.

Every request except ``/api/v1/health``, ``/api/v1/classes`` and the page's static files needs an API key
(header ``X-API-Key``). A site key sees only its site (other sites' objects answer 404, as if absent); an
admin key sees everything and creates sites and keys. Errors are JSON ``{"error": {"code", "message"}}``,
never a traceback. OpenAPI: ``/openapi.json``, ``/docs``.
"""

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Form, HTTPException, Path, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from sqlalchemy import func, or_, select
from starlette.exceptions import HTTPException as StarletteHTTPException

from tenken.configs import load_anomaly_classes
from tenken.core.artifacts import json_text
from tenken.core.errors import ImageLoadError, InputError, TenkenError
from tenken.serve import archive, exports
from tenken.serve.blobs import BlobStore, TooLargeError, UnsupportedMediaError
from tenken.serve.db import Database
from tenken.serve.keys import Principal, authenticate, create_key
from tenken.serve.limits import BodyLimitMiddleware, RateLimiter
from tenken.serve.models import Finding, Job, JobItem, Reference, Site
from tenken.serve.review import NotFoundError, add_finding, review_finding
from tenken.serve.schemas import (
    ClassOut,
    ErrorBody,
    FindingOut,
    ItemOut,
    JobOut,
    KeyIn,
    KeyOut,
    NewFindingIn,
    Progress,
    ReferenceOut,
    RegisterIn,
    RegisterOut,
    ReviewIn,
    SiteIn,
    SiteOut,
)
from tenken.serve.settings import ServeSettings
from tenken.tasks.report import display_label

log = logging.getLogger("tenken.serve")
STATIC = FsPath(__file__).with_name("static")
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
SHA = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]
EXPORTS = ("reports.json", "findings.csv", "ground_truth.jsonl", "predictions.jsonl", "training.zip")
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 413, 415, 422, 429)
}

_STATUS = {NotFoundError: 404, TooLargeError: 413, UnsupportedMediaError: 415, ImageLoadError: 422}
_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          413: "too_large", 415: "unsupported_media_type", 422: "invalid_request", 429: "rate_limited",
          500: "internal"}  # fmt: skip


def _error(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"error": {"code": _CODES.get(status, "error"), "message": message, **extra}}
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(settings: ServeSettings, db: Database | None = None) -> FastAPI:
    """The service app over ``settings`` (the database is migrated when the app starts)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = db or Database(settings.url)
    blobs = BlobStore(settings.data_dir / "blobs")
    limiter = RateLimiter(settings.upload_rate, settings.upload_burst)
    classes = load_anomaly_classes()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        db.migrate()
        yield

    app = FastAPI(
        title="tenken serve",
        version="1",
        summary="Inspection jobs, operator review and exports over tenken's pipeline.",
        description=(
            "Upload reference photos of a site and a flight of targets; workers align each target with its "
            "reference, detect changes and label them; operators confirm, reject, relabel or add findings; "
            "export reviewed reports, ground truth and training samples. Boxes: [x1, y1, x2, y2] pixels of "
            "the target image after EXIF orientation. Authenticate with the `X-API-Key` header."
        ),
        lifespan=lifespan,
        responses=ERRORS,
    )
    app.state.db, app.state.blobs, app.state.settings = db, blobs, settings
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"], allow_headers=["X-API-Key"]
        )

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; style-src 'self'"
        )
        return response

    @app.exception_handler(TenkenError)
    async def _tenken_error(_: Request, exc: TenkenError) -> JSONResponse:
        status = next((v for k, v in _STATUS.items() if isinstance(exc, k)), 400)
        return _error(status, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        return _error(422, f"{'.'.join(first['loc'])}: {first['msg']}", details=details)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return _error(500, f"internal error ({type(exc).__name__}); the server log has the details")

    header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key made by an admin")

    def principal(key: Annotated[str | None, Depends(header)]) -> Principal:
        who = authenticate(db, key)
        if who is None:
            raise HTTPException(401, "missing or unknown API key (header X-API-Key)")
        return who

    def admin(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.admin:
            raise HTTPException(403, "this needs an admin key")
        return who

    def uploads(who: Annotated[Principal, Depends(principal)]) -> Principal:
        wait = limiter.take(who.key_id)
        if wait > 0:
            raise HTTPException(429, f"too many uploads: retry in {wait:.1f} s", headers={"Retry-After": f"{wait:.0f}"})
        return who

    Who = Annotated[Principal, Depends(principal)]

    def site_of(who: Principal, site_id: int) -> Site:
        with db.read() as s:
            site = s.get(Site, site_id)
        if site is None or not who.may_use(site_id):
            raise NotFoundError(f"site {site_id} not found")
        return site

    def job_of(who: Principal, job_id: int) -> Job:
        with db.read() as s:
            job = s.get(Job, job_id)
        if job is None or not who.may_use(job.site_id):
            raise NotFoundError(f"job {job_id} not found")
        return job

    def item_of(who: Principal, item_id: int) -> JobItem:
        with db.read() as s:
            item = s.get(JobItem, item_id)
            site_id = s.get(Job, item.job_id).site_id if item is not None else None  # type: ignore[union-attr]
        if item is None or site_id is None or not who.may_use(site_id):
            raise NotFoundError(f"item {item_id} not found")
        return item

    def job_out(job: Job) -> JobOut:
        with db.read() as s:
            counts = dict(
                s.execute(
                    select(JobItem.status, func.count()).where(JobItem.job_id == job.id).group_by(JobItem.status)
                ).all()
            )
        total = sum(counts.values())
        progress = Progress(
            total=total, done=counts.get("done", 0), failed=counts.get("failed", 0), pending=counts.get("pending", 0)
        )
        return JobOut.model_validate({**{c: getattr(job, c) for c in JobOut.model_fields if c != "progress"},
                                      "progress": progress})  # fmt: skip

    def finding_out(f: Finding) -> FindingOut:
        return FindingOut(
            id=f.id, item_id=f.item_id, box=f.box, label=f.final_label, model_label=f.label,
            label_ja=display_label(f.final_label, classes, "ja"), label_en=display_label(f.final_label, classes, "en"),
            score=f.score, source=f.source, origin=f.origin, status=f.status, comment=f.comment,  # type: ignore[arg-type]
            reviewer=f.reviewer, reviewed_at=f.reviewed_at,
        )  # fmt: skip

    def item_out(item: JobItem, with_report: bool) -> ItemOut:
        with db.read() as s:
            found = s.execute(select(Finding).where(Finding.item_id == item.id).order_by(Finding.id)).scalars().all()
        report = json.loads(item.report) if item.report else None
        return ItemOut(
            id=item.id, job_id=item.job_id, position=item.position, name=item.name, status=item.status,  # type: ignore[arg-type]
            error=item.error, target_sha=item.target_sha, aligned_sha=item.aligned_sha,
            annotated_sha=item.annotated_sha,
            width=report["target"]["width"] if report else None, height=report["target"]["height"] if report else None,
            findings=[finding_out(f) for f in found], report=report if with_report else None,
        )  # fmt: skip

    async def read_upload(f: UploadFile, fallback: str) -> tuple[bytes, str]:
        data = await f.read()
        if not data:
            raise InputError(f"{f.filename or fallback}: empty file")
        return data, archive.safe_name(f.filename, fallback)

    # -- service --------------------------------------------------------------------------------------------

    @app.get("/api/v1/health", tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness: the database answers. Also counts jobs by status (no key needed)."""
        with db.read() as s:
            counts = dict(s.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        return {"ok": True, "database": db.dialect, "jobs": counts}

    @app.get("/api/v1/classes", tags=["service"])
    def list_classes() -> list[ClassOut]:
        """The anomaly classes a finding may be labelled with (ids and Japanese / English names)."""
        return [ClassOut(id=c, ja=classes.display(c, "ja"), en=classes.display(c, "en")) for c in classes.ids]

    # -- sites and keys ---------------------------------------------------------------------------------------

    @app.post("/api/v1/sites", status_code=201, tags=["sites"])
    def create_site(body: SiteIn, _: Annotated[Principal, Depends(admin)]) -> SiteOut:
        """Create a site (admin)."""
        with db.read() as s:
            if s.execute(select(Site).where(Site.name == body.name)).scalar() is not None:
                raise InputError(f"a site named {body.name!r} exists already")
        with db.write() as s:
            site = Site(name=body.name)
            s.add(site)
            s.flush()
        return SiteOut.model_validate(site)

    @app.get("/api/v1/sites", tags=["sites"])
    def list_sites(who: Who) -> list[SiteOut]:
        """The sites this key may use."""
        with db.read() as s:
            q = select(Site).order_by(Site.id)
            if not who.admin:
                q = q.where(Site.id == who.site_id)
            return [SiteOut.model_validate(x) for x in s.execute(q).scalars()]

    @app.post("/api/v1/keys", status_code=201, tags=["sites"])
    def make_key(body: KeyIn, _: Annotated[Principal, Depends(admin)]) -> KeyOut:
        """Create an API key (admin): for one site (``site_id``) or another admin (``admin: true``)."""
        if body.admin == (body.site_id is not None):
            raise InputError("give either site_id (a site key) or admin: true (an admin key)")
        if body.site_id is not None:
            with db.read() as s:
                if s.get(Site, body.site_id) is None:
                    raise NotFoundError(f"site {body.site_id} not found")
        key, row = create_key(db, body.name, body.site_id, body.admin)
        return KeyOut(id=row.id, name=row.name, prefix=row.prefix, site_id=row.site_id, admin=row.admin, key=key)

    # -- reference archive --------------------------------------------------------------------------------------

    @app.post("/api/v1/sites/{site_id}/references", status_code=201, tags=["references"])
    async def upload_references(
        site_id: Id, files: Annotated[list[UploadFile], File(description="reference photos")],
        who: Annotated[Principal, Depends(uploads)],
    ) -> list[ReferenceOut]:  # fmt: skip
        """Add reference photos to a site's archive (GPS read from EXIF/XMP and indexed)."""
        site_of(who, site_id)
        out = []
        for i, f in enumerate(files):
            data, name = await read_upload(f, f"reference-{i}")
            out.append(ReferenceOut.model_validate(archive.add_reference(db, blobs, site_id, data, name, settings)))
        return out

    @app.post("/api/v1/sites/{site_id}/references/register", tags=["references"])
    def register_references(site_id: Id, body: RegisterIn, who: Annotated[Principal, Depends(admin)]) -> RegisterOut:
        """Register every image of a server folder (admin; only inside the server's import roots)."""
        site_of(who, site_id)
        result = archive.register_folder(db, blobs, site_id, body.folder, settings)
        return RegisterOut(
            references=[ReferenceOut.model_validate(r) for r in result.references], skipped=result.skipped
        )

    @app.get("/api/v1/sites/{site_id}/references", tags=["references"])
    def list_references(site_id: Id, who: Who) -> list[ReferenceOut]:
        """A site's reference photos."""
        site_of(who, site_id)
        with db.read() as s:
            rows = s.execute(select(Reference).where(Reference.site_id == site_id).order_by(Reference.id)).scalars()
            return [ReferenceOut.model_validate(r) for r in rows]

    # -- jobs -------------------------------------------------------------------------------------------------------

    @app.post("/api/v1/sites/{site_id}/jobs", status_code=201, tags=["jobs"])
    async def create_job(
        site_id: Id,
        files: Annotated[list[UploadFile], File(description="target photos: one, or a whole flight")],
        who: Annotated[Principal, Depends(uploads)],
        detector: Annotated[Literal["classical", "vlm", "hybrid"], Form()] = "classical",
        model: Annotated[str | None, Form(max_length=500, description="VLM spec, e.g. openai:NAME@URL")] = None,
        family: Annotated[str | None, Form(max_length=40, description="VLM family (needed over a server)")] = None,
        lang: Annotated[Literal["ja", "en"], Form()] = "ja",
    ) -> JobOut:
        """Queue an inspection of one target or a flight against the site's references."""
        site_of(who, site_id)
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
        return job_out(job)

    @app.get("/api/v1/jobs", tags=["jobs"])
    def list_jobs(
        who: Who,
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
        return [job_out(j) for j in jobs]

    @app.get("/api/v1/jobs/{job_id}", tags=["jobs"])
    def get_job(job_id: Id, who: Who) -> JobOut:
        """A job's status and progress."""
        return job_out(job_of(who, job_id))

    @app.get("/api/v1/jobs/{job_id}/items", tags=["jobs"])
    def job_items(job_id: Id, who: Who) -> list[ItemOut]:
        """A job's targets with their findings (reports left out: see ``/items/{id}``)."""
        job_of(who, job_id)
        with db.read() as s:
            items = list(
                s.execute(select(JobItem).where(JobItem.job_id == job_id).order_by(JobItem.position)).scalars()
            )
        return [item_out(i, with_report=False) for i in items]

    @app.get("/api/v1/items/{item_id}", tags=["review"])
    def get_item(item_id: Id, who: Who) -> ItemOut:
        """One target: findings and its ``tenken.report/1`` report."""
        return item_out(item_of(who, item_id), with_report=True)

    @app.get(
        "/api/v1/images/{sha}",
        tags=["review"],
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
    )
    def get_image(sha: SHA, who: Who) -> Response:
        """A stored image (target, aligned reference, annotated composite or reference photo) of a site this
        key may use."""
        with db.read() as s:
            sites = set(s.execute(select(Reference.site_id).where(Reference.image_sha == sha)).scalars())
            sites |= set(
                s.execute(
                    select(Job.site_id)
                    .join(JobItem, JobItem.job_id == Job.id)
                    .where(or_(JobItem.target_sha == sha, JobItem.aligned_sha == sha, JobItem.annotated_sha == sha))
                ).scalars()
            )
        if not any(who.may_use(x) for x in sites):
            raise NotFoundError(f"image {sha} not found")
        data = blobs.read(sha)
        media = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
        return Response(data, media_type=media, headers={"Cache-Control": "private, max-age=31536000, immutable"})

    # -- review -----------------------------------------------------------------------------------------------

    @app.post("/api/v1/findings/{finding_id}/review", tags=["review"])
    def review(finding_id: Id, body: ReviewIn, who: Who) -> FindingOut:
        """Confirm, reject, relabel (a class id), comment on, or reset a finding."""
        with db.read() as s:
            f = s.get(Finding, finding_id)
        if f is None:
            raise NotFoundError(f"finding {finding_id} not found")
        job_of(who, f.job_id)
        return finding_out(review_finding(db, finding_id, body.action, who.name, body.label, body.comment))

    @app.post("/api/v1/items/{item_id}/findings", status_code=201, tags=["review"])
    def add_missed(item_id: Id, body: NewFindingIn, who: Who) -> FindingOut:
        """Add a box the detector missed (confirmed, origin ``operator``)."""
        item_of(who, item_id)
        return finding_out(add_finding(db, item_id, body.box, body.label, who.name, body.comment))

    # -- exports ------------------------------------------------------------------------------------------------

    @app.get(
        "/api/v1/jobs/{job_id}/export/{kind}",
        tags=["exports"],
        response_class=Response,
        responses={200: {"content": {"application/json": {}, "text/csv": {}, "application/zip": {}}}},
    )
    def export(job_id: Id, kind: Annotated[Literal[EXPORTS], Path()], who: Who) -> Response:  # type: ignore[valid-type]
        """``reports.json`` (reviewed reports), ``findings.csv``, ``ground_truth.jsonl`` (for ``tenken eval
        detection --gt``), ``predictions.jsonl`` (the model's reports, for ``--pred``), ``training.zip``."""
        job_of(who, job_id)
        disposition = {"Content-Disposition": f'attachment; filename="job{job_id}-{kind}"'}
        if kind == "reports.json":
            return Response(json_text(exports.reviewed_reports(db, job_id), indent=2), 200, disposition,
                            "application/json")  # fmt: skip
        if kind == "findings.csv":
            return Response(exports.findings_csv(db, job_id), 200, disposition, "text/csv; charset=utf-8")
        if kind == "training.zip":
            return Response(exports.training_zip(db, blobs, job_id), 200, disposition, "application/zip")
        rows = exports.ground_truth(db, job_id) if kind == "ground_truth.jsonl" else exports.predictions(db, job_id)
        return Response("".join(json_text(r) + "\n" for r in rows), 200, disposition, "application/x-ndjson")

    # -- the review page --------------------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/review")

    @app.get("/review", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "review.html", media_type="text/html; charset=utf-8")

    @app.get("/fonts/ipaexg.ttf", include_in_schema=False)
    def japanese_font() -> FileResponse:
        """IPAex Gothic (shipped by japanize-matplotlib, IPA Font License): Japanese text on machines without
        a Japanese font, with nothing fetched from elsewhere."""
        from tenken.viz.fonts import japanese_font_path

        return FileResponse(japanese_font_path(), media_type="font/ttf", headers={"Cache-Control": "max-age=86400"})

    app.mount("/static", StaticFiles(directory=STATIC, html=False), name="static")
    return app
