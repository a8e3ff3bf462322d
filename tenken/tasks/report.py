"""The inspection report (``tenken.report/1``): one JSON object per target, as shown in DESIGN.md.

The pydantic models here are the single definition of the format; ``tenken/schemas/report.schema.json`` is
exported from them (:func:`write_report_schema`, ``tenken report-schema``) and a test keeps the two equal.
Every box is ``xyxy`` in float pixels of the target image.
"""

from __future__ import annotations

import json
import math
import os
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tenken.align.telemetry import Telemetry
from tenken.align.types import Alignment
from tenken.configs import UNKNOWN, AnomalyClasses, Lang
from tenken.core.detections import Detections

SCHEMA = "tenken.report/1"
"""The value of every report's ``schema`` field."""

CHANGE = "change"
"""The label of a candidate no labeller has named (the classical detector's label)."""

_BUILTIN_NAMES: dict[str, dict[str, str]] = {
    CHANGE: {"en": "change", "ja": "変化"},
    UNKNOWN: {"en": "unknown", "ja": "不明"},
}


def display_label(label: str, classes: AnomalyClasses, lang: Lang) -> str:
    """The name of ``label`` in ``lang``: a class's name, 変化/不明 for ``change``/``unknown``, else ``label``."""
    if label in _BUILTIN_NAMES:
        return _BUILTIN_NAMES[label][lang]
    return classes.display(label, lang)


def telemetry_section(telemetry: Telemetry) -> dict[str, Any]:
    """The report's ``target.telemetry``: ``lat``/``lon`` (degrees), ``alt`` (metres, when known) as in
    DESIGN.md, then the other known fields (``altitude_kind``, ``gimbal_yaw``, ``timestamp``, ``source``...)."""
    rest = telemetry.to_dict()
    out: dict[str, Any] = {"lat": rest.pop("latitude"), "lon": rest.pop("longitude")}
    if "altitude_m" in rest:
        out["alt"] = rest.pop("altitude_m")
    return {**out, **rest}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetInfo(_Model):
    """The inspected image."""

    path: str | None = Field(description="path as given (None for an in-memory image)")
    width: int = Field(gt=0, description="pixels, after EXIF orientation")
    height: int = Field(gt=0, description="pixels, after EXIF orientation")
    telemetry: dict[str, Any] | None = Field(
        default=None, description="GPS position and attitude (lat/lon in degrees, altitude in metres) when known"
    )


class ReferenceInfo(_Model):
    """The chosen reference and the candidates considered."""

    path: str | None = Field(description="the reference the target was aligned with (None when none aligned)")
    candidates: list[str] = Field(default_factory=list, description="every reference considered")
    selection_score: float | None = Field(
        default=None, description="mean image-plane distance of inlier matches, target pixels (smaller is better)"
    )
    explain: list[dict[str, Any]] = Field(
        default_factory=list,
        description="per reference looked at: decision, why, distance_m, altitude_diff_m, angle_deg, "
        "retrieval_score, aligned, selection_score, inliers (tenken.align.types.Alignment.explain)",
    )


class AlignmentInfo(_Model):
    """How the reference was put into the target's pixel frame and how far to trust it."""

    ok: bool = Field(description="False: the pair could not be aligned and no detector was run")
    homography: list[list[float]] | None = Field(
        default=None, description="3x3, reference pixels -> target pixels (H[2][2] = 1)"
    )
    inliers: int = 0
    inlier_ratio: float | None = None
    mean_reprojection_px: float | None = None
    valid_fraction: float | None = Field(default=None, description="fraction of target pixels the reference covers")
    reason: str | None = Field(default=None, description="why ok is false")
    warnings: list[str] = Field(default_factory=list)


class DetectionRecord(_Model):
    """One finding in target pixels."""

    box: list[float] = Field(min_length=4, max_length=4, description="[x1, y1, x2, y2], target pixels")
    label: str = Field(description='class id, "change" (no labeller) or "unknown"')
    label_ja: str = Field(description="Japanese name of the label")
    score: float | None = Field(description="confidence in [0, 1]; None when the detector gives none")
    source: str = Field(description='pass-1 detector: "classical", "vlm", ...')
    label_pass1: str | None = Field(default=None, description="label proposed in pass 1 (None: pass 2 not run)")
    label_pass2: str | None = Field(default=None, description="label given in pass 2 (None: pass 2 not run)")


class ModelInfo(_Model):
    """The vision-language model used (null section when none was)."""

    backend: str
    name: str
    family: str


