"""A job's exports: reviewed reports, findings CSV, ground truth and predictions JSONL, training samples."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from fastapi.responses import Response

from tenken.core.artifacts import json_text
from tenken.serve import exports
from tenken.serve.deps import DB, Blobs, Id, Who, job_of

EXPORTS = ("reports.json", "findings.csv", "ground_truth.jsonl", "predictions.jsonl", "training.zip")
"""The export kinds, as the last URL segment."""

router = APIRouter(tags=["exports"])


@router.get(
    "/api/v1/jobs/{job_id}/export/{kind}",
    response_class=Response,
    responses={200: {"content": {"application/json": {}, "text/csv": {}, "application/zip": {}}}},
)
def export(job_id: Id, kind: Annotated[Literal[EXPORTS], Path()], who: Who, db: DB, blobs: Blobs) -> Response:  # type: ignore[valid-type]
    """``reports.json`` (reviewed reports), ``findings.csv``, ``ground_truth.jsonl`` (for ``tenken eval
    detection --gt``), ``predictions.jsonl`` (the model's reports, for ``--pred``), ``training.zip``."""
    job_of(db, who, job_id)
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
