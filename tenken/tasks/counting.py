"""Counting: how many instances of an expression an image shows."""

from __future__ import annotations

from tenken.configs import Lang
from tenken.core.images import ImageInput, load_image
from tenken.tasks.grounding import ground
from tenken.tasks.prompts import COUNT, fill
from tenken.vlm.backends.base import VLMRequest
from tenken.vlm.model import VLM
from tenken.vlm.parse import parse_count


def count(vlm: VLM, image: ImageInput, expression: str, lang: Lang = "ja", max_new_tokens: int | None = 16) -> int:
    """The number of ``expression`` in ``image`` (>= 0).

    Asks for a number; when the answer holds none (digits, number words or kanji numerals), falls back to
    grounding and counts the boxes, so the result is always an int.
    """
    img = load_image(image)
    answer = vlm.generate([VLMRequest(fill(COUNT, lang, expression=expression), [img], max_new_tokens=max_new_tokens)])[
        0
    ]
    n = parse_count(answer)
    if n is None:
        n = len(ground(vlm, img, expression, lang, warnings_out=[]))
    return int(n)
