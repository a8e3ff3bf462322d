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
        ``(warped, valid_mask)``: ``(H, W, 3)`` uint8 (bilinear) and ``(H, W)`` bool, True where the warped
        reference has real pixels (a pixel whose bilinear footprint touches the border is not valid).
    """
    tw, th = target_size
    h = np.asarray(homography, np.float64)
    warped = cv2.warpPerspective(
        np.ascontiguousarray(reference), h, (tw, th), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    ones = np.full(reference.shape[:2], 255, np.uint8)
    mask = cv2.warpPerspective(ones, h, (tw, th), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    valid = mask == 255
    if warped.ndim == 3:
        warped[~valid] = 0
    return warped, valid


def composite(
    target: np.ndarray, warped_reference: np.ndarray, titles: tuple[str, str] | None = None
) -> np.ndarray:
    """Target on the left (its pixel coordinates unchanged), aligned reference on the right, one RGB image."""
    return side_by_side(target, warped_reference, titles=titles)
