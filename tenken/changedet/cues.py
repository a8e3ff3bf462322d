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


def local_correlation(a: np.ndarray, b: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised cross-correlation of ``a`` and ``b`` (``(H, W)`` float32) in a ``(2 radius + 1)``-square window.

    Returns:
        ``(ncc, std_a, std_b)``, each ``(H, W)`` float32: the correlation in ``[-1, 1]`` (0 where either window
        is flat) and the local standard deviations in the units of ``a`` and ``b``.
    """
    k = (2 * radius + 1, 2 * radius + 1)
    ma, mb = cv2.blur(a, k), cv2.blur(b, k)
    var_a = np.maximum(cv2.blur(a * a, k) - ma * ma, 0)
    var_b = np.maximum(cv2.blur(b * b, k) - mb * mb, 0)
    cov = cv2.blur(a * b, k) - ma * mb
    ncc = cov / np.sqrt(var_a * var_b + 1e-6)
    return ncc, cv2.sqrt(var_a), cv2.sqrt(var_b)


def chromaticity(image: np.ndarray) -> np.ndarray:
    """``(H, W, 2)`` float32 rg chromaticity ``(R, G) / max(R + G + B, 30)`` of uint8 RGB, 3x3-averaged.

    Scaling all three channels by one factor (more or less light, in linear or gamma-encoded values) leaves it
    unchanged; the floor keeps near-black pixels, whose hue is noise, near 0.
    """
    x = cv2.blur(image.astype(np.float32), (3, 3))
    total = np.maximum(x.sum(axis=2, keepdims=True), 30.0)
    return x[:, :, :2] / total


def light_explained(
    target: np.ndarray,
    reference: np.ndarray,
    target_l: np.ndarray,
    reference_l: np.ndarray,
    radius: int,
    min_correlation: float,
    flat_std: float,
    chroma_tolerance: float,
) -> np.ndarray:
    """Pixels whose difference a change of light explains: same chromaticity and same texture, ``(H, W)`` bool.

    A cast shadow, an exposure or tone-curve change, haze or a wet surface scales or shifts lightness but keeps
    what a surface looks like: its chromaticity (:func:`chromaticity`, unchanged when all channels scale
    together) and its texture (the local pattern of lightness, compared by normalised correlation, which
    ignores any local gain and offset). Where both agree, the pair differs by light, not by an object. The hard
    edge of a cast shadow breaks the correlation of the windows straddling it but not the chromaticity, so a
    band of up to ``2 radius + 1`` pixels of agreeing chromaticity between pixels of agreeing texture counts
    as light too (a morphological closing).

    Args:
        target, reference: ``(H, W, 3)`` uint8 RGB, same frame, reference tone-matched to the target.
        target_l, reference_l: ``(H, W)`` float32 Lab lightness of the same images.
        radius: half-side, pixels, of the correlation window.
        min_correlation: texture agrees when the correlation reaches this ...
        flat_std: ... or when both windows are flat (lightness standard deviation below this, L units).
        chroma_tolerance: chromaticity agrees when the rg chromaticities differ by at most this (Euclidean).
    """
    ncc, st, sr = local_correlation(target_l, reference_l, radius)
    texture = (ncc >= min_correlation) | ((st < flat_std) & (sr < flat_std))
    dc = chromaticity(target) - chromaticity(reference)
    chroma = cv2.magnitude(np.ascontiguousarray(dc[:, :, 0]), np.ascontiguousarray(dc[:, :, 1])) <= chroma_tolerance
    light = (texture & chroma).view(np.uint8)
    closed = cv2.morphologyEx(light, cv2.MORPH_CLOSE, _kernel(radius + 1)).view(bool)
    return closed & chroma


def clip_explained(
    target: np.ndarray, reference: np.ndarray, target_l: np.ndarray, reference_l: np.ndarray, radius: int
) -> np.ndarray:
    """Pixels where clipping explains the difference, ``(H, W)`` bool: clipped highlights (all channels >= 250)
    in one image where the other is bright too (L >= 60), or crushed shadows (all <= 5) where the other is dark
    (L <= 25). Detail lost to clipping is no evidence of a change; a dark object on a clipped sky still is.

    Args:
        target, reference: ``(H, W, 3)`` uint8 RGB as shot (before any tone matching).
        target_l, reference_l: ``(H, W)`` float32 Lab lightness of the images being compared.
        radius: the clipped areas are widened by this many pixels (the cues look that far).
    """
    k = _kernel(radius + 1)
    hi_t = cv2.dilate((target.min(axis=2) >= 250).view(np.uint8), k).view(bool)
    hi_r = cv2.dilate((reference.min(axis=2) >= 250).view(np.uint8), k).view(bool)
    lo_t = cv2.dilate((target.max(axis=2) <= 5).view(np.uint8), k).view(bool)
    lo_r = cv2.dilate((reference.max(axis=2) <= 5).view(np.uint8), k).view(bool)
    return (hi_t & (reference_l >= 60)) | (hi_r & (target_l >= 60)) | (lo_t & (reference_l <= 25)) | (
        lo_r & (target_l <= 25)
    )
