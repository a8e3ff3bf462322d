"""A scripted backend: answers chosen by the test, every request recorded (for prompt and mapping tests)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tenken.vlm.backends.base import BackendStats, VLMRequest
from tenken.vlm.families import get_family
from tenken.vlm.model import VLM


class ScriptedBackend:
    """Answers each request with ``answer(request)`` (or a fixed string) and keeps the requests it saw."""

    name = "scripted"

    def __init__(self, answer: str | Callable[[VLMRequest], str]) -> None:
        self.answer = answer
        self.seen: list[VLMRequest] = []
        self.stats = BackendStats()

    def generate(self, requests: Sequence[VLMRequest]) -> list[str]:
        self.seen.extend(requests)
        self.stats.requests += len(requests)
        return [self.answer(r) if callable(self.answer) else self.answer for r in requests]


def scripted_vlm(answer: str | Callable[[VLMRequest], str], family: str = "qwen3-vl", **family_options) -> VLM:
    """A :class:`VLM` over a :class:`ScriptedBackend`."""
    return VLM(ScriptedBackend(answer), get_family(family, **family_options), "scripted")
