"""Database rows as the API's response models (:mod:`tenken.serve.schemas`): a job with its progress, a
finding with its display labels, an item with its findings and, when asked, its report."""

import json

from sqlalchemy import func, select

from tenken.configs import AnomalyClasses
from tenken.inspect.report import display_label
from tenken.serve.db import Database
from tenken.serve.models import Finding, Job, JobItem
from tenken.serve.schemas import FindingOut, ItemOut, JobOut, Progress


def job_out(db: Database, job: Job) -> JobOut:
    """``job`` with its items counted by status."""
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


def finding_out(f: Finding, classes: AnomalyClasses) -> FindingOut:
    """``f`` with its final label's Japanese and English names."""
    return FindingOut(
        id=f.id, item_id=f.item_id, box=f.box, label=f.final_label, model_label=f.label,
        label_ja=display_label(f.final_label, classes, "ja"), label_en=display_label(f.final_label, classes, "en"),
        score=f.score, source=f.source, origin=f.origin, status=f.status, comment=f.comment,  # type: ignore[arg-type]
        reviewer=f.reviewer, reviewed_at=f.reviewed_at,
    )  # fmt: skip


def item_out(db: Database, item: JobItem, classes: AnomalyClasses, with_report: bool) -> ItemOut:
    """``item`` with its findings (in creation order) and, if ``with_report``, its ``tenken.report/1`` report."""
    with db.read() as s:
        found = s.execute(select(Finding).where(Finding.item_id == item.id).order_by(Finding.id)).scalars().all()
    report = json.loads(item.report) if item.report else None
    return ItemOut(
        id=item.id, job_id=item.job_id, position=item.position, name=item.name, status=item.status,  # type: ignore[arg-type]
        error=item.error, target_sha=item.target_sha, aligned_sha=item.aligned_sha,
        annotated_sha=item.annotated_sha,
        width=report["target"]["width"] if report else None, height=report["target"]["height"] if report else None,
        findings=[finding_out(f, classes) for f in found], report=report if with_report else None,
    )  # fmt: skip
