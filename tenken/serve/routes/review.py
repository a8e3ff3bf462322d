"""Operator review: one item with its report, stored images, review a finding, add a missed one."""

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import or_, select

from tenken.serve.deps import DB, SHA, Blobs, Classes, Id, Who, item_of, job_of
from tenken.serve.models import Finding, Job, JobItem, Reference
from tenken.serve.responses import finding_out, item_out
from tenken.serve.review import NotFoundError, add_finding, review_finding
from tenken.serve.schemas import FindingOut, ItemOut, NewFindingIn, ReviewIn

router = APIRouter(tags=["review"])


@router.get("/api/v1/items/{item_id}")
def get_item(item_id: Id, who: Who, db: DB, classes: Classes) -> ItemOut:
    """One target: findings and its ``tenken.report/1`` report."""
    return item_out(db, item_of(db, who, item_id), classes, with_report=True)


@router.get(
    "/api/v1/images/{sha}", response_class=Response, responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}}
)
def get_image(sha: SHA, who: Who, db: DB, blobs: Blobs) -> Response:
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


@router.post("/api/v1/findings/{finding_id}/review")
def review(finding_id: Id, body: ReviewIn, who: Who, db: DB, classes: Classes) -> FindingOut:
    """Confirm, reject, relabel (a class id), comment on, or reset a finding."""
    with db.read() as s:
        f = s.get(Finding, finding_id)
    if f is None:
        raise NotFoundError(f"finding {finding_id} not found")
    job_of(db, who, f.job_id)
    return finding_out(review_finding(db, finding_id, body.action, who.name, body.label, body.comment), classes)


@router.post("/api/v1/items/{item_id}/findings", status_code=201)
def add_missed(item_id: Id, body: NewFindingIn, who: Who, db: DB, classes: Classes) -> FindingOut:
    """Add a box the detector missed (confirmed, origin ``operator``)."""
    item_of(db, who, item_id)
    return finding_out(add_finding(db, item_id, body.box, body.label, who.name, body.comment), classes)
