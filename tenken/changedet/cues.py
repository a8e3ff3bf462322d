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


def chromaticity(image: np.ndarray) -> np.ndarray:
    """``(H, W, 2)`` float32 rg chromaticity ``(R, G) / max(R + G + B, 30)`` of uint8 RGB, 3x3-averaged.

    Scaling all three channels by one factor (more or less light, in linear or gamma-encoded values) leaves it
    unchanged; the floor keeps near-black pixels, whose hue is noise, near 0.
    """
    x = cv2.blur(image, (3, 3)).astype(np.float32)
    total = cv2.max(cv2.transform(x, np.ones((1, 3), np.float32)), 30.0)
    return x[:, :, :2] / total[..., None]


def light_explained(
    target: np.ndarray,
    reference: np.ndarray,
    target_l: np.ndarray,
    reference_l: np.ndarray,
    radius: int,
    max_ratio_std: float,
    chroma_tolerance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels whose difference a change of light explains, and the local light ratio there.

    A cast shadow, an exposure change or a wet surface multiplies the light a surface sends back by a factor
    that is constant over a small neighbourhood, and keeps its chromaticity (:func:`chromaticity`, unchanged
    when all channels scale together). So where the lightness ratio of target to reference (``L + 16``, which
    scales with luminance as Lab does) is locally constant and the chromaticities agree, the pair differs by
    light, not by an object; a new object brings its own texture, so the ratio varies over it. "Locally
    constant": the standard deviation of the log ratio is at most ``max_ratio_std`` in one of the four
    ``(radius + 1)``-square windows that have the pixel at a corner, so a pixel next to the hard edge of a
    cast shadow is judged by the window on its own side of the edge. The pixels *on* the edge (its blur,
    penumbra) are explained by a closing of radius ``radius`` when their chromaticity agrees (``band``). An
    object as flat and as grey as the ground it lies on is explained inside and found by its outline.

    Args:
        target, reference: ``(H, W, 3)`` uint8 RGB, same frame, reference tone-matched to the target.
        target_l, reference_l: ``(H, W)`` float32 Lab lightness of the same images.
        radius: window side minus one, pixels.
        max_ratio_std: largest standard deviation of the log lightness ratio over the window.
        chroma_tolerance: chromaticity agrees when the rg chromaticities differ by at most this (Euclidean).

    Returns:
        ``(explained, band, gain)``: ``(H, W)`` bool each (explained by a uniform ratio; explained as the
        edge between such pixels), and ``(H, W)`` float32 the ratio ``(L_t + 16) / (L_r + 16)`` of the most
        uniform window (the light to relight the reference with there).
    """
    q = cv2.log(cv2.max(target_l, 0.0) + 16.0) - cv2.log(cv2.max(reference_l, 0.0) + 16.0)
    qq = q * q
    side = (radius + 1, radius + 1)
    spread = level = None
    for anchor in ((0, 0), (radius, 0), (0, radius), (radius, radius)):  # the four windows with the pixel at a corner
        mean = cv2.blur(q, side, anchor=anchor)
        std = cv2.sqrt(cv2.max(cv2.blur(qq, side, anchor=anchor) - mean * mean, 0.0))
        if spread is None:
            spread, level = std, mean
        else:
            better = std < spread
            np.copyto(spread, std, where=better)
            np.copyto(level, mean, where=better)
    dc = chromaticity(target) - chromaticity(reference)
    chroma = cv2.magnitude(np.ascontiguousarray(dc[:, :, 0]), np.ascontiguousarray(dc[:, :, 1])) <= chroma_tolerance
    explained = (spread <= max_ratio_std) & chroma
    closed = cv2.morphologyEx(explained.view(np.uint8), cv2.MORPH_CLOSE, _kernel(radius)).view(bool)
    return explained, closed & chroma & ~explained, cv2.exp(level)


def relit_residual(
    target_lab: np.ndarray, reference_lab: np.ndarray, gain: np.ndarray, chroma_weight: float
) -> np.ndarray:
    """Per-pixel Lab distance, ``(H, W)`` float32, between the target and the reference relit by ``gain``
    (``L + 16`` and a/b scaled by it: light acts multiplicatively); a/b weighted by ``chroma_weight``."""
    g = gain[..., None]
    relit = (reference_lab + np.array([16.0, 0.0, 0.0], np.float32)) * g - np.array([16.0, 0.0, 0.0], np.float32)
    d = target_lab - relit
    d *= np.array([1.0, chroma_weight, chroma_weight], np.float32)
    return cv2.sqrt(cv2.transform(d * d, np.ones((1, 3), np.float32)))


def clip_explained(
    target_clip: tuple[np.ndarray, np.ndarray],
    reference_clip: tuple[np.ndarray, np.ndarray],
    target_l: np.ndarray,
    reference_l: np.ndarray,
    radius: int,
) -> np.ndarray:
    """Pixels where clipping explains the difference, ``(H, W)`` bool: clipped highlights in one image where
    the other is bright too (L >= 60), or crushed shadows where the other is dark (L <= 25). Detail lost to
    clipping is no evidence of a change; a dark object on a clipped sky still is.

    Args:
        target_clip, reference_clip: ``(clipped, crushed)`` masks of each image as shot
            (:func:`tenken.changedet.conditions.clip_masks`).
        target_l, reference_l: ``(H, W)`` float32 Lab lightness of the images being compared.
        radius: the clipped areas are widened by this many pixels (the cues look that far).
    """
    k = _kernel(radius + 1)
    hi_t, lo_t = (cv2.dilate(m.view(np.uint8), k).view(bool) for m in target_clip)
    hi_r, lo_r = (cv2.dilate(m.view(np.uint8), k).view(bool) for m in reference_clip)
    return (
        (hi_t & (reference_l >= 60))
        | (hi_r & (target_l >= 60))
        | (lo_t & (reference_l <= 25))
        | (lo_r & (target_l <= 25))
    )
