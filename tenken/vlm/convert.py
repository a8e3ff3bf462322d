"""Training samples -> a model family's chat: the marks of tenken's training format filled in the family's
conventions (the one place a stored box becomes model text; :mod:`tenken.vlm.parse` is the way back).

The training format (:mod:`tenken.data.format`) stores family-independent text with marks:

- ``<image>`` where each image goes, in order (no mark: all images before the first user turn's text);
- ``<bbox>`` where each box goes, in order. A turn whose text is nothing but ``<bbox>`` marks (and spaces or
  commas) becomes the family's whole answer, :meth:`~tenken.vlm.families.Family.format_boxes` (a JSON list
  with the family's box key and labels); a mark inside other text becomes ``[x1, y1, x2, y2]`` in the family's
  frame;
- ``<bbox_format>`` where the family's box-format sentence goes
  (:meth:`~tenken.vlm.families.Family.box_instruction`), so a grounding prompt trained on is the prompt
  :func:`tenken.tasks.grounding.grounding_prompt` asks at inference.

Inputs are plain data (this layer sits below :mod:`tenken.data`): messages as ``(role, text)`` pairs, boxes
as :class:`MarkedBox`, image sizes as ``(width, height)`` of the stored images (after EXIF orientation).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tenken.configs import Lang
from tenken.core.boxes import ImageSize
from tenken.core.errors import InputError
from tenken.vlm.families import Family

IMAGE_MARK = "<image>"
"""Where an image goes in a message's text."""
BOX_MARK = "<bbox>"
"""Where a box goes in a message's text."""
BOX_FORMAT_MARK = "<bbox_format>"
"""Where the model family's box-format sentence goes (its :meth:`Family.box_instruction`)."""

_ONLY_BOXES = re.compile(r"^(?:\s|,)*(?:<bbox>(?:\s|,)*)+$")


@dataclass(frozen=True)
class MarkedBox:
    """A box of a sample: ``xyxy`` float pixels of ``images[image]`` (tenken's convention) and its label."""

    xyxy: tuple[float, float, float, float]
    label: str = ""
    image: int = 0


def chat_messages(
    messages: Sequence[tuple[str, str]],
    boxes: Sequence[MarkedBox],
    image_sizes: Sequence[ImageSize],
    family: Family,
    lang: Lang,
) -> list[dict[str, Any]]:
    """The sample as chat messages in the ``transformers`` multimodal format, marks filled for ``family``.

    Args:
        messages: ``(role, text)`` turns with tenken's marks.
        boxes: the sample's boxes, in the order of the ``<bbox>`` marks.
        image_sizes: ``(width, height)`` of each stored image, in the order of the ``<image>`` marks.
        family: the model family whose box frame, box key and prompt sentence are used (Qwen2.5-VL:
            pixels of the ``smart_resize``-d image, with the family's ``min_pixels``/``max_pixels``).
        lang: language of the ``<bbox_format>`` sentence.

    Returns:
        ``[{"role": ..., "content": [{"type": "image"} | {"type": "text", "text": ...}, ...]}, ...]``.

    Raises:
        InputError: mark counts disagree with ``boxes`` / ``image_sizes``, or a box names a missing image.
    """
    text = "".join(t for _, t in messages)
    n_img, n_box = text.count(IMAGE_MARK), text.count(BOX_MARK)
    if n_img and n_img != len(image_sizes):
        raise InputError(f"{n_img} {IMAGE_MARK} mark(s) but {len(image_sizes)} image(s)")
    if n_box and n_box != len(boxes):
        raise InputError(f"{n_box} {BOX_MARK} mark(s) but {len(boxes)} box(es)")
    for b in boxes:
        if not 0 <= b.image < len(image_sizes):
            raise InputError(f"box {list(b.xyxy)} refers to image {b.image} but there are {len(image_sizes)} image(s)")
    box_iter = iter(boxes)
    images_placed = n_img > 0
    out: list[dict[str, Any]] = []
    for role, raw in messages:
        raw = raw.replace(BOX_FORMAT_MARK, family.box_instruction(lang))
        if BOX_MARK in raw and _ONLY_BOXES.match(raw):
            turn = [next(box_iter) for _ in range(raw.count(BOX_MARK))]
            raw = _answer(turn, image_sizes, family)
        else:
            raw = re.sub(re.escape(BOX_MARK), lambda _m: _inline(next(box_iter), image_sizes, family), raw)
        content: list[dict[str, Any]] = []
        if not images_placed and role == "user" and image_sizes:
            content.extend({"type": "image"} for _ in image_sizes)
            images_placed = True
        for i, piece in enumerate(raw.split(IMAGE_MARK)):
            if i:
                content.append({"type": "image"})
            if piece:
                content.append({"type": "text", "text": piece})
        out.append({"role": role, "content": content})
    return out


def _answer(turn: list[MarkedBox], image_sizes: Sequence[ImageSize], family: Family) -> str:
    """A whole answer of boxes (all on one image, the usual case; else one list per image, concatenated)."""
    parts = []
    for image in dict.fromkeys(b.image for b in turn):
        sel = [b for b in turn if b.image == image]
        size = image_sizes[image]
        parts.append(family.format_boxes(np.array([b.xyxy for b in sel]), [b.label for b in sel], size))
    return "\n".join(parts)


def _inline(box: MarkedBox, image_sizes: Sequence[ImageSize], family: Family) -> str:
    return json.dumps(family.box_values(np.array([box.xyxy]), image_sizes[box.image])[0])
