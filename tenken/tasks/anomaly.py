"""The VLM's two jobs in the anomaly pipeline: pass-1 candidates on the composite, pass-2 labels on crops.

:class:`VLMCandidateDetector` implements :class:`tenken.core.contracts.CandidateDetector`;
:class:`VLMLabeller` implements :class:`tenken.core.contracts.Labeller`. The Inspector plugs them in
(``detector="vlm"`` or ``"hybrid"``).
"""

from __future__ import annotations

import numpy as np

from tenken.configs import UNKNOWN, AnomalyClasses, Lang
from tenken.core.boxes import clip_boxes
from tenken.core.contracts import AlignedPair
from tenken.core.detections import Detections
from tenken.core.images import image_size
from tenken.tasks.prompts import ANOMALY_PASS1, ANOMALY_PASS2, fill
from tenken.viz.draw import side_by_side
from tenken.vlm.backends.base import BackendError, VLMRequest
from tenken.vlm.model import VLM
from tenken.vlm.parse import answer_text, parse_detections


def class_list(classes: AnomalyClasses, lang: Lang) -> str:
    """The class names in ``lang``, comma separated (what the prompts show)."""
    sep = "、" if lang == "ja" else ", "
    return sep.join(c.name(lang) for c in classes.classes)


class VLMCandidateDetector:
    """Pass 1: the VLM looks at the composite (target left, aligned reference right) and lists what is new.

    Args:
        vlm: a model from :func:`tenken.load_vlm`.
        classes: the anomaly classes named in the instruction.
        lang: prompt language.
        max_new_tokens: cap on the answer length.

    Boxes the model puts in the right half (the reference) are dropped; the others are clipped to the target
    and, since the target keeps its pixel coordinates on the composite, are target pixels as they stand.
    Pass-1 labels are normalised to class ids (``"unknown"`` when the model's label names none).
    """

    name = "vlm"

    def __init__(self, vlm: VLM, classes: AnomalyClasses, lang: Lang = "ja", max_new_tokens: int | None = None):
        self.vlm = vlm
        self.classes = classes
        self.lang = lang
        self.max_new_tokens = max_new_tokens
        self.warnings: list[str] = []

    def prompt(self) -> str:
        """The pass-1 instruction."""
        return fill(
            ANOMALY_PASS1,
            self.lang,
            classes=class_list(self.classes, self.lang),
            fmt=self.vlm.family.box_instruction(self.lang),
        )

    def detect(self, pair: AlignedPair) -> Detections:
        """Candidates in target pixels, ``sources == "vlm"``; parse problems go to :attr:`warnings`."""
        composite = side_by_side(pair.target, pair.reference)
        comp_size = image_size(composite)
        target_size = image_size(pair.target)
        answer = self.vlm.generate([VLMRequest(self.prompt(), [composite], max_new_tokens=self.max_new_tokens)])[0]
        dets = parse_detections(
            answer,
            self.vlm.family,
            comp_size,
            self.vlm.processed_size(comp_size),
            source=self.name,
            warnings_out=self.warnings,
        )
        if len(dets) == 0:
            return Detections.empty(target_size)
        centre_x = (dets.xyxy[:, 0] + dets.xyxy[:, 2]) / 2
        left = dets[centre_x < target_size[0]]
        boxes = clip_boxes(left.xyxy, target_size)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return Detections(
            boxes[keep],
            left.scores[keep],
            [self.classes.normalize(lab) for lab, k in zip(left.labels, keep, strict=True) if k],
            [self.name] * int(keep.sum()),
            target_size,
        )


def crop_with_margin(image: np.ndarray, box: np.ndarray, margin: float, min_side: int = 32) -> np.ndarray:
    """The part of ``image`` around ``box`` (xyxy pixels), grown by ``margin`` x its size on every side.

    The crop is at least ``min_side`` pixels wide and high where the image allows, so tiny boxes keep context.
    """
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    bw, bh = x2 - x1, y2 - y1
    gx = max(bw * margin, (min_side - bw) / 2, 0.0)
    gy = max(bh * margin, (min_side - bh) / 2, 0.0)
    cx1, cy1 = max(0, int(np.floor(x1 - gx))), max(0, int(np.floor(y1 - gy)))
    cx2, cy2 = min(w, int(np.ceil(x2 + gx))), min(h, int(np.ceil(y2 + gy)))
    cx2, cy2 = max(cx2, min(w, cx1 + 1)), max(cy2, min(h, cy1 + 1))
    return np.ascontiguousarray(image[cy1:cy2, cx1:cx2])


class VLMLabeller:
    """Pass 2: one label per candidate, from a crop of the target with context around it.

    Args:
        vlm: a model from :func:`tenken.load_vlm`.
        margin: context added on each side, as a fraction of the box's width/height.
        max_new_tokens: cap on each answer.

    All crops of a target go to the backend in one batch. If some requests fail, their candidates get
    ``"unknown"`` (``answer_pass2`` None) and the failure is noted in :attr:`warnings`; the others keep theirs.
    """

    def __init__(self, vlm: VLM, margin: float = 0.25, max_new_tokens: int | None = 16):
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.vlm = vlm
        self.margin = margin
        self.max_new_tokens = max_new_tokens
        self.warnings: list[str] = []

    def label(self, target: np.ndarray, candidates: Detections, classes: AnomalyClasses, lang: Lang) -> Detections:
        """Same boxes; ``labels`` = the normalised pass-2 answer (a class id or ``"unknown"``).

        ``extra["label_pass1"]`` keeps the label each candidate came with (None when it had none),
        ``extra["label_pass2"]`` the normalised pass-2 label and ``extra["answer_pass2"]`` the raw answer.
        """
        answers: list[str | None] = []
        if len(candidates):
            prompt = fill(ANOMALY_PASS2, lang, classes=class_list(classes, lang))
            requests = [
                VLMRequest(prompt, [crop_with_margin(target, box, self.margin)], max_new_tokens=self.max_new_tokens)
                for box in candidates.xyxy
            ]
            try:
                answers = list(self.vlm.generate(requests))
            except BackendError as exc:  # keep the labels that did come back; the rest are unknown
                answers = list(exc.results)
                self.warnings.append(f"pass 2: {exc}")
        pass2 = [UNKNOWN if a is None else classes.normalize(answer_text(a)) for a in answers]
        extra = {
            **candidates.extra,
            "label_pass1": [lab or None for lab in candidates.labels],
            "label_pass2": pass2,
            "answer_pass2": answers,
        }
        return Detections(candidates.xyxy, candidates.scores, pass2, candidates.sources, candidates.image_size, extra)


__all__ = ["UNKNOWN", "VLMCandidateDetector", "VLMLabeller", "class_list", "crop_with_margin"]
