"""Working scale, shrinking, tone matching and the slowly varying light field."""

from __future__ import annotations

import cv2
import numpy as np

from tenken.changedet.normalize import local_light, match_tones, median3, shrink, to_lab, working_scale


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


def test_local_light_follows_a_shadow_but_not_a_small_object():
    ref = to_lab(gradient_image(256, 256), 0)
    tgt = ref.copy()
    gain = np.linspace(1.0, 0.5, 256, dtype=np.float32)[None, :]  # light falling to half towards the right
    tgt[:, :, 0] = (ref[:, :, 0] + 16) * gain - 16
    tgt[:, :, 1:] += 5.0  # and a tint
    tgt[100:116, 100:116, 0] += 60  # a small bright object
    relit = local_light(tgt, ref, np.ones((256, 256), bool))
    assert relit.shape == ref.shape
    assert np.abs(relit[:, 32:224] - tgt[:, 32:224])[..., 0].mean() < 2  # the light field is followed
    assert np.abs(relit[:, 32:224, 1:] - tgt[:, 32:224, 1:]).mean() < 1
    assert tgt[108, 108, 0] - relit[108, 108, 0] > 40  # the object is not absorbed into the light field


def test_median3_removes_a_single_outlier():
    grid = np.zeros((5, 5), np.float32)
    grid[2, 2] = 100
    assert median3(grid).max() == 0
