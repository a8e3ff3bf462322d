"""The teacher models a recipe plugs in: a VLM, a text LLM, a text-promptable segmenter, a sentence embedder.

Every teacher is loaded from a spec a user types:

- **VLM** (:class:`TeacherVLM`): anything :func:`tenken.load_vlm` takes — a local checkpoint, a hub id, or
  ``openai:MODEL@URL`` for an OpenAI-compatible server (vLLM serving Qwen3-VL-235B, SGLang, ...).
- **LLM** (:class:`TextLLM`): ``openai:MODEL@URL`` (a text model on the same kind of server; no family is
  needed for text) or a local VLM checkpoint used with text only.
- **Segmenter** (:class:`Segmenter`): a local SAM 3 checkpoint (transformers ``Sam3Model`` /
  ``Sam3Processor``: text prompt -> every instance), or any grounding VLM spec (``vlm:SPEC``: the VLM's
  grounding answer read as instances), so a second, independent model can play the segmenter's part.
- **Embedder** (:class:`Embedder`): any sentence-transformers checkpoint directory or hub id.

Boxes in and out of every teacher are tenken's one convention: ``xyxy`` float pixels of the image given,
after EXIF orientation. Model conventions are converted by the VLM family adapter only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tenken.configs import Lang
from tenken.core.detections import Detections
from tenken.core.errors import InputError, ModelLoadError, require_module
from tenken.core.images import image_size
from tenken.vlm.backends.base import Backend, VLMRequest
from tenken.vlm.model import VLM

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


class TeacherVLM:
    """A VLM asked for text, for boxes, or about a region given as a box.

    Args:
        vlm: a loaded :class:`~tenken.vlm.model.VLM` (``tenken.load_vlm(spec)``).
        max_new_tokens: cap on each answer's tokens (None: the backend's default).
    """

    role = "vlm"

    def __init__(self, vlm: VLM, max_new_tokens: int | None = None) -> None:
        self.vlm = vlm
        self.max_new_tokens = max_new_tokens

    @property
    def name(self) -> str:
        """The model id recorded in each sample's provenance."""
        return self.vlm.name

    def ask(self, prompt: str, image: np.ndarray | None = None) -> str:
        """The answer to ``prompt`` about ``image`` (``(H, W, 3)`` uint8 RGB; None: text only)."""
        images = [] if image is None else [image]
        return self.vlm.generate([VLMRequest(prompt, images, max_new_tokens=self.max_new_tokens)])[0]

    def box_instruction(self, lang: Lang) -> str:
        """The family's sentence that fixes the box format of an answer."""
        return self.vlm.family.box_instruction(lang)

    def scale_note(self, lang: Lang) -> str:
        """The family's sentence on the coordinate scale (empty when the family knows it by training)."""
        return self.vlm.family.scale_note(lang)

    def read_boxes(self, answer: str, image: np.ndarray, warnings_out: list[str] | None = None) -> Detections:
        """Boxes of an answer (the family's frame) -> :class:`Detections` in pixels of ``image``."""
        from tenken.vlm.parse import parse_detections

        size = image_size(image)
        return parse_detections(answer, self.vlm.family, size, self.vlm.processed_size(size), warnings_out=warnings_out)

    def box_text(self, box: Sequence[float], image: np.ndarray) -> str:
        """``box`` (pixel xyxy of ``image``) written in the family's frame, e.g. ``[120, 40, 388, 260]``."""
        size = image_size(image)
        b = self.vlm.family.from_pixels(np.asarray([box], dtype=np.float64), size, self.vlm.processed_size(size))[0]
        return "[" + ", ".join(str(round(float(v))) for v in b) + "]"

    def ground(self, image: np.ndarray, expression: str, lang: Lang) -> Detections:
        """Every instance of ``expression`` (tenken's grounding prompt), pixel boxes of ``image``."""
        from tenken.tasks.grounding import ground

        return ground(self.vlm, image, expression, lang, max_new_tokens=self.max_new_tokens, warnings_out=[])


