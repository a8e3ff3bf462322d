"""Drawing boxes with Japanese or English labels, and side-by-side composites.

Images are ``(H, W, 3)`` ``uint8`` RGB arrays; boxes are ``xyxy`` pixels of the image drawn on.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from tenken.core.detections import Detections
from tenken.viz.fonts import font

_PALETTE = [
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
    (170, 110, 40), (255, 250, 200), (128, 0, 0), (170, 255, 195),
]  # fmt: skip


def label_color(label: str) -> tuple[int, int, int]:
    """A stable colour per label (the same label is drawn in the same colour in every image)."""
    digest = hashlib.md5(label.encode("utf-8")).digest()
    return _PALETTE[digest[0] % len(_PALETTE)]


def draw_detections(
    image: np.ndarray,
    detections: Detections,
    display: Callable[[str], str] | None = None,
    show_scores: bool = True,
    thickness: int | None = None,
    font_size: int | None = None,
) -> np.ndarray:
    """Return a copy of ``image`` with each box outlined and labelled.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        detections: boxes in pixels of ``image``.
        display: maps a canonical label to the text drawn (e.g. ``classes.display(l, "ja")`` for Japanese);
            default draws the label as is.
        show_scores: append the score (two decimals) when known.
        thickness, font_size: in pixels; default scales with the image (about 0.25% and 1.8% of its diagonal).
    """
    pil = Image.fromarray(np.ascontiguousarray(image)).convert("RGB")
    draw = ImageDraw.Draw(pil)
    diag = math.hypot(pil.width, pil.height)
    lw = thickness or max(2, round(diag * 0.0025))
    fnt = font(font_size or max(12, round(diag * 0.018)))
    for i in range(len(detections)):
        x1, y1, x2, y2 = (float(v) for v in detections.xyxy[i])
        label = detections.labels[i]
        color = label_color(label)
        draw.rectangle([x1, y1, x2, y2], outline=color, width=lw)
        text = display(label) if display else label
        score = float(detections.scores[i])
        if show_scores and not math.isnan(score):
            text = f"{text} {score:.2f}"
        if not text:
            continue
        tb = draw.textbbox((0, 0), text, font=fnt)
        tw, th = tb[2] - tb[0], tb[3] - tb[1]
        pad = max(2, lw)
        ty = y1 - th - 2 * pad if y1 - th - 2 * pad >= 0 else y2  # above the box, else below it
        tx = min(max(0.0, x1), max(0.0, pil.width - tw - 2 * pad))
        draw.rectangle([tx, ty, tx + tw + 2 * pad, ty + th + 2 * pad], fill=color)
        luminance = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
        ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
        draw.text((tx + pad - tb[0], ty + pad - tb[1]), text, font=fnt, fill=ink)
    return np.asarray(pil)


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 8, titles: Sequence[str] | None = None) -> np.ndarray:
    """Put ``left`` and ``right`` next to each other (``right`` resized to ``left``'s height).

    The left image keeps its pixel coordinates (x offset 0), so boxes in left-image pixels can be drawn on the
    composite unchanged. ``titles`` (two strings, any language) are written in the top-left corner of each half.
    """
    lh, lw = left.shape[:2]
    if right.shape[0] != lh:
        scale = lh / right.shape[0]
        right = np.asarray(Image.fromarray(right).resize((max(1, round(right.shape[1] * scale)), lh), Image.BILINEAR))
    canvas = np.full((lh, lw + gap + right.shape[1], 3), 255, dtype=np.uint8)
    canvas[:, :lw] = left[:, :, :3]
    canvas[:, lw + gap :] = right[:, :, :3]
    if titles:
        pil = Image.fromarray(canvas)
        draw = ImageDraw.Draw(pil)
        fnt = font(max(14, round(math.hypot(lw, lh) * 0.02)))
        for x0, title in zip((0, lw + gap), titles[:2], strict=False):
            tb = draw.textbbox((0, 0), title, font=fnt)
            draw.rectangle([x0, 0, x0 + tb[2] - tb[0] + 12, tb[3] - tb[1] + 12], fill=(0, 0, 0))
            draw.text((x0 + 6 - tb[0], 6 - tb[1]), title, font=fnt, fill=(255, 255, 255))
        canvas = np.asarray(pil)
    return canvas
