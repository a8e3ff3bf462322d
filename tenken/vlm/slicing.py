"""Sliced inference geometry: overlapping tiles of a large image, and boxes mapped back and merged.

A drone frame is 4K–8K pixels wide; a VLM sees it resized to its pixel budget, so a 30 px bottle becomes a
few patches. Slicing sends overlapping tiles at (near) native resolution instead, plus one whole-image view
for large objects, then maps every tile's boxes back to full-image pixels and merges duplicates.

Frames: a :class:`Tile` is an integer pixel window ``[x0, x1) x [y0, y1)`` of the full image (after EXIF
orientation, DESIGN.md principle 1). What the model is shown is the tile's crop, downscaled to fit
``pixel_budget`` when it is larger (``Tile.sent_size``); boxes parsed in pixels of that sent image are mapped
back with :meth:`Tile.to_image` (scale, then offset — exact up to float rounding). The same tiles cut from an
aligned reference (warped into the target frame) give matching crops, so a pair-comparing detector still
compares like with like.

Merging (``SliceOptions.merge``):

- ``"nms"``: class-aware greedy NMS (:meth:`tenken.core.detections.Detections.nms`) after dropping boxes
  cut by a tile's inner edge that another box already covers;
- ``"wbf"``: weighted box fusion — same-label boxes that overlap are averaged (score-weighted; unknown
  scores weigh 1) instead of one being kept.

``benchmarks/slicing.py`` measures both; NMS is the default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import cv2
import numpy as np

from tenken.core.boxes import ImageSize, as_boxes, box_area, box_iou
from tenken.core.detections import Detections
from tenken.core.errors import InputError

MergeMode = Literal["nms", "wbf"]
MERGE_MODES: tuple[str, ...] = ("nms", "wbf")
WHOLE = -1
"""The ``tile`` index recorded for boxes from the whole-image pass."""


@dataclass(frozen=True)
class SliceOptions:
    """How to slice an image.

    Attributes:
        tile: tile side in pixels of the full image (tiles at the right and bottom edge are shifted inwards,
            never padded; an image smaller than ``tile`` on an axis gets one tile of its own size there).
        overlap: overlap of neighbouring tiles as a fraction of ``tile`` in ``[0, 0.9]``. An object smaller
            than ``overlap * tile`` pixels lies whole in at least one tile.
        pixel_budget: at most this many pixels (width x height) are sent per tile; a larger crop is
            downscaled (aspect kept). None sends crops at native resolution.
        whole_image: also send the whole image (downscaled to ``pixel_budget``) for objects larger than a tile.
        merge: ``"nms"`` or ``"wbf"`` (see the module docstring).
        iou: IoU above which two same-label boxes are one object when merging.
        edge_px: a box within this many pixels of a tile's inner edge (one not on the image border) is
            treated as cut by the tile.
    """

    tile: int = 1024
    overlap: float = 0.2
    pixel_budget: int | None = 1024 * 1024
    whole_image: bool = True
    merge: MergeMode = "nms"
    iou: float = 0.5
    edge_px: float = 2.0

    def __post_init__(self) -> None:
        if self.tile < 32:
            raise InputError(f"slice tile must be at least 32 px, got {self.tile}")
        if not 0.0 <= self.overlap <= 0.9:
            raise InputError(f"slice overlap must be in [0, 0.9], got {self.overlap}")
        if self.pixel_budget is not None and self.pixel_budget < 32 * 32:
            raise InputError(f"slice pixel_budget must be at least 1024 pixels, got {self.pixel_budget}")
        if self.merge not in MERGE_MODES:
            raise InputError(f"slice merge must be one of {', '.join(MERGE_MODES)}, got {self.merge!r}")
        if not 0.0 < self.iou <= 1.0:
            raise InputError(f"slice iou must be in (0, 1], got {self.iou}")


FAMILY_SLICE_DEFAULTS: dict[str, SliceOptions] = {
    # Qwen2.5-VL / Qwen2-VL: 28 px merged patches; 1008 = 36 x 28, so a tile is sent without resampling
    "qwen2.5-vl": SliceOptions(tile=1008, pixel_budget=1008 * 1008),
    "qwen2-vl": SliceOptions(tile=1008, pixel_budget=1008 * 1008),
    # Qwen3-VL: 32 px merged patches
    "qwen3-vl": SliceOptions(tile=1024, pixel_budget=1024 * 1024),
    # LLaVA-style and PLaMo vision towers see 336-448 px crops (any-res grids of a few): smaller tiles
    "llava": SliceOptions(tile=672, pixel_budget=672 * 672),
    "plamo": SliceOptions(tile=896, pixel_budget=896 * 896),
}
"""Default slicing per model family (:attr:`tenken.vlm.families.Family.name`)."""


def slice_options(family: str | None = None, **overrides: object) -> SliceOptions:
    """The family's default :class:`SliceOptions` (generic defaults for an unknown family) with ``overrides``
    (None values ignored)."""
    base = FAMILY_SLICE_DEFAULTS.get(family or "", SliceOptions())
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class Tile:
    """One window of the full image and the size it is sent at.

    Attributes:
        index: position in the tile list (:data:`WHOLE` for the whole-image view).
        x0, y0, x1, y1: the window ``[x0, x1) x [y0, y1)`` in full-image pixels (integers).
        sent_size: ``(width, height)`` of the image the model is shown for this tile.
        image_size: ``(width, height)`` of the full image.
    """

    index: int
    x0: int
    y0: int
    x1: int
    y1: int
    sent_size: ImageSize
    image_size: ImageSize

    @property
    def size(self) -> ImageSize:
        """``(width, height)`` of the window in full-image pixels."""
        return self.x1 - self.x0, self.y1 - self.y0

    def crop(self, image: np.ndarray) -> np.ndarray:
        """This tile of ``image`` (``(H, W, C)``, the full image or one aligned to it), resized to ``sent_size``."""
        h, w = image.shape[:2]
        if (w, h) != self.image_size:
            raise InputError(f"image of size {(w, h)} does not match the sliced image size {self.image_size}")
        part = image[self.y0 : self.y1, self.x0 : self.x1]
        if self.sent_size == self.size:
            return np.ascontiguousarray(part)
        return cv2.resize(part, self.sent_size, interpolation=cv2.INTER_AREA)

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        """``(N, 4)`` ``xyxy`` pixels of the sent tile image -> ``xyxy`` pixels of the full image."""
        b = as_boxes(boxes)
        sx = (self.x1 - self.x0) / self.sent_size[0]
        sy = (self.y1 - self.y0) / self.sent_size[1]
        return b * np.array([sx, sy, sx, sy]) + np.array([self.x0, self.y0, self.x0, self.y0], dtype=np.float64)

    def inner_edges(self) -> tuple[bool, bool, bool, bool]:
        """Which of the left, top, right, bottom edges lie inside the image (a box touching one may be cut)."""
        w, h = self.image_size
        return self.x0 > 0, self.y0 > 0, self.x1 < w, self.y1 < h


def _fit(size: ImageSize, budget: int | None) -> ImageSize:
    w, h = size
    if budget is None or w * h <= budget:
        return size
    s = math.sqrt(budget / (w * h))
    sw, sh = max(1, int(w * s)), max(1, int(h * s))
    if sw * sh > budget:  # a 1-pixel-thin strip: the clamped side cannot shrink, the other one must
        sw, sh = (budget // sh, sh) if sw >= sh else (sw, budget // sw)
    return sw, sh


def _starts(length: int, tile: int, stride: int) -> list[int]:
    """Window starts along one axis: evenly spaced, first at 0, last ending exactly at ``length``."""
    if length <= tile:
        return [0]
    n = math.ceil((length - tile) / stride) + 1
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def make_tiles(image_size: ImageSize, options: SliceOptions | None = None) -> list[Tile]:
    """The tiles covering an image of ``image_size`` (row-major), then the whole-image view when
    ``options.whole_image`` and the image is larger than one tile.

    Every pixel lies in at least one tile; neighbouring tiles overlap by at least ``overlap * tile`` pixels.
    """
    opts = options or SliceOptions()
    w, h = (int(v) for v in image_size)
    if w <= 0 or h <= 0:
        raise InputError(f"cannot slice an image of size {image_size}")
    stride = max(1, round(opts.tile * (1.0 - opts.overlap)))
    tw, th = min(opts.tile, w), min(opts.tile, h)
    tiles = []
    for y0 in _starts(h, opts.tile, stride):
        for x0 in _starts(w, opts.tile, stride):
            tiles.append(Tile(len(tiles), x0, y0, x0 + tw, y0 + th, _fit((tw, th), opts.pixel_budget), (w, h)))
    if opts.whole_image and len(tiles) > 1:
        tiles.append(Tile(WHOLE, 0, 0, w, h, _fit((w, h), opts.pixel_budget), (w, h)))
    return tiles


def _cut_mask(boxes: np.ndarray, tile: Tile, edge_px: float) -> np.ndarray:
    left, top, right, bottom = tile.inner_edges()
    cut = np.zeros(len(boxes), dtype=bool)
    if tile.index == WHOLE:
        return cut
    if left:
        cut |= boxes[:, 0] <= tile.x0 + edge_px
    if top:
        cut |= boxes[:, 1] <= tile.y0 + edge_px
    if right:
        cut |= boxes[:, 2] >= tile.x1 - edge_px
    if bottom:
        cut |= boxes[:, 3] >= tile.y1 - edge_px
    return cut


def collect(per_tile: Sequence[tuple[Tile, Detections]], edge_px: float = 2.0) -> Detections:
    """Boxes of each tile (in pixels of its sent image) mapped to full-image pixels and concatenated.

    The result carries ``extra["tile"]`` (the tile index, :data:`WHOLE` for the whole-image view) and
    ``extra["cut"]`` (True when the box lies within ``edge_px`` full-image pixels of an inner edge of its
    tile).
    """
    parts = []
    size: ImageSize | None = None
    for tile, dets in per_tile:
        size = tile.image_size
        xyxy = tile.to_image(dets.xyxy)
        parts.append(
            Detections(
                xyxy,
                dets.scores,
                dets.labels,
                dets.sources,
                tile.image_size,
                {**dets.extra, "tile": [tile.index] * len(dets), "cut": _cut_mask(xyxy, tile, edge_px).tolist()},
            )
        )
    if not parts:
        return Detections.empty(size)
    return parts[0].merge(*parts[1:])


def merge_sliced(dets: Detections, options: SliceOptions | None = None) -> Detections:
    """Merge boxes gathered from overlapping tiles (:func:`collect`) into one box per object.

    A box cut by its tile's inner edge (``extra["cut"]``) is dropped when an uncut same-label box covers most
    of it (the object lies whole in a neighbouring tile or the whole-image view); then ``options.merge``.

    Returns:
        ``Detections`` of the full image, in input order for NMS, by fused cluster for WBF.
    """
    opts = options or SliceOptions()
    if len(dets) == 0:
        return dets
    cut = np.asarray(dets.extra.get("cut", [False] * len(dets)), dtype=bool)
    dets = dets[~_covered_cut(dets, cut)]
    if opts.merge == "wbf":
        return _fuse(dets, opts.iou)
    return dets.nms(opts.iou, class_aware=True)


def _covered_cut(dets: Detections, cut: np.ndarray, cover: float = 0.6) -> np.ndarray:
    """Boxes cut by a tile edge whose area lies mostly (>= ``cover``) inside an uncut same-label box."""
    drop = np.zeros(len(dets), dtype=bool)
    whole = np.flatnonzero(~cut)
    if not cut.any() or len(whole) == 0:
        return drop
    labels = np.array(dets.labels)
    for i in np.flatnonzero(cut):
        cand = whole[labels[whole] == labels[i]]
        if len(cand) == 0:
            continue
        b = dets.xyxy[i]
        o = dets.xyxy[cand]
        iw = np.clip(np.minimum(o[:, 2], b[2]) - np.maximum(o[:, 0], b[0]), 0, None)
        ih = np.clip(np.minimum(o[:, 3], b[3]) - np.maximum(o[:, 1], b[1]), 0, None)
        area = max(float(box_area(b[None])[0]), 1e-9)
        drop[i] = bool(((iw * ih) / area >= cover).any())
    return drop


def _fuse(dets: Detections, iou: float) -> Detections:
    """Weighted box fusion: greedy same-label clusters (IoU with the cluster's fused box > ``iou``), each
    replaced by the score-weighted mean box (unknown scores weigh 1); the cluster keeps its best member's
    label, source and extras, and the mean known score (NaN when none is known)."""
    w = np.where(np.isnan(dets.scores), 1.0, dets.scores)
    order = np.argsort(-w, kind="stable")
    clusters: list[list[int]] = []
    fused: list[np.ndarray] = []
    for i in order:
        for c, members in enumerate(clusters):
            if dets.labels[members[0]] == dets.labels[i] and box_iou(dets.xyxy[i][None], fused[c][None])[0, 0] > iou:
                members.append(int(i))
                ww = w[members]
                fused[c] = (dets.xyxy[members] * ww[:, None]).sum(0) / max(ww.sum(), 1e-12)
                break
        else:
            clusters.append([int(i)])
            fused.append(dets.xyxy[i].copy())
    best = dets[[m[0] for m in clusters]]
    scores = np.array([np.nanmean(dets.scores[m]) if np.isfinite(dets.scores[m]).any() else np.nan for m in clusters])
    return Detections(np.array(fused).reshape(-1, 4), scores, best.labels, best.sources, best.image_size, best.extra)
