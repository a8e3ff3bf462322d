"""Visual grounding: every instance an expression refers to, as boxes in image pixels."""

from __future__ import annotations

from tenken.configs import Lang
from tenken.core.detections import Detections
from tenken.core.images import ImageInput, image_size, load_image
from tenken.tasks.prompts import GROUND, fill
from tenken.vlm.backends.base import VLMRequest
from tenken.vlm.model import VLM
from tenken.vlm.parse import parse_detections


def grounding_prompt(vlm: VLM, expression: str, lang: Lang = "ja") -> str:
    """The grounding prompt for ``expression`` with ``vlm``'s box-format instruction."""
    return fill(GROUND, lang, expression=expression, fmt=vlm.family.box_instruction(lang))


def ground(
    vlm: VLM,
    image: ImageInput,
    expression: str,
    lang: Lang = "ja",
    max_new_tokens: int | None = None,
    warnings_out: list[str] | None = None,
) -> Detections:
    """Boxes of every instance of ``expression`` ("all the cones" gives one box per cone).

    Returns:
        ``Detections`` in pixels of ``image`` (after EXIF orientation), ``sources == "vlm"``; a box's label is
        the model's label, or ``expression`` when the model gave none. An unparsable answer gives no boxes
        and a warning (appended to ``warnings_out`` when given).
    """
    img = load_image(image)
    size = image_size(img)
    answer = vlm.generate([VLMRequest(grounding_prompt(vlm, expression, lang), [img], max_new_tokens=max_new_tokens)])[
        0
    ]
    dets = parse_detections(answer, vlm.family, size, vlm.processed_size(size), warnings_out=warnings_out)
    return dets.with_labels([lab or expression for lab in dets.labels])
