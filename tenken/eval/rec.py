"""Referring-expression comprehension (visual grounding) accuracy, Ref-L4 protocol.

For each expression the model gives one box. A hit at threshold ``t`` is ``IoU(pred, gt) > t`` (strictly
greater: IoU exactly 0.5 is not a hit at 0.5). Reported: ``acc@0.5``, ``acc@0.75``, ``acc@0.9`` and
``macc``, the mean accuracy over thresholds 0.5, 0.55, ..., 0.95 (ten values). Accuracies are fractions
0..1. A missing or unparseable prediction is a miss at every threshold.

Size buckets use the ground-truth box: ``s = sqrt(area)`` in pixels; ``s < 128`` small, ``128 <= s <= 256``
medium, ``s > 256`` large.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tenken.core.boxes import box_sizes, paired_iou

THRESHOLDS: tuple[float, ...] = (0.5, 0.75, 0.9)
MACC_THRESHOLDS: np.ndarray = np.round(np.arange(0.5, 0.951, 0.05), 2)
"""0.5, 0.55, ..., 0.95."""

SMALL_MAX = 128.0
MEDIUM_MAX = 256.0


def size_bucket(gt: np.ndarray) -> np.ndarray:
    """``"small"`` / ``"medium"`` / ``"large"`` per ground-truth box ``(N, 4)`` xyxy pixels."""
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    s = box_sizes(gt)
    return np.where(s < SMALL_MAX, "small", np.where(s <= MEDIUM_MAX, "medium", "large"))


@dataclass
class RecScores:
    """REC accuracies (fractions 0..1) overall and per size bucket; ``iou`` is ``(N,)`` per sample."""

    acc: dict[float, float]
    macc: float
    curve: dict[float, float]
    by_size: dict[str, dict[str, Any]]
    iou: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """``{"acc@0.5", "acc@0.75", "acc@0.9", "macc", "n", "curve", "by_size"}``."""
        return {
            **{f"acc@{t:g}": v for t, v in self.acc.items()},
            "macc": self.macc,
            "n": len(self.iou),
            "curve": {f"{t:g}": v for t, v in self.curve.items()},
            "by_size": self.by_size,
        }


def _accuracies(iou: np.ndarray) -> tuple[dict[float, float], float, dict[float, float]]:
    if len(iou) == 0:
        nan = float("nan")
        return {t: nan for t in THRESHOLDS}, nan, {float(t): nan for t in MACC_THRESHOLDS}
    curve = {float(t): float(np.mean(iou > t)) for t in MACC_THRESHOLDS}
    acc = {t: float(np.mean(iou > t)) for t in THRESHOLDS}
    return acc, float(np.mean(list(curve.values()))), curve


def rec_scores(pred: np.ndarray, gt: np.ndarray) -> RecScores:
    """Score ``(N, 4)`` predicted boxes against ``(N, 4)`` ground truth (xyxy pixels; NaN row = no answer)."""
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    iou = paired_iou(pred, gt)
    acc, macc, curve = _accuracies(iou)
    buckets = size_bucket(gt)
    by_size: dict[str, dict[str, Any]] = {}
    for name in ("small", "medium", "large"):
        sel = buckets == name
        a, m, _ = _accuracies(iou[sel])
        by_size[name] = {"n": int(sel.sum()), **{f"acc@{t:g}": v for t, v in a.items()}, "macc": m}
    return RecScores(acc=acc, macc=macc, curve=curve, by_size=by_size, iou=iou)
