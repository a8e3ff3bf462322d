"""Request and response bodies of the inspection service's HTTP API (they document the OpenAPI spec).

Boxes are ``[x1, y1, x2, y2]`` float pixels of the target image after EXIF orientation, origin top-left.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")
]
"""A display name: 1-200 characters, no control characters."""
Text = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")]
"""Free text (comments): at most 2000 characters, no NUL."""


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorBody(BaseModel):
    """Every error answer: ``{"error": {"code", "message", "details"?}}``."""

    error: dict[str, Any] = Field(examples=[{"code": "not_found", "message": "job 7 not found"}])


class SiteIn(BaseModel):
    """A new site."""

    name: Name


class SiteOut(_Out):
    """A site."""

    id: int
    name: str
    created_at: dt.datetime


class KeyIn(BaseModel):
    """A new API key: scoped to one site, or an admin key (every site, may create sites and keys)."""

    name: Name
    site_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="the site this key may use")
    admin: bool = False


class KeyOut(_Out):
    """A created key. ``key`` is shown only in this answer: store it now."""

    id: int
    name: str
    prefix: str
    site_id: int | None
    admin: bool
    key: str | None = None


class ReferenceOut(_Out):
    """A reference photo of a site (position in degrees and metres when the file has GPS)."""

    id: int
    site_id: int
    image_sha: str
    filename: str
    latitude: float | None
    longitude: float | None
    altitude_m: float | None


class RegisterIn(BaseModel):
    """A server folder to register (must lie inside the server's import roots)."""

    folder: Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=r"^[^\x00]+$")]


class RegisterOut(BaseModel):
    """The references registered from a folder and the files skipped, with the reason."""

    references: list[ReferenceOut]
    skipped: list[dict[str, str]]


class Progress(BaseModel):
    """Items of a job by state."""

    total: int
    done: int
    failed: int
    pending: int


class JobOut(_Out):
    """An inspection job and its progress."""

    id: int
    site_id: int
    status: Literal["queued", "running", "done", "failed"]
    detector: str
    model: str | None
    family: str | None
    lang: str
    attempts: int
    error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    progress: Progress


class FindingOut(_Out):
    """A finding (model or operator) and its review state."""

    id: int
    item_id: int
    box: list[float] = Field(description="[x1, y1, x2, y2], target pixels")
    label: str = Field(description="the label in force (the operator's when set)")
    model_label: str
    label_ja: str
    label_en: str
    score: float | None
    source: str
    origin: Literal["model", "operator"]
    status: Literal["pending", "confirmed", "rejected"]
    comment: str | None
    reviewer: str | None
    reviewed_at: dt.datetime | None


class ItemOut(_Out):
    """One target of a job: status, images (ids for ``/images/{sha}``), findings, the report when done."""

    id: int
    job_id: int
    position: int
    name: str
    status: Literal["pending", "done", "failed"]
    error: str | None
    target_sha: str
    aligned_sha: str | None
    annotated_sha: str | None
    width: int | None
    height: int | None
    findings: list[FindingOut]
    report: dict[str, Any] | None = None


class ReviewIn(BaseModel):
    """A review action on a finding. ``relabel`` needs ``label`` (an anomaly class id)."""

    action: Literal["confirm", "reject", "relabel", "comment", "reset"]
    label: Annotated[str, StringConstraints(max_length=100)] | None = None
    comment: Text | None = None


class NewFindingIn(BaseModel):
    """A box the detector missed: target pixels, xyxy, with its class id."""

    box: list[float] = Field(min_length=4, max_length=4)
    label: Annotated[str, StringConstraints(max_length=100)]
    comment: Text | None = None


class ClassOut(BaseModel):
    """An anomaly class with its Japanese and English names."""

    id: str
    ja: str
    en: str
