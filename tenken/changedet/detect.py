"""``detect_changes`` (arrays in, boxes out) and ``ChangeDetector`` (the pass-1 ``classical`` detector).

Stages, all at the working resolution (see :class:`ChangeParams`):

1. shrink both images and the valid mask; ignore a band along the mask's edge;
2. match the reference's light to the target's (:mod:`tenken.changedet.normalize`) and the sharper image's
   sharpness to the blurrier one's (:mod:`tenken.changedet.sharpness`);
3. shift-tolerant cues: Lab colour and structure (:mod:`tenken.changedet.cues`), combined into one
   difference map; pixels whose difference a change of light explains (same chromaticity and texture) are
   no evidence;
4. a robust adaptive threshold (median + k x MAD over the valid area, never below ``min_delta_e``),
   hysteresis (seeds above the threshold, regions grown above ``grow`` x it), morphology and connected
   components filtered by area;
5. boxes scaled back to target pixels, scored in ``[0, 1]`` by how far their peak exceeds the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tenken.changedet.conditions import PairConditions, clip_masks, exposure_shift
from tenken.changedet.cues import clip_explained, colour_cue, light_explained, relit_residual, structure_cue
from tenken.changedet.normalize import (
    fit_tones,
    local_light,
    median3,
    relight_regions,
    same_light,
    shrink,
    to_lab,
    working_scale,
)
from tenken.changedet.params import ChangeParams
from tenken.changedet.regions import find_regions
from tenken.changedet.sharpness import Sharpness, equalise_sharpness, measure_sharpness
from tenken.core.contracts import AlignedPair
from tenken.core.detections import Detections
from tenken.core.errors import InputError

LABEL = "change"
SOURCE = "classical"


def _check(target: np.ndarray, reference: np.ndarray, valid_mask: np.ndarray | None) -> np.ndarray:
    if target.ndim != 3 or target.shape[2] != 3 or target.dtype != np.uint8:
        raise InputError(f"target must be (H, W, 3) uint8 RGB, got shape {target.shape} dtype {target.dtype}")
    if reference.shape != target.shape or reference.dtype != np.uint8:
        raise InputError(
            f"reference must be uint8 with the target's shape {target.shape}, got {reference.shape} {reference.dtype}"
        )
    if valid_mask is None:
        return np.ones(target.shape[:2], bool)
    if valid_mask.dtype != bool:
        valid_mask = valid_mask != 0
    if valid_mask.shape != target.shape[:2]:
        raise InputError(f"valid_mask must have shape {target.shape[:2]}, got {valid_mask.shape}")
    return np.ascontiguousarray(valid_mask)


@dataclass
class DifferenceMap:
    """Change evidence of a working-size pair and what was done to make the two images comparable.

    Attributes:
        diff: ``(h, w)`` float32 change evidence, Lab units (0 outside the valid area).
        clipped_fraction, crushed_fraction: share of valid pixels clipped / crushed in either image.
        sharpness: how the two images' sharpness compared and the blur applied to the sharper one.
        light_change_fraction: share of valid pixels that differed but were explained by light (no evidence),
            relit regions included.
    """

    diff: np.ndarray
    sharpness: Sharpness
    clipped_fraction: float
    crushed_fraction: float
    light_change_fraction: float


def difference_map(target: np.ndarray, reference: np.ndarray, valid: np.ndarray, params: ChangeParams) -> DifferenceMap:
    """Combined change evidence for working-size images.

    Args:
        target, reference: ``(h, w, 3)`` uint8 RGB at the working resolution, same pixel frame.
        valid: ``(h, w)`` bool, pixels to compare (others get 0).
    """
    clip_t, clip_r = clip_masks(target), clip_masks(reference)  # as shot, before any tone or blur change
    n_valid = max(1, int(valid.sum()))
    clipped = float(((clip_t[0] | clip_r[0]) & valid).sum()) / n_valid
    crushed = float(((clip_t[1] | clip_r[1]) & valid).sum()) / n_valid
    ref = fit_tones(reference, target, valid)
    if params.robust_tones:
        ref = fit_tones(reference, target, same_light(target, ref, valid))
    relit = np.zeros_like(valid)
    if params.relight_regions and params.light_invariant:
        p, matched = params, ref

        def explain() -> np.ndarray:
            lightness = (to_lab(x, p.pre_blur)[:, :, 0] for x in (target, matched))
            return light_explained(target, matched, *lightness, p.light_radius, p.light_ratio_std, p.light_chroma)[0]

        ref, relit = relight_regions(ref, target, valid, explain, 0.25, p.relight_min_fraction, p.relight_penumbra)
    sharp = Sharpness(1.0, "neither", 0.0)
    if params.equalise_blur:
        sharp = measure_sharpness(target, ref, valid, params.blur_tolerance)
        target, ref = equalise_sharpness(target, ref, sharp)
    tl = to_lab(target, params.pre_blur)
    rl = to_lab(ref, params.pre_blur)
    # the light test is invariant to local gain: it runs before the coarse local correction, whose cell-wise
    # estimate smears a hard shadow edge
    light = band = np.zeros_like(valid)
    gain = None
    if params.light_invariant:
        p = params
        light, band, gain = light_explained(
            target, ref, tl[:, :, 0], rl[:, :, 0], p.light_radius, p.light_ratio_std, p.light_chroma
        )
        light &= valid
        band &= valid
    residual = relit_residual(tl, rl, gain, params.chroma_weight) if gain is not None else None
    if params.local_light:
        rl = local_light(tl, rl, valid)
    fwd, bwd = colour_cue(tl, rl, params.shift_tolerance, params.chroma_weight)
    diff = np.minimum(fwd, bwd)
    if params.structure_weight > 0:
        sf, sb = structure_cue(tl[:, :, 0], rl[:, :, 0], params.shift_tolerance)
        diff += params.structure_weight * np.maximum(sf, sb)
    diff[~valid] = 0
    differs = diff > params.grow * params.min_delta_e
    light_fraction = 0.0
    if residual is not None:
        # explained pixels keep only what is left after relighting the reference by the local light ratio
        light_fraction = float((((light | band) & differs) | relit).sum()) / n_valid
        np.copyto(diff, np.minimum(diff, residual), where=light)
        diff[band] = 0
    if params.clip_aware:
        clipped_away = clip_explained(clip_t, clip_r, tl[:, :, 0], rl[:, :, 0], params.shift_tolerance)
        np.copyto(diff, 0.0, where=clipped_away & valid)
    return DifferenceMap(diff, sharp, clipped, crushed, light_fraction)


def threshold_map(diff: np.ndarray, valid: np.ndarray, params: ChangeParams) -> np.ndarray:
    """Seed threshold per pixel, ``(h, w)`` float32 Lab units: ``max(min_delta_e, sensitivity * noise)``.

    ``noise`` is the ``noise_quantile`` percentile of ``diff``, over the whole valid area and, when
    ``noise_cell > 0``, over cells of ``noise_cell`` working pixels (3x3-cell median, so one compact change
    does not raise its own threshold), whichever is larger. Most of a pair is unchanged and most of the
    shift-tolerant difference there is 0, so a median/MAD would collapse to 0; a high percentile instead
    measures how much unchanged pixels still differ (noise, blur, resampling, texture under parallax).
    """
    h, w = diff.shape
    step = 2 if diff.size > 400_000 else 1
    d, v = diff[::step, ::step], valid[::step, ::step]
    if not v.any():
        return np.full((h, w), np.inf, np.float32)
    noise = float(np.percentile(d[v], params.noise_quantile))
    base = max(params.min_delta_e, params.sensitivity * noise)
    cell = params.noise_cell // step
    if params.noise_cell <= 0 or min(d.shape) < 3 * cell:
        return np.full((h, w), base, np.float32)
    gh, gw = d.shape[0] // cell, d.shape[1] // cell
    blocks = np.where(v, d, np.nan)[: gh * cell, : gw * cell]
    blocks = blocks.reshape(gh, cell, gw, cell).transpose(0, 2, 1, 3).reshape(gh, gw, cell * cell)
    filled = np.isfinite(blocks).mean(axis=2) > 0.25
    grid = np.full((gh, gw), noise, np.float32)
    if filled.any():
        grid[filled] = np.nanpercentile(blocks[filled], params.noise_quantile, axis=1)
    grid = np.maximum(median3(grid), noise)
    local = cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.maximum(params.sensitivity * local, params.min_delta_e).astype(np.float32)


@dataclass
class ChangeAnalysis:
    """What :func:`analyse_pair` found: the boxes, and the conditions the two shots were compared under."""

    detections: Detections
    conditions: PairConditions


def analyse_pair(
    target: np.ndarray,
    reference: np.ndarray,
    valid_mask: np.ndarray | None = None,
    params: ChangeParams | None = None,
) -> ChangeAnalysis:
    """Boxes around what is new or changed in ``target`` relative to ``reference``, and the pair's conditions.

    Args:
        target: ``(H, W, 3)`` uint8 RGB.
        reference: ``(H, W, 3)`` uint8 RGB already in the target's pixel frame (e.g. a warped reference).
        valid_mask: ``(H, W)`` bool, True where ``reference`` has real pixels (None: everywhere).
        params: detector settings (None: defaults).

    Returns:
        :class:`ChangeAnalysis`: ``detections`` in target pixels, label ``"change"``, source ``"classical"``,
        scores in ``[0, 1]``, highest score first, ``image_size = (W, H)``, no box (mostly) in the invalid area;
        ``conditions`` (:class:`PairConditions`: blur, exposure, clipping, light change).

    Raises:
        InputError: shapes or dtypes that do not fit together.
    """
    p = params or ChangeParams()
    valid_full = _check(target, reference, valid_mask)
    h0, w0 = target.shape[:2]
    size = (w0, h0)
    scale = working_scale(size, p.working_side)
    tgt = shrink(target, scale)
    ref = shrink(reference, scale)
    h, w = tgt.shape[:2]
    # nearest is enough: the mask's edge band is eroded by ``border`` pixels just below
    valid = cv2.resize(valid_full.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    if p.border > 0:
        k = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * p.border + 1, 2 * p.border + 1))
        valid = cv2.erode(valid.astype(np.uint8), k, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
    n_valid = int(valid.sum())
    if n_valid < 64:
        return ChangeAnalysis(Detections.empty(size), PairConditions())

    dm = difference_map(tgt, ref, valid, p)
    conditions = PairConditions(
        blur_ratio=dm.sharpness.ratio,
        blurrier=dm.sharpness.blurrier,
        blur_sigma_px=dm.sharpness.sigma / scale,
        exposure_shift_ev=exposure_shift(tgt, ref, valid),
        clipped_fraction=dm.clipped_fraction,
        crushed_fraction=dm.crushed_fraction,
        light_change_fraction=dm.light_change_fraction,
    )
    regions = find_regions(dm.diff / threshold_map(dm.diff, valid, p), valid, p)
    if not len(regions):
        return ChangeAnalysis(Detections.empty(size), conditions)
    boxes = regions.boxes * np.array([w0 / w, h0 / h, w0 / w, h0 / h])
    scores = regions.scores()
    sides = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    ok = (sides >= p.min_size_px) & (scores >= p.min_score)
    order = np.argsort(-scores[ok], kind="stable")
    boxes, scores = boxes[ok][order], scores[ok][order]
    dets = Detections(boxes, scores, [LABEL] * len(boxes), [SOURCE] * len(boxes), size)
    return ChangeAnalysis(dets.clip(), conditions)


def detect_changes(
    target: np.ndarray,
    reference: np.ndarray,
    valid_mask: np.ndarray | None = None,
    params: ChangeParams | None = None,
) -> Detections:
    """The boxes of :func:`analyse_pair` (same arguments): what is new or changed in ``target``, target pixels."""
    return analyse_pair(target, reference, valid_mask, params).detections


class ChangeDetector:
    """The ``classical`` pass-1 detector: what is new or changed in an aligned pair, no model weights.

    Implements :class:`tenken.core.contracts.CandidateDetector`.

        >>> det = ChangeDetector(ChangeParams.from_assignments(["sensitivity=6"]))
        >>> candidates = det.detect(pair)          # Detections in target pixels, label "change"

    After each :meth:`detect`, ``last_conditions`` holds the pair's :class:`PairConditions` (the Inspector puts
    them in the report) and ``warnings`` has gained a note for each notable one (blur, exposure, clipping, light).
    """

    name = SOURCE

    def __init__(self, params: ChangeParams | None = None) -> None:
        self.params = params or ChangeParams()
        self.last_conditions: PairConditions | None = None
        self.warnings: list[str] = []

    def detect(self, pair: AlignedPair) -> Detections:
        """Candidates over ``pair`` (target pixels, label ``change``, source ``classical``)."""
        result = analyse_pair(pair.target, pair.reference, pair.valid_mask, self.params)
        self.last_conditions = result.conditions
        self.warnings.extend(result.conditions.warnings())
        return result.detections
