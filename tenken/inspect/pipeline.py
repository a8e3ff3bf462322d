"""``Inspector``: retrieval -> alignment -> pass-1 detector(s) -> optional pass-2 labeller -> report.

    >>> import tenken
    >>> report = tenken.Inspector().inspect("today.jpg", ["before_1.jpg", "before_2.jpg"])
    >>> [(d.label_ja, d.box) for d in report.detections]          # boxes: xyxy target pixels

Detectors and labellers are the protocols of :mod:`tenken.core.contracts`; ``detector="classical"`` (the
change detector, no weights), ``"vlm"`` and ``"hybrid"`` (both, merged by NMS; or, with ``marks=True``, the
VLM choosing among the classical candidates by number) are built in; ``slicing=`` makes the VLM detector look
tile by tile on large images.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from tenken.align.match import FeatureCache
from tenken.align.pair import align_best
from tenken.align.telemetry import read_telemetry
from tenken.align.types import Alignment
from tenken.configs import UNKNOWN, AnomalyClasses, Lang, load_anomaly_classes
from tenken.core.boxes import box_iou, nms_indices
from tenken.core.contracts import CHANGE, AlignedPair, CandidateDetector, Labeller, Labels, WarnsOnDetect
from tenken.core.detections import Detections
from tenken.core.errors import InputError, TenkenError
from tenken.core.images import ImageInput, image_size, load_image
from tenken.inspect.report import Report, telemetry_section

if TYPE_CHECKING:
    from tenken.vlm.slicing import SliceOptions

DetectorSpec = Literal["classical", "vlm", "hybrid"] | CandidateDetector | Sequence[CandidateDetector]


@dataclass
class Inspection:
    """Everything one inspection produced: the report plus the images it was computed on (for rendering).

    Attributes:
        report: the ``tenken.report/1`` report.
        target: ``(H, W, 3)`` uint8 RGB target.
        alignment: the alignment (``warped_reference``/``valid_mask`` set when ok).
        detections: final detections, target pixels.
    """

    report: Report
    target: np.ndarray
    alignment: Alignment
    detections: Detections
    timings_ms: dict[str, float] = field(default_factory=dict)


class Inspector:
    """The two-pass anomaly pipeline over a target and its reference photos.

    Args:
        detector: ``"classical"`` (default), ``"vlm"``, ``"hybrid"``, or your own
            :class:`~tenken.core.contracts.CandidateDetector` object(s).
        classes: anomaly classes (an :class:`AnomalyClasses`, a YAML/JSON path, or None for the default set).
        lang: language of the VLM prompts and of the labels drawn (``"ja"`` or ``"en"``).
        labeller: pass 2. None: ``VLMLabeller(vlm)`` for ``"vlm"``/``"hybrid"``, none otherwise; False: none;
            or your own :class:`~tenken.core.contracts.Labeller`.
        vlm: a loaded :class:`tenken.VLM` or a spec for :func:`tenken.load_vlm` (needed by vlm/hybrid).
        change_params: :class:`tenken.changedet.ChangeParams` of the classical detector.
        align_options: keyword arguments of :func:`tenken.align_best` (``k``, ``radius_m``, ``telemetry``,
            ``views``, ``max_side``, ``registered``, ...).
        cache: reference feature cache shared by every call (default: a new in-memory one), so a reference
            used by many targets of a batch is described once.
        nms_iou: IoU above which merged candidates of several detectors suppress each other.
        slicing: the VLM detector of ``"vlm"``/``"hybrid"`` looks tile by tile (see
            :class:`~tenken.tasks.anomaly.VLMCandidateDetector`): True for the model family's defaults
            (:func:`tenken.vlm.slicing.slice_options`), or a :class:`~tenken.vlm.slicing.SliceOptions`.
        marks: ``"hybrid"`` only: instead of merging the classical and VLM candidates, the classical
            candidates become numbered marks and the VLM picks the new ones by number
            (:class:`~tenken.tasks.anomaly_marks.MarkCandidateDetector`); boxes are exactly the classical ones.

    Raises:
        InputError: an unknown detector name, vlm/hybrid without a ``vlm``, slicing or marks with a detector
            they do not apply to, or both together.
    """

    def __init__(
        self,
        detector: DetectorSpec = "classical",
        classes: AnomalyClasses | str | os.PathLike | None = None,
        lang: Lang = "ja",
        labeller: Labeller | Literal[False] | None = None,
        vlm: Any = None,
        change_params: Any = None,
        align_options: dict[str, Any] | None = None,
        cache: FeatureCache | None = None,
        nms_iou: float = 0.5,
        slicing: SliceOptions | bool | None = None,
        marks: bool = False,
    ) -> None:
        if lang not in ("ja", "en"):
            raise InputError(f"lang must be 'ja' or 'en', got {lang!r}")
        self.classes = classes if isinstance(classes, AnomalyClasses) else load_anomaly_classes(classes)
        self.lang: Lang = lang
        self.nms_iou = float(nms_iou)
        self.align_options = dict(align_options or {})
        self.cache = cache if cache is not None else FeatureCache()
        if isinstance(vlm, str):
            from tenken.vlm.loader import load_vlm

            vlm = load_vlm(vlm)
        self.vlm = vlm
        self.slicing = self._slicing(detector, slicing, marks)
        self.marks = bool(marks)
        self.detectors = self._detectors(detector, change_params)
        if labeller is None and isinstance(detector, str) and detector in ("vlm", "hybrid"):
            from tenken.tasks.anomaly import VLMLabeller

            labeller = VLMLabeller(self.vlm)
        self.labeller: Labeller | None = labeller or None

    def _slicing(self, detector: DetectorSpec, slicing: SliceOptions | bool | None, marks: bool) -> SliceOptions | None:
        """The slicing of the VLM detector (None: whole pair), checked against the detector and mark mode."""
        if marks and detector != "hybrid":
            raise InputError(f"marks is a mode of detector='hybrid' (numbered classical candidates), not {detector!r}")
        if slicing is None or slicing is False:
            return None
        if detector not in ("vlm", "hybrid"):
            raise InputError(f"slicing applies to the vlm and hybrid detectors, not {detector!r}")
        if marks:
            raise InputError("slicing and marks are separate modes of the hybrid detector; choose one")
        if slicing is True:
            from tenken.vlm.slicing import slice_options

            return slice_options(self.vlm.family.name if self.vlm is not None else None)
        return slicing

    def _detectors(self, detector: DetectorSpec, change_params: Any) -> list[CandidateDetector]:
        if isinstance(detector, str):
            if detector not in ("classical", "vlm", "hybrid"):
                raise InputError(f"detector must be classical, vlm or hybrid (or a detector object), got {detector!r}")
            if detector in ("vlm", "hybrid") and self.vlm is None:
                raise InputError(f"detector={detector!r} needs a vision-language model (vlm=... / --model)")
            out: list[CandidateDetector] = []
            if detector in ("classical", "hybrid"):
                from tenken.changedet import ChangeDetector

                out.append(ChangeDetector(change_params))
            if self.marks:
                from tenken.tasks.anomaly_marks import MarkCandidateDetector

                return [MarkCandidateDetector(self.vlm, self.classes, out[0], self.lang)]
            if detector in ("vlm", "hybrid"):
                from tenken.tasks.anomaly import VLMCandidateDetector

                out.append(VLMCandidateDetector(self.vlm, self.classes, self.lang, slicing=self.slicing))
            return out
        items = [detector] if isinstance(detector, CandidateDetector) else list(detector)
        for d in items:
            if not isinstance(d, CandidateDetector):
                raise InputError(f"{d!r} is not a CandidateDetector (needs .name and .detect(pair))")
        if not items:
            raise InputError("at least one detector is needed")
        return items

    @property
    def detector_names(self) -> list[str]:
        """Names of the pass-1 detectors, in order."""
        return [d.name for d in self.detectors]

    def inspect(
        self, target: ImageInput, references: ImageInput | Sequence[ImageInput], id: str | None = None
    ) -> Report:
        """Inspect ``target`` against ``references`` (paths, bytes or arrays); the report (boxes in target px).

        Raises:
            ImageLoadError: the target or a reference cannot be read (the message names it).
            InputError: no references given.
        """
        return self.run(target, references, id).report

    def run(
        self, target: ImageInput, references: ImageInput | Sequence[ImageInput], id: str | None = None
    ) -> Inspection:
        """Like :meth:`inspect`, also returning the images (for :func:`tenken.inspect.render.render_annotated`)."""
        refs = _reference_list(references)
        t0 = time.perf_counter()
        warnings: list[str] = []
        target_path = str(target) if isinstance(target, (str, os.PathLike)) else None
        rgb = load_image(target)
        telemetry = read_telemetry(target_path, warnings) if target_path else None
        options = {"cache": self.cache, **self.align_options}
        if telemetry is not None and "target_telemetry" not in options:
            options["target_telemetry"] = telemetry
        alignment = align_best(rgb, refs, **options)
        t1 = time.perf_counter()
        detections = Detections.empty(image_size(rgb))
        ran: list[str] = []
        labels: Labels | None = None
        conditions: dict[str, dict[str, Any]] = {}
        pass1_ms = pass2_ms = 0.0
        if not alignment.ok:
            warnings.append("alignment failed, no detector was run (alignment.reason says why)")
        else:
            pair = AlignedPair(rgb, alignment.warped_reference, alignment.valid_mask, alignment)
            detections, ran = self._pass1(pair, warnings, conditions)
            t2 = time.perf_counter()
            pass1_ms = 1e3 * (t2 - t1)
            if self.labeller is not None and len(detections):
                labels = self._pass2(rgb, detections)
                detections = labels.detections
                warnings.extend(f"labeller: {w}" for w in labels.warnings)
            pass2_ms = 1e3 * (time.perf_counter() - t2)
        timings = {
            "align": 1e3 * (t1 - t0),
            "pass1": pass1_ms,
            "pass2": pass2_ms,
            "total": 1e3 * (time.perf_counter() - t0),
        }
        report = Report.from_inspection(
            id=id,
            target_path=target_path,
            target_size=image_size(rgb),
            telemetry=telemetry_section(telemetry) if telemetry is not None else None,
            alignment=alignment,
            detections=detections,
            classes=self.classes,
            labels=labels,
            detectors=ran,
            conditions=conditions,
            model=self.vlm.describe() if self.vlm is not None and self._uses_vlm() else None,
            timings_ms=timings,
            warnings=warnings,
        )
        return Inspection(report, rgb, alignment, detections, timings)

    def _uses_vlm(self) -> bool:
        from tenken.tasks.anomaly import VLMCandidateDetector, VLMLabeller
        from tenken.tasks.anomaly_marks import MarkCandidateDetector

        vlm_detector = any(isinstance(d, (VLMCandidateDetector, MarkCandidateDetector)) for d in self.detectors)
        return vlm_detector or isinstance(self.labeller, VLMLabeller)

    def _pass1(
        self, pair: AlignedPair, warnings: list[str], conditions: dict[str, dict[str, Any]]
    ) -> tuple[Detections, list[str]]:
        """Every detector's candidates, merged (NMS across detectors when there are several); a detector that
        measures the pair's conditions (``last_conditions``, e.g. the classical one) adds them to ``conditions``.

        With several detectors a failing one (a :class:`TenkenError`, e.g. a model server down) becomes a
        warning and the others' candidates are kept; a single detector's error propagates.
        """
        parts: list[Detections] = []
        ran: list[str] = []
        for det in self.detectors:
            try:
                found = det.detect(pair)
            except TenkenError as exc:
                if len(self.detectors) == 1:
                    raise
                warnings.append(f"detector {det.name} failed: {exc}")
                continue
            if isinstance(det, WarnsOnDetect):
                warnings.extend(f"{det.name}: {w}" for w in det.last_warnings)
            parts.append(found)
            ran.append(det.name)
            if getattr(det, "last_conditions", None) is not None:
                conditions[det.name] = det.last_conditions.to_dict()
        if not parts:
            return Detections.empty(image_size(pair.target)), ran
        if len(parts) == 1:
            return parts[0], ran
        return merge_candidates(parts, self.nms_iou), ran

    def _pass2(self, rgb: np.ndarray, detections: Detections) -> Labels:
        """The labeller's result (a labeller returning plain Detections is read as :meth:`Labels.relabelled`)."""
        assert self.labeller is not None
        labelled = self.labeller.label(rgb, detections, self.classes, self.lang)
        return labelled if isinstance(labelled, Labels) else Labels.relabelled(detections, labelled)


