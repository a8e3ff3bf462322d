"""What a model family needs from tenken: how to ask for boxes, and how to read its box coordinates.

A family's :meth:`Family.to_pixels` is **the** place where a model's box convention becomes tenken's one
coordinate truth (``xyxy`` float pixels of the original image; ``docs/architecture.md``, "The one coordinate
convention"), and :meth:`Family.from_pixels` / :meth:`Family.format_boxes` the one place it goes the other
way (region prompts, training targets, GRPO references). Nothing else in tenken converts model coordinates.

Box frames (``box_format``):

- ``"processed"``: absolute pixels of the image *after* the processor resized it (Qwen2.5-VL);
- ``"rel1000"``: relative, ``0..1000`` on both axes (Qwen3-VL, Qwen2-VL, many LLaVA-style fine-tunes);
- ``"rel1"``: relative, ``0..1``;
- ``"pixels"``: absolute pixels of the original image (a model fine-tuned that way, or a server that rescales).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tenken.configs import Lang
from tenken.core.boxes import ImageSize, as_boxes, normalized_to_pixels, pixels_to_normalized, rescale_boxes
from tenken.core.errors import InputError

BoxFormat = Literal["processed", "rel1000", "rel1", "pixels"]
BOX_FORMATS: tuple[str, ...] = ("processed", "rel1000", "rel1", "pixels")

_JSON_HINT = {
    "ja": '結果はJSON形式で出力してください: [{{"{key}": [x1, y1, x2, y2], "label": "ラベル"}}]{scale}',
    "en": 'Output the result in JSON format: [{{"{key}": [x1, y1, x2, y2], "label": "label"}}]{scale}',
}
_SCALE_NOTE = {
    ("rel1000", "ja"): "。座標は画像の幅と高さを0〜1000とした相対値です。",
    ("rel1000", "en"): ". Coordinates are relative, 0 to 1000 across the image width and height.",
    ("rel1", "ja"): "。座標は画像の幅と高さを0〜1とした相対値です。",
    ("rel1", "en"): ". Coordinates are relative, 0 to 1 across the image width and height.",
}


@dataclass(frozen=True)
class Family:
    """Prompt and box conventions of one model family.

    Attributes:
        name: family id (``"qwen2.5-vl"``, ``"qwen3-vl"``, ``"qwen2-vl"``, ``"plamo"``, ``"llava"``).
        box_format: the frame of the boxes the model answers with (see the module docstring).
        box_key: the JSON key the model was trained to use for a box (``"bbox_2d"`` for Qwen).
        state_scale: say the coordinate scale in the prompt (for models that do not know it by training).
    """

    name: str
    box_format: BoxFormat = "rel1000"
    box_key: str = "bbox_2d"
    state_scale: bool = False

    def __post_init__(self) -> None:
        if self.box_format not in BOX_FORMATS:
            raise InputError(f"box_format must be one of {', '.join(BOX_FORMATS)}, got {self.box_format!r}")

    def box_instruction(self, lang: Lang) -> str:
        """The sentence appended to a grounding/detection prompt that fixes the answer's format."""
        return _JSON_HINT[lang].format(key=self.box_key, scale=self.scale_note(lang))

    def scale_note(self, lang: Lang) -> str:
        """The sentence stating the coordinate scale (starting with its own full stop), for families that say
        it in the prompt (``state_scale``); empty otherwise."""
        return _SCALE_NOTE.get((self.box_format, lang), "") if self.state_scale else ""

    def processed_size(self, image_size: ImageSize) -> ImageSize:
        """``(width, height)`` of the image as the model sees it (the original size unless overridden)."""
        return image_size

    def to_pixels(
        self, boxes: np.ndarray, image_size: ImageSize, processed_size: ImageSize | None = None
    ) -> np.ndarray:
        """Model boxes ``(N, 4)`` in this family's frame -> ``xyxy`` float pixels of the original image.

        Args:
            boxes: ``(N, 4)`` ``[x1, y1, x2, y2]`` as the model wrote them (already reordered so x1 <= x2).
            image_size: ``(width, height)`` of the original image the prompt showed.
            processed_size: for ``"processed"`` boxes, the size the processor resized to; computed with
                :meth:`processed_size` when None.
        """
        b = as_boxes(boxes)
        if self.box_format == "rel1000":
            return normalized_to_pixels(b, image_size, 1000.0)
        if self.box_format == "rel1":
            return normalized_to_pixels(b, image_size, 1.0)
        if self.box_format == "processed":
            return rescale_boxes(b, processed_size or self.processed_size(image_size), image_size)
        return b.copy()

    def from_pixels(
        self, boxes: np.ndarray, image_size: ImageSize, processed_size: ImageSize | None = None
    ) -> np.ndarray:
        """``xyxy`` float pixels of the original image ``(N, 4)`` -> this family's frame (inverse of
        :meth:`to_pixels`), for prompts that point at a region and for training targets."""
        b = as_boxes(boxes)
        if self.box_format == "rel1000":
            return pixels_to_normalized(b, image_size, 1000.0)
        if self.box_format == "rel1":
            return pixels_to_normalized(b, image_size, 1.0)
        if self.box_format == "processed":
            return rescale_boxes(b, image_size, processed_size or self.processed_size(image_size))
        return b.copy()

    def box_decimals(self) -> int:
        """Decimals the model writes a coordinate with: 3 in the 0–1 frame, else integers (0)."""
        return 3 if self.box_format == "rel1" else 0

    def box_values(
        self, boxes: np.ndarray, image_size: ImageSize, processed_size: ImageSize | None = None
    ) -> list[list[int | float]]:
        """Pixel boxes ``(N, 4)`` as the numbers this family's model writes (its frame, rounded like its answers)."""
        model = self.from_pixels(boxes, image_size, processed_size)
        d = self.box_decimals()
        return [[round(float(v), d) if d else round(float(v)) for v in row] for row in model]

    def format_boxes(
        self,
        boxes: np.ndarray,
        labels: list[str],
        image_size: ImageSize,
        processed_size: ImageSize | None = None,
    ) -> str:
        """The answer this family's model gives for ``boxes`` (``(N, 4)`` pixel xyxy of the original image):
        the JSON list its :meth:`box_instruction` asks for, e.g. ``[{"bbox_2d": [12, 40, 88, 97], "label": "cone"}]``.

        :func:`tenken.vlm.parse.parse_detections` reads it back to the same boxes (up to the rounding of
        :meth:`box_decimals`); that round trip is tested.
        """
        values = self.box_values(boxes, image_size, processed_size)
        if len(labels) != len(values):
            raise InputError(f"{len(values)} box(es) but {len(labels)} label(s)")
        return json.dumps(
            [{self.box_key: v, "label": lab} for v, lab in zip(values, labels, strict=True)], ensure_ascii=False
        )
