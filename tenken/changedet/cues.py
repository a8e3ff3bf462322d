"""Shift-tolerant difference cues between two images already in the same pixel frame and light.

Each cue compares a pixel of one image with the *range* of values in a small neighbourhood of the other
(grey-level erosion and dilation give the per-channel minimum and maximum), so a residual misalignment or
parallax up to the neighbourhood radius costs nothing, while something that is new has no match nearby.
"""

from __future__ import annotations

import cv2
import numpy as np


def _kernel(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def interval_distance(a: np.ndarray, b: np.ndarray, radius: int, weights: np.ndarray) -> np.ndarray:
    """How far each pixel of ``a`` lies outside the per-channel range of ``b`` around it.

    Args:
        a, b: ``(H, W, C)`` float32 images in the same frame.
        radius: neighbourhood radius in pixels (0 = plain per-pixel difference).
        weights: ``(C,)`` channel weights.

    Returns:
        ``(H, W)`` float32, the weighted Euclidean distance from ``a`` to the box ``[min b, max b]``.
    """
    if radius > 0:
        k = _kernel(radius)
        lo = cv2.erode(b, k)
        hi = cv2.dilate(b, k)
    else:
        lo = hi = b
    # lo <= hi, so at most one of (a - hi), (lo - a) is positive: their maximum, floored at 0, is the gap
    gap = np.maximum(np.subtract(a, hi), np.subtract(lo, a))
    np.maximum(gap, 0, out=gap)
    np.multiply(gap, gap, out=gap)
    w2 = np.asarray(weights, np.float32) ** 2
    summed = cv2.transform(gap, w2.reshape(1, -1))
    return cv2.sqrt(summed)


def colour_cue(
    target_lab: np.ndarray, reference_lab: np.ndarray, radius: int, chroma_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """Lab distance of target to reference neighbourhood and back, ``(H, W)`` float32 each (Lab units)."""
    w = np.array([1.0, chroma_weight, chroma_weight], np.float32)
    return (
        interval_distance(target_lab, reference_lab, radius, w),
        interval_distance(reference_lab, target_lab, radius, w),
    )


def gradient_magnitude(lightness: np.ndarray) -> np.ndarray:
    """Scharr gradient magnitude of an ``(H, W)`` float32 image, per pixel (same units per pixel)."""
    gx = cv2.Scharr(lightness, cv2.CV_32F, 1, 0)
    gy = cv2.Scharr(lightness, cv2.CV_32F, 0, 1)
    return cv2.magnitude(gx, gy) * (1.0 / 16.0)


def structure_cue(target_l: np.ndarray, reference_l: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Edges in one image with no comparable edge near the same place in the other, ``(H, W)`` float32 each.

    Uses gradient magnitudes of lightness ``(H, W)`` float32; the result is in lightness units per pixel.
    """
    gt = gradient_magnitude(target_l)
    gr = gradient_magnitude(reference_l)
    k = _kernel(radius + 1)
    return np.maximum(gt - cv2.dilate(gr, k), 0), np.maximum(gr - cv2.dilate(gt, k), 0)
