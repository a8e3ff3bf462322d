"""Robust homography estimation, quality figures and sanity checks.

Every homography here maps **reference** pixels to **target** pixels (``x_t ~ H x_r``), normalised so that
``H[2, 2] == 1``. A check that fails gives a human-readable reason; the caller marks the alignment
``ok=False`` instead of returning a confident wrong answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_INLIERS = 15
"""Fewest inlier correspondences accepted."""

MIN_INLIER_RATIO = 0.08
"""Lowest inliers / tentative matches accepted (a different place typically gives < 0.05)."""

MAX_SCALE = 8.0
"""Largest zoom accepted either way (square root of the determinant of the linear part, and its inverse)."""

MAX_ANISOTROPY = 6.0
"""Largest ratio of the singular values of the linear part (extreme shear or squash)."""

MIN_OVERLAP = 0.15
"""Smallest fraction of the target the warped reference must cover."""


@dataclass
class HomographyEstimate:
    """A homography and the figures that say how far to trust it.

    Attributes:
        homography: ``(3, 3)`` float64 reference -> target, ``H[2, 2] == 1``; None when estimation failed.
        inlier_mask: ``(M,)`` bool over the tentative matches.
        inliers: number of inliers.
        inlier_ratio: inliers / tentative matches.
        mean_reprojection_px: mean distance (target px) between ``H x_r`` and ``x_t`` over the inliers.
        selection_score: mean distance (target px) between ``x_r`` (scaled to the target's size) and ``x_t``
            over the inliers: how far the view moved; smaller means a closer reference.
    """

    homography: np.ndarray | None
    inlier_mask: np.ndarray
    inliers: int = 0
    inlier_ratio: float = 0.0
    mean_reprojection_px: float = float("nan")
    selection_score: float = float("inf")


def project(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply the ``(3, 3)`` homography ``h`` to ``(N, 2)`` points; returns ``(N, 2)`` float64."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    hom = np.hstack([pts, np.ones((len(pts), 1))]) @ np.asarray(h, np.float64).T
    w = hom[:, 2:3]
    w = np.where(np.abs(w) < 1e-12, 1e-12, w)
    return hom[:, :2] / w


def normalise(h: np.ndarray) -> np.ndarray:
    """``h / h[2, 2]`` as float64 (the convention ``H[2, 2] == 1``)."""
    h = np.asarray(h, np.float64)
    return h / h[2, 2] if abs(h[2, 2]) > 1e-12 else h


def corner_error(h_est: np.ndarray, h_true: np.ndarray, reference_size: tuple[int, int]) -> float:
    """Mean distance, target pixels, between the reference image corners mapped by ``h_est`` and ``h_true``.

    ``reference_size`` is ``(width, height)``; corners are ``(0,0), (w-1,0), (w-1,h-1), (0,h-1)``.
    """
    w, h = reference_size
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    return float(np.linalg.norm(project(h_est, corners) - project(h_true, corners), axis=1).mean())


def scale_homography(h: np.ndarray, reference_scale: float, target_scale: float) -> np.ndarray:
    """Lift ``h`` estimated between working copies to full resolution.

    ``*_scale`` are full-resolution pixels per working pixel; pixel centres follow OpenCV (integers), so
    ``full = (work + 0.5) * s - 0.5``.
    """

    def lift(s: float) -> np.ndarray:
        return np.array([[s, 0, 0.5 * s - 0.5], [0, s, 0.5 * s - 0.5], [0, 0, 1.0]])

    return normalise(lift(target_scale) @ h @ np.linalg.inv(lift(reference_scale)))


def estimate_homography(
    reference_points: np.ndarray,
    target_points: np.ndarray,
    target_size: tuple[int, int],
    reference_size: tuple[int, int] | None = None,
    threshold_px: float | None = None,
) -> HomographyEstimate:
    """Robust homography from tentative correspondences (``cv2.USAC_MAGSAC``), with quality figures.

    Args:
        reference_points, target_points: ``(M, 2)`` pixels of each image, row i corresponding.
        target_size: ``(width, height)`` of the target, to scale the inlier threshold and the selection score.
        reference_size: ``(width, height)`` of the reference (default: the target's).
        threshold_px: MAGSAC's maximum inlier residual in target pixels (default ``max(2, 0.003 * diag)``).
    """
    m = len(reference_points)
    empty = HomographyEstimate(None, np.zeros(m, bool))
    if m < 4:
        return empty
    tw, th = target_size
    thr = threshold_px if threshold_px is not None else max(2.0, 0.003 * float(np.hypot(tw, th)))
    src = np.asarray(reference_points, np.float64).reshape(-1, 1, 2)
    dst = np.asarray(target_points, np.float64).reshape(-1, 1, 2)
    try:
        h, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, thr, maxIters=10000, confidence=0.9999)
    except cv2.error:
        return empty
    if h is None or mask is None or not np.all(np.isfinite(h)):
        return empty
    return quality(
        normalise(h), reference_points, target_points, mask.ravel().astype(bool), target_size, reference_size
    )


def quality(
    h: np.ndarray,
    reference_points: np.ndarray,
    target_points: np.ndarray,
    inlier_mask: np.ndarray,
    target_size: tuple[int, int],
    reference_size: tuple[int, int] | None = None,
) -> HomographyEstimate:
    """Quality figures of ``h`` over the given correspondences and inlier mask."""
    m = len(reference_points)
    n = int(inlier_mask.sum())
    if n == 0:
        return HomographyEstimate(h, inlier_mask, 0, 0.0)
    r = np.asarray(reference_points, np.float64)[inlier_mask]
    t = np.asarray(target_points, np.float64)[inlier_mask]
    reproj = float(np.linalg.norm(project(h, r) - t, axis=1).mean())
    rw, rh = reference_size or target_size
    tw, th = target_size
    r_in_t = r * np.array([tw / rw, th / rh])
    score = float(np.linalg.norm(r_in_t - t, axis=1).mean())
    return HomographyEstimate(h, inlier_mask, n, n / max(m, 1), reproj, score)


def overlap_fraction(h: np.ndarray, reference_size: tuple[int, int], target_size: tuple[int, int]) -> float:
    """Fraction of the target image covered by the reference's outline mapped through ``h`` (``[0, 1]``).

    Returns 0 when the mapped outline is not a convex quadrilateral in front of the camera.
    """
    rw, rh = reference_size
    tw, th = target_size
    corners = np.array([[0, 0], [rw, 0], [rw, rh], [0, rh]], np.float64)
    w = np.hstack([corners, np.ones((4, 1))]) @ np.asarray(h, np.float64)[2]
    if np.any(w <= 1e-9):
        return 0.0
    quad = project(h, corners).astype(np.float32)
    if not cv2.isContourConvex(quad.reshape(-1, 1, 2)):
        return 0.0
    rect = np.array([[0, 0], [tw, 0], [tw, th], [0, th]], np.float32)
    area, _ = cv2.intersectConvexConvex(quad, rect)
    return float(np.clip(area / float(tw * th), 0.0, 1.0))


def sanity_check(
    estimate: HomographyEstimate,
    matches: int,
    reference_size: tuple[int, int],
    target_size: tuple[int, int],
    min_inliers: int = MIN_INLIERS,
    min_inlier_ratio: float = MIN_INLIER_RATIO,
    min_overlap: float = MIN_OVERLAP,
) -> str | None:
    """Why ``estimate`` must not be trusted, or None when it passes every check.

    Checks, in order: an estimate exists; enough inliers; inlier ratio; orientation preserved (the linear
    part's determinant > 0, else the transform mirrors the image); no extreme zoom or squash; the
    reference's outline maps in front of the camera to a convex quadrilateral; it covers enough of the target.
    """
    if estimate.homography is None:
        return f"no homography could be estimated from {matches} tentative matches"
    if estimate.inliers < min_inliers:
        return f"too few inliers: {estimate.inliers} < {min_inliers} (of {matches} tentative matches)"
    if estimate.inlier_ratio < min_inlier_ratio:
        return (
            f"inlier ratio too low: {estimate.inlier_ratio:.3f} < {min_inlier_ratio} "
            f"({estimate.inliers} of {matches}); the reference may show a different place"
        )
    h = estimate.homography
    rw, rh = reference_size
    # linear part at the reference centre (the Jacobian there), so perspective is taken into account
    cx, cy = rw / 2.0, rh / 2.0
    w = h[2, 0] * cx + h[2, 1] * cy + h[2, 2]
    p = project(h, np.array([[cx, cy]]))[0]
    jac = (h[:2, :2] - np.outer(p, h[2, :2])) / w
    det = float(np.linalg.det(jac))
    if det <= 0:
        return f"degenerate or mirroring homography (determinant of the linear part {det:.3g} <= 0)"
    zoom = float(np.sqrt(det))
    if zoom > MAX_SCALE or zoom < 1.0 / MAX_SCALE:
        return f"extreme scale change: x{zoom:.3g} (limit x{1 / MAX_SCALE:.3g} to x{MAX_SCALE:g})"
    sv = np.linalg.svd(jac, compute_uv=False)
    if sv[0] / max(sv[1], 1e-12) > MAX_ANISOTROPY:
        return f"extreme shear or squash: singular value ratio {sv[0] / sv[1]:.3g} > {MAX_ANISOTROPY:g}"
    overlap = overlap_fraction(h, reference_size, target_size)
    if overlap <= 0.0:
        return "the reference outline maps behind the camera or to a non-convex shape (degenerate homography)"
    if overlap < min_overlap:
        return f"too little overlap: the reference covers {overlap:.1%} of the target (< {min_overlap:.0%})"
    return None