def merge_candidates(parts: Sequence[Detections], iou: float) -> Detections:
    """Candidates of several detectors as one set: greedy NMS at ``iou`` (higher score wins, unknown scores
    last), and a kept box labelled ``change`` takes the class label of the best-overlapping box it suppressed
    (so a VLM's "traffic_cone" survives when the change detector found the same object with a higher score).
    """
    merged = parts[0].merge(*parts[1:])
    keep = nms_indices(merged.xyxy, merged.scores, iou)
    labels = list(merged.labels)
    if len(keep):
        overlaps = box_iou(merged.xyxy[keep], merged.xyxy)
        dropped = np.setdiff1d(np.arange(len(merged)), keep)
        for row, k in enumerate(keep):
            if labels[k] != CHANGE:
                continue
            named = [j for j in dropped if overlaps[row, j] > iou and merged.labels[j] not in (CHANGE, UNKNOWN)]
            if named:
                labels[k] = merged.labels[max(named, key=lambda j: overlaps[row, j])]
    return merged.with_labels(labels)[np.sort(keep)]


def _reference_list(references: ImageInput | Sequence[ImageInput]) -> list[ImageInput]:
    """One reference or several, as a list; an empty list is an :class:`InputError`."""
    if isinstance(references, (str, os.PathLike, bytes, np.ndarray)):
        return [references]
    refs = list(references)
    if not refs:
        raise InputError("no reference images given: inspection needs at least one earlier photo of the place")
    return refs
