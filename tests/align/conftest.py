"""Fixtures for the alignment tests: a real photo and synthetic pairs with known homographies (``graf``, the
real pair with a ground-truth homography, is in ``tests/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tenken.core.images import load_image


def _load_h(path: Path) -> np.ndarray:
    """A ground-truth homography file (whitespace separated 3x3), normalised to ``H[2, 2] == 1``."""
    h = np.loadtxt(path)
    return h / h[2, 2]


@pytest.fixture(scope="session")
def photo(assets: Path) -> np.ndarray:
    """A real outdoor photo (UAV terrain), RGB uint8, downscaled to 640 px wide for speed."""
    img = load_image(assets / "backgrounds" / "sahi_terrain1.jpg")
    h, w = img.shape[:2]
    return cv2.resize(img, (640, round(640 * h / w)), interpolation=cv2.INTER_AREA)


def _synthetic_pair(image: np.ndarray, h: np.ndarray, gain: float = 0.85, offset: float = 12.0, seed: int = 0):
    """``(target, reference, H)``: the reference warped by ``h``, with gain/offset change and sensor noise."""
    rng = np.random.default_rng(seed)
    ht, wt = image.shape[:2]
    tgt = cv2.warpPerspective(image, h, (wt, ht), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    tgt = np.clip(tgt.astype(np.float32) * gain + offset + rng.normal(0, 2.0, tgt.shape), 0, 255).astype(np.uint8)
    return tgt, image, h


@pytest.fixture()
def moderate_h(photo: np.ndarray) -> np.ndarray:
    """A known reference -> target homography: a few degrees of rotation, 5% zoom, mild perspective."""
    h, w = photo.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + np.float32([[20, 10], [-15, 25], [-25, -12], [12, -20]])
    return cv2.getPerspectiveTransform(src, dst)


@pytest.fixture(scope="session")
def load_h():
    """``load_h(path)``: a ground-truth homography file, normalised to ``H[2, 2] == 1``."""
    return _load_h


@pytest.fixture(scope="session")
def synthetic_pair():
    """``synthetic_pair(image, h, gain, offset, seed) -> (target, reference, h)``."""
    return _synthetic_pair
