"""The VLM's two jobs in the anomaly pipeline: pass-1 candidates on the composite, pass-2 labels on crops.

:class:`VLMCandidateDetector` implements :class:`tenken.core.contracts.CandidateDetector`;
:class:`VLMLabeller` implements :class:`tenken.core.contracts.Labeller`. The Inspector plugs them in
(``detector="vlm"`` or ``"hybrid"``).
"""

from __future__ import annotations

import numpy as np

from tenken.configs import UNKNOWN, AnomalyClasses, Lang
from tenken.core.boxes import ImageSize, clip_boxes
from tenken.core.contracts import AlignedPair, Labels
from tenken.core.detections import Detections
from tenken.core.images import image_size
from tenken.tasks.prompts import ANOMALY_PASS1, ANOMALY_PASS2, fill
from tenken.viz.draw import side_by_side
from tenken.vlm.backends.base import BackendError, VLMRequest
from tenken.vlm.model import VLM
from tenken.vlm.parse import answer_text, parse_detections
from tenken.vlm.slicing import SliceOptions, collect, make_tiles, merge_sliced


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
        slicing: None sends one composite of the whole pair. A :class:`~tenken.vlm.slicing.SliceOptions`
            (e.g. ``slice_options(vlm.family.name)``) cuts the target into overlapping tiles and the aligned
            reference into the *same* tiles, sends one composite per tile (tile of the target left, the same
            tile of the reference right; each half within ``pixel_budget``, so a composite is about twice it)
            plus the whole-pair composite when ``whole_image``, all in one batched ``generate``; boxes are
            mapped back to target pixels and merged by :func:`~tenken.vlm.slicing.merge_sliced`.

    Boxes the model puts in the right half (the reference) are dropped; the others are clipped to the target
    (tile) and, since the target keeps its pixel coordinates on the composite, are target (tile) pixels as they
    stand. Pass-1 labels are normalised to class ids (``"unknown"`` when the model's label names none).
    """

    name = "vlm"

    def __init__(
        self,
        vlm: VLM,
        classes: AnomalyClasses,
        lang: Lang = "ja",
        max_new_tokens: int | None = None,
        slicing: SliceOptions | None = None,
    ):
        self.vlm = vlm
        self.classes = classes
        self.lang = lang
        self.max_new_tokens = max_new_tokens
        self.slicing = slicing
        self.last_warnings: list[str] = []

    def prompt(self) -> str:
        """The pass-1 instruction."""
        return fill(
            ANOMALY_PASS1,
            self.lang,
            classes=class_list(self.classes, self.lang),
            fmt=self.vlm.family.box_instruction(self.lang),
        )

    def detect(self, pair: AlignedPair) -> Detections:
        """Candidates in target pixels, ``sources == "vlm"``; parse problems (and, sliced, failed tile
        requests) go to :attr:`last_warnings` (a new list each call: :class:`tenken.core.contracts.WarnsOnDetect`).

        Sliced, the result also carries ``extra["tile"]`` (the tile each kept box came from, -1 for the whole
        pair) and ``extra["cut"]``.
        """
        self.last_warnings = []
        if self.slicing is None:
            composite = side_by_side(pair.target, pair.reference)
            answer = self.vlm.generate([VLMRequest(self.prompt(), [composite], max_new_tokens=self.max_new_tokens)])
            return self._left_boxes(answer[0], image_size(composite), image_size(pair.target), self.last_warnings)
        tiles = make_tiles(image_size(pair.target), self.slicing)
        composites = [side_by_side(t.crop(pair.target), t.crop(pair.reference)) for t in tiles]
        requests = [VLMRequest(self.prompt(), [c], max_new_tokens=self.max_new_tokens) for c in composites]
        try:
            answers: list[str | None] = list(self.vlm.generate(requests))
        except BackendError as exc:  # keep the tiles that did answer
            answers = list(exc.results)
            self.last_warnings.append(f"sliced pass 1: {exc}")
        per_tile = []
        for tile, composite, answer in zip(tiles, composites, answers, strict=True):
            if answer is None:
                continue
            notes: list[str] = []
            per_tile.append((tile, self._left_boxes(answer, image_size(composite), tile.sent_size, notes)))
            self.last_warnings.extend(f"tile {tile.index}: {n}" for n in notes)
        if not per_tile:
            return Detections.empty(image_size(pair.target))
        return merge_sliced(collect(per_tile, self.slicing.edge_px), self.slicing)

    def _left_boxes(self, answer: str, comp_size: ImageSize, left_size: ImageSize, notes: list[str]) -> Detections:
        """The answer's boxes on a composite of ``comp_size`` that lie in its left image (``left_size``), in
        pixels of that left image, labels normalised to class ids."""
        dets = parse_detections(
            answer,
            self.vlm.family,
            comp_size,
            self.vlm.processed_size(comp_size),
            source=self.name,
            warnings_out=notes,
        )
        if len(dets) == 0:
            return Detections.empty(left_size)
        centre_x = (dets.xyxy[:, 0] + dets.xyxy[:, 2]) / 2
        left = dets[centre_x < left_size[0]]
        boxes = clip_boxes(left.xyxy, left_size)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return Detections(
            boxes[keep],
            left.scores[keep],
            [self.classes.normalize(lab) for lab, k in zip(left.labels, keep, strict=True) if k],
            [self.name] * int(keep.sum()),
            left_size,
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
    ``"unknown"`` (``answer_pass2`` None) and the failure is noted in the result's ``warnings``; the others keep
    theirs.
    """

    def __init__(self, vlm: VLM, margin: float = 0.25, max_new_tokens: int | None = 16):
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.vlm = vlm
        self.margin = margin
        self.max_new_tokens = max_new_tokens

    def label(self, target: np.ndarray, candidates: Detections, classes: AnomalyClasses, lang: Lang) -> Labels:
        """The candidates relabelled with the normalised pass-2 answer (a class id or ``"unknown"``), with the
        pass-1 labels, the raw answers and any warnings (see :class:`tenken.core.contracts.Labels`)."""
        answers: list[str | None] = []
        warnings: list[str] = []
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
                warnings.append(f"pass 2: {exc}")
        pass2 = [UNKNOWN if a is None else classes.normalize(answer_text(a)) for a in answers]
        return Labels(
            candidates.with_labels(pass2),
            [lab or None for lab in candidates.labels],
            pass2,
            answers,
            warnings,
        )


__all__ = ["UNKNOWN", "VLMCandidateDetector", "VLMLabeller", "class_list", "crop_with_margin"]
