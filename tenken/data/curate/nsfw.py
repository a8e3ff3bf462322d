"""NSFW classifiers: one score in [0, 1] per image, compared with ``nsfw_threshold``. Pluggable by registry.

- ``nudenet`` (default; its ONNX detector ships in the nudenet wheel, runs on CPU anywhere). Rule from
  detections to one score: **the highest confidence among the exposed-body classes** (``EXPOSED_CLASSES``:
  female breast, female/male genitalia, anus, buttocks exposed), 0 when none is detected. Covered body parts,
  faces, feet, belly and armpits do not count.
- ``clip``: zero-shot with the similarity model (``similarity_model``): softmax over the cosines with a safe
  and an unsafe prompt set, times 100 (CLIP's logit scale); the score is the total probability of the unsafe
  prompts.

A new classifier is one class registered with ``@NSFW_CLASSIFIERS.register("name")`` whose constructor takes
the :class:`~tenken.data.curate.options.CurateOptions` and whose ``scores(images)`` returns one float per
``(H, W, 3)`` uint8 RGB image.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from tenken.core.errors import InputError, require_module
from tenken.core.registry import Registry
from tenken.data.curate.options import CurateOptions


class NsfwClassifier(Protocol):
    """Scores images: 0 safe .. 1 unsafe."""

    def scores(self, images: Sequence[np.ndarray]) -> list[float]:
        """One score per ``(H, W, 3)`` uint8 RGB image."""
        ...


NSFW_CLASSIFIERS: Registry[type] = Registry("NSFW classifier", modules=("tenken.data.curate.nsfw",))

EXPOSED_CLASSES = frozenset(
    {"FEMALE_BREAST_EXPOSED", "FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_EXPOSED", "BUTTOCKS_EXPOSED"}
)
SAFE_PROMPTS = ("a photo", "a safe for work photo", "写真")
UNSAFE_PROMPTS = ("a nude photo", "a pornographic image", "ヌード写真")


@NSFW_CLASSIFIERS.register("nudenet")
class NudeNetClassifier:
    """nudenet's detector; score = highest confidence of an :data:`EXPOSED_CLASSES` detection (0 if none)."""

    def __init__(self, opts: CurateOptions) -> None:
        self._detector = require_module("nudenet", "curate", "the NSFW filter").NudeDetector()
        self.batch_size = min(opts.batch_size, 16)  # ONNX batches: ~1.7x the images/s of one at a time on CPU

    def scores(self, images: Sequence[np.ndarray]) -> list[float]:
        """One score per RGB image (nudenet reads BGR arrays)."""
        if not images:
            return []
        bgr = [np.ascontiguousarray(img[:, :, ::-1]) for img in images]
        found_all = self._detector.detect_batch(bgr, batch_size=self.batch_size)
        return [
            max((float(d["score"]) for d in found if d["class"] in EXPOSED_CLASSES), default=0.0) for found in found_all
        ]


@NSFW_CLASSIFIERS.register("clip")
class ClipNsfwClassifier:
    """Zero-shot CLIP/SigLIP: P(unsafe prompts) under a softmax of 100 x cosine over all prompts."""

    def __init__(self, opts: CurateOptions) -> None:
        if not opts.similarity_model:
            raise InputError("the clip NSFW classifier needs a similarity model (--similarity-model)")
        from tenken.data.curate.similarity import load_scorer

        self._scorer = load_scorer(opts.similarity_model, opts.device, opts.batch_size)
        self._prompts = self._scorer.embed_texts([*SAFE_PROMPTS, *UNSAFE_PROMPTS])

    def scores(self, images: Sequence[np.ndarray]) -> list[float]:
        """One score per RGB image."""
        if not images:
            return []
        logits = 100.0 * self._scorer.embed_images(images) @ self._prompts.T
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return p[:, len(SAFE_PROMPTS) :].sum(axis=1).astype(float).tolist()


def load_nsfw(opts: CurateOptions) -> NsfwClassifier | None:
    """The classifier named by ``opts.nsfw`` (None for ``"none"``).

    Raises:
        InputError: unknown name (the message lists the registered ones).
    """
    if opts.nsfw == "none":
        return None
    return NSFW_CLASSIFIERS.get(opts.nsfw)(opts)