class TextLLM:
    """A text-only model behind the same backend interface (an OpenAI-compatible server or a local VLM).

    Args:
        backend: anything with ``generate(requests) -> list[str]``.
        name: the model id recorded in provenance.
        max_new_tokens: cap on each answer's tokens (None: the backend's default).
    """

    role = "llm"

    def __init__(self, backend: Backend, name: str, max_new_tokens: int | None = None) -> None:
        self.backend = backend
        self.name = name
        self.max_new_tokens = max_new_tokens

    def complete(self, prompt: str, system: str | None = None) -> str:
        """The model's answer to ``prompt``."""
        req = VLMRequest(prompt, [], system=system, max_new_tokens=self.max_new_tokens)
        return self.backend.generate([req])[0]

    def complete_many(self, prompts: Sequence[str], system: str | None = None) -> list[str]:
        """Answers to ``prompts`` in order (one batch: concurrent over a server)."""
        reqs = [VLMRequest(p, [], system=system, max_new_tokens=self.max_new_tokens) for p in prompts]
        return self.backend.generate(reqs)


@runtime_checkable
class Segmenter(Protocol):
    """Text prompt -> every instance it names, as :class:`Detections` (pixel xyxy of ``image``, scores)."""

    name: str

    def segment(self, image: np.ndarray, text: str) -> Detections:
        """Instances of ``text`` in ``image`` (``(H, W, 3)`` uint8 RGB)."""
        ...


