"""A constructed near-duplicate set from the dev photos: distinct photos, each with edited copies.

Distinct photos: the backgrounds, the LEVIR "A" tiles, the cut-out sources, the VQA photo, the first image of
each homography sequence and one image of each photo pair (the other image of a pair, the other LEVIR epoch and
the other frames of a sequence show the same place and are left out: they are neither clearly duplicates nor
clearly different). Edits: JPEG re-encoding (quality 30 and 70), resizing to 1/2 and 1/4, border crops of 3 %
and 5 % per side, brightness x1.2, contrast x0.8, a red/blue tint and saturation x0.5.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from tests.conftest import DEV_DATA


def dev_root() -> Path:
    """The dev photo folder (``TENKEN_DEV_DATA``, beside the repository, or the project machines' place)."""
    for cand in (DEV_DATA, Path("/work/shared/data/dev")):
        if cand.is_dir():
            return cand
    pytest.skip(f"development data not found at {DEV_DATA} (set TENKEN_DEV_DATA)")


def distinct_photos() -> list[Path]:
    """Paths of the distinct dev photos (see the module doc)."""
    d = dev_root()
    return [
        *sorted((d / "backgrounds").glob("*")),
        *sorted((d / "change_detection/changeformer_LEVIR/A").glob("*.png")),
        *sorted((d / "cutouts").glob("*-?.jpg")),
        d / "cutouts" / "plants-1.png",
        d / "vqa_ja" / "COCO_val2014_000000441147.jpg",
        *sorted((d / "homography").glob("*/img1.png")),
        d / "pairs" / "DSC_0410.JPG",
        d / "pairs" / "sacre_coeur1.jpg",
    ]


def _jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def edits(img: Image.Image) -> Iterator[tuple[str, bytes]]:
    """``(edit name, JPEG bytes)`` of each edited copy of ``img``."""
    w, h = img.size
    yield "jpeg30", _jpeg(img, 30)
    yield "jpeg70", _jpeg(img, 70)
    yield "half", _jpeg(img.resize((w // 2, h // 2)))
    yield "quarter", _jpeg(img.resize((max(1, w // 4), max(1, h // 4))))
    for pct in (3, 5):
        c = int(pct / 100 * min(w, h))
        yield f"crop{pct}", _jpeg(img.crop((c, c, w - c, h - c)))
    yield "bright", _jpeg(ImageEnhance.Brightness(img).enhance(1.2))
    yield "contrast", _jpeg(ImageEnhance.Contrast(img).enhance(0.8))
    a = np.asarray(img).astype(int)
    a[..., 0] = np.clip(a[..., 0] + 20, 0, 255)
    a[..., 2] = np.clip(a[..., 2] - 15, 0, 255)
    yield "tint", _jpeg(Image.fromarray(a.astype(np.uint8)))
    yield "saturation", _jpeg(ImageEnhance.Color(img).enhance(0.5))


def near_duplicate_set() -> Iterator[tuple[int, str, bytes]]:
    """``(photo index, edit name or "original", encoded bytes)`` for every photo and its edits."""
    for g, p in enumerate(distinct_photos()):
        img = Image.open(p).convert("RGB")
        yield g, "original", p.read_bytes()
        for name, data in edits(img):
            yield g, name, data
