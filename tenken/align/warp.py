"""Warping a reference into the target's pixel frame, the valid-pixel mask, and the side-by-side composite."""

from __future__ import annotations

import cv2
import numpy as np

from tenken.viz.draw import side_by_side


def warp_reference(
    reference: np.ndarray, homography: np.ndarray, target_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``reference`` into the target frame.

    Args:
        reference: ``(h, w, 3)`` uint8 RGB (or ``(h, w)`` gray) reference image.
        homography: ``(3, 3)`` reference pixels -> target pixels.
        target_size: ``(width, height)`` of the target.

    Returns:
        ``(warped, valid_mask)``: ``(H, W, 3)`` uint8 (bilinear; 0 outside the reference, blended with 0 in
        the one-pixel band at its edge) and ``(H, W)`` bool, True where every bilinear tap is a real
        reference pixel (the reference outline mapped into the target and shrunk by one pixel).
    """
    tw, th = target_size
    h = np.asarray(homography, np.float64)
    warped = cv2.warpPerspective(
        np.ascontiguousarray(reference), h, (tw, th), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return warped, valid_mask(h, (reference.shape[1], reference.shape[0]), target_size)


def valid_mask(homography: np.ndarray, reference_size: tuple[int, int], target_size: tuple[int, int]) -> np.ndarray:
    """``(H, W)`` bool: target pixels whose bilinear sample lies fully inside the reference (pixel centres
    ``0..w-1``, ``0..h-1``).

    The outline is a convex quadrilateral when the homography passed the sanity checks; otherwise (part of it
    behind the camera) the mask is computed exactly by warping an all-valid image.
    """
    rw, rh = reference_size
    tw, th = target_size
    h = np.asarray(homography, np.float64)
    corners = np.array([[0, 0], [rw - 1, 0], [rw - 1, rh - 1], [0, rh - 1]], np.float64)
    w = np.hstack([corners, np.ones((4, 1))]) @ h[2]
    quad = (np.hstack([corners, np.ones((4, 1))]) @ h.T)[:, :2] / np.where(np.abs(w) < 1e-12, 1e-12, w)[:, None]
    if np.any(w <= 1e-9) or not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        ones = np.full((rh, rw), 255, np.uint8)
        return cv2.warpPerspective(ones, h, (tw, th), flags=cv2.INTER_LINEAR) == 255
    mask = np.zeros((th, tw), np.uint8)
    shift = 4  # sub-pixel vertices (1/16 px)
    pts = np.round(np.clip(quad, -1e6, 1e6) * (1 << shift)).astype(np.int32)
    cv2.fillConvexPoly(mask, pts, 255, lineType=cv2.LINE_8, shift=shift)
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8))  # a tap outside the outline must not count as valid
    return mask.astype(bool)


def composite(target: np.ndarray, warped_reference: np.ndarray, titles: tuple[str, str] | None = None) -> np.ndarray:
    """Target on the left (its pixel coordinates unchanged), aligned reference on the right, one RGB image."""
    return side_by_side(target, warped_reference, titles=titles)
