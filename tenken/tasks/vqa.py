"""Visual question answering: a question about an image, a text answer."""

from __future__ import annotations

from tenken.configs import Lang
from tenken.core.images import ImageInput, load_image
from tenken.tasks.prompts import VQA_SHORT, fill
from tenken.vlm.backends.base import VLMRequest
from tenken.vlm.model import VLM


def ask(
    vlm: VLM,
    image: ImageInput,
    question: str,
    lang: Lang = "ja",
    short: bool = False,
    max_new_tokens: int | None = None,
) -> str:
    """Ask ``question`` about ``image``; returns the model's answer (whitespace trimmed).

    Args:
        vlm: a model from :func:`tenken.load_vlm`.
        image: a path, encoded bytes or an RGB array.
        question: the question, in any language (the answer usually follows it).
        lang: language of the instruction added when ``short`` is set.
        short: ask for a single word or short phrase (the JA-VG-VQA / VQAv2 answer style).
        max_new_tokens: cap on the answer length (the backend's default when None).
    """
    prompt = fill(VQA_SHORT, lang, question=question) if short else question
    req = VLMRequest(prompt, [load_image(image)], max_new_tokens=max_new_tokens)
    return vlm.generate([req])[0].strip()
