"""The hybrid detector's mark mode: a proposer's candidates become numbered marks, the VLM picks the new ones.

:class:`MarkCandidateDetector` implements :class:`tenken.core.contracts.CandidateDetector`. The proposer
(by default the classical change detector) finds candidate boxes on the aligned pair; they are drawn as
numbered marks (:mod:`tenken.vlm.marks`) on the target *and* at the same places on the aligned reference, the
two are shown side by side (now left, before right, enlarged crops of small candidates on the far right), and
the model answers with mark numbers as JSON. Each number maps back to its proposal's exact box, so the model
never writes a coordinate; a number that is not a mark is a warning (:attr:`last_warnings`), never guessed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tenken.configs import AnomalyClasses, Lang
from tenken.core.contracts import CHANGE, AlignedPair, CandidateDetector, WarnsOnDetect
from tenken.core.detections import Detections
from tenken.core.images import image_size
from tenken.tasks.anomaly import class_list
from tenken.tasks.prompts import ANOMALY_MARKS, ANOMALY_MARKS_CROPS_NOTE, fill
from tenken.viz.draw import side_by_side
from tenken.vlm.backends.base import BackendError, VLMRequest
from tenken.vlm.marks import MAX_MARKS, MarkedImage, read_marks, render_marks
from tenken.vlm.model import VLM


def marked_pair(pair: AlignedPair, proposals: Detections, small_px: float = 32.0) -> tuple[MarkedImage, np.ndarray]:
    """The marks of ``proposals`` (target pixels, at most :data:`~tenken.vlm.marks.MAX_MARKS`) on the target
    and, with the same numbers, on the aligned reference; the image sent to the model.

    Returns:
        ``(marked, image)``: ``marked`` maps numbers to boxes (:meth:`MarkedImage.box`); ``image`` is
        ``(H, 2W + 8 [+ panel], 3)`` uint8 RGB: marked target at offset 0, marked reference right of it, and
        the crop panel of small candidates (cut from the target) on the far right when there are any.
    """
    w = image_size(pair.target)[0]
    marked = render_marks(pair.target, proposals, small_px)
    reference = render_marks(pair.reference, proposals, small_px=0.0)
    image = side_by_side(marked.image[:, :w], reference.image)
    if marked.crops:
        image = np.concatenate([image, marked.image[:, w:]], axis=1)
    return marked, image


class MarkCandidateDetector:
    """Pass 1 of ``detector="hybrid"`` in mark mode: the VLM chooses among the proposer's candidates by number.

    Args:
        vlm: a model from :func:`tenken.load_vlm`.
        classes: the anomaly classes named in the instruction.
        proposer: any :class:`~tenken.core.contracts.CandidateDetector` (usually
            :class:`tenken.changedet.ChangeDetector`); its boxes are the only boxes this detector returns.
        lang: prompt language.
        small_px: proposals with a shorter side below this many pixels are also shown enlarged.
        max_new_tokens: cap on each answer.

    More than :data:`~tenken.vlm.marks.MAX_MARKS` proposals are split into several marked images (numbers
    restart at 1 in each), sent in one batched ``generate``. No proposals: nothing is sent.
    """

    name = "hybrid-marks"

    def __init__(
        self,
        vlm: VLM,
        classes: AnomalyClasses,
        proposer: CandidateDetector,
        lang: Lang = "ja",
        small_px: float = 32.0,
        max_new_tokens: int | None = 128,
    ) -> None:
        self.vlm = vlm
        self.classes = classes
        self.proposer = proposer
        self.lang = lang
        self.small_px = small_px
        self.max_new_tokens = max_new_tokens
        self.last_warnings: list[str] = []

    @property
    def last_conditions(self) -> Any:
        """The proposer's measured pair conditions (``None`` when it measures none), for the report."""
        return getattr(self.proposer, "last_conditions", None)

    def prompt(self, marked: MarkedImage) -> str:
        """The instruction for one marked pair."""
        crops = fill(ANOMALY_MARKS_CROPS_NOTE, self.lang) if marked.crops else ""
        return fill(ANOMALY_MARKS, self.lang, classes=class_list(self.classes, self.lang), crops=crops)

    def detect(self, pair: AlignedPair) -> Detections:
        """The proposals the model picked: exact proposer boxes and scores in target pixels, labelled with the
        model's class (normalised) or ``change`` when it gave none, ``sources == "hybrid-marks"``,
        ``extra["mark"]`` the mark number (within its marked image).

        Warnings (:attr:`last_warnings`, a new list each call): the proposer's own, unknown or out-of-range
        numbers, answers without a mark list, failed requests (their proposals are not returned).
        """
        self.last_warnings = []
        size = image_size(pair.target)
        proposals = self.proposer.detect(pair)
        if isinstance(self.proposer, WarnsOnDetect):
            self.last_warnings.extend(f"proposer: {w}" for w in self.proposer.last_warnings)
        if proposals.image_size is None:
            proposals = Detections(
                proposals.xyxy, proposals.scores, proposals.labels, proposals.sources, size, proposals.extra
            )
        if len(proposals) == 0:
            return Detections.empty(size)
        chunks = [np.arange(s, min(s + MAX_MARKS, len(proposals))) for s in range(0, len(proposals), MAX_MARKS)]
        views = [marked_pair(pair, proposals[idx], self.small_px) for idx in chunks]
        requests = [VLMRequest(self.prompt(m), [img], max_new_tokens=self.max_new_tokens) for m, img in views]
        try:
            answers: list[str | None] = list(self.vlm.generate(requests))
        except BackendError as exc:  # keep the marked images that were answered
            answers = list(exc.results)
            self.last_warnings.append(f"mark mode: {exc}")
        picked = []
        for part, ((marked, _), answer) in enumerate(zip(views, answers, strict=True)):
            if answer is None:
                continue
            notes: list[str] = []
            found = read_marks(answer, marked, "", notes)
            prefix = f"marked image {part + 1}: " if len(views) > 1 else ""
            self.last_warnings.extend(prefix + n for n in notes)
            picked.append(found)
        if not picked:
            return Detections.empty(size)
        found = picked[0].merge(*picked[1:])
        labels = [self.classes.normalize(lab) if lab and lab != CHANGE else CHANGE for lab in found.labels]
        return Detections(found.xyxy, found.scores, labels, [self.name] * len(found), size, found.extra)


__all__ = ["MarkCandidateDetector", "marked_pair"]
