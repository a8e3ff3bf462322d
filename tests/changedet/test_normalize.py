"""Working scale, shrinking, tone matching and the slowly varying light field."""

from __future__ import annotations

import cv2
import numpy as np

from tenken.changedet.normalize import local_light_offset, match_tones, median3, shrink, to_lab, working_scale


def gradient_image(h: int = 120, w: int = 160) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 / w, y * 255 / h, (x + y) * 255 / (w + h)], 2)
    return img.astype(np.uint8)


def test_working_scale_and_shrink():
    assert working_scale((3840, 2160), 1536) == 0.4
    assert working_scale((800, 600), 1536) == 1.0
    noise = np.random.default_rng(0).uniform(0, 255, (2160, 3840, 3)).astype(np.float32)
    img = np.clip(cv2.GaussianBlur(noise, (0, 0), 4) * 4 - 380, 0, 255).astype(np.uint8)  # smooth texture
    small = shrink(img, 0.4)
    assert small.shape == (864, 1536, 3)
    direct = cv2.resize(img, (1536, 864), interpolation=cv2.INTER_AREA)
    assert np.abs(small.astype(int) - direct.astype(int)).mean() < 3  # same averaging, up to rounding
    assert shrink(img, 1.0) is img


def test_match_tones_undoes_gain_white_balance_and_gamma():
    ref = gradient_image()
    x = (ref.astype(np.float32) / 255) ** 1.2 * np.array([1.1, 0.95, 0.85], np.float32)
    tgt = np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8)
    valid = np.ones(ref.shape[:2], bool)
    before = np.abs(ref.astype(int) - tgt.astype(int)).mean()
    after = np.abs(match_tones(ref, tgt, valid).astype(int) - tgt.astype(int)).mean()
    assert before > 8 and after < 2.5


def test_match_tones_only_looks_at_valid_pixels():
    ref = gradient_image()
    tgt = ref.copy()
    tgt[:, :80] = 255  # garbage in the invalid half
    valid = np.zeros(ref.shape[:2], bool)
    valid[:, 80:] = True
    out = match_tones(ref, tgt, valid)
    assert np.abs(out[:, 80:].astype(int) - tgt[:, 80:].astype(int)).mean() < 2


def test_local_light_offset_follows_a_shadow_but_not_a_small_object():
    ref = to_lab(gradient_image(256, 256), 0)
    tgt = ref.copy()
    tgt[:, :, 0] += np.linspace(0, 20, 256, dtype=np.float32)[None, :]  # smooth light ramp
    tgt[100:116, 100:116, 0] += 60  # a small bright object
    off = local_light_offset(tgt, ref, np.ones((256, 256), bool))
    assert off.shape == ref.shape
    assert abs(off[128, 240, 0] - 20 * 240 / 255) < 4
    assert off[108, 108, 0] < 20  # the object is not absorbed into the light field


def test_median3_removes_a_single_outlier():
    grid = np.zeros((5, 5), np.float32)
    grid[2, 2] = 100
    assert median3(grid).max() == 0
