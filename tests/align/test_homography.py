"""Robust estimation, quality figures and sanity checks (property tests for the geometry)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenken.align.homography import (
    HomographyEstimate,
    corner_error,
    estimate_homography,
    normalise,
    overlap_fraction,
    project,
    sanity_check,
    scale_homography,
)

SIZE = (640, 480)


def _random_h(rng: np.random.Generator) -> np.ndarray:
    a = np.deg2rad(rng.uniform(-20, 20))
    s = rng.uniform(0.8, 1.25)
    h = np.array([[s * np.cos(a), -s * np.sin(a), rng.uniform(-40, 40)],
                  [s * np.sin(a), s * np.cos(a), rng.uniform(-40, 40)],
                  [rng.uniform(-2e-4, 2e-4), rng.uniform(-2e-4, 2e-4), 1.0]])  # fmt: skip
    return h


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.floats(0.1, 10.0))
def test_normalise_keeps_the_mapping_and_sets_h22(seed: int, k: float) -> None:
    rng = np.random.default_rng(seed)
    h = _random_h(rng)
    pts = rng.uniform(0, 600, (10, 2))
    n = normalise(h * k)
    assert n[2, 2] == pytest.approx(1.0)
    np.testing.assert_allclose(project(n, pts), project(h, pts), atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), s_ref=st.floats(1.0, 4.0), s_tgt=st.floats(1.0, 4.0))
def test_scale_homography_commutes_with_resizing(seed: int, s_ref: float, s_tgt: float) -> None:
    """A point found at work scale and mapped there equals the full-res point mapped by the lifted H."""
    rng = np.random.default_rng(seed)
    h_work = _random_h(rng)
    work_pts = rng.uniform(0, 300, (8, 2))
    full_ref = (work_pts + 0.5) * s_ref - 0.5
    full_tgt = (project(h_work, work_pts) + 0.5) * s_tgt - 0.5
    np.testing.assert_allclose(project(scale_homography(h_work, s_ref, s_tgt), full_ref), full_tgt, atol=1e-6)


def test_corner_error_is_zero_for_equal_and_exact_for_a_shift() -> None:
    h = _random_h(np.random.default_rng(1))
    assert corner_error(h, h, SIZE) == pytest.approx(0.0, abs=1e-9)
    shift = np.array([[1, 0, 3.0], [0, 1, 4.0], [0, 0, 1]])
    assert corner_error(shift, np.eye(3), SIZE) == pytest.approx(5.0)


def test_estimate_recovers_h_despite_outliers() -> None:
    rng = np.random.default_rng(0)
    h = _random_h(rng)
    ref = rng.uniform(0, 640, (300, 2))
    tgt = project(h, ref) + rng.normal(0, 0.3, (300, 2))
    tgt[:120] = rng.uniform(0, 640, (120, 2))  # 40% outliers
    est = estimate_homography(ref, tgt, SIZE)
    assert est.homography is not None
    assert corner_error(est.homography, h, SIZE) < 0.5
    assert 170 <= est.inliers <= 185
    assert est.inlier_ratio == pytest.approx(est.inliers / 300)
    assert est.mean_reprojection_px < 1.0
    # selection score: mean distance between inlier correspondences (how far the view moved)
    inl = est.inlier_mask
    assert est.selection_score == pytest.approx(np.linalg.norm(ref[inl] - tgt[inl], axis=1).mean())
    assert sanity_check(est, 300, SIZE, SIZE) is None


def test_estimate_with_too_few_points_returns_none() -> None:
    est = estimate_homography(np.zeros((3, 2)), np.zeros((3, 2)), SIZE)
    assert est.homography is None
    assert "no homography" in sanity_check(est, 3, SIZE, SIZE)


def _est(h: np.ndarray, inliers: int = 200, ratio: float = 0.8) -> HomographyEstimate:
    return HomographyEstimate(h, np.ones(inliers, bool), inliers, ratio, 0.5, 10.0)


@pytest.mark.parametrize(
    ("h", "words"),
    [
        (np.diag([-1.0, 1.0, 1.0]) + np.array([[0, 0, 640], [0, 0, 0], [0, 0, 0]]), "mirroring"),
        (np.diag([12.0, 12.0, 1.0]), "extreme scale"),
        (np.diag([0.05, 0.05, 1.0]), "extreme scale"),
        (np.diag([8.0, 0.5, 1.0]), "shear or squash"),
        (np.array([[1, 0, 600.0], [0, 1, 440.0], [0, 0, 1]]), "too little overlap"),
        (np.array([[1, 0, 0], [0, 1, 0], [-0.002, 0, 1.0]]), "behind the camera"),
    ],
)
def test_sanity_check_reasons(h: np.ndarray, words: str) -> None:
    reason = sanity_check(_est(h), 250, SIZE, SIZE)
    assert reason is not None and words in reason


def test_sanity_check_inlier_limits() -> None:
    assert "too few inliers" in sanity_check(_est(np.eye(3), inliers=9), 20, SIZE, SIZE)
    assert "inlier ratio" in sanity_check(_est(np.eye(3), inliers=30, ratio=0.03), 1000, SIZE, SIZE)


def test_overlap_fraction() -> None:
    assert overlap_fraction(np.eye(3), SIZE, SIZE) == pytest.approx(1.0)
    half = np.array([[1, 0, 320.0], [0, 1, 0], [0, 0, 1]])
    assert overlap_fraction(half, SIZE, SIZE) == pytest.approx(0.5)
