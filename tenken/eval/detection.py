"""Per-sample detection F1 and recall by box size (DESIGN.md "Metrics"), vectorised over whole datasets.

Definitions (one place for each rule):

- **Matching.** Within one sample, predictions and ground-truth boxes are matched one-to-one, greedily by IoU,
  highest first; a pair can match when IoU >= 0.5 (``iou_threshold``) and, for "bbox + label", when the
  label strings are equal. Ties in IoU are broken by the lower prediction index, then the lower ground-truth
  index (input order within the sample).
- **Per-sample F1.** ``F_k = 2 TP / (2 TP + FP + FN) = 2 TP / (n_pred + n_gt)``; a sample with no ground truth
  and no prediction scores 1. ``f1_bbox`` and ``f1_bbox_label`` are the macro averages over samples.
- **Size.** A ground-truth box's size is ``sqrt(area)`` in pixels.
- **Recall** of a set of ground-truth boxes: the fraction matched in the bbox-only matching.
- **Agreement**: of those matched ground-truth boxes, the fraction whose matched prediction carries the same
  label (how often a found object is also named right).
- **recall_label**: the fraction matched in the bbox + label matching.

Tables: one row per size quartile of all ground-truth boxes (edges from ``numpy.quantile`` at 25/50/75 %,
a box goes to the highest quartile whose lower edge it reaches), and one row per lower bound on size
("0 px or larger", "100 px or larger", "200 px or larger"), each with its box and sample counts.

Everything is computed on flat arrays (one row per box with its sample index), so 100,000 samples with a
few boxes each score in well under a second (see ``benchmarks/eval.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tenken.core.artifacts import jsonable
from tenken.core.boxes import box_sizes, paired_iou
from tenken.core.detections import Detections

SIZE_LOWER_BOUNDS: tuple[float, ...] = (0.0, 100.0, 200.0)
"""Lower bounds (pixels of ``sqrt(area)``) of the size rows, as in the PLaMo-VL report's tables."""


@dataclass(frozen=True)
class FlatBoxes:
    """Boxes of many samples in flat arrays.

    Attributes:
        xyxy: ``(N, 4)`` float64 boxes, pixels of each sample's image.
        labels: ``(N,)`` int64 label codes (equal codes = equal label strings).
        sample: ``(N,)`` int64 index of the sample each box belongs to, in ``[0, n_samples)``.
    """

    xyxy: np.ndarray
    labels: np.ndarray
    sample: np.ndarray


def flatten(gts: Sequence[Detections], preds: Sequence[Detections]) -> tuple[FlatBoxes, FlatBoxes, list[str]]:
    """Flatten per-sample ground truth and predictions (same length, same order) with shared label codes.

    Returns ``(gt, pred, vocabulary)`` where ``vocabulary[code]`` is the label string.
    """
    if len(gts) != len(preds):
        raise ValueError(f"{len(gts)} ground-truth samples but {len(preds)} prediction samples")
    vocab: dict[str, int] = {}

    def flat(items: Sequence[Detections]) -> FlatBoxes:
        counts = np.array([len(d) for d in items], dtype=np.int64)
        xyxy = np.concatenate([d.xyxy for d in items]) if len(items) else np.zeros((0, 4))
        labels = np.array([vocab.setdefault(lab, len(vocab)) for d in items for lab in d.labels], dtype=np.int64)
        return FlatBoxes(xyxy.reshape(-1, 4), labels, np.repeat(np.arange(len(items), dtype=np.int64), counts))

    g = flat(gts)
    p = flat(preds)
    return g, p, list(vocab)


