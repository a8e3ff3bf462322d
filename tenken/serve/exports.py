"""Exports of a reviewed job: reports (JSON), findings (CSV), ground truth for ``tenken eval detection``
(JSONL), the model's own predictions (the job's ``results.jsonl`` lines), training samples (a zip of
:class:`~tenken.data.format.TrainingSample` JSONL plus the images it names).

*Kept* findings are the confirmed ones (operator-added boxes are confirmed); pending and rejected findings
are left out. Ground truth and training samples cover only *fully reviewed* items (no finding pending), so an
unreviewed item is never passed off as "nothing there".
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

from sqlalchemy import select

from tenken.configs import load_anomaly_classes
from tenken.core.artifacts import json_text
from tenken.data.format import BOX_MARK, IMAGE_MARK, Box, Message, Provenance, TrainingSample, sample_row
from tenken.serve.blobs import BlobStore
from tenken.serve.db import Database
from tenken.serve.models import Finding, Image, Job, JobItem
from tenken.tasks.prompts import ANOMALY_PASS1, fill
from tenken.tasks.report import display_label

CSV_FIELDS = (
    "job_id", "item", "finding_id", "x1", "y1", "x2", "y2", "label", "label_ja", "model_label", "score",
    "source", "origin", "status", "comment", "reviewer", "reviewed_at",
)  # fmt: skip
_SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png", "image/tiff": ".tif", "image/webp": ".webp", "image/bmp": ".bmp"}


def _items(db: Database, job_id: int) -> list[tuple[JobItem, list[Finding]]]:
    with db.read() as s:
        items = s.execute(select(JobItem).where(JobItem.job_id == job_id).order_by(JobItem.position)).scalars().all()
        found = s.execute(select(Finding).where(Finding.job_id == job_id).order_by(Finding.id)).scalars().all()
    by_item: dict[int, list[Finding]] = {}
    for f in found:
        by_item.setdefault(f.item_id, []).append(f)
    return [(i, by_item.get(i.id, [])) for i in items]


def _reviewed(findings: list[Finding]) -> bool:
    return all(f.status != "pending" for f in findings)


def reviewed_reports(db: Database, job_id: int) -> list[dict[str, Any]]:
    """One ``tenken.report/1`` object per finished item whose ``detections`` are the kept findings (labels as
    the operator set them), plus ``review``: every finding with its status, labels and comment."""
    classes = load_anomaly_classes()
    out = []
    for item, findings in _items(db, job_id):
        if item.report is None:
            continue
        report = json.loads(item.report)
        report["detections"] = [
            {
                "box": f.box,
                "label": f.final_label,
                "label_ja": display_label(f.final_label, classes, "ja"),
                "score": f.score,
                "source": f.source,
                "label_pass1": None,
                "label_pass2": None,
            }
            for f in findings
            if f.status == "confirmed"
        ]
        report["review"] = {
            "complete": _reviewed(findings),
            "findings": [_finding_row(f, classes) for f in findings],
        }
        out.append(report)
    return out


def _finding_row(f: Finding, classes: Any) -> dict[str, Any]:
    return {
        "finding_id": f.id,
        "box": f.box,
        "label": f.final_label,
        "label_ja": display_label(f.final_label, classes, "ja"),
        "model_label": f.label,
        "score": f.score,
        "source": f.source,
        "origin": f.origin,
        "status": f.status,
        "comment": f.comment,
        "reviewer": f.reviewer,
        "reviewed_at": f.reviewed_at.isoformat() if f.reviewed_at else None,
    }


def findings_csv(db: Database, job_id: int) -> str:
    """Every finding of the job as CSV (one row per finding, header :data:`CSV_FIELDS`), UTF-8 text."""
    classes = load_anomaly_classes()
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for item, findings in _items(db, job_id):
        for f in findings:
            row = _finding_row(f, classes)
            x1, y1, x2, y2 = row.pop("box")
            writer.writerow({"job_id": job_id, "item": item.name, "x1": x1, "y1": y1, "x2": x2, "y2": y2, **row})
    return buf.getvalue()


def ground_truth(db: Database, job_id: int) -> list[dict[str, Any]]:
    """``{"id", "boxes", "labels"}`` per fully reviewed item (the format ``tenken eval detection --gt`` reads;
    ids are the item names, as in the job's predictions)."""
    out = []
    for item, findings in _items(db, job_id):
        if item.status != "done" or not _reviewed(findings):
            continue
        kept = [f for f in findings if f.status == "confirmed"]
        out.append({"id": item.name, "boxes": [f.box for f in kept], "labels": [f.final_label for f in kept]})
    return out


def predictions(db: Database, job_id: int) -> list[dict[str, Any]]:
    """The model's reports before review, one per item (``{"id", "error"}`` for a failed item): what
    ``tenken eval detection --pred`` reads."""
    out = []
    for item, _ in _items(db, job_id):
        if item.report is not None:
            out.append(json.loads(item.report))
        elif item.status == "failed":
            out.append({"id": item.name, "error": item.error})
    return out


def training_zip(db: Database, blobs: BlobStore, job_id: int) -> bytes:
    """A zip of ``samples.jsonl`` (training-data format, task ``anomaly``) and ``images/``: per fully reviewed
    item, the target and the aligned reference, the pass-1 instruction, and the kept boxes as the answer."""
    classes = load_anomaly_classes()
    with db.read() as s:
        job = s.get(Job, job_id)
        media = {i.sha256: i.media_type for i in s.execute(select(Image)).scalars()}
    assert job is not None
    lang = job.lang if job.lang in ("ja", "en") else "ja"
    names = ", ".join(classes.display(c, lang) for c in classes.ids)
    prompt = fill(ANOMALY_PASS1, lang, classes=names, fmt="")
    buf = io.BytesIO()
    rows = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for item, findings in _items(db, job_id):
            if item.status != "done" or item.aligned_sha is None or not _reviewed(findings):
                continue
            kept = [f for f in findings if f.status == "confirmed"]
            target = f"images/{item.target_sha}{_SUFFIX.get(media.get(item.target_sha, ''), '.jpg')}"
            aligned = f"images/{item.aligned_sha}.jpg"
            for arc, sha in ((target, item.target_sha), (aligned, item.aligned_sha)):
                if arc not in zf.namelist():
                    zf.writestr(arc, blobs.read(sha))
            answer = json.dumps(
                [{"label": classes.display(f.final_label, lang), "box": BOX_MARK} for f in kept], ensure_ascii=False
            ).replace(f'"{BOX_MARK}"', BOX_MARK)
            sample = TrainingSample(
                id=f"job{job_id}-{item.name}",
                images=[target, aligned],
                messages=[
                    Message(role="user", content=IMAGE_MARK + IMAGE_MARK + prompt),
                    Message(role="assistant", content=answer),
                ],
                boxes=[Box(box=tuple(f.box), label=f.final_label, image=0) for f in kept],
                task="anomaly",
                lang=lang,
                provenance=Provenance(
                    recipe="serve-review",
                    teachers={"detector": job.detector, **({"vlm": job.model} if job.model else {})},
                    filters=[{"name": "operator_review", "keep": True}],
                ),
            )
            rows.append(sample_row(sample))
        zf.writestr("samples.jsonl", "".join(json_text(r) + "\n" for r in rows))
    return buf.getvalue()
