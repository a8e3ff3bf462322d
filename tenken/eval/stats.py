"""Uncertainty of a score: percentile-bootstrap confidence intervals over samples, alone and paired.

A benchmark score is a mean over samples; with a few hundred samples two models a point apart may not differ.
``bootstrap_ci`` gives the interval of one run's mean; ``paired_difference`` the interval of the difference
between two runs on the same samples (resampling samples, keeping each sample's pair together), which is
far tighter than comparing two separate intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _boot_means(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = len(values)
    chunk = max(1, 4_000_000 // max(n, 1))
    means = []
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, n, (min(chunk, n_boot - start), n))
        means.append(values[idx].mean(axis=1))
    return np.concatenate(means)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray, level: float = 0.95, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile-bootstrap interval ``(low, high)`` of the mean of ``values`` (None for no values)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return None
    means = _boot_means(v, n_boot, seed)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def paired_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Mean of ``b - a`` over paired samples with its bootstrap interval: ``{"diff", "low", "high", "n"}``."""
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    ci = bootstrap_ci(d, level, n_boot, seed)
    if ci is None:
        return {"diff": None, "low": None, "high": None, "n": 0}
    return {"diff": float(d.mean()), "low": ci[0], "high": ci[1], "n": len(d)}
