"""Benchmark of ``tenken.data.curate`` (issue 12): throughput, dedup scaling and dedup quality.

    python benchmarks/curate.py              # everything (a few minutes on 2 cores)
    python benchmarks/curate.py --quick      # 200 pairs, dedup up to 100k hashes

1. **Per-sample chain** (images/s): decode + pHash + image rules + Japanese text rules (lingua language id,
   HojiChar adult words) over alt-text pairs made from the dev photos (resized to 480-1024 px on the long
   side, JPEG), read from a WebDataset shard; then the same with the nudenet NSFW detector.
   Also the whole ``curate()`` run on that shard (score, corpus-wide rules, side table, writing), NSFW off.
2. **Similarity** (pairs/s): a tiny random CLIP (1-layer towers, 32 px input) built like the tests', batch 32,
   CPU; this measures the plumbing (processor + batching), not a real model's compute.
3. **Dedup scaling**: build the MIH index and find all pairs within Hamming 5 among N random 64-bit hashes
   (5 % of them near copies), N = 10k, 100k, 1M; and the frequent-image rule (samples of 60,000) at those N.
4. **Dedup quality**: precision/recall of radius-5 pHash pairs on the constructed near-duplicate set (dev
   photos and their edits: JPEG, resize, crops, colour changes), overall and per edit against the original.

Prints tables and writes ``benchmarks/results/curate.json`` (``curate_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tenken.data.curate.dedup import HashIndex, frequent_mask  # noqa: E402
from tenken.data.curate.image_filters import inspect_image  # noqa: E402
from tenken.data.curate.options import CurateOptions  # noqa: E402
from tenken.data.curate.pipeline import curate  # noqa: E402
from tenken.data.curate.score import Models, score_samples  # noqa: E402
from tenken.data.curate.shards import ImageItem, Sample, ShardWriter, find_shards, read_shard  # noqa: E402
from tenken.data.curate.similarity import ImageTextScorer  # noqa: E402
from tests.data.curate.near_duplicates import distinct_photos, near_duplicate_set  # noqa: E402
from tests.data.curate.tiny_clip import build_tiny_clip  # noqa: E402

TEXTS = ["港に停泊している白い船の写真", "公園で遊ぶ子どもたち", "スーパーの野菜売り場", "駐車場に並ぶ車",
         "山の上から見た町の風景", "芝生の上に座る犬", "工場の配管と計器", "夕方の交差点を歩く人々"]  # fmt: skip


def make_shard(folder: Path, n: int) -> Path:
    """A WebDataset shard of ``n`` alt-text pairs from the dev photos: a random window (40-100 % of each side) of
    a photo, resized to 480-1024 px on the long side, JPEG q85 (windows make most pHashes distinct)."""
    rng = np.random.default_rng(0)
    photos = [Image.open(p).convert("RGB") for p in distinct_photos()]
    path = folder / "bench.tar"
    with ShardWriter(path, "wds", "pairs") as w:
        for k in range(n):
            photo = photos[k % len(photos)]
            fw, fh = rng.uniform(0.4, 1.0, 2)
            x0, y0 = rng.uniform(0, 1 - fw) * photo.width, rng.uniform(0, 1 - fh) * photo.height
            img = photo.crop((int(x0), int(y0), int(x0 + fw * photo.width), int(y0 + fh * photo.height)))
            side = int(rng.integers(480, 1025))
            scale = side / max(img.size)
            buf = io.BytesIO()
            img.resize((max(1, int(img.width * scale)), max(1, int(img.height * scale)))).save(buf, "JPEG", quality=85)
            w.add(Sample(f"s{k}", "", [ImageItem(f"{k}.jpg", buf.getvalue())]), f"{TEXTS[k % len(TEXTS)]}{k}", {})
    return path


def chain_throughput(shard_path: Path, nsfw: str) -> dict[str, float]:
    """Images/s of reading + the per-sample chain (no similarity model)."""
    opts = CurateOptions(nsfw=nsfw)
    models = Models(opts)
    shard = find_shards([shard_path])[0]
    list(score_samples(iter(list(read_shard(shard))[:8]), opts, models))  # warm-up: load models, language id
    t0 = time.perf_counter()
    rows = list(score_samples(read_shard(shard), opts, models))
    dt = time.perf_counter() - t0
    return {"images": len(rows), "seconds": round(dt, 2), "images_per_s": round(len(rows) / dt, 1),
            "kept_after_stage1": sum(r["drop"] is None for r in rows)}  # fmt: skip


def end_to_end(shard_path: Path, out: Path) -> dict[str, float]:
    """Pairs/s of a whole ``curate()`` run (NSFW off, no similarity model)."""
    curate([shard_path], out, CurateOptions(nsfw="none"))  # warm-up (language id, HojiChar word list)
    t0 = time.perf_counter()
    res = curate([shard_path], out, CurateOptions(nsfw="none"))
    dt = time.perf_counter() - t0
    return {"pairs": res.samples, "kept": res.kept, "seconds": round(dt, 2), "pairs_per_s": round(res.samples / dt, 1)}


def similarity_throughput(n: int) -> dict[str, float]:
    """Pairs/s through the tiny CLIP (batch 32, CPU)."""
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) for _ in range(n)]
    texts = [TEXTS[k % len(TEXTS)] for k in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        scorer = ImageTextScorer(str(build_tiny_clip(Path(tmp))), device="cpu", batch_size=32)
        scorer.pair_scores(images[:32], texts[:32])
        t0 = time.perf_counter()
        scorer.pair_scores(images, texts)
        dt = time.perf_counter() - t0
    return {"pairs": n, "seconds": round(dt, 2), "pairs_per_s": round(n / dt, 1)}


def random_hashes(n: int, seed: int = 0) -> np.ndarray:
    """``n`` random 64-bit hashes, 5 % of them near copies (1-5 bits flipped) of others."""
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 2**63, size=n, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, n, dtype=np.uint64)
    m = n // 20
    flips = np.zeros(m, np.uint64)
    for b in range(5):
        on = rng.random(m) < (1.0 if b == 0 else 0.5)
        flips ^= np.where(on, np.uint64(1) << rng.integers(0, 64, m).astype(np.uint64), np.uint64(0))
    h[n - m :] = h[:m] ^ flips
    return h


def dedup_scaling(sizes: list[int]) -> list[dict[str, float]]:
    """Seconds to index + find all radius-5 pairs, and for the frequent-image rule, at each size."""
    out = []
    for n in sizes:
        h = random_hashes(n)
        t0 = time.perf_counter()
        i, _ = HashIndex(h, 5).self_pairs()
        t_pairs = time.perf_counter() - t0
        t0 = time.perf_counter()
        frequent_mask(h, 5, 60_000, 10)
        t_freq = time.perf_counter() - t0
        out.append({"hashes": n, "pairs_found": len(i), "all_pairs_s": round(t_pairs, 3),
                    "us_per_hash": round(1e6 * t_pairs / n, 2), "frequent_rule_s": round(t_freq, 3)})  # fmt: skip
    return out


def dedup_quality() -> dict[str, object]:
    """Precision/recall of radius-5 pHash pairs on the constructed near-duplicate set."""
    rows = [(g, e, inspect_image(b).phash) for g, e, b in near_duplicate_set()]
    group = np.array([r[0] for r in rows])
    edit = np.array([r[1] for r in rows])
    h = np.array([r[2] for r in rows], np.uint64)
    i, j = HashIndex(h, 5).self_pairs()
    tp = int((group[i] == group[j]).sum())
    n_true = int(sum(c * (c - 1) // 2 for c in np.bincount(group)))
    original = {g: k for k, (g, e) in enumerate(zip(group, edit, strict=True)) if e == "original"}
    dist = np.bitwise_count(h ^ h[[original[g] for g in group]])
    per_edit = {str(e): round(float((dist[edit == e] <= 5).mean()), 3) for e in sorted(set(edit)) if e != "original"}
    return {"photos": int(group.max() + 1), "images": len(rows), "pairs_true": n_true, "pairs_found": len(i),
            "precision": round(tp / max(len(i), 1), 3), "recall": round(tp / n_true, 3),
            "recall_vs_original_by_edit": per_edit}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 pairs, dedup up to 100k hashes")
    args = ap.parse_args()
    n_pairs = 200 if args.quick else 1000
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    results: dict[str, object] = {"machine": {"python": platform.python_version(), "cpu": platform.processor()}}
    with tempfile.TemporaryDirectory() as tmp:
        shard = make_shard(Path(tmp), n_pairs)
        results["chain"] = chain_throughput(shard, "none")
        print("chain (decode + pHash + image rules + text rules):", results["chain"])
        results["end_to_end"] = end_to_end(shard, Path(tmp) / "out")
        print("curate() end to end (NSFW off):", results["end_to_end"])
        results["chain_nudenet"] = chain_throughput(shard, "nudenet")
        print("chain + nudenet NSFW:", results["chain_nudenet"])
    results["similarity_tiny_clip"] = similarity_throughput(256)
    print("similarity (tiny CLIP, batch 32, CPU):", results["similarity_tiny_clip"])
    results["dedup_scaling"] = dedup_scaling(sizes)
    print(f"{'hashes':>10} {'pairs':>7} {'all pairs s':>12} {'us/hash':>8} {'frequent s':>11}")
    for r in results["dedup_scaling"]:  # type: ignore[union-attr]
        print(f"{r['hashes']:>10} {r['pairs_found']:>7} {r['all_pairs_s']:>12} {r['us_per_hash']:>8} "
              f"{r['frequent_rule_s']:>11}")  # fmt: skip
    results["dedup_quality"] = dedup_quality()
    print("dedup quality (radius 5):", results["dedup_quality"])
    out = REPO / "benchmarks" / "results" / ("curate_quick.json" if args.quick else "curate.json")
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
