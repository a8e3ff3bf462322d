"""Image–text similarity with any CLIP or SigLIP checkpoint through transformers (AutoModel + AutoProcessor).

The score is the cosine of the L2-normalised image and text embeddings (``get_image_features`` /
``get_text_features``), in [-1, 1]. Work is batched (``batch_size`` images or texts per forward pass) and runs
on CUDA when present. Documented choices for Japanese: ``line-corporation/clip-japanese-base`` (needs
``trust_remote_code``), ``google/siglip2-base-patch16-256`` and other multilingual SigLIP 2 models, or
``laion/CLIP-ViT-H-14-frozen-xlm-roberta-large-laion5B-s13B-b90k`` (open_clip format: convert first).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from tenken.core.errors import ModelLoadError, require_module


class ImageTextScorer:
    """A loaded CLIP/SigLIP model that embeds images and texts and scores their cosine similarity.

    Args:
        model: a local checkpoint directory or a hub id.
        device: ``"cpu"``, ``"cuda"``, ... (None: CUDA when available).
        batch_size: images or texts per forward pass.
        trust_remote_code: allow the checkpoint's own modelling code (clip-japanese-base needs it).

    Raises:
        ModelLoadError: the checkpoint or its processor cannot be loaded.
    """

    def __init__(
        self, model: str, device: str | None = None, batch_size: int = 32, trust_remote_code: bool = False
    ) -> None:
        torch = require_module("torch", "vlm", "image–text similarity")
        transformers = require_module("transformers", "vlm", "image–text similarity")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = batch_size
        try:
            self.model = transformers.AutoModel.from_pretrained(model, trust_remote_code=trust_remote_code)
            self.processor = transformers.AutoProcessor.from_pretrained(model, trust_remote_code=trust_remote_code)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"{model}: cannot load a CLIP/SigLIP model and processor ({exc})") from None
        self.model = self.model.to(self.device).eval()
        self.name = model
        # SigLIP was trained on texts padded to the full length; CLIP pads to the batch's longest text.
        self._padding: Any = "max_length" if "siglip" in type(self.model).__name__.lower() else True

    def _features(self, out: Any) -> Any:
        """Projected embeddings from ``get_*_features`` (a tensor, or an output whose ``pooler_output`` holds it)."""
        return out if hasattr(out, "norm") else out.pooler_output

    def embed_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """``(N, D)`` float32 unit vectors of ``images`` (each ``(H, W, 3)`` uint8 RGB)."""
        import torch

        chunks = []
        for k in range(0, len(images), self.batch_size):
            batch = self.processor(images=list(images[k : k + self.batch_size]), return_tensors="pt")
            with torch.inference_mode():
                pixels = batch["pixel_values"].to(self.device)
                feats = self._features(self.model.get_image_features(pixel_values=pixels))
            chunks.append(torch.nn.functional.normalize(feats.float(), dim=-1).cpu().numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """``(N, D)`` float32 unit vectors of ``texts`` (truncated to the model's text length)."""
        import torch

        chunks = []
        for k in range(0, len(texts), self.batch_size):
            batch = self.processor(
                text=list(texts[k : k + self.batch_size]), return_tensors="pt", padding=self._padding, truncation=True
            )
            inputs = {n: v.to(self.device) for n, v in batch.items() if n in ("input_ids", "attention_mask")}
            with torch.inference_mode():
                feats = self._features(self.model.get_text_features(**inputs))
            chunks.append(torch.nn.functional.normalize(feats.float(), dim=-1).cpu().numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)

    def pair_scores(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray:
        """``(N,)`` cosine of ``images[k]`` with ``texts[k]``."""
        if len(images) != len(texts):
            raise ValueError(f"{len(images)} images but {len(texts)} texts")
        if not images:
            return np.zeros(0, np.float32)
        return np.einsum("nd,nd->n", self.embed_images(images), self.embed_texts(texts))

    def matrix(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray:
        """``(I, T)`` cosine of every image with every text."""
        if not images or not texts:
            return np.zeros((len(images), len(texts)), np.float32)
        return self.embed_images(images) @ self.embed_texts(texts).T


@lru_cache(maxsize=2)
def load_scorer(model: str, device: str | None = None, batch_size: int = 32) -> ImageTextScorer:
    """One :class:`ImageTextScorer` per (model, device, batch size) per process (models are loaded once)."""
    return ImageTextScorer(model, device, batch_size)
