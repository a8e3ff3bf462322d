"""Full-resolution refinement of a homography by patch matching.

A homography found on downscaled copies is a few full-resolution pixels off. Around a few dozen textured
target points, the reference is warped locally into the target frame with the current estimate, the target
patch is located in it by normalised cross-correlation (robust to gain and offset changes between days) with
sub-pixel peak fitting, and the homography is re-fitted to the corrected correspondences. Cost: a few
milliseconds, independent of image size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tenken.align.homography import normalise, project


@dataclass
class Refinement:
    """Result of :func:`refine_homography`.

    Attributes:
        homography: refined ``(3, 3)`` reference -> target (the input when refinement was not possible).
        patches: patches tried; agreeing: patches whose match was confident and consistent with the fit.
        mean_shift_px: mean correction applied to the agreeing points, target pixels.
        residual_px: mean residual of the refit over the agreeing points, target pixels.
    """

    homography: np.ndarray
    patches: int = 0
    agreeing: int = 0
    mean_shift_px: float = float("nan")
    residual_px: float = float("nan")

    @property
    def agreement(self) -> float:
        """agreeing / patches (0 when no patch was tried)."""
        return self.agreeing / self.patches if self.patches else 0.0


def _spread(points: np.ndarray, size: tuple[int, int], n: int, margin: int) -> np.ndarray:
    """Up to ``n`` of ``points`` spread over a grid of cells (first point per cell wins)."""
    w, h = size
    inside = (
        (points[:, 0] >= margin) & (points[:, 0] < w - margin) & (points[:, 1] >= margin) & (points[:, 1] < h - margin)
    )
    pts = points[inside]
    if len(pts) <= n:
        return pts
    cells = int(np.ceil(np.sqrt(n * 1.5)))
    cx = np.minimum((pts[:, 0] / w * cells).astype(int), cells - 1)
    cy = np.minimum((pts[:, 1] / h * cells).astype(int), cells - 1)
    _, first = np.unique(cy * cells + cx, return_index=True)
    chosen = pts[np.sort(first)]
    if len(chosen) > n:
        chosen = chosen[np.linspace(0, len(chosen) - 1, n).astype(int)]
    return chosen


def _subpixel(resp: np.ndarray, y: int, x: int) -> tuple[float, float]:
    def fit(a: float, b: float, c: float) -> float:
        d = a - 2 * b + c
        return 0.0 if abs(d) < 1e-9 else float(np.clip(0.5 * (a - c) / d, -0.5, 0.5))

    return (
        x + fit(resp[y, x - 1], resp[y, x], resp[y, x + 1]),
        y + fit(resp[y - 1, x], resp[y, x], resp[y + 1, x]),
    )


def _zoom(h: np.ndarray, size: tuple[int, int]) -> float:
    """Linear zoom (sqrt of the Jacobian determinant) of ``h`` at the centre of an image of ``size``."""
    cx, cy = size[0] / 2.0, size[1] / 2.0
    w = h[2, 0] * cx + h[2, 1] * cy + h[2, 2]
    p = project(h, np.array([[cx, cy]]))[0]
    det = float(np.linalg.det((h[:2, :2] - np.outer(p, h[2, :2])) / w))
    return float(np.sqrt(det)) if det > 0 else 1.0


def _antialias(reference: np.ndarray, target: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blur the image that is seen larger so both show the same detail (warping then only resamples)."""
    zoom = _zoom(h, (reference.shape[1], reference.shape[0]))
    if zoom < 0.8:  # the reference shrinks into the target: blur the reference
        reference = cv2.GaussianBlur(reference, (0, 0), 0.6 * np.sqrt(1 / zoom**2 - 1))
    elif zoom > 1.25:  # the reference is magnified: blur the target to the reference's detail
        target = cv2.GaussianBlur(target, (0, 0), 0.6 * np.sqrt(zoom**2 - 1))
    return reference, target


def corner_points(gray: np.ndarray, max_points: int = 1500, max_side: int = 800) -> np.ndarray:
    """Strong corners (Shi-Tomasi) of ``gray``, found on a copy at most ``max_side`` px, in full-res pixels.

    Corners make the best patch-matching centres: well textured in both directions. Returns ``(N, 2)``.
    """
    h, w = gray.shape[:2]
    f = min(1.0, max_side / max(h, w))
    small = (
        cv2.resize(gray, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA) if f < 1 else gray
    )
    pts = cv2.goodFeaturesToTrack(small, max_points, 0.01, max(5, round(min(small.shape) / 60)))
    if pts is None:
        return np.zeros((0, 2))
    return (pts.reshape(-1, 2).astype(np.float64) + 0.5) / f - 0.5


