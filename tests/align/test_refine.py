"""Full-resolution patch refinement."""

from __future__ import annotations

import numpy as np

from tenken.align.homography import corner_error
from tenken.align.match import to_gray
from tenken.align.refine import corner_points, refine_homography


def test_refinement_removes_a_few_pixels_of_error(photo: np.ndarray, moderate_h: np.ndarray, synthetic_pair) -> None:
    tgt, ref, h = synthetic_pair(photo, moderate_h)
    size = (ref.shape[1], ref.shape[0])
    off = h.copy()
    off[0, 2] += 2.5
    off[1, 2] -= 1.5
    off[2, 0] += 2e-6
    assert corner_error(off, h, size) > 2.5
    r = refine_homography(to_gray(ref), to_gray(tgt), off, search_px=6)
    assert r.agreeing >= 20 and r.agreement > 0.3
    assert corner_error(r.homography, h, size) < 0.3
    assert r.residual_px < 0.5 and r.mean_shift_px < 1.0  # last round's correction is small


def test_refinement_without_texture_keeps_the_estimate(moderate_h: np.ndarray) -> None:
    flat = np.full((300, 400), 120, np.uint8)
    r = refine_homography(flat, flat, moderate_h)
    assert r.agreeing == 0
    np.testing.assert_allclose(r.homography, moderate_h / moderate_h[2, 2])


def test_corner_points_are_in_full_resolution(photo: np.ndarray) -> None:
    g = to_gray(photo)
    pts = corner_points(g, max_points=200, max_side=320)
    assert 50 < len(pts) <= 200
    assert pts[:, 0].max() > 400  # scaled back from the 320 px copy
