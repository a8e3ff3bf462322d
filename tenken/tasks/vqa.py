"""Visual question answering: a question about an image (or a video clip's frames), a text answer."""

from __future__ import annotations

import os

from tenken.configs import Lang
from tenken.core.images import ImageInput, load_image
from tenken.tasks.prompts import VIDEO_FRAMES, VQA_SHORT, fill
from tenken.vlm.backends.base import VLMRequest
from tenken.vlm.model import VLM
from tenken.vlm.video import FRAME_PIXELS, MAX_FRAMES, uniform_frames


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


def ask_video(
    vlm: VLM,
    video: str | os.PathLike,
    question: str,
    lang: Lang = "ja",
    short: bool = False,
    max_frames: int = MAX_FRAMES,
    frame_pixels: int | None = FRAME_PIXELS,
    max_new_tokens: int | None = None,
) -> tuple[str, list[float]]:
    """Ask ``question`` about a video clip; the answer and the times (seconds) of the frames the model saw.

    Up to ``max_frames`` frames are sampled evenly (:func:`tenken.vlm.video.uniform_frames`), each downscaled
    to at most ``frame_pixels`` pixels, and sent as an ordered **list of images** in one request, with a line
    saying they are frames of one video and when they were taken. Every family and backend takes image lists
    (the transformers backend through the processor's image path, OpenAI-compatible servers as image parts),
    so no video processor (torchvision) is needed; the model's native video encoding (temporal patches) is
    not used.

    Raises:
        InputError: the video cannot be opened or decoded (the message names the file).
    """
    frames, times = uniform_frames(video, max_frames, frame_pixels)
    q = fill(VQA_SHORT, lang, question=question) if short else question
    sep = "、" if lang == "ja" else ", "
    prompt = fill(VIDEO_FRAMES, lang, n=str(len(frames)), times=sep.join(f"{t:.1f}" for t in times), question=q)
    answer = vlm.generate([VLMRequest(prompt, frames, max_new_tokens=max_new_tokens)])[0].strip()
    return answer, times
