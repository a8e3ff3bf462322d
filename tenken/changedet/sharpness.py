"""Equal sharpness before comparing: blur the sharper image of a pair down to the blurrier one's level.

A target shot out of focus or with motion blur against a sharp reference differs from it along every edge;
compared as is, each edge of an unchanged object becomes a "change". Sharpness is measured on the pair's
strongest edges (the same pixels in both images: the top ``EDGE_SHARE`` of their summed gradient over the
valid area), where a Gaussian blur of sigma lowers the gradient and sensor noise barely raises it. The sharper
image is then blurred by the Gaussian sigma that brings its edge gradient down to the other's.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

EDGE_SHARE = 0.05
"""Share of valid pixels (the strongest summed edges) sharpness is measured on."""
SIGMAS = (0.5, 0.75, 1.0, 1.4, 2.0, 2.8, 4.0, 5.6)
"""Gaussian sigmas, working pixels, tried when blurring the sharper image (the first that matches is used)."""


@dataclass(frozen=True)
class Sharpness:
    """How the sharpness of a pair compares.

    Attributes:
        ratio: edge gradient of the sharper image over the blurrier one's, ``>= 1`` (1 = equally sharp).
        blurrier: ``"target"``, ``"reference"`` or ``"neither"`` (ratio below the tolerance).
        sigma: Gaussian sigma, working pixels, applied to the sharper image (0 when none was).
    """

    ratio: float
    blurrier: str
    sigma: float


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _gradient(grey: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.magnitude(gx, gy)


def measure_sharpness(target: np.ndarray, reference: np.ndarray, valid: np.ndarray, tolerance: float) -> Sharpness:
    """Compare the sharpness of ``target`` and ``reference`` and choose the blur that equalises it.

    Args:
        target, reference: ``(h, w, 3)`` uint8 RGB, same pixel frame and (roughly) the same light.
        valid: ``(h, w)`` bool, pixels both images cover.
        tolerance: ratios up to this (e.g. 1.2) count as equally sharp (sigma 0).

    Measured on every other row and column (a quarter of the pixels), so sigmas are searched at half scale.
    """
    step = 2
    gt, gr = _grey(target[::step, ::step]), _grey(reference[::step, ::step])
    v = valid[::step, ::step]
    at, ar = _gradient(gt), _gradient(gr)
    both = (at + ar)[v]
    if both.size < 64:
        return Sharpness(1.0, "neither", 0.0)
    edges = v & (at + ar >= np.quantile(both, 1 - EDGE_SHARE))
    et, er = float(at[edges].mean()), float(ar[edges].mean())
    if min(et, er) <= 1e-3:
        return Sharpness(1.0, "neither", 0.0)
    ratio = max(et, er) / min(et, er)
    if ratio <= tolerance:
        return Sharpness(ratio, "neither", 0.0)
    sharp_grey, goal = (gr, et) if er > et else (gt, er)
    sigma = SIGMAS[-1]
    for s in SIGMAS:
        if float(_gradient(cv2.GaussianBlur(sharp_grey, (0, 0), s / step))[edges].mean()) <= goal:
            sigma = s
            break
    return Sharpness(ratio, "target" if er > et else "reference", sigma)


def equalise_sharpness(
    target: np.ndarray, reference: np.ndarray, sharpness: Sharpness
) -> tuple[np.ndarray, np.ndarray]:
    """The pair with the sharper image blurred by ``sharpness.sigma`` (unchanged when it is 0)."""
    if sharpness.sigma <= 0:
        return target, reference
    if sharpness.blurrier == "target":
        return target, cv2.GaussianBlur(reference, (0, 0), sharpness.sigma)
    return cv2.GaussianBlur(target, (0, 0), sharpness.sigma), reference
