"""The result type of pair alignment (the contract between ``tenken.align`` and its users)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Alignment:
    """A reference image warped into the target's pixel frame, with figures that say how far to trust it.

    Attributes:
        ok: True when the homography passed every sanity check; False means ``reason`` says why and the
            detector must not be run on ``warped_reference``.
        homography: ``(3, 3)`` float64 mapping **reference** pixel coordinates ``(x, y, 1)`` to **target**
            pixel coordinates, normalised so ``H[2, 2] == 1``; None when no estimate exists.
        inliers: number of inlier correspondences.
        inlier_ratio: inliers / tentative matches, in ``[0, 1]``.
        mean_reprojection_px: mean reprojection error of the inliers, target pixels.
        selection_score: mean image-plane distance (target pixels) between inlier correspondences; the
            candidate reference with the smallest score is chosen. ``inf`` when unaligned.
        valid_fraction: fraction of target pixels covered by the warped reference, ``[0, 1]``.
        warped_reference: ``(H, W, 3)`` uint8 RGB, the reference in target pixels (None when not ok).
        valid_mask: ``(H, W)`` bool, True where ``warped_reference`` has real pixels.
        reference: path (or description) of the chosen reference.
        candidates: paths (or descriptions) of every candidate considered.
        reason: why ``ok`` is False (None when ok).
        explain: one dict per reference retrieval looked at, best first: ``name``, ``decision``
            (``"chosen"``, ``"aligned, not the best"``, ``"not aligned"``, ``"not retrieved"``), ``why``, the
            retrieval figures ``distance_m`` (horizontal), ``altitude_diff_m``, ``angle_deg`` (between viewing
            directions), ``retrieval_score`` (metres, see :mod:`tenken.align.retrieve`; None without
            telemetry) and the alignment figures ``aligned``, ``selection_score``, ``inliers`` (None when not
            matched).
        warnings: non-fatal problems (low inlier ratio, telemetry missing, ...).
        timings_ms: wall time per stage in milliseconds (``match``, ``estimate``, ``warp``, ``total``...).
    """

    ok: bool
    homography: np.ndarray | None = None
    inliers: int = 0
    inlier_ratio: float = 0.0
    mean_reprojection_px: float = float("nan")
    selection_score: float = float("inf")
    valid_fraction: float = 0.0
    warped_reference: np.ndarray | None = None
    valid_mask: np.ndarray | None = None
    reference: str | None = None
    candidates: list[str] = field(default_factory=list)
    reason: str | None = None
    explain: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict (the report's ``alignment`` section): no image arrays, the
        homography as a nested list (None when absent), non-finite numbers as None."""

        def num(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {
            "ok": self.ok,
            "reference": self.reference,
            "candidates": list(self.candidates),
            "homography": None if self.homography is None else np.asarray(self.homography, float).tolist(),
            "inliers": int(self.inliers),
            "inlier_ratio": num(self.inlier_ratio),
            "mean_reprojection_px": num(self.mean_reprojection_px),
            "selection_score": num(self.selection_score),
            "valid_fraction": num(self.valid_fraction),
            "reason": self.reason,
            "explain": [dict(e) for e in self.explain],
            "warnings": list(self.warnings),
            "timings_ms": {k: round(float(v), 2) for k, v in self.timings_ms.items()},
        }
