"""Bring an aligned pair to a common scale and a common light before comparing it.

Everything here works on the *working* images: the pair shrunk so its longest side is at most
``ChangeParams.working_side``. Light is matched in two steps: a monotone per-channel tone curve maps the
reference's histogram onto the target's (exposure, white balance and gamma are all monotone per channel),
then a coarse, outlier-robust correction removes slowly varying differences (shadows, vignetting) while
leaving anything smaller than about a quarter of the image alone.
"""

from __future__ import annotations

import cv2
import numpy as np


def working_scale(size: tuple[int, int], working_side: int) -> float:
    """Factor (<= 1) that shrinks an image of ``size = (width, height)`` to ``working_side`` at most."""
    return min(1.0, working_side / max(size))


def shrink(image: np.ndarray, scale: float) -> np.ndarray:
    """Resize an ``(H, W[, C])`` image by ``scale`` with area averaging (no-op when ``scale == 1``)."""
    if scale >= 1.0:
        return image
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def match_tones(reference: np.ndarray, target: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Map each channel of ``reference`` through the monotone curve that matches its histogram (over
    ``valid`` pixels) to the target's. uint8 ``(H, W, 3)`` in, uint8 out."""
    out = np.empty_like(reference)
    q = np.linspace(0, 100, 65)
    for c in range(reference.shape[2]):
        r = reference[:, :, c][valid]
        t = target[:, :, c][valid]
        if r.size == 0:
            out[:, :, c] = reference[:, :, c]
            continue
        qr = np.percentile(r, q)
        qt = np.percentile(t, q)
        qr = np.maximum.accumulate(qr + np.arange(len(q)) * 1e-6)
        lut = np.clip(np.interp(np.arange(256), qr, qt), 0, 255).astype(np.uint8)
        out[:, :, c] = cv2.LUT(reference[:, :, c], lut)
    return out


def to_lab(image: np.ndarray, sigma: float) -> np.ndarray:
    """uint8 RGB -> float32 CIE Lab (L in 0..100, a/b about -100..100), blurred by ``sigma`` pixels first."""
    x = image.astype(np.float32) * (1.0 / 255.0)
    if sigma > 0:
        x = cv2.GaussianBlur(x, (0, 0), sigma)
    return cv2.cvtColor(x, cv2.COLOR_RGB2Lab)


def local_light_offset(target_lab: np.ndarray, reference_lab: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Slowly varying Lab offset (target - reference), ``(H, W, 3)`` float32, robust to compact changes.

    The difference is summarised by its median in cells of 1/8 of the shorter side, the cell grid is
    median-filtered (3x3) so a change covering a couple of cells does not leak in, and upsampled smoothly.
    """
    h, w = valid.shape
    cell = max(8, min(h, w) // 8)
    gh, gw = max(1, h // cell), max(1, w // cell)
    ch, cw = h // gh, w // gw
    diff = (target_lab - reference_lab)[: gh * ch, : gw * cw].astype(np.float32)
    vmask = valid[: gh * ch, : gw * cw]
    diff = np.where(vmask[..., None], diff, np.nan)
    blocks = diff.reshape(gh, ch, gw, cw, 3).transpose(0, 2, 1, 3, 4).reshape(gh, gw, ch * cw, 3)
    counts = vmask.reshape(gh, ch, gw, cw).sum(axis=(1, 3))
    grid = np.zeros((gh, gw, 3), np.float32)
    enough = counts > 0.25 * ch * cw
    if enough.any():
        grid[enough] = np.nanmedian(blocks[enough], axis=1)
    if gh >= 3 and gw >= 3:
        grid = np.stack([_median3(grid[:, :, k]) for k in range(3)], axis=2)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR)


def _median3(a: np.ndarray) -> np.ndarray:
    p = np.pad(a, 1, mode="edge")
    stack = np.stack([p[i : i + a.shape[0], j : j + a.shape[1]] for i in range(3) for j in range(3)])
    return np.median(stack, axis=0).astype(np.float32)
