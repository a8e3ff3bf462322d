"""The annotated composite: target with its findings on the left, aligned reference on the right.

When alignment failed the right half shows the unaligned reference under a red banner that says so, so
nobody mistakes it for a comparison that was made.
"""

from __future__ import annotations

import math
import os

import cv2
import numpy as np
from PIL import Image, ImageDraw

from tenken.configs import AnomalyClasses, Lang
from tenken.core.errors import ImageLoadError
from tenken.core.images import load_image
from tenken.inspect.pipeline import Inspection
from tenken.inspect.report import display_label
from tenken.viz.draw import draw_detections, side_by_side
from tenken.viz.fonts import font

DEFAULT_MAX_SIDE = 1600
"""Longest side, pixels, of each half of the composite (a 4K pair is drawn at 42%; encoding a larger PNG
costs more than the whole inspection)."""

_TITLES = {"ja": ("対象", "参照"), "en": ("target", "reference")}
_FAILED = {"ja": "位置合わせ失敗（未整列の参照）", "en": "ALIGNMENT FAILED (unaligned reference)"}
_NO_REFERENCE = {"ja": "参照画像なし", "en": "no reference image"}


def render_annotated(
    inspection: Inspection, classes: AnomalyClasses, lang: Lang = "ja", max_side: int = DEFAULT_MAX_SIDE
) -> np.ndarray:
    """The annotated composite as an ``(H, W, 3)`` uint8 RGB array.

    Args:
        inspection: from :meth:`tenken.Inspector.run`.
        classes: gives the label names drawn.
        lang: ``"ja"`` (カラーコーン, 対象/参照) or ``"en"`` (traffic_cone names, target/reference).
        max_side: each half is shrunk so its longest side is at most this many pixels (boxes scaled with it).
    """
    target, dets = inspection.target, inspection.detections
    scale = min(1.0, max_side / max(target.shape[:2]))
    if scale < 1.0:
        target = _resize(target, scale)
        dets = dets.scale(target.shape[1] / inspection.target.shape[1], target.shape[0] / inspection.target.shape[0])
    left = draw_detections(target, dets, display=lambda label: display_label(label, classes, lang))
    al = inspection.alignment
    if al.ok and al.warped_reference is not None:
        right = al.warped_reference
        right = _resize(right, scale) if scale < 1.0 else right
        return side_by_side(left, right, titles=_TITLES[lang])
    right, message = _unaligned_reference(al.reference, left.shape, lang)
    canvas = side_by_side(left, right, titles=_TITLES[lang])
    return _banner(canvas, left.shape[1], message)


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    """Shrink by ``scale`` (< 1) with area averaging (OpenCV: ~10x faster than PIL on a 4K image)."""
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _unaligned_reference(reference: str | None, shape: tuple[int, ...], lang: Lang) -> tuple[np.ndarray, str]:
    """The chosen (unaligned) reference when it can be read, else a grey panel; and the banner text."""
    if reference and os.path.isfile(reference):
        try:
            return load_image(reference), _FAILED[lang]
        except ImageLoadError:
            pass
    return np.full((shape[0], shape[1], 3), 128, np.uint8), f"{_FAILED[lang]} — {_NO_REFERENCE[lang]}"


def _banner(canvas: np.ndarray, x0: int, text: str) -> np.ndarray:
    """A red band with ``text`` across the bottom of the right half (from column ``x0``)."""
    pil = Image.fromarray(canvas)
    draw = ImageDraw.Draw(pil)
    h = pil.height
    fnt = font(max(14, round(math.hypot(pil.width - x0, h) * 0.025)))
    tb = draw.textbbox((0, 0), text, font=fnt)
    band = tb[3] - tb[1] + 24
    draw.rectangle([x0, h - band, pil.width, h], fill=(200, 0, 0))
    draw.text((x0 + 12 - tb[0], h - band + 12 - tb[1]), text, font=fnt, fill=(255, 255, 255))
    return np.asarray(pil)
