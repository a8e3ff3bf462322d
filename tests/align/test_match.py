"""RootSIFT extraction at a working scale, matching, view synthesis and the feature cache."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tenken.align.match import (
    FeatureCache,
    content_key,
    extract_features,
    extract_features_asift,
    match_descriptors,
)
from tenken.core.errors import InputError


def test_root_sift_descriptors_are_unit_norm(photo: np.ndarray) -> None:
    f = extract_features(photo, nfeatures=500)
    assert 100 < len(f) <= 500
    assert f.descriptors.shape == (len(f), 128) and f.descriptors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(f.descriptors, axis=1), 1.0, atol=1e-4)
    assert f.image_size == (640, 427) and f.work_scale == 1.0


def test_keypoints_are_reported_in_full_resolution_pixels(photo: np.ndarray) -> None:
    big = cv2.resize(photo, (1280, 854), interpolation=cv2.INTER_CUBIC)
    f = extract_features(big, max_side=640, nfeatures=800)
    assert f.work_scale == pytest.approx(2.0)
    assert f.image_size == (1280, 854)
    assert f.keypoints[:, 0].max() > 900  # spans the full-resolution image, not the 640 px copy
    # the same corners found at full resolution: matched points agree to about a full-res pixel
    full = extract_features(big, max_side=0, nfeatures=3000)
    m = match_descriptors(f, full)
    assert len(m) > 100
    err = np.linalg.norm(m.reference_points - m.target_points, axis=1)
    assert np.median(err) < 1.5


def test_matching_is_mutual_and_ratio_filtered(photo: np.ndarray) -> None:
    f = extract_features(photo, nfeatures=600)
    m = match_descriptors(f, f)
    np.testing.assert_allclose(m.reference_points, m.target_points)  # self-matches only
    # duplicated descriptors are ambiguous: the ratio test rejects every one
    doubled = type(f)(np.vstack([f.keypoints] * 2), np.vstack([f.descriptors] * 2), np.hstack([f.scales] * 2),
                      np.hstack([f.angles] * 2), f.image_size)  # fmt: skip
    assert len(match_descriptors(doubled, f)) == 0


def test_view_synthesis_maps_keypoints_back_into_the_image(photo: np.ndarray) -> None:
    small = cv2.resize(photo, (320, 214), interpolation=cv2.INTER_AREA)
    f = extract_features_asift(small, nfeatures=400, tilts=(2.0,))
    assert f.views == 1 + 5  # untilted + rotations 0, 36, 72, 108, 144 degrees
    assert len(f) > len(extract_features(small, nfeatures=400))
    w, h = f.image_size
    assert (f.keypoints >= -0.5).all() and (f.keypoints[:, 0] <= w).all() and (f.keypoints[:, 1] <= h).all()
    # features of the synthetic views match the untilted image at the right place
    m = match_descriptors(f, extract_features(small, nfeatures=400))
    close = np.linalg.norm(m.reference_points - m.target_points, axis=1) < 2.0
    assert close.mean() > 0.8


def test_content_key_depends_on_pixels_and_settings(photo: np.ndarray) -> None:
    other = photo.copy()
    other[0, 0, 0] ^= 1
    assert content_key(photo, a=1) == content_key(photo.copy(), a=1)
    assert content_key(photo, a=1) != content_key(other, a=1)
    assert content_key(photo, a=1) != content_key(photo, a=2)


def test_cache_memory_lru_and_disk(tmp_path: Path, photo: np.ndarray) -> None:
    f = extract_features(photo, nfeatures=200)
    cache = FeatureCache(tmp_path, max_items=1)
    cache.put("a", f)
    cache.put("b", f)
    assert len(cache) == 1  # "a" dropped from memory...
    back = cache.get("a")  # ...but still on disk
    assert back is not None and cache.hits == 1
    np.testing.assert_array_equal(back.descriptors, f.descriptors)
    assert back.image_size == f.image_size and back.work_scale == f.work_scale
    assert cache.get("missing") is None and cache.misses == 1


def test_damaged_cache_file_is_recomputed_not_trusted(tmp_path: Path) -> None:
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    cache = FeatureCache(tmp_path)
    assert cache.get("bad") is None


def test_cache_folder_that_is_a_file_is_refused_at_once(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("x")
    with pytest.raises(InputError, match="feature cache folder is a file"):
        FeatureCache(blocker)
    with pytest.raises(InputError, match="cannot create the feature cache folder"):
        FeatureCache(blocker / "sub")
    assert FeatureCache(tmp_path / "new" / "dir").directory.is_dir()
