"""Ignore ("don't care") regions: mapping into the target, keeping pasted objects off them, and scoring."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.inspection import FIXTURES, load_sources, score
from tenken.core.detections import Detections
from tenken.synth.ignore import drop_ignored, map_boxes
from tenken.synth.pairs import ObjectBank, SyntheticPair, pair_from_sequence


def test_map_boxes_follows_the_reference_to_target_homography():
    # target = reference shifted right 100 px, down 50 px, and scaled 2x about the origin
    hom = np.array([[2.0, 0.0, 100.0], [0.0, 2.0, 50.0], [0.0, 0.0, 1.0]])
    out = map_boxes(np.array([[10.0, 20.0, 30.0, 60.0]]), hom, (1000, 1000))
    np.testing.assert_allclose(out, [[120.0, 90.0, 160.0, 170.0]])


def test_map_boxes_clips_to_the_target_and_drops_boxes_outside():
    hom = np.array([[1.0, 0.0, -50.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    out = map_boxes(np.array([[40.0, 0.0, 80.0, 10.0], [0.0, 0.0, 20.0, 10.0]]), hom, (100, 100))
    np.testing.assert_allclose(out, [[0.0, 0.0, 30.0, 10.0]])


@settings(max_examples=40, deadline=None)
@given(st.floats(-0.05, 0.05), st.floats(-30, 30), st.floats(-30, 30), st.floats(-2e-4, 2e-4), st.floats(-2e-4, 2e-4))
def test_mapped_box_contains_every_mapped_point_of_the_box(rot, tx, ty, px, py):
    c, s = np.cos(rot), np.sin(rot)
    hom = np.array([[c, -s, tx], [s, c, ty], [px, py, 1.0]])
    box = np.array([[200.0, 150.0, 420.0, 300.0]])
    out = map_boxes(box, hom, (2000, 2000))[0]
    xs, ys = np.meshgrid(np.linspace(200, 420, 12), np.linspace(150, 300, 9))
    pts = cv2.perspectiveTransform(np.stack([xs.ravel(), ys.ravel()], 1)[None], hom)[0]
    assert np.all(pts[:, 0] >= out[0] - 1e-6) and np.all(pts[:, 0] <= out[2] + 1e-6)
    assert np.all(pts[:, 1] >= out[1] - 1e-6) and np.all(pts[:, 1] <= out[3] + 1e-6)


def test_benchmark_ignore_regions_lie_inside_their_reference_images(assets):
    fixtures = json.loads(FIXTURES.read_text())
    assert set(fixtures["ignore"]) == set(fixtures["unmarked"]) == {"oxford_graf", "kaze_boat"}
    for scene, entry in fixtures["ignore"].items():
        boxes = np.array([b["xyxy"] for b in entry["boxes"]])
        h, w = cv2.imread(str(assets / "homography" / scene / "img1.jpg")).shape[:2]
        assert [w, h] == entry["image1_size"]
        assert boxes.shape[1] == 4 and np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
        assert np.all(boxes >= 0) and np.all(boxes[:, [0, 2]] <= w) and np.all(boxes[:, [1, 3]] <= h)


@pytest.fixture(scope="module")
def flat_pair_inputs():
    rng = np.random.default_rng(5)
    reference = np.full((300, 400, 3), 120, np.uint8)
    target = reference.copy()
    hom = np.array([[1.0, 0.0, 20.0], [0.0, 1.0, 10.0], [0.0, 0.0, 1.0]])
    cutout = np.dstack([np.full((30, 30, 3), (230, 20, 20), np.uint8), np.full((30, 30), 255, np.uint8)])
    bank = ObjectBank([("red", cutout)], [])
    return reference, target, hom, bank, rng


def test_pasted_objects_avoid_the_ignore_region(flat_pair_inputs):
    reference, target, hom, bank, _ = flat_pair_inputs
    ignore_ref = np.array([[0.0, 0.0, 250.0, 290.0]])  # most of the image: objects only fit on the right
    for seed in range(6):
        pair = pair_from_sequence(
            reference, target, hom, bank, np.random.default_rng(seed), n_objects=3, ignore=ignore_ref
        )
        np.testing.assert_allclose(pair.ignore, [[20.0, 10.0, 270.0, 300.0]])
        assert len(pair.boxes) >= 1
        for x1, y1, x2, y2 in pair.boxes.xyxy:
            assert x1 >= 270.0 or y1 >= 300.0, (x1, y1, x2, y2)


def test_pairs_without_ignore_regions_have_an_empty_ignore(flat_pair_inputs):
    reference, target, hom, bank, rng = flat_pair_inputs
    pair = pair_from_sequence(reference, target, hom, bank, rng, n_objects=1)
    assert pair.ignore.shape == (0, 4)


def test_drop_ignored_keeps_boxes_mostly_outside():
    ignore = np.array([[0.0, 0.0, 100.0, 100.0]])
    pred = np.array(
        [
            [10.0, 10.0, 50.0, 50.0],  # fully inside: dropped
            [80.0, 0.0, 120.0, 10.0],  # half inside: dropped (>= 50 %)
            [90.0, 0.0, 130.0, 10.0],  # a quarter inside: kept
            [200.0, 200.0, 220.0, 220.0],  # outside: kept
        ]
    )
    assert drop_ignored(pred, ignore).tolist() == [False, False, True, True]
    assert drop_ignored(pred, np.zeros((0, 4))).all()


def test_benchmark_score_drops_a_prediction_inside_an_ignore_region():
    gt = Detections(np.array([[300.0, 300.0, 340.0, 340.0]]), labels=["change"], image_size=(400, 400))
    pair = SyntheticPair(
        np.zeros((400, 400, 3), np.uint8),
        np.zeros((400, 400, 3), np.uint8),
        gt,
        np.eye(3),
        ignore=np.array([[0.0, 0.0, 150.0, 150.0]]),
    )
    hit_and_ignored = np.array([[300.0, 300.0, 340.0, 340.0], [20.0, 20.0, 60.0, 60.0]])
    assert score([pair], [hit_and_ignored])["macro_f1"] == pytest.approx(1.0)
    without = SyntheticPair(pair.reference, pair.target, gt, np.eye(3))
    assert score([without], [hit_and_ignored])["macro_f1"] == pytest.approx(2 / 3)


def test_benchmark_sources_carry_the_fixture_ignore_regions_into_pairs(dev_data, monkeypatch):
    import benchmarks.inspection as bench
    from tenken.synth.pairs import generate_pairs

    monkeypatch.setattr(bench, "DEV", dev_data)
    sources = load_sources()
    assert set(sources.ignore) == {"oxford_graf", "kaze_boat"}
    assert not any(n.startswith("oxford_graf") for n, *_ in load_sources(exclude_unmarked=True).sequences)
    pairs = generate_pairs(sources, 16, seed=0)
    for p in pairs:
        scene = p.name.removeprefix("sequence:").split("/")[0]
        assert (len(p.ignore) > 0) == (scene in sources.ignore)
