"""The inspection service's HTTP API (FastAPI): sites, reference archives, jobs, review, exports, the
review page. ``create_app(settings)`` builds it; ``tenken serve`` runs it with uvicorn and its workers.

Every request except ``/api/v1/health``, ``/api/v1/classes`` and the page's static files needs an API key
(header ``X-API-Key``). A site key sees only its site (other sites' objects answer 404, as if absent); an
admin key sees everything and creates sites and keys. Errors are JSON ``{"error": {"code", "message"}}``,
never a traceback. OpenAPI: ``/openapi.json``, ``/docs``.

The routes live in :mod:`tenken.serve.routes` (one router per area); what they share (state, keys, scoped
lookups) in :mod:`tenken.serve.deps`; rows become response models in :mod:`tenken.serve.responses`.
"""

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from tenken.configs import load_anomaly_classes
from tenken.core.errors import ImageLoadError, TenkenError
from tenken.serve.blobs import BlobStore, TooLargeError, UnsupportedMediaError
from tenken.serve.db import Database
from tenken.serve.limits import BodyLimitMiddleware, RateLimiter
from tenken.serve.review import NotFoundError
from tenken.serve.routes import ROUTERS
from tenken.serve.routes.pages import STATIC
from tenken.serve.schemas import ErrorBody
from tenken.serve.settings import ServeSettings

log = logging.getLogger("tenken.serve")
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
    app.state.classes, app.state.limiter = classes, limiter
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

    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC, html=False), name="static")
    return app
