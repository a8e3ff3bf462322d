"""Sharpness comparison and equalisation of a pair."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tenken.changedet.sharpness import equalise_sharpness, measure_sharpness


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.full((240, 320, 3), 110, np.uint8)
    for _ in range(40):
        x, y = rng.integers(0, 300), rng.integers(0, 220)
        cv2.rectangle(img, (int(x), int(y)), (int(x) + 30, int(y) + 15), rng.integers(0, 255, 3).tolist(), -1)
    return img


def test_equally_sharp_pair_is_left_alone(scene):
    s = measure_sharpness(scene, scene.copy(), np.ones(scene.shape[:2], bool), tolerance=1.2)
    assert s.blurrier == "neither" and s.sigma == 0 and s.ratio == pytest.approx(1.0)
    t, r = equalise_sharpness(scene, scene, s)
    assert t is scene and r is scene


@pytest.mark.parametrize("side", ["target", "reference"])
def test_blurrier_side_found_and_the_other_blurred_to_match(scene, side):
    blurred = cv2.GaussianBlur(scene, (0, 0), 2.0)
    target, reference = (blurred, scene) if side == "target" else (scene, blurred)
    valid = np.ones(scene.shape[:2], bool)
    s = measure_sharpness(target, reference, valid, tolerance=1.2)
    assert s.blurrier == side and s.ratio > 1.5 and 1.0 <= s.sigma <= 2.8
    t, r = equalise_sharpness(target, reference, s)
    before = np.abs(target.astype(int) - reference).mean()
    after = np.abs(t.astype(int) - r).mean()
    assert after < 0.5 * before
