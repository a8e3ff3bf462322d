"""Qwen-VL families: Qwen2-VL (0–1000, box tokens), Qwen2.5-VL (resized-image pixels), Qwen3-VL (0–1000)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tenken.core.boxes import ImageSize
from tenken.core.errors import InputError
from tenken.vlm.families import register_family
from tenken.vlm.families.base import Family

QWEN25_MIN_PIXELS = 56 * 56
"""Default ``min_pixels`` of the Qwen2-VL/Qwen2.5-VL image processor."""
QWEN25_MAX_PIXELS = 12_845_056
"""``max_pixels`` in the released Qwen2.5-VL checkpoints' ``preprocessor_config.json`` (what vLLM serves with)."""


def smart_resize(
    height: int, width: int, factor: int = 28, min_pixels: int = QWEN25_MIN_PIXELS, max_pixels: int = QWEN25_MAX_PIXELS
) -> tuple[int, int]:
    """``(height, width)`` the Qwen-VL image processor resizes an image to.

    Both sides become multiples of ``factor`` (patch size x merge size: 28 for Qwen2/2.5-VL, 32 for Qwen3-VL),
    the pixel count is kept within ``[min_pixels, max_pixels]`` and the aspect ratio as close as possible.
    Reproduces ``transformers.models.qwen2_vl.image_processing_qwen2_vl.smart_resize``; the tests check
    they agree.

    Raises:
        InputError: an aspect ratio above 200 (the processor refuses it too).
    """
    if min(height, width) <= 0:
        raise InputError(f"image size must be positive, got {width}x{height}")
    if max(height, width) / min(height, width) > 200:
        raise InputError(f"aspect ratio must be below 200 for Qwen-VL, got {width}x{height}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


@dataclass(frozen=True)
class Qwen25VL(Family):
    """Qwen2.5-VL: boxes in absolute pixels of the processor's ``smart_resize``-d image.

    ``factor``, ``min_pixels`` and ``max_pixels`` must be those of the processor that served the model
    (read from it in process; given as options over an OpenAI-compatible server).
    """

    name: str = "qwen2.5-vl"
    box_format: str = "processed"  # type: ignore[assignment]
    factor: int = 28
    min_pixels: int = QWEN25_MIN_PIXELS
    max_pixels: int = QWEN25_MAX_PIXELS

    def processed_size(self, image_size: ImageSize) -> ImageSize:
        """``(width, height)`` after the processor's ``smart_resize``."""
        w, h = image_size
        rh, rw = smart_resize(h, w, self.factor, self.min_pixels, self.max_pixels)
        return rw, rh


@register_family("qwen2.5-vl", "qwen2_5_vl", "qwen25-vl", "qwen2.5vl", model_types=("qwen2_5_vl",))
def qwen25_vl(factor: int = 28, min_pixels: int = QWEN25_MIN_PIXELS, max_pixels: int = QWEN25_MAX_PIXELS) -> Family:
    """Qwen2.5-VL: JSON ``bbox_2d`` in pixels of the processor's resized image."""
    return Qwen25VL(factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)


@register_family("qwen3-vl", "qwen3_vl", "qwen3_vl_moe", "qwen3vl", model_types=("qwen3_vl", "qwen3_5"))
def qwen3_vl(**_: int) -> Family:
    """Qwen3-VL: JSON ``bbox_2d`` in 0–1000 relative coordinates (its processor's factor is 32)."""
    return Family(name="qwen3-vl", box_format="rel1000", box_key="bbox_2d", state_scale=False)


@register_family("qwen2-vl", "qwen2_vl", "qwen2vl", model_types=("qwen2_vl",))
def qwen2_vl(**_: int) -> Family:
    """Qwen2-VL: ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>`` in 0–1000 (JSON answers are read too)."""
    return Family(name="qwen2-vl", box_format="rel1000", box_key="bbox_2d", state_scale=True)