def _candidate_pairs(gt: FlatBoxes, pred: FlatBoxes, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """All (pred, gt) index pairs that share a sample, as two ``(M,)`` int64 arrays."""
    g_order = np.argsort(gt.sample, kind="stable")
    g_counts = np.bincount(gt.sample, minlength=n_samples)
    g_start = np.cumsum(g_counts) - g_counts
    m = g_counts[pred.sample]  # gt boxes in each prediction's sample
    pair_pred = np.repeat(np.arange(len(pred.sample), dtype=np.int64), m)
    within = np.arange(int(m.sum()), dtype=np.int64) - np.repeat(np.cumsum(m) - m, m)
    pair_gt = g_order[g_start[pred.sample[pair_pred]] + within]
    return pair_pred, pair_gt


def greedy_match(pair_pred: np.ndarray, pair_gt: np.ndarray, iou: np.ndarray, n_pred: int, n_gt: int) -> np.ndarray:
    """One-to-one greedy matching, highest IoU first, over candidate pairs of many samples at once.

    Args:
        pair_pred, pair_gt: ``(M,)`` int64 prediction and ground-truth indices of the allowed pairs.
        iou: ``(M,)`` float64 IoU of each pair (only pairs that may match should be passed).
        n_pred, n_gt: number of predictions and ground-truth boxes.

    Returns:
        ``(n_gt,)`` int64: the index of the prediction matched to each ground-truth box, or -1.

    Identical to processing pairs one by one in order of (IoU descending, prediction index, ground-truth
    index) and accepting a pair when both sides are still free: each round accepts every pair that is the
    first remaining pair of both its prediction and its ground-truth box (a locally dominant pair, which
    the sequential greedy accepts too), then drops the pairs those matches block.
    """
    order = np.lexsort((pair_gt, pair_pred, -iou))
    p = pair_pred[order]
    g = pair_gt[order]
    pred_used = np.zeros(n_pred, dtype=bool)
    gt_match = np.full(n_gt, -1, dtype=np.int64)
    while len(p):
        first_p = np.zeros(len(p), dtype=bool)
        first_p[np.unique(p, return_index=True)[1]] = True
        first_g = np.zeros(len(p), dtype=bool)
        first_g[np.unique(g, return_index=True)[1]] = True
        accept = first_p & first_g
        pred_used[p[accept]] = True
        gt_match[g[accept]] = p[accept]
        keep = ~(pred_used[p] | (gt_match[g] >= 0))
        p, g = p[keep], g[keep]
    return gt_match


@dataclass
class SizeRow:
    """Recall and agreement for the ground-truth boxes in one size range (pixels of ``sqrt(area)``)."""

    name: str
    lower: float
    upper: float | None
    n_boxes: int
    n_samples: int
    recall: float
    agreement: float
    recall_label: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; NaN (no boxes in range) becomes ``None`` (:func:`tenken.core.artifacts.jsonable`)."""
        return jsonable({k: float(v) if isinstance(v, np.floating) else v for k, v in self.__dict__.items()})


@dataclass
class DetectionScores:
    """Scores of one dataset.

    Attributes:
        f1_bbox, f1_bbox_label: macro-averaged per-sample F1 (0..1).
        per_sample_f1_bbox, per_sample_f1_bbox_label: ``(n_samples,)`` float64.
        size_quartiles: four rows, smallest quartile first.
        size_lower_bounds: one row per entry of ``SIZE_LOWER_BOUNDS``.
        counts: ``n_samples``, ``n_gt``, ``n_pred``, ``tp_bbox``, ``tp_bbox_label``.
    """

    f1_bbox: float
    f1_bbox_label: float
    per_sample_f1_bbox: np.ndarray
    per_sample_f1_bbox_label: np.ndarray
    size_quartiles: list[SizeRow]
    size_lower_bounds: list[SizeRow]
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self, per_sample: bool = False) -> dict[str, Any]:
        """JSON-ready dict (per-sample arrays only when ``per_sample``)."""
        out: dict[str, Any] = {
            "f1_bbox": float(self.f1_bbox),
            "f1_bbox_label": float(self.f1_bbox_label),
            "size_quartiles": [r.to_dict() for r in self.size_quartiles],
            "size_lower_bounds": [r.to_dict() for r in self.size_lower_bounds],
            **{k: int(v) for k, v in self.counts.items()},
        }
        if per_sample:
            out["per_sample_f1_bbox"] = self.per_sample_f1_bbox.tolist()
            out["per_sample_f1_bbox_label"] = self.per_sample_f1_bbox_label.tolist()
        return out


def _f1(tp: np.ndarray, n_pred: np.ndarray, n_gt: np.ndarray) -> np.ndarray:
    denom = n_pred + n_gt
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, 2.0 * tp / np.maximum(denom, 1), 1.0)


def _row(
    name: str,
    lower: float,
    upper: float | None,
    sel: np.ndarray,
    gt: FlatBoxes,
    found: np.ndarray,
    agree: np.ndarray,
    found_label: np.ndarray,
) -> SizeRow:
    n = int(sel.sum())
    n_found = int(found[sel].sum())
    return SizeRow(
        name=name,
        lower=float(lower),
        upper=None if upper is None else float(upper),
        n_boxes=n,
        n_samples=len(np.unique(gt.sample[sel])),
        recall=found[sel].mean() if n else np.nan,
        agreement=agree[sel].sum() / n_found if n_found else np.nan,
        recall_label=found_label[sel].mean() if n else np.nan,
    )


def score_flat(
    gt: FlatBoxes,
    pred: FlatBoxes,
    n_samples: int,
    iou_threshold: float = 0.5,
    lower_bounds: Sequence[float] = SIZE_LOWER_BOUNDS,
) -> DetectionScores:
    """Score flat arrays (see :class:`FlatBoxes`); the fast path behind :func:`score_detections`."""
    n_gt, n_pred = len(gt.sample), len(pred.sample)
    pair_pred, pair_gt = _candidate_pairs(gt, pred, n_samples)
    iou = paired_iou(pred.xyxy[pair_pred], gt.xyxy[pair_gt])
    ok = iou >= iou_threshold
    pair_pred, pair_gt, iou = pair_pred[ok], pair_gt[ok], iou[ok]
    match_bbox = greedy_match(pair_pred, pair_gt, iou, n_pred, n_gt)
    same = pred.labels[pair_pred] == gt.labels[pair_gt]
    match_label = greedy_match(pair_pred[same], pair_gt[same], iou[same], n_pred, n_gt)

    n_pred_k = np.bincount(pred.sample, minlength=n_samples)
    n_gt_k = np.bincount(gt.sample, minlength=n_samples)
    found = match_bbox >= 0
    found_label = match_label >= 0
    tp_bbox = np.bincount(gt.sample[found], minlength=n_samples)
    tp_label = np.bincount(gt.sample[found_label], minlength=n_samples)
    f1_b = _f1(tp_bbox, n_pred_k, n_gt_k)
    f1_l = _f1(tp_label, n_pred_k, n_gt_k)

    agree = np.zeros(n_gt, dtype=bool)
    agree[found] = pred.labels[match_bbox[found]] == gt.labels[found]
    size = box_sizes(gt.xyxy)
    quartiles: list[SizeRow] = []
    if n_gt:
        edges = np.quantile(size, [0.25, 0.5, 0.75])
        bucket = np.searchsorted(edges, size, side="right")
        bounds = [float(size.min()), *edges.tolist(), float(size.max())]
        for q in range(4):
            quartiles.append(_row(f"Q{q + 1}", bounds[q], bounds[q + 1], bucket == q, gt, found, agree, found_label))
    rows = [_row(f"{lb:g} px or larger", lb, None, size >= lb, gt, found, agree, found_label) for lb in lower_bounds]
    return DetectionScores(
        f1_bbox=float(f1_b.mean()) if n_samples else float("nan"),
        f1_bbox_label=float(f1_l.mean()) if n_samples else float("nan"),
        per_sample_f1_bbox=f1_b,
        per_sample_f1_bbox_label=f1_l,
        size_quartiles=quartiles,
        size_lower_bounds=rows,
        counts={
            "n_samples": int(n_samples),
            "n_gt": n_gt,
            "n_pred": n_pred,
            "tp_bbox": int(found.sum()),
            "tp_bbox_label": int(found_label.sum()),
        },
    )


def score_detections(
    gts: Sequence[Detections],
    preds: Sequence[Detections],
    iou_threshold: float = 0.5,
    lower_bounds: Sequence[float] = SIZE_LOWER_BOUNDS,
) -> DetectionScores:
    """Per-sample F1 (bbox only and bbox + label) and the size tables for aligned lists of samples.

    Args:
        gts: ground truth per sample (``xyxy`` pixels, ``labels``); ``gts[k]`` and ``preds[k]`` are the same
            image. A sample with no boxes is an empty ``Detections``.
        preds: predictions per sample (scores are ignored: F1 counts every given box).
        iou_threshold: minimum IoU for a match (``>=``), 0.5 by definition.
        lower_bounds: lower bounds (pixels of ``sqrt(area)``) of the size rows.
    """
    g, p, _ = flatten(gts, preds)
    return score_flat(g, p, len(gts), iou_threshold, lower_bounds)
