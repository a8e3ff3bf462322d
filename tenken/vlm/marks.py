"""Region-proposal grounding with numbered marks (the VLM-FO1 idea without its trained region encoder).

Proposals (boxes from the classical change detector or any detector) are drawn on the image as numbered
marks — thin outlines, the number on a tag *outside* the box so it never hides the object — and, when some
proposals are small, enlarged crops of them are put in a panel beside the image with the same numbers. The
model answers with mark numbers; each number maps back to its proposal's box exactly, so the model never
writes a coordinate. A number that is not a mark is reported, never rounded to a nearby one.

Numbering: marks are numbered from 1 in proposal order (mark ``k`` is ``proposals[k - 1]``). FO1-style
answers (``<ground>cone</ground><objects><region0><region2></objects>``) name regions from 0 in the same
order (``<regionK>`` is ``proposals[K]``), as FO1 numbers its region tokens.

Frames: proposals are ``xyxy`` pixels of the image; the marked image keeps the image at offset ``(0, 0)``
(the crop panel is appended on the right), so the same boxes are valid in both.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageDraw

from tenken.core.detections import Detections
from tenken.core.errors import InputError
from tenken.viz.fonts import font
from tenken.vlm.parse import ModelOutputWarning, _json_values

MAX_MARKS = 99
"""At most this many proposals are marked on one image (more would be unreadable; split the request)."""

_TAG_COLOURS = [
    (230, 25, 75), (0, 130, 200), (245, 130, 48), (60, 180, 75), (145, 30, 180), (0, 128, 128),
    (240, 50, 230), (128, 0, 0), (170, 110, 40), (0, 0, 128),
]  # fmt: skip
_LIST_KEYS = ("marks", "mark", "ids", "id", "numbers", "number", "regions", "region", "answer", "selected", "objects")
_LABEL_KEYS = ("label", "name", "class", "category")
_FO1_BLOCK = re.compile(r"(?:<ground>(?P<label>.*?)</ground>\s*)?<objects>(?P<body>.*?)(?:</objects>|$)", re.S)
_FO1_REGION = re.compile(r"<region(\d+)>")
_BARE_NUMBERS = re.compile(r"^\s*[\[(]?\s*(?:#?\d+\s*[,、，\s]\s*)*#?\d+\s*[\])]?\s*[.。]?\s*$")
_NONE_ANSWERS = ("none", "[]", "なし", "ありません", "該当なし", "no")


@dataclass(frozen=True)
class MarkedImage:
    """An image with numbered proposal marks, ready to send to a VLM.

    Attributes:
        image: ``(H, W', 3)`` uint8 RGB: the original ``(H, W)`` image with marks drawn, plus a crop panel on
            the right when ``crops`` is not empty (``W' > W``).
        proposals: the proposal boxes in pixels of the original image, in mark order.
        crops: mark numbers shown enlarged in the panel (proposals smaller than ``small_px``).
    """

    image: np.ndarray
    proposals: Detections
    crops: list[int] = field(default_factory=list)

    @property
    def numbers(self) -> list[int]:
        """The mark numbers, ``1..N`` (mark ``k`` is ``proposals[k - 1]``)."""
        return list(range(1, len(self.proposals) + 1))

    def box(self, number: int) -> np.ndarray:
        """The exact ``xyxy`` proposal box of mark ``number`` (pixels of the original image)."""
        if not 1 <= number <= len(self.proposals):
            raise InputError(f"mark {number} is not one of 1..{len(self.proposals)}")
        return self.proposals.xyxy[number - 1].copy()


@dataclass(frozen=True)
class MarkRef:
    """One reference to a mark in a model answer, as written.

    Attributes:
        value: the number as written (``"3"``, ``"#3"``, ``"12.5"``, ``"cone"``...).
        label: a label the model attached to it (FO1 ``<ground>`` text, a JSON ``label``), or ``""``.
        region: True for an FO1 ``<regionK>`` token (0-based), False for a mark number (1-based).
    """

    value: str
    label: str = ""
    region: bool = False


def render_marks(
    image: np.ndarray,
    proposals: Detections,
    small_px: float = 32.0,
    crop_px: int = 160,
    line_px: int | None = None,
    font_px: int | None = None,
) -> MarkedImage:
    """Draw ``proposals`` as numbered marks on ``image``; add enlarged crops of proposals smaller than ``small_px``.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        proposals: boxes in pixels of ``image`` (at most :data:`MAX_MARKS`).
        small_px: a proposal whose shorter side is below this (pixels) also gets a crop in the side panel.
        crop_px: side of each panel cell (pixels); the crop is a square of three box sizes around the box.
        line_px, font_px: outline width and number height in pixels; default scale with the image
            (outline about 0.1% of the diagonal, at least 1 px; numbers about 1.6%, at least 14 px).

    Raises:
        InputError: more than :data:`MAX_MARKS` proposals, or boxes that do not fit the image.
    """
    h, w = image.shape[:2]
    n = len(proposals)
    if n > MAX_MARKS:
        raise InputError(f"{n} proposals: at most {MAX_MARKS} can be marked on one image; split them")
    if n and (
        proposals.xyxy.min() < -1e-6
        or (proposals.xyxy[:, [0, 2]] > w + 1e-6).any()
        or (proposals.xyxy[:, [1, 3]] > h + 1e-6).any()
    ):
        raise InputError(f"proposal boxes fall outside the {w}x{h} image")
    diag = math.hypot(w, h)
    lw = line_px or max(1, round(diag * 0.001))
    fnt = font(font_px or max(14, round(diag * 0.016)))
    pil = Image.fromarray(np.ascontiguousarray(image)).convert("RGB")
    draw = ImageDraw.Draw(pil)
    placed: list[tuple[float, float, float, float]] = []
    for i in range(n):
        x1, y1, x2, y2 = (float(v) for v in proposals.xyxy[i])
        draw.rectangle([x1, y1, x2, y2], outline=_TAG_COLOURS[i % len(_TAG_COLOURS)], width=lw)
    for i in range(n):
        colour = _TAG_COLOURS[i % len(_TAG_COLOURS)]
        tag = _place_tag(draw, str(i + 1), fnt, proposals.xyxy, i, placed, (w, h), lw)
        _draw_tag(draw, tag, str(i + 1), fnt, colour)
        placed.append(tag)
    sides = np.minimum(proposals.xyxy[:, 2] - proposals.xyxy[:, 0], proposals.xyxy[:, 3] - proposals.xyxy[:, 1])
    crops = [i + 1 for i in range(n) if sides[i] < small_px]
    out = np.asarray(pil)
    if crops:
        out = np.concatenate([out, _crop_panel(image, proposals, crops, crop_px, h, fnt)], axis=1)
    return MarkedImage(out, proposals, crops)


def _draw_tag(draw: ImageDraw.ImageDraw, tag: tuple[float, float, float, float], text: str, fnt, colour) -> None:
    draw.rectangle(tag, fill=colour)
    tb = draw.textbbox((0, 0), text, font=fnt)
    draw.text(
        (
            tag[0] + (tag[2] - tag[0] - (tb[2] - tb[0])) / 2 - tb[0],
            tag[1] + (tag[3] - tag[1] - (tb[3] - tb[1])) / 2 - tb[1],
        ),
        text,
        font=fnt,
        fill=(255, 255, 255),
    )


def _overlap(a: tuple[float, float, float, float], b) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _place_tag(draw, text, fnt, boxes: np.ndarray, i: int, placed, size, lw: int) -> tuple[float, float, float, float]:
    """The tag rectangle for box ``i``: outside the box (above, below, left or right of it), inside the image,
    overlapping other tags and other boxes' interiors as little as possible."""
    tb = draw.textbbox((0, 0), text, font=fnt)
    pad = max(2, lw)
    tw, th = tb[2] - tb[0] + 2 * pad, tb[3] - tb[1] + 2 * pad
    x1, y1, x2, y2 = (float(v) for v in boxes[i])
    w, h = size
    candidates = [
        (x1 - lw, y1 - th - lw), (x1 - lw, y2 + lw), (x1 - tw - lw, y1), (x2 + lw, y1),
        (x2 - tw + lw, y1 - th - lw), (x2 - tw + lw, y2 + lw),
    ]  # fmt: skip
    best, best_cost = None, math.inf
    for cx, cy in candidates:
        cx, cy = min(max(0.0, cx), max(0.0, w - tw)), min(max(0.0, cy), max(0.0, h - th))
        rect = (cx, cy, cx + tw, cy + th)
        cost = 4 * _overlap(rect, (x1, y1, x2, y2))  # covering its own object is worst
        cost += sum(2 * _overlap(rect, p) for p in placed)
        cost += sum(_overlap(rect, tuple(b)) for j, b in enumerate(boxes.tolist()) if j != i)
        if cost < best_cost - 1e-9:
            best, best_cost = rect, cost
    return best  # type: ignore[return-value]


def _crop_panel(
    image: np.ndarray, proposals: Detections, numbers: list[int], cell: int, height: int, fnt
) -> np.ndarray:
    """A white panel, ``height`` tall, of ``cell``-sized enlarged square crops (three box sizes around each),
    each tagged with its mark number, filled column by column."""
    h, w = image.shape[:2]
    per_col = max(1, height // cell)
    cols = math.ceil(len(numbers) / per_col)
    panel = np.full((height, cols * cell + 8, 3), 255, dtype=np.uint8)
    for k, number in enumerate(numbers):
        x1, y1, x2, y2 = proposals.xyxy[number - 1]
        half = 1.5 * max(x2 - x1, y2 - y1, 8.0)  # a square of three box sizes around the centre
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        cx1, cy1 = int(max(0, math.floor(mx - half))), int(max(0, math.floor(my - half)))
        cx2, cy2 = int(min(w, math.ceil(mx + half))), int(min(h, math.ceil(my + half)))
        crop = image[cy1:cy2, cx1:cx2]
        s = (cell - 6) / max(crop.shape[0], crop.shape[1])
        crop = cv2.resize(
            crop, (max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s))), interpolation=cv2.INTER_CUBIC
        )
        pil = Image.fromarray(crop)
        d = ImageDraw.Draw(pil)
        colour = _TAG_COLOURS[(number - 1) % len(_TAG_COLOURS)]
        d.rectangle([(x1 - cx1) * s, (y1 - cy1) * s, (x2 - cx1) * s, (y2 - cy1) * s], outline=colour, width=1)
        tb = d.textbbox((0, 0), str(number), font=fnt)
        _draw_tag(d, (0, 0, tb[2] - tb[0] + 6, tb[3] - tb[1] + 6), str(number), fnt, colour)
        col, row = divmod(k, per_col)
        oy, ox = row * cell + 3, 8 + col * cell + 3
        ch, cw = min(crop.shape[0], height - oy), crop.shape[1]
        if ch > 0:
            panel[oy : oy + ch, ox : ox + cw] = np.asarray(pil)[:ch]
    return panel


def parse_mark_refs(text: str) -> list[MarkRef] | None:
    """The mark references in a model answer, as written; ``[]`` for an explicit "none", None when the answer
    holds no recognisable mark list.

    Accepted: JSON ``[3, 5]``, ``{"marks": [3, 5]}``, ``[{"mark": 3, "label": "cone"}]``, ``["#3"]``; bare
    ``3, 5``; FO1 ``<ground>cone</ground><objects><region2><region4></objects>`` (regions 0-based).
    """
    if not isinstance(text, str):
        return None
    if "<objects>" in text:
        return [
            MarkRef(r, (m.group("label") or "").strip(), region=True)
            for m in _FO1_BLOCK.finditer(text)
            for r in _FO1_REGION.findall(m.group("body"))
        ]
    if _FO1_REGION.search(text):  # region tokens without the <objects> wrapper
        return [MarkRef(r, region=True) for r in _FO1_REGION.findall(text)]
    t = re.sub(r"```[a-zA-Z]*", " ", text).strip()
    for value in _json_values(t):
        refs = _refs_from_json(value, "")
        if refs is not None:
            return refs
    if _BARE_NUMBERS.match(t):
        return [MarkRef(v) for v in re.findall(r"\d+", t)]
    if t.lower().strip(" .。") in _NONE_ANSWERS:
        return []
    return None


def _refs_from_json(value, label: str) -> list[MarkRef] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, str)):
        return [MarkRef(str(value).strip().lstrip("#"), label)]
    if isinstance(value, list):
        out: list[MarkRef] = []
        for v in value:
            refs = _refs_from_json(v, label)
            if refs is None:
                return None
            out.extend(refs)
        return out
    if isinstance(value, dict):
        lab = next((value[k] for k in _LABEL_KEYS if isinstance(value.get(k), str)), label)
        for k in _LIST_KEYS:
            if k in value:
                return _refs_from_json(value[k], lab.strip())
    return None


