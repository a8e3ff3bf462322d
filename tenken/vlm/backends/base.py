"""The one backend interface: ``generate(requests) -> list[str]``, batched.

A request is a prompt with zero or more images (``(H, W, 3)`` uint8 RGB arrays, as
:func:`tenken.load_image` returns). Backends count what they did in :class:`BackendStats`; a batch with
failed items raises :class:`BackendError` *after* every item was tried, carrying the finished answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from tenken.core.errors import TenkenError


@dataclass
class VLMRequest:
    """One generation request.

    Attributes:
        prompt: the user's text.
        images: ``(H, W, 3)`` uint8 RGB arrays shown before the text, in order.
        system: optional system message.
        max_new_tokens: cap on generated tokens (the backend's default when None).
    """

    prompt: str
    images: list[np.ndarray] = field(default_factory=list)
    system: str | None = None
    max_new_tokens: int | None = None


@dataclass
class Generation:
    """One answer with its accounting (what an OpenAI-compatible server reports as ``usage``).

    Attributes:
        text: the answer.
        prompt_tokens: tokens of the rendered prompt (image tokens included, padding excluded).
        completion_tokens: tokens generated for this answer (its end-of-sequence token included).
        finish_reason: ``"stop"`` (the model ended the answer) or ``"length"`` (``max_new_tokens`` cut it).
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


@dataclass
class BackendStats:
    """Counters of a backend's work since it was created (times in milliseconds, summed over calls).

    ``preprocess_ms`` (prompt rendering, image conversion, tokenisation), ``generate_ms`` (the model or the
    server) and ``postprocess_ms`` (decoding) let a benchmark separate tenken's overhead from generation.
    """

    requests: int = 0
    completed: int = 0
    failures: int = 0
    retries: int = 0
    preprocess_ms: float = 0.0
    generate_ms: float = 0.0
    postprocess_ms: float = 0.0
    status_counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready copy."""
        return asdict(self)


class BackendError(TenkenError):
    """Some requests of a batch failed (after retries). ``results[i]`` is None exactly for failed items;
    ``errors`` maps the failed index to its cause. Finished answers are never lost."""

    def __init__(self, message: str, results: list[str | None], errors: dict[int, str]) -> None:
        super().__init__(message)
        self.results = results
        self.errors = errors


@runtime_checkable
class Backend(Protocol):
    """Anything that turns requests into answers, one string per request, in order."""

    name: str
    stats: BackendStats

    def generate(self, requests: Sequence[VLMRequest]) -> list[str]:
        """Answers in request order; raises :class:`BackendError` if any request failed."""
        ...
