"""The contracts between the stages of inspection: what an aligned pair is, what a pass-1 detector and a
pass-2 labeller must provide, the prompt languages, and the label of an unlabelled change.

They live in ``tenken.core``, below everything that implements them (``tenken.changedet``,
``tenken.tasks.anomaly``, a user's own detector) and everything that uses them (``tenken.inspect``), so no
package has to import a package above it. See ``docs/architecture.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import numpy as np

from tenken.core.detections import Detections

if TYPE_CHECKING:
    from tenken.align.types import Alignment
    from tenken.configs import AnomalyClasses

Lang = Literal["ja", "en"]
"""A prompt / display language."""

CHANGE = "change"
"""The label of a candidate that no labeller has named (what the classical change detector finds)."""


@dataclass
class AlignedPair:
    """A target and its reference in the same pixel frame (the input of every pass-1 detector).

    Attributes:
        target: ``(H, W, 3)`` uint8 RGB target image.
        reference: ``(H, W, 3)`` uint8 RGB reference warped into target pixels.
        valid_mask: ``(H, W)`` bool, True where ``reference`` has real pixels.
        alignment: the figures of the alignment that produced ``reference``.
    """

    target: np.ndarray
    reference: np.ndarray
    valid_mask: np.ndarray
    alignment: Alignment


@runtime_checkable
class CandidateDetector(Protocol):
    """Pass 1: propose candidate boxes (target pixels) over an aligned pair."""

    name: str

    def detect(self, pair: AlignedPair) -> Detections:
        """Candidates in target pixels; ``sources`` set to this detector's ``name``."""
        ...


@runtime_checkable
class Labeller(Protocol):
    """Pass 2: give each candidate one label from ``classes`` (or ``"unknown"``)."""

    def label(self, target: np.ndarray, candidates: Detections, classes: AnomalyClasses, lang: Lang) -> Detections:
        """Same boxes, ``labels`` replaced by canonical class ids; the pass-1 label kept in
        ``extra["label_pass1"]`` and the raw pass-2 answer in ``extra["label_pass2"]``."""
        ...