class Sam3Segmenter:
    """SAM 3 promptable concept segmentation through transformers (``Sam3Model`` + ``Sam3Processor``).

    Args:
        path: a SAM 3 checkpoint directory or hub id.
        threshold: instance score threshold (transformers' default 0.3 is for recall; 0.5 keeps the
            instances SAM 3 is sure of, which is what a count gate needs).
        mask_threshold: mask binarisation threshold.
        device: torch device (default: CUDA when available).
    """

    def __init__(self, path: str, threshold: float = 0.5, mask_threshold: float = 0.5, device: str | None = None):
        torch = require_module("torch", "vlm", "the SAM 3 segmenter")
        transformers = require_module("transformers", "vlm", "the SAM 3 segmenter")
        if not hasattr(transformers, "Sam3Model"):
            raise ModelLoadError(
                f"transformers {transformers.__version__} has no Sam3Model: pip install -U transformers"
            )
        self.name = str(path)
        self.threshold = threshold
        self.mask_threshold = mask_threshold
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.processor = transformers.Sam3Processor.from_pretrained(path)
            self.model = transformers.Sam3Model.from_pretrained(path).to(self.device).eval()
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{path}: cannot load a SAM 3 checkpoint ({exc})") from None

    def segment(self, image: np.ndarray, text: str) -> Detections:
        """Instances of ``text``: boxes in pixels of ``image``, scores in [0, 1], source ``sam3``."""
        import torch
        from PIL import Image

        w, h = image_size(image)
        inputs = self.processor(images=Image.fromarray(image), text=text, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            outputs = self.model(**inputs)
        res = self.processor.post_process_instance_segmentation(
            outputs, threshold=self.threshold, mask_threshold=self.mask_threshold, target_sizes=[(h, w)]
        )[0]
        boxes = res["boxes"].detach().float().cpu().numpy().reshape(-1, 4)
        scores = res["scores"].detach().float().cpu().numpy().reshape(-1)
        boxes = np.clip(np.nan_to_num(boxes), 0, [w, h, w, h])
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        n = int(keep.sum())
        return Detections(boxes[keep], np.clip(scores[keep], 0, 1), [text] * n, ["sam3"] * n, (w, h))


class GroundingSegmenter:
    """A grounding VLM playing the segmenter: its grounding answer for the text, read as instances.

    Use it when no SAM 3 checkpoint is at hand, or to make a count gate agree two *different* VLMs. The
    grounding prompt is Japanese for a text with kana or kanji, else English.
    """

    def __init__(self, vlm: TeacherVLM) -> None:
        self.teacher = vlm
        self.name = f"grounding:{vlm.name}"

    def segment(self, image: np.ndarray, text: str) -> Detections:
        """Boxes of every instance of ``text`` by the VLM's grounding (pixels of ``image``)."""
        lang: Lang = "ja" if _JAPANESE.search(text) else "en"
        return self.teacher.ground(image, text, lang)


class Embedder:
    """A sentence-transformers model: cosine similarity of texts.

    Args:
        path: a checkpoint directory or hub id (any sentence-transformers model; a multilingual one such as
            ``paraphrase-multilingual-MiniLM-L12-v2`` for EN -> JA).
        device: torch device (default: sentence-transformers' choice).
    """

    role = "embedder"

    def __init__(self, path: str, device: str | None = None) -> None:
        st = require_module("sentence_transformers", "data", "the sentence embedder")
        try:
            self.model = st.SentenceTransformer(str(path), device=device)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{path}: cannot load a sentence-transformers model ({exc})") from None
        self.name = str(path)

    def similarity(self, source: str, candidates: Sequence[str]) -> np.ndarray:
        """Cosine similarity ``(len(candidates),)`` float64 of each candidate to ``source``."""
        if not candidates:
            return np.zeros(0)
        emb = self.model.encode([source, *candidates], normalize_embeddings=True, convert_to_numpy=True)
        return (emb[1:] @ emb[0]).astype(np.float64)


@dataclass
class Teachers:
    """The teacher models of one job (a recipe says which it needs).

    Attributes:
        vlm, llm, segmenter, embedder: the teachers (None when not given).
        llm2: the second text model translate falls back to when a translation's length is out of band.
    """

    vlm: TeacherVLM | None = None
    llm: TextLLM | None = None
    segmenter: Segmenter | None = None
    embedder: Embedder | None = None
    llm2: TextLLM | None = None

    def ids(self) -> dict[str, str]:
        """``{role: model id}`` of the teachers present, for provenance."""
        roles = {
            "vlm": self.vlm,
            "llm": self.llm,
            "segmenter": self.segmenter,
            "embedder": self.embedder,
            "llm2": self.llm2,
        }
        return {k: v.name for k, v in roles.items() if v is not None}

    def require(self, recipe: str, *roles: str) -> None:
        """Raise :class:`InputError` naming each role ``recipe`` needs that was not given."""
        missing = [r for r in roles if getattr(self, r) is None]
        if missing:
            flags = ", ".join(f"--{r}" for r in missing)
            raise InputError(f"recipe {recipe!r} needs the teacher(s) {', '.join(missing)}: give {flags}")


def load_teacher_vlm(spec: str, family: str | None = None, **options: Any) -> TeacherVLM:
    """A :class:`TeacherVLM` from a :func:`tenken.load_vlm` spec (``family`` required over a server)."""
    from tenken.vlm.loader import load_vlm

    return TeacherVLM(load_vlm(spec, family=family, **options))


def load_llm(spec: str, **options: Any) -> TextLLM:
    """A :class:`TextLLM`: ``openai:MODEL@URL`` (a chat server; ``options`` go to the OpenAI backend:
    ``timeout``, ``max_retries``, ``temperature``, ``concurrency``, ``api_key``) or a local VLM checkpoint."""
    from tenken.vlm.loader import load_vlm, parse_openai_spec

    server = parse_openai_spec(spec)
    if server is not None:
        from tenken.vlm.backends.openai_compat import OpenAIBackend

        model, url = server
        return TextLLM(OpenAIBackend(model, url, **options), model)
    return TextLLM(load_vlm(spec, **options).backend, spec)


def load_segmenter(spec: str, family: str | None = None, threshold: float = 0.5, **options: Any) -> Segmenter:
    """A :class:`Segmenter`: ``vlm:SPEC`` (a grounding VLM, ``family`` as for ``load_vlm``) or a SAM 3
    checkpoint directory / hub id."""
    if spec.startswith("vlm:"):
        return GroundingSegmenter(load_teacher_vlm(spec[4:], family=family, **options))
    if Path(spec).expanduser().exists() or "/" in spec:
        return Sam3Segmenter(spec, threshold=threshold)
    raise InputError(f"segmenter spec {spec!r}: expected a SAM 3 checkpoint directory or hub id, or vlm:SPEC")
