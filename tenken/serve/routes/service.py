"""Service routes that need no key: liveness and the anomaly classes."""

from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select

from tenken.serve.deps import DB, Classes
from tenken.serve.models import Job
from tenken.serve.schemas import ClassOut

router = APIRouter(tags=["service"])


@router.get("/api/v1/health")
def health(db: DB) -> dict[str, Any]:
    """Liveness: the database answers. Also counts jobs by status (no key needed)."""
    with db.read() as s:
        counts = dict(s.execute(select(Job.status, func.count()).group_by(Job.status)).all())
    return {"ok": True, "database": db.dialect, "jobs": counts}


@router.get("/api/v1/classes")
def list_classes(classes: Classes) -> list[ClassOut]:
    """The anomaly classes a finding may be labelled with (ids and Japanese / English names)."""
    return [ClassOut(id=c, ja=classes.display(c, "ja"), en=classes.display(c, "en")) for c in classes.ids]