def refine_homography(
    reference_gray: np.ndarray,
    target_gray: np.ndarray,
    homography: np.ndarray,
    target_points: np.ndarray | None = None,
    search_px: int = 6,
    half_patch: int = 15,
    max_patches: int = 120,
    min_ncc: float = 0.6,
    min_agreeing: int = 12,
    iterations: int = 2,
    smooth: float = 1.0,
) -> Refinement:
    """Refine ``homography`` (reference -> target) by matching target patches in the locally warped reference.

    Args:
        reference_gray, target_gray: full-resolution ``(H, W)`` uint8 images.
        homography: current estimate, reference -> target pixels.
        target_points: ``(N, 2)`` candidate centres in target pixels (textured places); default: the target's
            strongest corners (:func:`corner_points`). Only centres that map inside the reference are used.
        search_px: largest correction searched, target pixels, each way.
        half_patch: template half-size, pixels (template is ``2 * half_patch + 1`` square).
        max_patches: patches used (spread over the image).
        min_ncc: lowest normalised cross-correlation peak accepted.
        min_agreeing: fewest agreeing patches needed to replace the estimate.
        iterations: refinement rounds (the search shrinks to 2 px after the first).
        smooth: Gaussian sigma, pixels, applied to both patches before correlation (suppresses sensor noise;
            symmetric, so it does not bias the peak). 0 disables.
    """
    h = normalise(homography)
    th, tw = target_gray.shape[:2]
    margin = half_patch + search_px + 5
    pts = corner_points(target_gray) if target_points is None else np.asarray(target_points, np.float64)
    if len(pts):
        rh, rw = reference_gray.shape[:2]
        back = project(np.linalg.inv(h), pts)
        pts = pts[
            (back[:, 0] >= margin) & (back[:, 0] < rw - margin) & (back[:, 1] >= margin) & (back[:, 1] < rh - margin)
        ]
    centres = _spread(pts.reshape(-1, 2), (tw, th), max_patches, margin)
    result = Refinement(h, len(centres))
    if len(centres) < min_agreeing:
        return result
    reference_gray, target_gray = _antialias(reference_gray, target_gray, h)
    for it in range(iterations):
        s = search_px if it == 0 else min(search_px, 2)
        try:
            h_inv = np.linalg.inv(h)
        except np.linalg.LinAlgError:
            return result
        src, dst, shifts = _match_patches(reference_gray, target_gray, h_inv, centres, half_patch, s, smooth, min_ncc)
        if len(src) < min_agreeing:
            return result
        refit = _refit(project(h_inv, src), dst, min_agreeing)
        if refit is None:
            return result
        h, keep, res = refit
        result = Refinement(h, len(centres), int(keep.sum()), float(np.mean(shifts[keep])), res)
    return result


def _match_patches(
    reference_gray: np.ndarray,
    target_gray: np.ndarray,
    h_inv: np.ndarray,
    centres: np.ndarray,
    r: int,
    s: int,
    smooth: float,
    min_ncc: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Locate each target patch (half-size ``r``) in the reference warped locally by ``h_inv`` (target ->
    reference), searching ``s`` px each way.

    Returns ``(src (M, 2), dst (M, 2), shifts (M,))``: where each confident patch centre is seen in the warped
    reference frame (target pixels), the patch centre, and the correction length in pixels.
    """
    pad = 3 if smooth > 0 else 0  # room for the smoothing kernel, cropped after blurring
    side = 2 * (r + s + pad) + 1
    src, dst, shifts = [], [], []
    for cx, cy in centres:
        ix, iy = round(cx), round(cy)
        tmpl = target_gray[iy - r - pad : iy + r + pad + 1, ix - r - pad : ix + r + pad + 1]
        if tmpl.shape != (2 * (r + pad) + 1,) * 2 or float(tmpl.std()) < 4.0:
            continue
        x0, y0 = ix - r - s - pad, iy - r - s - pad
        local = h_inv @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
        region = cv2.warpPerspective(
            reference_gray,
            local,
            (side, side),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        if pad:
            tmpl = cv2.GaussianBlur(tmpl, (0, 0), smooth)[pad:-pad, pad:-pad]
            region = cv2.GaussianBlur(region, (0, 0), smooth)[pad:-pad, pad:-pad]
        resp = cv2.matchTemplate(region, tmpl, cv2.TM_CCOEFF_NORMED)
        _, peak, _, (px, py) = cv2.minMaxLoc(resp)
        if peak < min_ncc or px in (0, 2 * s) or py in (0, 2 * s):
            continue
        sx, sy = _subpixel(resp, py, px)
        # template centre (ix, iy) of the target is seen at (ix + sx - s, iy + sy - s) of the warped ref
        dx, dy = sx - s, sy - s
        src.append((ix + dx, iy + dy))
        dst.append((ix, iy))
        shifts.append(np.hypot(dx, dy))
    return np.array(src, np.float64).reshape(-1, 2), np.array(dst, np.float64).reshape(-1, 2), np.array(shifts)


def _refit(ref_pts: np.ndarray, tgt_pts: np.ndarray, min_agreeing: int) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Homography (reference -> target) re-fitted to corrected correspondences with MAGSAC (1 px): ``(H,
    inlier mask, mean inlier residual px)``, or None when too few agree or the fit is not finite."""
    new_h, mask = cv2.findHomography(
        ref_pts.reshape(-1, 1, 2),
        tgt_pts.reshape(-1, 1, 2),
        cv2.USAC_MAGSAC,
        1.0,
        maxIters=2000,
        confidence=0.999,
    )
    if new_h is None or mask is None or int(mask.sum()) < min_agreeing or not np.all(np.isfinite(new_h)):
        return None
    keep = mask.ravel().astype(bool)
    new_h = normalise(new_h)
    res = float(np.linalg.norm(project(new_h, ref_pts[keep]) - tgt_pts[keep], axis=1).mean())
    return new_h, keep, res
