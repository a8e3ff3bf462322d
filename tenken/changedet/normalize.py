"""Bring an aligned pair to a common scale and a common light before comparing it.

Everything here works on the *working* images: the pair shrunk so its longest side is at most
``ChangeParams.working_side``. Light is matched in two steps: a monotone per-channel tone curve maps the
reference's histogram onto the target's (exposure, white balance and gamma are all monotone per channel),
then a coarse, outlier-robust correction removes slowly varying differences (shadows, vignetting) while
leaving anything smaller than about a quarter of the image alone.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np


def working_scale(size: tuple[int, int], working_side: int) -> float:
    """Factor (<= 1) that shrinks an image of ``size = (width, height)`` to ``working_side`` at most."""
    return min(1.0, working_side / max(size))


def shrink(image: np.ndarray, scale: float) -> np.ndarray:
    """Resize an ``(H, W[, C])`` image by ``scale`` (<= 1) with area averaging; no-op when ``scale >= 1``.

    Exact halvings go first (OpenCV's fast path for integer factors), then one area resize to the final size:
    the same result as one area resize, in about half the time on 4K images.
    """
    if scale >= 1.0:
        return image
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    out = image
    while out.shape[1] >= 2 * size[0] and out.shape[0] >= 2 * size[1]:
        out = cv2.resize(out, (out.shape[1] // 2, out.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if (out.shape[1], out.shape[0]) != size:
        out = cv2.resize(out, size, interpolation=cv2.INTER_AREA)
    return out


def match_tones(reference: np.ndarray, target: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Map each channel of ``reference`` through the monotone curve that matches its histogram (over
    ``valid`` pixels) to the target's: exposure, white balance and gamma are all monotone per channel.

    uint8 ``(H, W, 3)`` in, uint8 out. Histograms are taken on every other row and column (enough for a
    256-bin curve, 4x faster).
    """
    out = np.empty_like(reference)
    sub = valid[::2, ::2]
    if not sub.any():
        return reference.copy()
    levels = np.arange(256, dtype=np.float64)
    for c in range(reference.shape[2]):
        r = np.bincount(reference[::2, ::2, c][sub], minlength=256).cumsum().astype(np.float64)
        t = np.bincount(target[::2, ::2, c][sub], minlength=256).cumsum().astype(np.float64)
        r /= r[-1]
        t /= t[-1]
        # the reference level at cumulative share r[i] goes to the target level at the same share
        centre = r - 0.5 * np.diff(np.concatenate([[0.0], r]))  # share at the middle of each bin
        tc = t - 0.5 * np.diff(np.concatenate([[0.0], t]))
        keep = np.concatenate([[True], np.diff(tc) > 0])
        lut = np.interp(centre, tc[keep], levels[keep])
        out[:, :, c] = cv2.LUT(reference[:, :, c], np.clip(lut + 0.5, 0, 255).astype(np.uint8))
    return out


def fit_tones(reference: np.ndarray, target: np.ndarray, mask: np.ndarray, min_count: int = 8) -> np.ndarray:
    """Map each channel of ``reference`` through the monotone curve fitted to the pixel pairs under ``mask``:
    for each reference level, the median target level of the pixels at that level (pixels correspond: the pair
    is aligned), made non-decreasing and interpolated over levels with fewer than ``min_count`` pixels.

    Unlike :func:`match_tones` (histograms), levels that are rare under ``mask`` take their value from
    neighbouring levels instead of from wherever the two cumulative histograms cross, so a mask that leaves
    part of the frame out (a cast shadow) does not bend the curve for the pixels left out.
    uint8 ``(H, W, 3)`` in, uint8 out; pairs taken on every other row and column.
    """
    sub = mask[::2, ::2]
    if sub.sum() < 256:
        return match_tones(reference, target, mask)
    out = np.empty_like(reference)
    levels = np.arange(256, dtype=np.float64)
    for c in range(reference.shape[2]):
        r = reference[::2, ::2, c][sub].astype(np.int64)
        t = target[::2, ::2, c][sub].astype(np.int64)
        joint = np.bincount(r * 256 + t, minlength=256 * 256).reshape(256, 256).cumsum(axis=1)
        counts = joint[:, -1]
        have = counts >= min_count
        if have.sum() < 2:
            out[:, :, c] = reference[:, :, c]
            continue
        # median target level per reference level: first level where the running count passes half
        medians = (joint[have] < (counts[have, None] + 1) / 2).sum(axis=1).astype(np.float64)
        medians = np.maximum.accumulate(medians)
        lut = np.interp(levels, levels[have], medians)
        out[:, :, c] = cv2.LUT(reference[:, :, c], np.clip(lut + 0.5, 0, 255).astype(np.uint8))
    return out


def same_light(target: np.ndarray, matched: np.ndarray, valid: np.ndarray, tolerance: float = 0.25) -> np.ndarray:
    """Valid pixels lit like most of the pair, ``(H, W)`` bool: where the log luminance ratio of ``target`` to
    ``matched`` (the reference after a first :func:`match_tones` over all of ``valid``) lies within
    ``tolerance`` (natural log) of its median over ``valid``.

    A cast shadow, a wet patch or a clipped sky over part of the frame bends the global tone curve and tints
    everything else; after a first match, such a part stands out as a region lit differently from the rest,
    and a second match estimated without it is right for the rest (the light-change test,
    :func:`tenken.changedet.cues.light_explained`, takes care of that part). A global tone change (overcast,
    haze, another curve) leaves nothing out, so the second match equals the first. Falls back to ``valid``
    when fewer than half its pixels qualify.
    """
    yt = cv2.cvtColor(target, cv2.COLOR_RGB2GRAY).astype(np.float32) + 4.0
    yr = cv2.cvtColor(matched, cv2.COLOR_RGB2GRAY).astype(np.float32) + 4.0
    ratio = cv2.log(yt / yr)
    sub = valid[::2, ::2]
    if not sub.any():
        return valid
    median = float(np.median(ratio[::2, ::2][sub]))
    same = valid & (np.abs(ratio - median) <= tolerance)
    return same if same.sum() >= valid.sum() / 2 else valid


def to_lab(image: np.ndarray, sigma: float) -> np.ndarray:
    """uint8 RGB -> float32 CIE Lab (L in 0..100, a/b about -100..100), blurred by ``sigma`` pixels first."""
    x = image.astype(np.float32) * (1.0 / 255.0)
    if sigma > 0:
        x = cv2.GaussianBlur(x, (0, 0), sigma)
    return cv2.cvtColor(x, cv2.COLOR_RGB2Lab)


def local_light(target_lab: np.ndarray, reference_lab: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``reference_lab`` relit like ``target_lab`` where the light differs slowly, ``(H, W, 3)`` float32 Lab.

    Light acts multiplicatively: a surface receiving ``k`` times the light has ``k`` times the luminance, and
    Lab lightness follows ``L + 16 ~ Y ** (1/3)``, so ``L + 16`` is scaled (an additive offset would push dark
    pixels under a shadow below black); a/b get an additive offset (a tint). Both are summarised by their
    median in cells of 1/8 of the shorter side, the cell grid is median-filtered (3x3) so a change covering a
    couple of cells does not leak in, and upsampled smoothly.
    """
    full = (valid.shape[1], valid.shape[0])
    step = 4  # the cell medians are taken on every 4th pixel: plenty for a smooth field, 16x faster
    t, r, v = target_lab[::step, ::step], reference_lab[::step, ::step], valid[::step, ::step]
    h, w = v.shape
    cell = max(2, min(h, w) // 8)
    gh, gw = max(1, h // cell), max(1, w // cell)
    ch, cw = h // gh, w // gw
    t, r, v = t[: gh * ch, : gw * cw], r[: gh * ch, : gw * cw], v[: gh * ch, : gw * cw]
    field = np.empty((*v.shape, 3), np.float32)
    field[..., 0] = np.log((t[..., 0] + 16.0).clip(1.0) / (r[..., 0] + 16.0).clip(1.0))  # log gain of L + 16
    field[..., 1:] = t[..., 1:] - r[..., 1:]
    field = np.where(v[..., None], field, np.nan)
    blocks = field.reshape(gh, ch, gw, cw, 3).transpose(0, 2, 1, 3, 4).reshape(gh, gw, ch * cw, 3)
    counts = v.reshape(gh, ch, gw, cw).sum(axis=(1, 3))
    grid = np.zeros((gh, gw, 3), np.float32)
    enough = counts > 0.25 * ch * cw
    if enough.any():
        grid[enough] = np.nanmedian(blocks[enough], axis=1)
    if gh >= 3 and gw >= 3:
        grid = np.stack([median3(grid[:, :, k]) for k in range(3)], axis=2)
    smooth = cv2.resize(grid, full, interpolation=cv2.INTER_LINEAR)
    out = np.empty_like(reference_lab)
    out[..., 0] = (reference_lab[..., 0] + 16.0) * np.exp(smooth[..., 0]) - 16.0
    out[..., 1:] = reference_lab[..., 1:] + smooth[..., 1:]
    return out


def median3(a: np.ndarray) -> np.ndarray:
    """3x3 median of a small ``(h, w)`` grid (edges replicated), float32."""
    p = np.pad(a, 1, mode="edge")
    stack = np.stack([p[i : i + a.shape[0], j : j + a.shape[1]] for i in range(3) for j in range(3)])
    return np.median(stack, axis=0).astype(np.float32)


def relight_regions(
    reference: np.ndarray,
    target: np.ndarray,
    valid: np.ndarray,
    explain: Callable[[], np.ndarray],
    tolerance: float,
    min_fraction: float,
    penumbra: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``reference`` with every large region lit differently from the rest (a cast shadow that moved, a wet
    patch) relit per channel like the target there, and the mask of those regions.

    A region is a connected set of valid pixels whose log grey-level ratio of target to reference departs from
    its median over ``valid`` by more than ``tolerance`` (natural log; the complement of :func:`same_light`),
    opened by 2 pixels, covering at least ``min_fraction`` of the valid area, and explained by light over at
    least half of it (``explain()``, e.g. :func:`tenken.changedet.cues.light_explained`, called only when a
    large enough region exists, since it costs more than the rest; a new object has its own texture, so the
    ratio over it is not uniform). Each region gets one gain per channel: the median ratio of
    target to reference over its explained, unclipped pixels; the reference is multiplied by it and clipped at
    255, so a surface that the target clipped is clipped in the relit reference too (a sunlit white wall next
    to its shadowed self). The region mask is blurred by ``penumbra`` pixels (Gaussian sigma) so the gain
    fades over the shadow's soft edge.

    Args:
        reference, target: ``(h, w, 3)`` uint8 RGB, same frame, reference tone-matched to the target.
        valid: ``(h, w)`` bool, the pixels compared.
        explain: returns the ``(h, w)`` bool mask of pixels whose difference light explains.

    Returns:
        ``(relit, regions)``: ``(h, w, 3)`` uint8 relit reference, ``(h, w)`` bool mask of the relit regions.
    """
    none = np.zeros_like(valid)
    sub = valid[::2, ::2]
    if not sub.any():
        return reference, none
    yt = cv2.cvtColor(target, cv2.COLOR_RGB2GRAY).astype(np.float32) + 4.0
    yr = cv2.cvtColor(reference, cv2.COLOR_RGB2GRAY).astype(np.float32) + 4.0
    ratio = cv2.log(yt / yr)
    median = float(np.median(ratio[::2, ::2][sub]))
    other = (valid & (np.abs(ratio - median) > tolerance)).view(np.uint8)
    other = cv2.morphologyEx(other, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(other, connectivity=8)
    big = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= min_fraction * valid.sum()]
    if not big:
        return reference, none
    explained = explain()
    lo = cv2.min(cv2.min(target[..., 0], target[..., 1]), target[..., 2])
    hi = cv2.max(cv2.max(target[..., 0], target[..., 1]), target[..., 2])
    usable = explained & (hi < 250) & (lo > 5) & (reference.min(axis=2) > 5) & (reference.max(axis=2) < 250)
    gain = np.ones((*valid.shape, 3), np.float32)
    regions = np.zeros_like(valid)
    t32, r32 = target.astype(np.float32) + 1.0, reference.astype(np.float32) + 1.0
    for i in big:
        region = labels == i
        if explained[region].mean() < 0.5:
            continue
        pick = region & usable
        if pick.sum() < 32:
            continue
        gain[region] = np.median(t32[pick] / r32[pick], axis=0)
        regions |= region
    if not regions.any():
        return reference, none
    if penumbra > 0:
        gain = cv2.GaussianBlur(gain, (0, 0), penumbra)
    relit = np.clip(reference.astype(np.float32) * gain + 0.5, 0, 255).astype(np.uint8)
    return relit, regions
