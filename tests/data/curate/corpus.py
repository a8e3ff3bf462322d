"""Small corpora with known answers, written as shards of each layout."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from tenken.data.curate.shards import ImageItem, Sample, ShardKind, ShardWriter
from tests.conftest import ASSETS

SUFFIX = {"wds": ".tar", "parquet": ".parquet", "jsonl": ".jsonl"}


def jpeg(img: Image.Image, quality: int = 90) -> bytes:
    """JPEG bytes of ``img``."""
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def photo(name: str, size: tuple[int, int] | None = (320, 240)) -> Image.Image:
    """A background photo shipped for tests (``tests/assets/backgrounds``), resized."""
    img = Image.open(ASSETS / "backgrounds" / name).convert("RGB")
    return img.resize(size) if size else img


def noise(seed: int, size: tuple[int, int] = (300, 220)) -> Image.Image:
    """A random-noise image (distinct pHash per seed)."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def pairs_corpus() -> tuple[list[Sample], dict[str, str | None]]:
    """Alt-text pairs and the filter expected to drop each (None: kept) with default options except
    ``frequent_max=3`` and ``text_max_repeats=2``."""
    s: list[tuple[str, str, bytes, str | None, str | None]] = [
        ("ok1", "白い犬が芝生の上に座っている", jpeg(photo("sam_dog.jpg")), None, None),
        ("ok2", "食料品が棚に並んでいる様子", jpeg(photo("sam_groceries.jpg")), None, None),
        ("ok3", "駐車場に止まっている大きなトラック", jpeg(photo("sam_truck.jpg")), None, None),
        ("small", "小さすぎる画像の例です", jpeg(photo("sam_dogs.jpg", (200, 120))), None, "min_side"),
        ("wide", "横に長すぎるパノラマ写真", jpeg(photo("sahi_terrain1.jpg", (700, 300))), None, "aspect_ratio"),
        ("broken", "壊れた画像ファイルの例", jpeg(photo("sam_dog.jpg"))[:300], None, "decodable"),
        ("logo", "会社のシンボルマークです", jpeg(noise(1)), "https://e.x/img/logo.jpg", "url_words"),
        ("default", "画像に alt属性が指定されていません。", jpeg(noise(2)), None, "default_alt"),
        ("fname", "スクリーンショット 2024-01-02", jpeg(noise(3)), None, "filename_like"),
        ("english", "A large truck in a parking lot", jpeg(noise(4)), None, "japanese_script"),
        ("dup", "白い犬が芝生の上に座っている", jpeg(photo("sam_dog.jpg"), 40), None, "phash_text_dup"),
    ]
    for k in range(4):  # one image under four different texts: more than frequent_max=3
        s.append((f"freq{k}", f"同じ画像に付いた説明文その{k}", jpeg(noise(10), 60 + 10 * k), None, "phash_frequent"))
    for k in range(3):  # one text on three different images: more than text_max_repeats=2
        s.append((f"rep{k}", "いつも同じ説明文です", jpeg(noise(20 + k)), None, "text_repeats"))
    samples = [Sample(i, t, [ImageItem(f"{i}.jpg", d, u)]) for i, t, d, u, _ in s]
    return samples, {i: f for i, _, _, _, f in s}


def write_corpus(folder: Path, samples: list[Sample], kind: ShardKind, mode: str, n_shards: int = 1) -> list[Path]:
    """Write ``samples`` round-robin into ``n_shards`` shards of layout ``kind``."""
    paths = []
    for k in range(n_shards):
        path = folder / f"part-{k}{SUFFIX[kind]}"
        with ShardWriter(path, kind, mode) as w:  # type: ignore[arg-type]
            for s in samples[k::n_shards]:
                w.add(s, s.text, {})
        paths.append(path)
    return paths