class Report(_Model):
    """The ``tenken.report/1`` inspection report of one target."""

    model_config = ConfigDict(extra="forbid", title="tenken.report/1", populate_by_name=True)

    schema_: Literal["tenken.report/1"] = Field(default=SCHEMA, alias="schema")
    id: str | None = Field(default=None, description="the item's id (manifest id in batch runs)")
    target: TargetInfo
    reference: ReferenceInfo
    alignment: AlignmentInfo
    detectors: list[str] = Field(default_factory=list, description="pass-1 detectors run (empty when none ran)")
    detections: list[DetectionRecord] = Field(default_factory=list)
    conditions: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="per pass-1 detector that measures them, the conditions the pair was compared under (classical: "
        "blur_ratio, blurrier, blur_sigma_px, exposure_shift_ev, clipped_fraction, crushed_fraction, "
        "light_change_fraction; see tenken.changedet.PairConditions)",
    )
    model: ModelInfo | None = None
    timings_ms: dict[str, float] = Field(
        default_factory=dict, description="wall time per stage, milliseconds (align, pass1, pass2, total)"
    )
    warnings: list[str] = Field(default_factory=list)

    @classmethod
    def from_inspection(
        cls,
        *,
        target_path: str | None,
        target_size: tuple[int, int],
        alignment: Alignment,
        detections: Detections,
        classes: AnomalyClasses,
        id: str | None = None,
        telemetry: dict[str, Any] | None = None,
        detectors: list[str] | None = None,
        conditions: dict[str, dict[str, Any]] | None = None,
        model: dict[str, str] | None = None,
        timings_ms: dict[str, float] | None = None,
        warnings: list[str] | None = None,
    ) -> Report:
        """Assemble a report from the pipeline's results.

        Args:
            target_size: ``(width, height)`` of the target in pixels.
            alignment: the result of :func:`tenken.align_best`.
            detections: final detections in target pixels; ``extra["label_pass1"]``/``["label_pass2"]`` are
                read when a labeller ran.
            conditions: per detector name, the pair conditions it measured (``PairConditions.to_dict()``).
            model: ``VLM.describe()`` when a VLM was used.
        """
        a = alignment.to_dict()
        records = []
        pass1 = detections.extra.get("label_pass1")
        pass2 = detections.extra.get("label_pass2")
        for i in range(len(detections)):
            s = float(detections.scores[i])
            records.append(
                DetectionRecord(
                    box=[float(v) for v in detections.xyxy[i]],
                    label=detections.labels[i],
                    label_ja=display_label(detections.labels[i], classes, "ja"),
                    score=None if math.isnan(s) else s,
                    source=detections.sources[i],
                    label_pass1=pass1[i] if pass1 is not None else None,
                    label_pass2=pass2[i] if pass2 is not None else None,
                )
            )
        return cls(
            id=id,
            target=TargetInfo(path=target_path, width=target_size[0], height=target_size[1], telemetry=telemetry),
            reference=ReferenceInfo(
                path=a["reference"] if alignment.ok else None,
                candidates=a["candidates"],
                selection_score=a["selection_score"] if alignment.ok else None,
                explain=a["explain"],
            ),
            alignment=AlignmentInfo(
                ok=a["ok"],
                homography=a["homography"],
                inliers=a["inliers"],
                inlier_ratio=a["inlier_ratio"],
                mean_reprojection_px=a["mean_reprojection_px"],
                valid_fraction=a["valid_fraction"],
                reason=a["reason"],
                warnings=a["warnings"],
            ),
            detectors=list(detectors or []),
            detections=records,
            conditions=dict(conditions or {}),
            model=ModelInfo(**model) if model else None,
            timings_ms={k: round(float(v), 1) for k, v in (timings_ms or {}).items()},
            warnings=list(warnings or []),
        )

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (``schema`` first, as in DESIGN.md)."""
        return self.model_dump(mode="json", by_alias=True)

    def to_json_text(self, indent: int | None = 2) -> str:
        """The report as JSON text (non-ASCII kept readable)."""
        return json.dumps(self.to_json(), ensure_ascii=False, indent=indent)

    def detections_as(self) -> Detections:
        """The findings as :class:`~tenken.Detections` (target pixels; ``extra`` holds ``label_ja``,
        ``label_pass1`` and ``label_pass2``), e.g. for :mod:`tenken.eval`."""
        size = (self.target.width, self.target.height)
        if not self.detections:
            return Detections.empty(size)
        return Detections.from_json([d.model_dump() for d in self.detections], image_size=size)

    @property
    def ok(self) -> bool:
        """True when the alignment was trusted and the detectors ran."""
        return self.alignment.ok


def report_json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`Report` (what ``tenken/schemas/report.schema.json`` holds)."""
    schema = Report.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA, **schema}


def schema_text() -> str:
    """The JSON Schema as the text of the shipped file."""
    return json.dumps(report_json_schema(), ensure_ascii=False, indent=2) + "\n"


def shipped_schema_path() -> Path:
    """Path of ``report.schema.json`` inside the installed package."""
    return Path(str(resources.files("tenken").joinpath("schemas", "report.schema.json")))


def write_report_schema(path: str | os.PathLike | None = None) -> Path:
    """Write the JSON Schema to ``path`` (default: the shipped ``tenken/schemas/report.schema.json``)."""
    out = Path(path) if path is not None else shipped_schema_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(schema_text(), encoding="utf-8")
    return out
