"""Warp, valid-pixel mask and composite."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tenken.align.warp import composite, valid_mask, warp_reference


@pytest.mark.parametrize(
    "h",
    [
        np.eye(3),
        np.array([[0.9, 0.1, 30.0], [-0.05, 1.1, -20.0], [1e-4, -2e-4, 1.0]]),
        np.array([[1.0, 0, 250.5], [0, 1.0, 100.25], [0, 0, 1.0]]),
    ],
)
def test_polygon_mask_agrees_with_warping_an_all_valid_image(h: np.ndarray) -> None:
    ref_size, tgt_size = (320, 240), (400, 300)
    exact = cv2.warpPerspective(np.full((240, 320), 255, np.uint8), h, tgt_size, flags=cv2.INTER_LINEAR) == 255
    fast = valid_mask(h, ref_size, tgt_size)
    assert fast.shape == (300, 400)
    # the fast mask never claims an invalid pixel, and misses at most the one-pixel band at the edge
    assert not (fast & ~exact).any()
    perimeter = 2 * (exact.sum(axis=0) > 0).sum() + 2 * (exact.sum(axis=1) > 0).sum()
    assert (exact & ~fast).sum() <= 2 * perimeter


def test_warp_reference_places_pixels(photo: np.ndarray) -> None:
    h = np.array([[1.0, 0, 10.0], [0, 1.0, 5.0], [0, 0, 1.0]])
    warped, mask = warp_reference(photo, h, (700, 450))
    assert warped.shape == (450, 700, 3) and mask.shape == (450, 700)
    np.testing.assert_array_equal(warped[5 + 20, 10 + 30], photo[20, 30])
    assert not mask[:5].any() and not mask[:, :10].any() and mask[100, 100]
    assert (warped[~mask.astype(bool)][:, :] == 0).mean() > 0.9


def test_composite_keeps_target_on_the_left(photo: np.ndarray) -> None:
    right = np.zeros_like(photo)
    c = composite(photo, right)
    assert c.shape[0] == photo.shape[0] and c.shape[1] > 2 * photo.shape[1]
    np.testing.assert_array_equal(c[:, : photo.shape[1]], photo)
