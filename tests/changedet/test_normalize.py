"""Working scale, shrinking, tone matching and the slowly varying light field."""

from __future__ import annotations

import cv2
import numpy as np

from tenken.changedet.cues import light_explained
from tenken.changedet.normalize import (
    fit_tones,
    local_light,
    match_tones,
    median3,
    relight_regions,
    shrink,
    to_lab,
    working_scale,
)


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


def textured_image(h: int = 240, w: int = 320, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).uniform(0, 255, (h, w, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 3) * 3 - 250 + 128, 20, 235).astype(np.uint8)


def cast_shadow(image: np.ndarray, level: float = 0.45) -> tuple[np.ndarray, np.ndarray]:
    """The image with a hard-edged shadow over its left 40 %, darkened to ``level`` and a little bluer."""
    mask = np.zeros(image.shape[:2], bool)
    mask[:, : int(0.4 * image.shape[1])] = True
    out = image.astype(np.float32)
    out[mask] *= level * np.array([0.97, 0.99, 1.03], np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), mask


def test_fit_tones_ignores_a_shadow_that_bends_histogram_matching():
    ref = textured_image()
    tgt = np.clip((ref.astype(np.float32) / 255) ** 1.3 * 255 + 0.5, 0, 255).astype(np.uint8)  # another curve
    tgt, shadow = cast_shadow(tgt)
    valid = np.ones(ref.shape[:2], bool)
    lit = ~shadow
    fitted = np.abs(fit_tones(ref, tgt, valid).astype(int) - tgt.astype(int))[lit].mean()
    matched = np.abs(match_tones(ref, tgt, valid).astype(int) - tgt.astype(int))[lit].mean()
    assert fitted < 2 and matched > 2 * fitted  # per-level medians ignore the 40 % minority; histograms do not


def test_relight_regions_relights_a_moved_shadow_but_not_an_object():
    ref = textured_image()
    tgt, shadow = cast_shadow(ref)
    tgt[100:130, 200:230] = (200, 40, 40)  # a new red object in the light
    tgt[150:180, 40:70] = (40, 200, 40)  # and one in the shadow
    valid = np.ones(ref.shape[:2], bool)
    lightness = to_lab(tgt, 1)[..., 0], to_lab(ref, 1)[..., 0]
    explained = light_explained(tgt, ref, *lightness, 3, 0.07, 0.025)[0]
    relit, regions = relight_regions(ref, tgt, valid, lambda: explained, 0.25, 0.01, 1.0)
    assert regions[:, :100].mean() > 0.9 and not regions[:, 160:].any()
    inner = shadow.copy()
    inner[:, 120:] = False
    inner[145:185, 35:75] = False
    assert np.abs(relit.astype(int) - tgt.astype(int))[inner].mean() < 3  # the shadow is relit away
    assert np.abs(relit.astype(int) - tgt.astype(int))[150:180, 40:70].mean() > 60  # the object stays
    assert np.array_equal(relit[:, 160:], ref[:, 160:])  # the lit part is untouched


def test_relight_regions_leaves_a_pair_without_light_change_alone():
    ref = textured_image()
    valid = np.ones(ref.shape[:2], bool)

    def explain() -> np.ndarray:
        raise AssertionError("the light test runs only when a large differently-lit region exists")

    relit, regions = relight_regions(ref, ref.copy(), valid, explain, 0.25, 0.01, 1.0)
    assert relit is ref and not regions.any()
