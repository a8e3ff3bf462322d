"""Generated stand-ins for development data that may not ship with tenken (aerial tiles, the Japanese VQA
sample): drawn here, in the layout of the originals, so the tests that use them run on a plain clone."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

TILE_NAMES = ("test_2_0000_0000.png", "test_2_0000_0256.png", "test_7_0512_0256.png")
"""File names of the generated tiles (LEVIR-CD naming), sorted."""


def _ground(rng: np.random.Generator, size: int) -> np.ndarray:
    """A mottled field texture, ``(size, size, 3)`` uint8 RGB: blurred noise at two scales, a season's tint."""
    coarse = cv2.resize(rng.normal(0, 1, (size // 16, size // 16, 3)), (size, size), interpolation=cv2.INTER_CUBIC)
    fine = cv2.GaussianBlur(rng.normal(0, 1, (size, size, 3)), (0, 0), 1.5)
    tint = rng.uniform(70, 170, 3)
    return np.clip(tint + 28 * coarse + 18 * fine, 0, 255).astype(np.uint8)


def aerial_tiles(folder: Path, size: int = 256, seed: int = 0) -> Path:
    """Write ``A/``, ``B/`` and ``label/`` (the LEVIR-CD layout) under ``folder`` and return it.

    Each tile pair is orthorectified (identity homography) but years apart: ``B`` has its own ground texture, so
    feature matching between A and B fails, plus one to three new "buildings"; ``label`` is their binary mask
    (uint8, 255 = changed). Sizes in pixels of the ``size`` x ``size`` tiles.
    """
    rng = np.random.default_rng(seed)
    for sub in ("A", "B", "label"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for name in TILE_NAMES:
        before, after = _ground(rng, size), _ground(rng, size)
        label = np.zeros((size, size), np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            w, h = (int(v) for v in rng.integers(18, 48, 2))
            x, y = (int(v) for v in rng.integers(8, size - 56, 2))
            roof = tuple(int(v) for v in rng.integers(150, 250, 3))
            cv2.rectangle(after, (x, y), (x + w, y + h), roof, -1)
            cv2.rectangle(label, (x, y), (x + w, y + h), 255, -1)
        for sub, img in (("A", before), ("B", after)):
            cv2.imwrite(str(folder / sub / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(folder / "label" / name), label)
    return folder


VQA_IMAGE = "suitcases.jpg"
"""The image of :func:`ja_vqa_sample`."""


def ja_vqa_sample(folder: Path) -> Path:
    """Write a three-question Japanese VQA sample under ``folder`` and return it.

    Layout of the heron LLaVA-Bench sample: ``questions_ja.jsonl`` and ``reference_answers_gpt4_ja.jsonl``
    joined on ``question_id``, Japanese text in ``text_JA``, and the image :data:`VQA_IMAGE` (two stacked
    suitcases, black on brown, drawn here).
    """
    folder.mkdir(parents=True, exist_ok=True)
    img = np.full((360, 480, 3), (225, 220, 210), np.uint8)
    cv2.rectangle(img, (120, 200), (360, 320), (120, 72, 40), -1)  # brown, below
    cv2.rectangle(img, (140, 110), (340, 200), (25, 25, 25), -1)  # black, on top
    for x in (180, 300):
        cv2.rectangle(img, (x, 250), (x + 12, 270), (230, 190, 40), -1)  # yellow latches
    cv2.imwrite(str(folder / VQA_IMAGE), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    qa = [
        ("画像の2つのスーツケースの色は何色ですか？", "画像の2つのスーツケースの色は、黒と茶色に黄色の金具です。"),
        (
            "画像を詳しく説明してください。",
            "明るい背景の前に、2つのスーツケースが重ねて置かれています。上のスーツケースは黒で、"
            "下のスーツケースは茶色で黄色の留め金が付いています。",
        ),
        ("これらのスーツケースは何に使えますか？", "旅行の荷物を運ぶことや、衣類を保管することに使えます。"),
    ]
    rows = [
        (
            {"question_id": i, "image": VQA_IMAGE, "text_JA": q},
            {"question_id": i, "text_JA": a},
        )
        for i, (q, a) in enumerate(qa)
    ]
    for name, column in (("questions_ja.jsonl", 0), ("reference_answers_gpt4_ja.jsonl", 1)):
        text = "".join(json.dumps(r[column], ensure_ascii=False) + "\n" for r in rows)
        (folder / name).write_text(text, encoding="utf-8")
    return folder
