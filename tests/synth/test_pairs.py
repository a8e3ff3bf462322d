"""Synthetic anomaly pairs from the dev data."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tenken.synth.pairs import DevSources, PairSettings, generate_pairs, make_pair


@pytest.fixture(scope="module")
def sources(dev_data) -> DevSources:
    return DevSources.load(dev_data)


@pytest.fixture(scope="module")
def pairs(sources):
    return generate_pairs(sources, 12, seed=3, settings=PairSettings(long_side=(900.0, 1100.0)))


def test_sources_hold_photos_sequences_and_cutouts(sources, dev_data):
    assert len(sources.photos) >= 10 and len(sources.sequences) >= 3
    assert any(name.startswith(("oxford_graf", "kaze_boat")) for name, *_ in sources.sequences)
    assert sorted({name.split("/")[0] for name, *_ in sources.sequences}) == ["kaze_boat", "kaze_iguazu", "oxford_graf"]
    chosen = DevSources.load(dev_data, steps={"kaze_iguazu": (2, 4)})
    assert [name for name, *_ in chosen.sequences] == ["kaze_iguazu/img2", "kaze_iguazu/img4"]
    assert chosen.ignore == {}
    assert len(sources.bank.cutouts) >= 3 and all(rgba.shape[2] == 4 for _, rgba in sources.bank.cutouts)


def test_exactly_a_third_clean_and_at_most_four_objects(pairs):
    counts = [len(p.boxes) for p in pairs]
    assert sum(c == 0 for c in counts) == 4
    assert all(0 <= c <= 4 for c in counts)


def test_boxes_inside_the_target_and_in_size_range(pairs):
    for p in pairs:
        h, w = p.target.shape[:2]
        assert p.boxes.image_size == (w, h)
        b = p.boxes.xyxy
        assert np.all(b[:, 0] >= 0) and np.all(b[:, 1] >= 0) and np.all(b[:, 2] <= w) and np.all(b[:, 3] <= h)
        longest = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
        assert np.all(longest <= 221) and np.all(longest >= 8)
        assert p.boxes.labels == ["change"] * len(b) and len(p.kinds) == len(b)


def test_objects_really_differ_from_the_reference_there(pairs):
    n = 0
    for p in pairs:
        h, w = p.target.shape[:2]
        warped = cv2.warpPerspective(p.reference, p.homography, (w, h))
        for x1, y1, x2, y2 in p.boxes.xyxy.astype(int):
            t = p.target[y1:y2, x1:x2].astype(float)
            r = warped[y1:y2, x1:x2].astype(float)
            assert np.abs(t - r).mean() > 8
            n += 1
    assert n >= 8


def test_clean_targets_match_the_reference_through_the_true_homography(pairs):
    for p in pairs:
        if len(p.boxes) or p.name.startswith("sequence"):
            continue
        h, w = p.target.shape[:2]
        warped = cv2.warpPerspective(p.reference, p.homography, (w, h))
        inner = (slice(h // 4, 3 * h // 4), slice(w // 4, 3 * w // 4))
        t = cv2.cvtColor(p.target, cv2.COLOR_RGB2GRAY)[inner].astype(float)
        r = cv2.cvtColor(warped, cv2.COLOR_RGB2GRAY)[inner].astype(float)
        assert np.corrcoef(t.ravel(), r.ravel())[0, 1] > 0.8  # same scene, other light


def test_deterministic_by_seed(sources):
    s = PairSettings(long_side=(600.0, 700.0))
    a = generate_pairs(sources, 4, seed=11, settings=s)
    b = generate_pairs(sources, 4, seed=11, settings=s)
    c = generate_pairs(sources, 4, seed=12, settings=s)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.target, y.target) and np.array_equal(x.boxes.xyxy, y.boxes.xyxy)
        assert np.array_equal(x.homography, y.homography)
    assert any(not np.array_equal(x.target, z.target) for x, z in zip(a, c, strict=False))


def test_make_pair_with_forced_objects(sources):
    photo = cv2.resize(sources.photos[0][1], (640, 420))
    pair = make_pair(photo, sources.bank, np.random.default_rng(0), n_objects=3)
    assert len(pair.boxes) == 3 and pair.reference.shape == pair.target.shape
