"""``Detections``: the one detection type that flows through tenken.

Alignment, change detection, VLM parsing, evaluation, rendering and reports all exchange this class.
Boxes are ``xyxy`` float64 pixels of the image of size ``image_size = (width, height)`` (see
:mod:`tenken.core.boxes` for the convention); scores are floats where NaN means "unknown" (a VLM that
gives no confidence); ``labels`` and ``sources`` are one string per box.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tenken.core.boxes import (
    ImageSize,
    as_boxes,
    box_area,
    box_iou,
    box_sizes,
    clip_boxes,
    nms_indices,
    xywh_to_xyxy,
    xyxy_to_xywh,
)


@dataclass(frozen=True, eq=False)
class Detections:
    """N boxes with scores, labels and the detector that proposed each.

    Attributes:
        xyxy: ``(N, 4)`` float64, ``[x1, y1, x2, y2]`` in pixels of ``image_size``; ``x1 <= x2``, ``y1 <= y2``.
        scores: ``(N,)`` float64 confidence in ``[0, 1]`` where known, NaN where unknown.
        labels: N label strings (canonical English ids such as ``"plastic_bottle"``, or ``"change"``).
        sources: N detector names (``"classical"``, ``"vlm"``, ``"gt"``, ...).
        image_size: ``(width, height)`` of the image the boxes refer to, or None when unknown.
        extra: optional per-box fields, each a list of length N (e.g. ``label_pass1``, ``label_pass2``).
    """

    xyxy: np.ndarray
    scores: np.ndarray = field(default=None)  # type: ignore[assignment]
    labels: list[str] = field(default=None)  # type: ignore[assignment]
    sources: list[str] = field(default=None)  # type: ignore[assignment]
    image_size: ImageSize | None = None
    extra: dict[str, list[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            xyxy = as_boxes(self.xyxy)
        except ValueError as exc:
            raise ValueError(f"Detections.xyxy: {exc}") from None
        n = len(xyxy)
        if not np.all(np.isfinite(xyxy)):
            raise ValueError("Detections.xyxy contains NaN or infinite coordinates")
        bad = (xyxy[:, 2] < xyxy[:, 0]) | (xyxy[:, 3] < xyxy[:, 1])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"Detections.xyxy[{i}] = {xyxy[i].tolist()} has x2 < x1 or y2 < y1")
        scores = np.full(n, np.nan) if self.scores is None else np.asarray(self.scores, dtype=np.float64).reshape(-1)
        if scores.shape != (n,):
            raise ValueError(f"Detections.scores has {scores.shape[0]} values for {n} boxes")
        if np.isinf(scores).any():
            raise ValueError("Detections.scores contains infinite values (use NaN for unknown)")
        labels = [""] * n if self.labels is None else [str(x) for x in self.labels]
        sources = [""] * n if self.sources is None else [str(x) for x in self.sources]
        if len(labels) != n:
            raise ValueError(f"Detections.labels has {len(labels)} entries for {n} boxes")
        if len(sources) != n:
            raise ValueError(f"Detections.sources has {len(sources)} entries for {n} boxes")
        extra = {k: list(v) for k, v in self.extra.items()}
        for k, v in extra.items():
            if len(v) != n:
                raise ValueError(f"Detections.extra[{k!r}] has {len(v)} entries for {n} boxes")
        size = None
        if self.image_size is not None:
            w, h = (int(v) for v in self.image_size)
            if w <= 0 or h <= 0:
                raise ValueError(f"Detections.image_size must be positive (width, height), got {self.image_size}")
            size = (w, h)
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "sources", sources)
        object.__setattr__(self, "image_size", size)
        object.__setattr__(self, "extra", extra)

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def empty(cls, image_size: ImageSize | None = None) -> Detections:
        """No boxes."""
        return cls(np.zeros((0, 4)), image_size=image_size)

    # -- container protocol -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray) -> Detections:
        """Select boxes by position, slice, integer array or boolean mask; always returns ``Detections``."""
        if isinstance(index, (int, np.integer)):
            idx = np.array([int(index)])
            if not -len(self) <= idx[0] < len(self):
                raise IndexError(f"index {int(index)} out of range for {len(self)} detections")
        elif isinstance(index, slice):
            idx = np.arange(len(self))[index]
        else:
            arr = np.asarray(index)
            if arr.dtype == bool:
                if arr.shape != (len(self),):
                    raise IndexError(f"boolean mask of shape {arr.shape} for {len(self)} detections")
                idx = np.flatnonzero(arr)
            else:
                idx = arr.astype(np.int64).reshape(-1)
        take = [int(i) for i in idx]
        return Detections(
            self.xyxy[idx].reshape(-1, 4),
            self.scores[idx],
            [self.labels[i] for i in take],
            [self.sources[i] for i in take],
            self.image_size,
            {k: [v[i] for i in take] for k, v in self.extra.items()},
        )

    def __iter__(self):  # pragma: no cover - convenience
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        more = "..." if len(self) > 5 else ""
        return f"Detections(n={len(self)}, image_size={self.image_size}, labels={self.labels[:5]}{more})"

    # -- geometry -----------------------------------------------------------------------------------
    @property
    def area(self) -> np.ndarray:
        """Box areas in square pixels, ``(N,)``."""
        return box_area(self.xyxy)

    @property
    def size(self) -> np.ndarray:
        """Box size ``sqrt(area)`` in pixels, ``(N,)`` (:func:`tenken.core.boxes.box_sizes`)."""
        return box_sizes(self.xyxy)

    def iou(self, other: Detections) -> np.ndarray:
        """IoU matrix ``(len(self), len(other))``."""
        return box_iou(self.xyxy, other.xyxy)

    def clip(self, image_size: ImageSize | None = None) -> Detections:
        """Clip boxes to the image (``image_size`` or this object's own); raises if neither is known."""
        size = image_size or self.image_size
        if size is None:
            raise ValueError("clip() needs an image_size")
        return self._replace(xyxy=clip_boxes(self.xyxy, size), image_size=size)

    def scale(self, sx: float, sy: float) -> Detections:
        """Scale coordinates (and ``image_size``) by ``sx`` horizontally and ``sy`` vertically."""
        if sx <= 0 or sy <= 0:
            raise ValueError(f"scale factors must be positive, got ({sx}, {sy})")
        size = None
        if self.image_size is not None:
            size = (max(1, round(self.image_size[0] * sx)), max(1, round(self.image_size[1] * sy)))
        return self._replace(xyxy=self.xyxy * np.array([sx, sy, sx, sy]), image_size=size)

    def nms(self, iou: float = 0.5, class_aware: bool = False) -> Detections:
        """Greedy non-maximum suppression (higher score wins; NaN scores rank last).

        With ``class_aware=True`` only boxes with the same label suppress each other.
        """
        if not class_aware:
            return self[nms_indices(self.xyxy, self.scores, iou)]
        keep: list[int] = []
        for label in dict.fromkeys(self.labels):
            idx = np.flatnonzero(np.array(self.labels) == label)
            keep.extend(idx[nms_indices(self.xyxy[idx], self.scores[idx], iou)].tolist())
        return self[np.array(sorted(keep), dtype=np.int64)]

    def merge(self, *others: Detections) -> Detections:
        """Concatenate with other ``Detections`` of the same image (sizes must agree when known)."""
        parts = [self, *others]
        sizes = {p.image_size for p in parts if p.image_size is not None}
        if len(sizes) > 1:
            raise ValueError(f"cannot merge detections of different image sizes: {sorted(sizes)}")
        keys = dict.fromkeys(k for p in parts for k in p.extra)
        return Detections(
            np.concatenate([p.xyxy for p in parts]) if parts else np.zeros((0, 4)),
            np.concatenate([p.scores for p in parts]),
            [lab for p in parts for lab in p.labels],
            [s for p in parts for s in p.sources],
            next(iter(sizes)) if sizes else None,
            {k: [v for p in parts for v in p.extra.get(k, [None] * len(p))] for k in keys},
        )

    def with_labels(self, labels: Sequence[str]) -> Detections:
        """Same boxes with new labels."""
        return self._replace(labels=list(labels))

    def _replace(self, **changes: Any) -> Detections:
        fields = {
            "xyxy": self.xyxy,
            "scores": self.scores,
            "labels": self.labels,
            "sources": self.sources,
            "image_size": self.image_size,
            "extra": self.extra,
        }
        fields.update(changes)
        return Detections(**fields)

    # -- JSON ---------------------------------------------------------------------------------------
    def to_records(self) -> list[dict[str, Any]]:
        """One dict per box: ``{"box", "label", "score", "source", **extra}``; unknown scores are ``None``."""
        out = []
        for i in range(len(self)):
            s = float(self.scores[i])
            rec: dict[str, Any] = {
                "box": [float(v) for v in self.xyxy[i]],
                "label": self.labels[i],
                "score": None if math.isnan(s) else s,
                "source": self.sources[i],
            }
            for k, v in self.extra.items():
                rec[k] = v[i]
            out.append(rec)
        return out

    def to_dict(self) -> dict[str, Any]:
        """``{"image_size": [w, h] | None, "detections": [records]}``, JSON-serialisable."""
        return {
            "image_size": list(self.image_size) if self.image_size else None,
            "detections": self.to_records(),
        }

    @classmethod
    def from_dict(
        cls, obj: Mapping[str, Any] | Iterable[Mapping[str, Any]], image_size: ImageSize | None = None
    ) -> Detections:
        """Inverse of :meth:`to_dict`; also accepts a bare list of records (keys ``box``/``bbox``/``xyxy``).

        Unknown record keys are kept in ``extra``.
        """
        if isinstance(obj, Mapping):
            records = obj.get("detections", [])
            if image_size is None and obj.get("image_size"):
                image_size = tuple(obj["image_size"])  # type: ignore[assignment]
        else:
            records = list(obj)
        boxes, scores, labels, sources = [], [], [], []
        extra_keys: dict[str, None] = {}
        for r in records:
            for k in r:
                if k not in _RECORD_KEYS:
                    extra_keys[k] = None
        extra: dict[str, list[Any]] = {k: [] for k in extra_keys}
        for j, r in enumerate(records):
            box = next((r[k] for k in ("box", "bbox", "xyxy") if k in r), None)
            if box is None:
                raise ValueError(f"detection record {j} has no 'box': {dict(r)}")
            boxes.append([float(v) for v in box])
            score = r.get("score")
            scores.append(np.nan if score is None else float(score))
            labels.append(str(r.get("label", "")))
            sources.append(str(r.get("source", "")))
            for k in extra:
                extra[k].append(r.get(k))
        return cls(as_boxes(boxes), np.asarray(scores, dtype=np.float64), labels, sources, image_size, extra)

    # -- COCO ---------------------------------------------------------------------------------------
    def to_coco(self, image_id: int, category_ids: Mapping[str, int], start_id: int = 1) -> list[dict[str, Any]]:
        """COCO annotation / result dicts (``bbox`` as ``[x, y, w, h]`` pixels).

        ``category_ids`` maps label -> COCO category id; a label missing from it raises ``KeyError``.
        Unknown scores are written as 1.0 (COCO results need a score).
        """
        xywh = xyxy_to_xywh(self.xyxy)
        anns = []
        for i in range(len(self)):
            w, h = float(xywh[i, 2]), float(xywh[i, 3])
            s = float(self.scores[i])
            anns.append(
                {
                    "id": start_id + i,
                    "image_id": int(image_id),
                    "category_id": int(category_ids[self.labels[i]]),
                    "bbox": [float(xywh[i, 0]), float(xywh[i, 1]), w, h],
                    "area": w * h,
                    "iscrowd": 0,
                    "score": 1.0 if math.isnan(s) else s,
                }
            )
        return anns

    @classmethod
    def from_coco(
        cls,
        annotations: Iterable[Mapping[str, Any]],
        categories: Mapping[int, str],
        image_size: ImageSize | None = None,
        source: str = "coco",
    ) -> Detections:
        """Build from COCO annotations or results (``bbox`` ``[x, y, w, h]``); ``categories`` maps id -> name."""
        anns = list(annotations)
        boxes = xywh_to_xyxy([a["bbox"] for a in anns]) if anns else np.zeros((0, 4))
        scores = np.array([float(a.get("score", np.nan)) for a in anns], dtype=np.float64)
        labels = [categories[int(a["category_id"])] for a in anns]
        return cls(boxes, scores, labels, [source] * len(anns), image_size)


_RECORD_KEYS = frozenset({"box", "bbox", "xyxy", "score", "label", "source"})
