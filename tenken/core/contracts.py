"""The contracts between the stages of inspection: what an aligned pair is, what a pass-1 detector and a
pass-2 labeller must provide, the prompt languages, and the label of an unlabelled change.

They live in ``tenken.core``, below everything that implements them (``tenken.changedet``,
``tenken.tasks.anomaly``, a user's own detector) and everything that uses them (``tenken.inspect``), so no
package has to import a package above it. See ``docs/architecture.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    """Pass 1: propose candidate boxes (target pixels) over an aligned pair.

    A detector that can note problems without failing (e.g. an unreadable part of a model's answer) also
    implements :class:`WarnsOnDetect`.
    """

    name: str

    def detect(self, pair: AlignedPair) -> Detections:
        """Candidates in target pixels; ``sources`` set to this detector's ``name``."""
        ...


@runtime_checkable
class WarnsOnDetect(Protocol):
    """A pass-1 detector that reports problems which did not stop its last :meth:`detect` call.

    Attributes:
        last_warnings: the warnings of the most recent ``detect`` call only (each call starts a new list), so
            the caller reads it right after the call; the inspector copies them into the report.
    """

    last_warnings: list[str]


@dataclass
class Labels:
    """What a pass-2 labeller returns for the candidates of one target (each list has one entry per box).

    Attributes:
        detections: the candidates' boxes, scores and sources unchanged; ``labels`` = ``label_pass2``.
        label_pass1: the label each candidate came with from pass 1 (None when it had none).
        label_pass2: the canonical class id given in pass 2 (``"unknown"`` when the answer named none).
        answer_pass2: the labeller's raw answer (None when its request failed).
        warnings: problems that did not stop labelling (e.g. some requests failed).
    """

    detections: Detections
    label_pass1: list[str | None]
    label_pass2: list[str]
    answer_pass2: list[str | None]
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def relabelled(cls, candidates: Detections, labelled: Detections) -> Labels:
        """The pass-2 result of a labeller that returns plain :class:`Detections` (its labels are the pass-2
        labels; the pass-1 labels are the candidates'; no raw answers)."""
        return cls(
            labelled,
            [lab or None for lab in candidates.labels],
            list(labelled.labels),
            [None] * len(labelled),
        )

    def __post_init__(self) -> None:
        n = len(self.detections)
        for name in ("label_pass1", "label_pass2", "answer_pass2"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Labels.{name} has {len(getattr(self, name))} entries for {n} boxes")


@runtime_checkable
class Labeller(Protocol):
    """Pass 2: give each candidate one label from ``classes`` (or ``"unknown"``)."""

    def label(self, target: np.ndarray, candidates: Detections, classes: AnomalyClasses, lang: Lang) -> Labels:
        """The candidates' pass-2 labels (see :class:`Labels`; returning the relabelled :class:`Detections`
        is accepted too, see :meth:`Labels.relabelled`)."""
        ...
