"""Revisit nuisances: seeded, shape-preserving, each doing what its name says, composable, applied per side."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tenken.core.detections import Detections
from tenken.synth.nuisances import NUISANCES, apply_nuisances, perturb_pair
from tenken.synth.pairs import SyntheticPair


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    """A textured 160x240 RGB scene: mid-grey ramps, a bright patch, a dark patch, some edges."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:160, 0:240]
    img = np.dstack([60 + xx * 0.5, 80 + yy * 0.6, 120 + 0 * xx]).astype(np.float32)
    img += cv2.GaussianBlur(rng.normal(0, 25, (160, 240, 3)).astype(np.float32), (0, 0), 2)
    img[20:60, 20:80] = 240
    img[100:140, 150:220] = 15
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", list(NUISANCES))
def test_each_nuisance_is_seeded_and_keeps_shape(scene, name):
    a, pa = NUISANCES[name](scene, np.random.default_rng(3))
    b, pb = NUISANCES[name](scene, np.random.default_rng(3))
    assert a.shape == scene.shape and a.dtype == np.uint8
    assert np.array_equal(a, b) and pa == pb
    assert np.abs(a.astype(int) - scene).mean() > 0.5  # it changed something


def sharpness(img: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_32F).var())


def test_blurs_lower_sharpness_and_shadow_darkens_part_of_the_frame(scene):
    for name in ("defocus", "motion_blur"):
        out, _ = NUISANCES[name](scene, np.random.default_rng(1))
        assert sharpness(out) < 0.5 * sharpness(scene)
    out, p = NUISANCES["shadow"](scene, np.random.default_rng(1))
    darker = out.astype(int).sum(axis=2) < 0.8 * scene.astype(int).sum(axis=2)
    assert 0.05 < darker.mean() < 0.6 and 0.3 <= p["level"] <= 0.65


def test_exposure_clips_highlights_when_brighter():
    grey = np.full((10, 10, 3), 200, np.uint8)
    for seed in range(50):
        out, p = NUISANCES["exposure"](grey, np.random.default_rng(seed))
        if p["ev"] > 0.6:
            assert (out == 255).all()
            return
    raise AssertionError("no bright exposure drawn in 50 seeds")


def test_apply_composes_in_registry_order_and_rejects_unknown(scene):
    _, record = apply_nuisances(scene, ["jpeg", "exposure"], np.random.default_rng(0))
    assert [r["name"] for r in record] == ["exposure", "jpeg"]
    with pytest.raises(ValueError, match="unknown nuisance"):
        apply_nuisances(scene, ["fog"], np.random.default_rng(0))


def test_perturb_pair_changes_one_side_only_and_records_it(scene):
    boxes = Detections(np.array([[10.0, 10.0, 30.0, 30.0]]), labels=["change"], image_size=(240, 160))
    pair = SyntheticPair(scene.copy(), scene.copy(), boxes, np.eye(3))
    out = perturb_pair(pair, ["haze"], np.random.default_rng(0), on="reference")
    assert np.array_equal(out.target, pair.target) and not np.array_equal(out.reference, pair.reference)
    assert out.nuisances[0]["name"] == "haze" and out.nuisances[0]["on"] == "reference"
    assert pair.nuisances == [] and out.boxes is pair.boxes
    with pytest.raises(ValueError, match="on must be"):
        perturb_pair(pair, ["haze"], np.random.default_rng(0), on="both")
