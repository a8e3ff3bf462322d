"""What a curation filter says when it drops something: which filter, why, and the score against the threshold.

Every dropped sample or image gets one :class:`Drop` (the first filter in the chain that refused it); the
pipeline writes them to the side table ``dropped.jsonl`` so a threshold can be judged afterwards.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Drop:
    """One refusal.

    Attributes:
        filter: the filter's name as in the funnel (e.g. ``min_side``, ``phash_frequent``, ``similarity``).
        reason: a short human phrase (``"min side 120 px < 150 px"``).
        score: the measured value the threshold was applied to (None for yes/no rules).
        threshold: the threshold in force (None for yes/no rules).
        image: index of the refused image within its sample (None: the whole sample).
    """

    filter: str
    reason: str
    score: float | None = None
    threshold: float | None = None
    image: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Drop:
        """Inverse of :meth:`to_dict` (unknown keys ignored)."""
        return cls(d["filter"], d["reason"], d.get("score"), d.get("threshold"), d.get("image"))
