"""Hysteresis, components and scores in threshold units."""

from __future__ import annotations

import numpy as np

from tenken.changedet import ChangeParams
from tenken.changedet.regions import find_regions


def test_hysteresis_grows_seeds_and_drops_weak_only_regions():
    ratio = np.zeros((100, 100), np.float32)
    ratio[10:20, 10:30] = 0.5  # weak region with a seed
    ratio[14, 14] = 2.0
    ratio[60:70, 60:70] = 0.8  # weak region without a seed
    regions = find_regions(
        ratio, np.ones((100, 100), bool), ChangeParams(grow=0.35, merge_gap=0, min_area=4, min_seeds=1)
    )
    assert len(regions) == 1
    assert regions.boxes[0].tolist() == [10, 10, 30, 20]
    assert regions.peak[0] == 2.0 and 0.5 < regions.mean[0] < 0.6


def test_a_region_needs_min_seeds_pixels_above_the_threshold():
    ratio = np.zeros((100, 100), np.float32)
    ratio[10:20, 10:30] = 0.5
    ratio[14, 14:17] = 2.0  # three seed pixels: a noisy peak
    ratio[60:70, 60:70] = 0.5
    ratio[64:66, 64:66] = 2.0  # four
    valid = np.ones((100, 100), bool)
    regions = find_regions(ratio, valid, ChangeParams(merge_gap=0, min_seeds=4))
    assert regions.boxes.tolist() == [[60, 60, 70, 70]]
    assert len(find_regions(ratio, valid, ChangeParams(merge_gap=0, min_seeds=3))) == 2


def test_area_limits_and_merging():
    ratio = np.zeros((100, 100), np.float32)
    ratio[10:12, 10:12] = 3  # 4 px: too small
    ratio[50:56, 50:56] = 3
    ratio[50:56, 58:64] = 3  # 2 px gap to the previous one
    valid = np.ones((100, 100), bool)
    p = ChangeParams(min_area=10, merge_gap=0)
    assert len(find_regions(ratio, valid, p)) == 2
    merged = find_regions(ratio, valid, ChangeParams(min_area=10, merge_gap=2))
    assert len(merged) == 1 and merged.boxes[0].tolist() == [50, 50, 64, 56]
    everything = np.full((100, 100), 3, np.float32)
    assert len(find_regions(everything, valid, ChangeParams(max_area_fraction=0.5))) == 0


def test_scores_rise_with_strength_and_stay_in_unit_interval():
    ratio = np.zeros((60, 120), np.float32)
    ratio[10:20, 10:20] = 1.2
    ratio[10:20, 60:70] = 6.0
    regions = find_regions(ratio, np.ones(ratio.shape, bool), ChangeParams(merge_gap=0))
    scores = regions.scores()
    assert len(scores) == 2 and np.all((scores > 0) & (scores < 1))
    assert scores[np.argmax(regions.peak)] > scores[np.argmin(regions.peak)]


def test_invalid_pixels_never_join_a_region():
    ratio = np.full((50, 50), 5.0, np.float32)
    valid = np.zeros((50, 50), bool)
    assert len(find_regions(ratio, valid, ChangeParams())) == 0