def select_marks(
    refs: list[MarkRef], marked: MarkedImage, default_label: str = "", warnings_out: list[str] | None = None
) -> Detections:
    """The proposals the references name, with their exact boxes; unknown references are reported, not guessed.

    Returns:
        ``Detections`` of the original image: the proposals' boxes, scores and sources, labels from the
        answer (else ``default_label``, else the proposal's own label), ``extra["mark"]`` the mark number.
        A number named twice is kept once. Each reference that is not an integer in range is appended to
        ``warnings_out``.
    """
    n = len(marked.proposals)
    chosen: dict[int, str] = {}
    for ref in refs:
        if not re.fullmatch(r"\d+", ref.value):
            _note(f"mark reference {ref.value!r} is not a mark number", warnings_out)
            continue
        number = int(ref.value) + 1 if ref.region else int(ref.value)
        if not 1 <= number <= n:
            what = f"<region{ref.value}>" if ref.region else f"mark {ref.value}"
            _note(f"{what} is not one of the {n} proposals", warnings_out)
            continue
        chosen.setdefault(number, ref.label)
    idx = [k - 1 for k in chosen]
    picked = marked.proposals[np.array(idx, dtype=np.int64)]
    labels = [chosen[k] or default_label or picked.labels[j] for j, k in enumerate(chosen)]
    return Detections(
        picked.xyxy, picked.scores, labels, picked.sources, picked.image_size, {**picked.extra, "mark": list(chosen)}
    )


def read_marks(
    answer: str, marked: MarkedImage, default_label: str = "", warnings_out: list[str] | None = None
) -> Detections:
    """:func:`parse_mark_refs` then :func:`select_marks`; an answer with no mark list gives no boxes and a
    warning (appended to ``warnings_out`` when given, else a :class:`~tenken.vlm.parse.ModelOutputWarning`)."""
    refs = parse_mark_refs(answer)
    if refs is None:
        _note(f"no mark numbers found in the model answer: {str(answer).strip()[:200]!r}", warnings_out)
        refs = []
    return select_marks(refs, marked, default_label, warnings_out)


def _note(message: str, warnings_out: list[str] | None) -> None:
    if warnings_out is not None:
        warnings_out.append(message)
    else:
        warnings.warn(message, ModelOutputWarning, stacklevel=3)
