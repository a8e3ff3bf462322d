"""Sliced grounding finds small objects a whole-image pass cannot see, in full-image pixels, in one batch."""

from __future__ import annotations

import numpy as np
import pytest

from tenken.tasks.grounding import ground
from tenken.tasks.sliced import sliced_count, sliced_ground
from tenken.vlm.slicing import SliceOptions, make_tiles
from tests.vlm.fakes import BLOB_RGB, blob_answer, scripted_vlm

OBJECTS = [[100, 120, 130, 150], [1000, 1010, 1024, 1040], [2500, 300, 2560, 350], [1500, 1500, 1900, 1900]]


def _scene() -> np.ndarray:
    img = np.full((2000, 3000, 3), 90, dtype=np.uint8)
    for x1, y1, x2, y2 in OBJECTS:
        img[y1:y2, x1:x2] = BLOB_RGB
    return img


@pytest.mark.parametrize("family", ["qwen2.5-vl", "qwen3-vl"])
def test_sliced_ground_finds_every_object_once_within_a_pixel(family):
    vlm = scripted_vlm(blob_answer(family, min_px=16), family=family)
    img = _scene()
    options = SliceOptions(tile=1008, overlap=0.2, pixel_budget=1008 * 1008)
    dets = sliced_ground(vlm, img, "object", lang="en", options=options)
    assert len(vlm.backend.seen) == len(make_tiles((3000, 2000), options))  # one request per tile, one batch
    order = np.argsort(dets.xyxy[:, 0] + dets.xyxy[:, 1])
    assert len(dets) == 4 and dets.image_size == (3000, 2000)
    assert np.abs(dets.xyxy[order] - np.array(OBJECTS, dtype=float)).max() <= 1.0
    assert set(dets.labels) == {"object"}


def test_without_slicing_the_small_objects_are_missed():
    vlm = scripted_vlm(blob_answer("qwen3-vl", min_px=16, max_pixels=1008 * 1008), family="qwen3-vl")
    img = _scene()
    # the model sees the whole frame downscaled ~2.4x to its pixel budget: only the two large objects remain
    whole = ground(vlm, img, "object")
    assert len(whole) == 2
    assert sliced_count(vlm, img, "object") == 4


def test_sliced_ground_through_a_real_tiny_qwen25_checkpoint(tiny_qwen25_path):
    # the transformers path: tiles of different sizes batched through a real (random-weight) model
    from tenken.vlm.loader import load_vlm

    vlm = load_vlm(str(tiny_qwen25_path), max_new_tokens=4, batch_size=4)
    img = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    options = SliceOptions(tile=128, overlap=0.25, pixel_budget=112 * 112)
    notes: list[str] = []
    dets = sliced_ground(vlm, img, "object", "en", options, warnings_out=notes)
    assert dets.image_size == (300, 200) and vlm.stats.requests == len(make_tiles((300, 200), options))
    assert (dets.xyxy >= 0).all() and (dets.xyxy[:, 2] <= 300).all()
