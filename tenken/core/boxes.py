"""Box conversions and geometry on ``(N, 4)`` float arrays.

tenken's one coordinate truth (``docs/architecture.md``, "The one coordinate convention"): a box is ``xyxy`` in
float pixels of the image it refers to, after EXIF orientation, origin at the top-left corner, x to the right,
y down. A box covers ``[x1, x2) x [y1, y2)``, so its width is ``x2 - x1`` (no ``+1``). Every other convention
(``xywh``, 0–1 or 0–1000 relative coordinates, pixels of a model processor's resized image) is converted here.

Sizes are ``(width, height)`` tuples in pixels throughout.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ImageSize = tuple[int, int]
"""``(width, height)`` in pixels."""


def as_boxes(boxes: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Return ``boxes`` as a float64 array of shape ``(N, 4)`` (an empty input gives ``(0, 4)``)."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == 4:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {arr.shape}")
    return arr


def xywh_to_xyxy(boxes: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """``[x, y, w, h]`` (top-left corner and size, pixels) -> ``[x1, y1, x2, y2]`` (pixels)."""
    b = as_boxes(boxes).copy()
    b[:, 2] = b[:, 0] + b[:, 2]
    b[:, 3] = b[:, 1] + b[:, 3]
    return b


def xyxy_to_xywh(boxes: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """``[x1, y1, x2, y2]`` (pixels) -> ``[x, y, w, h]`` (top-left corner and size, pixels)."""
    b = as_boxes(boxes).copy()
    b[:, 2] = b[:, 2] - b[:, 0]
    b[:, 3] = b[:, 3] - b[:, 1]
    return b


def normalized_to_pixels(
    boxes: Sequence[Sequence[float]] | np.ndarray, image_size: ImageSize, scale: float = 1.0
) -> np.ndarray:
    """Relative ``xyxy`` (0..``scale``, e.g. ``scale=1000`` for Qwen3-VL) -> ``xyxy`` pixels of ``image_size``."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    w, h = image_size
    return as_boxes(boxes) * np.array([w, h, w, h], dtype=np.float64) / scale


def pixels_to_normalized(
    boxes: Sequence[Sequence[float]] | np.ndarray, image_size: ImageSize, scale: float = 1.0
) -> np.ndarray:
    """``xyxy`` pixels of ``image_size`` -> relative ``xyxy`` in 0..``scale``."""
    w, h = image_size
    if w <= 0 or h <= 0:
        raise ValueError(f"image_size must be positive, got {image_size}")
    return as_boxes(boxes) * scale / np.array([w, h, w, h], dtype=np.float64)


def rescale_boxes(
    boxes: Sequence[Sequence[float]] | np.ndarray, from_size: ImageSize, to_size: ImageSize
) -> np.ndarray:
    """Map ``xyxy`` pixels of an image of ``from_size`` to pixels of the same image resized to ``to_size``.

    Use it for a model processor's resized image (e.g. Qwen2.5-VL's ``smart_resize``) and back:
    ``rescale_boxes(b, resized_size, original_size)``.
    """
    fw, fh = from_size
    tw, th = to_size
    if min(fw, fh, tw, th) <= 0:
        raise ValueError(f"sizes must be positive, got {from_size} -> {to_size}")
    return as_boxes(boxes) * np.array([tw / fw, th / fh, tw / fw, th / fh], dtype=np.float64)


def box_area(boxes: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Areas in square pixels, shape ``(N,)`` (degenerate boxes have area 0)."""
    b = as_boxes(boxes)
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def box_iou(a: Sequence[Sequence[float]] | np.ndarray, b: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Intersection over union matrix of shape ``(len(a), len(b))``, values in ``[0, 1]``.

    Two empty (zero-area) boxes have IoU 0.
    """
    a = as_boxes(a)
    b = as_boxes(b)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.clip(iou, 0.0, 1.0)


def paired_iou(
    a: Sequence[Sequence[float]] | np.ndarray, b: Sequence[Sequence[float]] | np.ndarray
) -> np.ndarray:
    """Row-wise IoU of ``a[i]`` with ``b[i]`` for two ``(N, 4)`` xyxy arrays, shape ``(N,)``.

    Zero-area pairs, and rows with NaN coordinates, give 0.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if a.shape != b.shape:
        raise ValueError(f"paired_iou needs as many boxes on both sides, got {len(a)} and {len(b)}")
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    union = box_area(a) + box_area(b) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.nan_to_num(iou, nan=0.0)


def clip_boxes(boxes: Sequence[Sequence[float]] | np.ndarray, image_size: ImageSize) -> np.ndarray:
    """Clip ``xyxy`` pixel boxes to ``[0, w] x [0, h]``."""
    w, h = image_size
    b = as_boxes(boxes).copy()
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, w)
    b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, h)
    return b


def nms_indices(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.5) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, highest score first.

    A box is suppressed when its IoU with an already kept box is ``> iou_threshold``. NaN scores
    (unknown) rank below every known score; ties keep the earlier box.
    """
    b = as_boxes(boxes)
    s = np.asarray(scores, dtype=np.float64)
    if len(b) == 0:
        return np.zeros((0,), dtype=np.int64)
    key = np.where(np.isnan(s), -np.inf, s)
    order = np.argsort(-key, kind="stable")
    iou = box_iou(b, b)
    suppressed = np.zeros(len(b), dtype=bool)
    keep: list[int] = []
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= iou[i] > iou_threshold
    return np.asarray(keep, dtype=np.int64)
