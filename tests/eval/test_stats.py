import numpy as np
import pytest

from tenken.eval.stats import bootstrap_ci, paired_difference


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_more_samples():
    rng = np.random.default_rng(0)
    small = rng.normal(50, 10, 50)
    large = rng.normal(50, 10, 5000)
    lo_s, hi_s = bootstrap_ci(small)
    lo_l, hi_l = bootstrap_ci(large)
    assert lo_s < small.mean() < hi_s and lo_l < large.mean() < hi_l
    assert (hi_l - lo_l) < (hi_s - lo_s) / 5
    # about 1.96 standard errors each side
    assert hi_l - lo_l == pytest.approx(2 * 1.96 * 10 / np.sqrt(5000), rel=0.2)
    assert bootstrap_ci([]) is None
    assert bootstrap_ci([3.0, 3.0]) == (3.0, 3.0)


def test_paired_difference_is_tighter_than_separate_intervals():
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 100, 300)  # per-sample scores vary a lot between samples
    better = base + 2 + rng.normal(0, 1, 300)  # but the second run is consistently 2 points higher
    d = paired_difference(base, better)
    assert d["n"] == 300 and d["diff"] == pytest.approx(2, abs=0.2)
    assert 0 < d["low"] < 2 < d["high"] and d["high"] - d["low"] < 0.5
    lo_a, hi_a = bootstrap_ci(base)
    assert hi_a - lo_a > 4 > 2  # one run's own interval is wider than the difference: unpaired, they overlap
    assert paired_difference([], [])["diff"] is None
