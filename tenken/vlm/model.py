"""``VLM``: a backend (how to generate) joined with a family (how to prompt for and read boxes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tenken.core.boxes import ImageSize
from tenken.vlm.backends.base import Backend, BackendStats, VLMRequest
from tenken.vlm.families import Family


@dataclass
class VLM:
    """A loaded vision-language model.

    Attributes:
        backend: generates answers (``transformers`` in process, or ``openai`` over HTTP).
        family: the model's prompt and box conventions.
        name: the checkpoint path, hub id or server model name (for reports).
    """

    backend: Backend
    family: Family
    name: str

    def generate(self, requests: Sequence[VLMRequest]) -> list[str]:
        """One answer per request, in order (batched by the backend)."""
        return self.backend.generate(requests)

    def processed_size(self, image_size: ImageSize) -> ImageSize:
        """``(width, height)`` of an image of ``image_size`` as the model sees it."""
        return self.family.processed_size(image_size)

    @property
    def stats(self) -> BackendStats:
        """The backend's counters (requests, retries, failures, time split)."""
        return self.backend.stats

    def describe(self) -> dict[str, str]:
        """``{"backend", "name", "family"}`` for the ``model`` section of a report."""
        return {"backend": self.backend.name, "name": self.name, "family": self.family.name}
