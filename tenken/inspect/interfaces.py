"""The slots of the inspection pipeline: pass-1 candidate detectors and pass-2 labellers.

Any object with the right method plugs in: the classical change detector (``tenken.changedet``), the VLM
detector and labeller (``tenken.tasks.anomaly``), or a user's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from tenken.align.types import Alignment
from tenken.configs import AnomalyClasses, Lang
from tenken.core.detections import Detections
from tenken.viz.draw import side_by_side


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

    def composite(self, gap: int = 8) -> np.ndarray:
        """Target on the left (its pixel coordinates unchanged), aligned reference on the right."""
        return side_by_side(self.target, self.reference, gap=gap)


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
