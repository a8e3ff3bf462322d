"""Near-duplicate index and the three dedup rules, against brute force and on edited dev photos."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tenken.data.curate.dedup import HashIndex, frequent_mask, pair_duplicates, within_group_duplicates
from tenken.data.curate.image_filters import inspect_image
from tests.data.curate.near_duplicates import near_duplicate_set


def _brute(h: np.ndarray, r: int) -> set[tuple[int, int]]:
    d = np.bitwise_count(h[:, None] ^ h[None, :])
    i, j = np.nonzero(np.triu(d <= r, 1))
    return set(zip(i.tolist(), j.tolist(), strict=True))


def _with_near_copies(seed: int, n: int, max_flips: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**63, size=n, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, n, dtype=np.uint64)
    copies = base.copy()
    for k in range(n):
        for b in rng.choice(64, int(rng.integers(0, max_flips + 1)), replace=False):
            copies[k] ^= np.uint64(1 << int(b))
    return np.concatenate([base, copies])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 300), st.integers(0, 6))
def test_index_finds_exactly_the_brute_force_pairs(seed: int, n: int, radius: int) -> None:
    h = _with_near_copies(seed, n, 8)
    i, j = HashIndex(h, radius).self_pairs()
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == _brute(h, radius)


def test_query_against_another_set() -> None:
    h = _with_near_copies(1, 500, 6)
    idx = HashIndex(h[:500], 5)
    qi, ii = idx.query(h[500:])
    d = np.bitwise_count(h[500:][:, None] ^ h[:500][None, :])
    assert set(zip(qi.tolist(), ii.tolist(), strict=True)) == set(zip(*map(list, np.nonzero(d <= 5)), strict=True))


def test_within_group_keeps_the_largest_image() -> None:
    a = 0x0123456789ABCDEF
    dropped = within_group_duplicates([a, a ^ 0b111, a ^ (2**64 - 1)], areas=[100, 400, 50])
    assert dropped == {0: 1}  # image 1 (largest) kept, image 2 is different


def test_frequent_mask_counts_near_duplicates_in_the_sample() -> None:
    rng = np.random.default_rng(0)
    common = int(rng.integers(0, 2**63))
    others = rng.integers(0, 2**63, size=200, dtype=np.uint64)
    hot = np.array([common ^ (1 << int(b)) for b in rng.integers(0, 64, size=12)], dtype=np.uint64)  # 12 copies
    warm = np.array([int(others[0]) ^ (1 << k) for k in range(5)], dtype=np.uint64)  # 6 in all: under 10
    h = np.concatenate([others, hot, warm])
    mask, counts = frequent_mask(h, radius=5, sample_size=60_000, max_count=10)
    assert mask[200:212].all() and counts[200:212].min() == 12
    assert not mask[:200].any() and not mask[212:].any()
    # with samples of 100, the 12 copies are spread over 3 samples: none sees more than 10
    assert not frequent_mask(h, sample_size=100, max_count=10)[0].any()


def test_pair_duplicates_need_the_same_text() -> None:
    a, b = 0xFFFF0000FFFF0000, 0x00000000FFFFFFFF
    dropped = pair_duplicates([a, a ^ 1, a ^ 3, b], ["犬", "犬", "猫", "犬"], areas=[10, 20, 30, 40])
    assert dropped == {0: 1}


def test_dev_photo_edits_are_found_and_different_photos_are_not() -> None:
    """Precision and recall of radius-5 pHash dedup on the constructed set (figures in docs/curate.md)."""
    rows = [(g, e, inspect_image(b).phash) for g, e, b in near_duplicate_set()]
    group = np.array([r[0] for r in rows])
    edit = np.array([r[1] for r in rows])
    h = np.array([r[2] for r in rows], np.uint64)
    i, j = HashIndex(h, 5).self_pairs()
    same = group[i] == group[j]
    assert same.all()  # precision 1.0: no two different photos within distance 5
    robust = ~np.isin(edit, ["crop3", "crop5"])
    n_true = sum(c * (c - 1) // 2 for c in np.bincount(group[robust]))
    found = (robust[i] & robust[j]).sum()
    assert found == n_true  # re-encoding, resizing, brightness, contrast, tint, saturation: recall 1.0
