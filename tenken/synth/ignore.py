"""Ignore ("don't care") regions of real image sequences, like COCO's ``iscrowd``.

Some dev sequences hold real changes that no ground truth marks (a car drives away, people walk). A detector
that boxes them is right, so a benchmark must neither reward nor punish it: such regions are boxed by hand
in the **reference** (image 1) pixel frame (the dev sequences' boxes are benchmark fixtures, in
``benchmarks/fixtures/dev_sequences.json``), mapped into each target by the pair's true homography
(:func:`map_boxes`), kept free of pasted objects by the generator, and predictions lying mostly inside one are
dropped before scoring (:func:`drop_ignored`). Ground truth is never changed.

    >>> ignore = map_boxes(reference_boxes, homography, (w, h))                 # target pixels
    >>> kept = drop_ignored(pred_xyxy, ignore)                                  # then score as usual
"""

from __future__ import annotations

import numpy as np


def map_boxes(boxes: np.ndarray, homography: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Map boxes through ``homography`` and return the bounding boxes of their mapped corners.

    Args:
        boxes: ``(N, 4)`` xyxy float pixels of the source image (for ignore regions: the reference).
        homography: ``(3, 3)`` source pixels -> destination pixels (a pair's ``homography``: reference ->
            target).
        size: ``(width, height)`` of the destination image; boxes are clipped to it and boxes left empty are
            dropped.

    Returns:
        ``(M, 4)`` float64 xyxy destination pixels, ``M <= N``.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    corners = np.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], axis=1)  # (N, 4, 2)
    pts = np.concatenate([corners, np.ones((*corners.shape[:2], 1))], axis=2) @ np.asarray(homography).T
    xy = pts[..., :2] / pts[..., 2:3]
    w, h = size
    out = np.concatenate([xy.min(axis=1), xy.max(axis=1)], axis=1)
    out = np.clip(out, 0, [w, h, w, h])
    return out[(out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])]


def drop_ignored(pred: np.ndarray, ignore: np.ndarray, min_inside: float = 0.5) -> np.ndarray:
    """Predicted boxes that are not mostly inside an ignore region.

    Args:
        pred: ``(N, 4)`` xyxy float pixels of the target.
        ignore: ``(M, 4)`` ignore boxes in the same pixels.
        min_inside: a prediction is dropped when at least this fraction of its area lies inside one ignore box.

    Returns:
        A boolean ``(N,)`` mask of the predictions to keep.
    """
    p = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    g = np.asarray(ignore, dtype=np.float64).reshape(-1, 4)
    if len(p) == 0 or len(g) == 0:
        return np.ones(len(p), dtype=bool)
    iw = np.clip(np.minimum(p[:, None, 2], g[None, :, 2]) - np.maximum(p[:, None, 0], g[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(p[:, None, 3], g[None, :, 3]) - np.maximum(p[:, None, 1], g[None, :, 1]), 0, None)
    area = np.maximum((p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1]), 1e-9)
    inside = (iw * ih).max(axis=1) / area
    return inside < min_inside
