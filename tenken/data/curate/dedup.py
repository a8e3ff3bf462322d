"""Near-duplicate images by perceptual hash: a multi-index hashing (MIH) index over 64-bit pHashes.

Two images are near-duplicates when the Hamming distance of their pHashes is ``<= radius`` (5 in the seed).
Comparing all pairs is quadratic; the index splits each 64-bit hash into ``m`` contiguous chunks. By the
pigeonhole principle two hashes within distance ``r`` agree to within ``r // m`` bits on at least one chunk,
so each query only probes, per chunk, the buckets whose key differs from its own in ``<= r // m`` bits (a
direct table from chunk key to bucket), then checks the full distance of those candidates. ``m`` is chosen
from the index size so chunks have about ``log2(N) + 1`` bits (at most 22): buckets stay near one entry and
the work grows near-linearly with N (measured in ``benchmarks/curate.py``). Vectorised numpy on ``uint64``.

Three uses in the curation chain:

- :func:`within_group_duplicates` — inside one document, keep the highest-resolution image of each group;
- :func:`frequent_mask` — across documents, images whose hash is seen more than ``max_count`` times in a
  random sample of ``sample_size`` hashes (repeated over disjoint samples until the corpus is covered);
- :func:`pair_duplicates` — alt-text pairs with the same text and near-duplicate images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

import numpy as np

HASH_BITS = 64


def _chunks(n: int) -> list[tuple[int, int]]:
    """``(shift, bits)`` of each chunk for an index of ``n`` hashes."""
    target = min(22, max(8, math.ceil(math.log2(max(n, 2))) + 1))
    m = max(3, round(HASH_BITS / target))  # >= 3 chunks: at most 22 bits, a direct table of <= 4M entries
    sizes = [HASH_BITS // m + (1 if k < HASH_BITS % m else 0) for k in range(m)]
    shifts = np.cumsum([0, *sizes[:-1]])
    return [(int(s), b) for s, b in zip(shifts, sizes, strict=True)]


def _flips(bits: int, t: int) -> np.ndarray:
    """Every ``bits``-bit mask with at most ``t`` bits set (``uint64``)."""
    masks = [0]
    for k in range(1, t + 1):
        masks += [sum(1 << b for b in c) for c in combinations(range(bits), k)]
    return np.array(masks, dtype=np.uint64)


class HashIndex:
    """An index over 64-bit hashes for Hamming-radius queries.

    Args:
        hashes: ``(N,)`` ``uint64`` (or anything convertible) pHashes.
        radius: the largest Hamming distance queries will ask for (chunks are sized for it).
    """

    def __init__(self, hashes: np.ndarray | Sequence[int], radius: int = 5) -> None:
        self.hashes = np.asarray(hashes, dtype=np.uint64).ravel()
        self.radius = radius
        self._chunks = _chunks(len(self.hashes))
        self._buckets: list[tuple[np.ndarray, np.ndarray]] = []  # per chunk: (entries by key, bucket starts)
        for shift, bits in self._chunks:
            keys = ((self.hashes >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(np.int64)
            order = np.argsort(keys, kind="stable")
            starts = np.zeros((1 << bits) + 1, np.int64)  # a direct table: key -> first position (<= 2^22 keys)
            np.cumsum(np.bincount(keys, minlength=1 << bits), out=starts[1:])
            self._buckets.append((order, starts))

    def __len__(self) -> int:
        return len(self.hashes)

    def query(self, queries: np.ndarray | Sequence[int], radius: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """All ``(query index, index entry)`` pairs within Hamming ``radius`` (default: the index's), each once.

        Returns:
            ``(qi, ii)``: two ``int64`` arrays of equal length, sorted by ``qi`` then ``ii``.
        """
        r = self.radius if radius is None else radius
        if r > self.radius:
            raise ValueError(f"radius {r} is larger than the index was built for ({self.radius})")
        q = np.asarray(queries, dtype=np.uint64).ravel()
        n = len(self.hashes)
        if n == 0 or len(q) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        codes: list[np.ndarray] = []
        t = r // len(self._chunks)
        for (shift, bits), (order, starts) in zip(self._chunks, self._buckets, strict=True):
            qk = ((q >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(np.int64)
            for flip in _flips(bits, t).astype(np.int64):
                probe = qk ^ flip
                lo = starts[probe]
                cnt = starts[probe + 1] - lo
                hit = np.flatnonzero(cnt)
                if len(hit) == 0:
                    continue
                c = cnt[hit]
                qi = np.repeat(hit, c)
                offsets = np.arange(len(qi)) - np.repeat(np.cumsum(c) - c, c)
                ii = order[np.repeat(lo[hit], c) + offsets]
                close = np.bitwise_count(q[qi] ^ self.hashes[ii]) <= r
                codes.append(qi[close].astype(np.int64) * n + ii[close])
        if not codes:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        uniq = np.unique(np.concatenate(codes))
        return uniq // n, uniq % n

    def self_pairs(self, radius: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """All pairs ``(i, j)``, ``i < j``, of indexed hashes within Hamming ``radius``."""
        i, j = self.query(self.hashes, radius)
        keep = i < j
        return i[keep], j[keep]


def _greedy_keep(n: int, i: np.ndarray, j: np.ndarray, priority: Sequence[float]) -> dict[int, int]:
    """Visit items by descending priority (ties: input order); drop an item linked to an already kept one.

    Returns:
        ``{dropped index: the kept index it duplicates}``.
    """
    neighbours: dict[int, list[int]] = {}
    for a, b in zip(i.tolist(), j.tolist(), strict=True):
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    kept: set[int] = set()
    dropped: dict[int, int] = {}
    for k in sorted(range(n), key=lambda x: (-priority[x], x)):
        twin = next((o for o in neighbours.get(k, ()) if o in kept), None)
        if twin is None:
            kept.add(k)
        else:
            dropped[k] = twin
    return dropped


def within_group_duplicates(hashes: Sequence[int], areas: Sequence[float], radius: int = 5) -> dict[int, int]:
    """Near-duplicates within one group (a document's images): each group keeps its largest image.

    Args:
        hashes: the images' 64-bit pHashes.
        areas: their resolutions (width x height, pixels), the tie-break being input order.
        radius: largest Hamming distance of a near-duplicate.

    Returns:
        ``{dropped image index: index of the kept image it duplicates}``.
    """
    i, j = HashIndex(hashes, radius).self_pairs()
    return _greedy_keep(len(hashes), i, j, areas)


def frequent_mask(
    hashes: np.ndarray | Sequence[int],
    radius: int = 5,
    sample_size: int = 60_000,
    max_count: int = 10,
    rounds: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Images whose pHash is too frequent: seen more than ``max_count`` times (itself and its near-duplicates)
    in a random sample of ``sample_size`` hashes.

    The corpus is shuffled (``seed``) and cut into disjoint samples of ``sample_size``; each sample (up to
    ``rounds`` of them, default: all, so every image is in one sample) names its frequent hashes; then every
    image of the corpus within ``radius`` of a frequent hash is marked.

    Returns:
        ``(mask, counts)``: ``(N,)`` bool, True for a frequent image; ``(N,)`` int, the largest in-sample count
        of a frequent hash it is near (0 when not frequent).
    """
    h = np.asarray(hashes, dtype=np.uint64).ravel()
    n = len(h)
    counts = np.zeros(n, np.int64)
    if n == 0:
        return np.zeros(0, bool), counts
    order = np.random.default_rng(seed).permutation(n)
    n_rounds = math.ceil(n / sample_size) if rounds is None else min(rounds, math.ceil(n / sample_size))
    freq_hashes, freq_counts = [], []
    for r in range(n_rounds):
        part = h[order[r * sample_size : (r + 1) * sample_size]]
        i, j = HashIndex(part, radius).self_pairs()
        seen = 1 + np.bincount(i, minlength=len(part)) + np.bincount(j, minlength=len(part))
        hot = seen > max_count
        freq_hashes.append(part[hot])
        freq_counts.append(seen[hot])
    frequent = np.concatenate(freq_hashes)
    if len(frequent) == 0:
        return np.zeros(n, bool), counts
    fc = np.concatenate(freq_counts)
    qi, fi = HashIndex(frequent, radius).query(h)
    np.maximum.at(counts, qi, fc[fi])
    return counts > 0, counts


def pair_duplicates(
    hashes: Sequence[int], texts: Sequence[str], areas: Sequence[float], radius: int = 5
) -> dict[int, int]:
    """Alt-text pairs that repeat: the same text with a near-duplicate image; the largest image is kept.

    Returns:
        ``{dropped index: the kept index it duplicates}``.
    """
    groups: dict[str, list[int]] = {}
    for k, t in enumerate(texts):
        groups.setdefault(t, []).append(k)
    multi = np.array([k for ks in groups.values() if len(ks) > 1 for k in ks], dtype=np.int64)
    if len(multi) == 0:
        return {}
    sub_h = np.asarray(hashes, dtype=np.uint64)[multi]
    i, j = HashIndex(sub_h, radius).self_pairs()
    same = np.array([texts[multi[a]] == texts[multi[b]] for a, b in zip(i.tolist(), j.tolist(), strict=True)], bool)
    i, j = multi[i[same]], multi[j[same]]
    return _greedy_keep(len(hashes), i, j, areas)
