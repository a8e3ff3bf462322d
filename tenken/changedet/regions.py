"""From a difference map to changed regions: hysteresis, morphology, connected components, area filters.

Everything is in working pixels (see :class:`tenken.changedet.params.ChangeParams`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tenken.changedet.params import ChangeParams


@dataclass
class Regions:
    """Changed regions of one difference map.

    Attributes:
        boxes: ``(N, 4)`` float64 xyxy, working pixels (``x2``/``y2`` exclusive: one past the last pixel).
        area: ``(N,)`` int64, pixels in each region.
        peak: ``(N,)`` float64, largest difference inside each region, in units of the seed threshold.
        mean: ``(N,)`` float64, mean difference inside each region, in units of the seed threshold.
    """

    boxes: np.ndarray
    area: np.ndarray
    peak: np.ndarray
    mean: np.ndarray

    def __len__(self) -> int:
        return len(self.boxes)

    def scores(self) -> np.ndarray:
        """``(N,)`` float64 confidence in ``(0, 1)``: 0.5 at the threshold, towards 1 as the region's peak
        and mean difference exceed it."""
        strength = np.sqrt(self.peak * np.maximum(self.mean, 1e-6))
        return strength / (strength + 1.0)


def find_regions(ratio: np.ndarray, valid: np.ndarray, params: ChangeParams) -> Regions:
    """Regions of ``ratio`` holding a seed above 1, grown over pixels above ``params.grow`` (hysteresis).

    Args:
        ratio: ``(h, w)`` float32 difference divided by the seed threshold (0 outside ``valid``).
        valid: ``(h, w)`` bool, the pixels that may belong to a region.
        params: ``grow``, ``merge_gap``, ``min_seeds``, ``min_area``, ``max_area_fraction`` are used.
    """
    diff, thr = ratio, 1.0
    empty = Regions(np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    grown = ((diff > params.grow * thr) & valid).astype(np.uint8)
    if params.merge_gap > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * params.merge_gap + 1, 2 * params.merge_gap + 1))
        grown = cv2.morphologyEx(grown, cv2.MORPH_CLOSE, k) & valid.astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    if n <= 1:
        return empty
    seeds = diff > thr
    n_seeds = np.bincount(labels[seeds], minlength=n)[1:]
    peak = np.zeros(n, np.float64)
    np.maximum.at(peak, labels[seeds], diff[seeds])  # only seed pixels can carry a region's peak above thr
    peak = peak[1:]
    total = np.bincount(labels.ravel(), weights=diff.ravel(), minlength=n)[1:]
    area = stats[1:, cv2.CC_STAT_AREA].astype(np.int64)
    keep = (
        (peak > thr)
        & (n_seeds >= params.min_seeds)
        & (area >= params.min_area)
        & (area <= params.max_area_fraction * int(valid.sum()))
    )
    if not keep.any():
        return empty
    s = stats[1:][keep]
    x, y, w, h = (s[:, i].astype(np.float64) for i in (0, 1, 2, 3))
    return Regions(np.stack([x, y, x + w, y + h], 1), area[keep], peak[keep], total[keep] / area[keep])
