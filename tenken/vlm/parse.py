"""Robust parsing of model answers: boxes, counts and labels out of free text.

Models wrap JSON in code fences and prose, stop mid-list when they run out of tokens, swap corners, answer
with one object instead of a list, use ``bbox_2d``/``bbox``/``box`` keys, Qwen2-VL box tokens or bare
coordinate lists. :func:`parse_detections` accepts all of these and never raises on model text: an
unparsable answer gives empty :class:`~tenken.core.detections.Detections` and a warning: appended to
``warnings_out`` when the caller passes a list (to put in a report), else issued as a :class:`ModelOutputWarning`.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from tenken.core.boxes import ImageSize, clip_boxes
from tenken.core.detections import Detections
from tenken.vlm.families import Family, get_family

BOX_KEYS = ("bbox_2d", "bbox", "box", "bbox2d", "xyxy", "bounding_box", "box_2d", "coordinates", "position")
LABEL_KEYS = ("label", "name", "class", "category", "object", "type", "text")
SCORE_KEYS = ("score", "confidence", "conf", "probability")
MAX_ITEMS = 1000
"""At most this many boxes are read from one answer (a runaway generation cannot flood a report)."""

_NUM = r"-?\d+(?:\.\d+)?"
_QWEN2_BOX = re.compile(
    r"(?:<\|object_ref_start\|>(?P<label>.*?)<\|object_ref_end\|>\s*)?(?:<\|box_start\|>)?\s*"
    rf"\(\s*(?P<x1>{_NUM})\s*,\s*(?P<y1>{_NUM})\s*\)\s*,\s*\(\s*(?P<x2>{_NUM})\s*,\s*(?P<y2>{_NUM})\s*\)",
    re.S,
)
_KEYED_BOX = re.compile(
    r"['\"]?(?:" + "|".join(BOX_KEYS) + r")['\"]?\s*[:=]\s*[\[(]\s*"
    rf"({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*[\])]"
)
_LABEL_NEAR = re.compile(r"['\"]?(?:label|name|class|category)['\"]?\s*[:=]\s*['\"]([^'\"\n]{0,200})['\"]")
_BARE_BOX = re.compile(rf"\[\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\]")
_FENCE = re.compile(r"```[a-zA-Z]*")


class ModelOutputWarning(UserWarning):
    """A model answer that could not be (fully) turned into the structure asked for."""


def _warn(message: str, warnings_out: list[str] | None) -> None:
    if warnings_out is not None:
        warnings_out.append(message)
    else:
        warnings.warn(message, ModelOutputWarning, stacklevel=3)


def _json_values(text: str) -> Iterator[Any]:
    """Every JSON value that decodes at a ``{`` or ``[`` position, outermost first, skipping what it covers.

    A truncated list fails to decode at its ``[``, so the scan moves inside and still yields each complete
    object in it.
    """
    decoder = json.JSONDecoder()
    i, n = 0, len(text)
    while i < n:
        if text[i] in "[{":
            try:
                value, end = decoder.raw_decode(text, i)
            except (ValueError, RecursionError):
                i += 1
                continue
            yield value
            i = end
        else:
            i += 1


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        f = float(v)
    elif isinstance(v, str):
        try:
            f = float(unicodedata.normalize("NFKC", v).strip())
        except ValueError:
            return None
    else:
        return None
    return f if math.isfinite(f) else None


def _as_box(v: Any) -> list[float] | None:
    """``[x1, y1, x2, y2]`` from a 4-number list, ``[[x1, y1], [x2, y2]]`` or an ``{x1, y1, x2, y2}`` dict."""
    if isinstance(v, dict):
        for keys in (("x1", "y1", "x2", "y2"), ("xmin", "ymin", "xmax", "ymax"), ("left", "top", "right", "bottom")):
            if all(k in v for k in keys):
                v = [v[k] for k in keys]
                break
        else:
            return None
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in v):
        v = [v[0][0], v[0][1], v[1][0], v[1][1]]
    if not isinstance(v, (list, tuple)) or len(v) != 4:
        return None
    nums = [_number(x) for x in v]
    return None if any(x is None for x in nums) else nums  # type: ignore[return-value]


def _items_from_value(value: Any) -> Iterator[tuple[list[float], str, float]]:
    """(box, label, score) triples from one decoded JSON value."""
    if isinstance(value, list):
        box = _as_box(value)
        if box is not None:
            yield box, "", math.nan
            return
        for v in value:
            yield from _items_from_value(v)
    elif isinstance(value, dict):
        box = None
        for k in BOX_KEYS:
            if k in value:
                box = _as_box(value[k])
                if box is not None:
                    break
        if box is None:
            box = _as_box(value)
        if box is not None:
            label = next((value[k] for k in LABEL_KEYS if isinstance(value.get(k), str)), "")
            score = next((s for k in SCORE_KEYS if (s := _number(value.get(k))) is not None), math.nan)
            yield box, label.strip(), score
            return
        for v in value.values():  # {"objects": [...]} and similar wrappers
            if isinstance(v, (list, dict)):
                yield from _items_from_value(v)


def json_objects(text: str, limit: int = MAX_ITEMS) -> list[dict[str, Any]]:
    """Every JSON object in an answer, in order: the items of lists (code fences and prose around them
    ignored, a truncated list still gives its complete objects), at most ``limit``. Non-object values are
    skipped; an answer with no JSON gives ``[]``."""
    if not isinstance(text, str):
        return []
    out: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            out.append(value)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for value in _json_values(_FENCE.sub(" ", text)):
        walk(value)
        if len(out) >= limit:
            break
    return out[:limit]


def extract_boxes(text: str) -> list[tuple[list[float], str, float]]:
    """Raw ``(box, label, score)`` triples in the model's own frame, in answer order (no conversion)."""
    if not isinstance(text, str) or not text.strip():
        return []
    items: list[tuple[list[float], str, float]] = []
    cleaned = _FENCE.sub(" ", text)
    for value in _json_values(cleaned):
        items.extend(_items_from_value(value))
        if len(items) >= MAX_ITEMS:
            return items[:MAX_ITEMS]
    if items:
        return items
    for m in _QWEN2_BOX.finditer(text):  # Qwen2-VL box tokens, or "(x1,y1),(x2,y2)" after special tokens were stripped
        box = [float(m.group(k)) for k in ("x1", "y1", "x2", "y2")]
        items.append((box, (m.group("label") or "").strip(), math.nan))
    if items:
        return items[:MAX_ITEMS]
    for m in _KEYED_BOX.finditer(cleaned):  # Python-style dicts, single quotes, unquoted keys
        label = _LABEL_NEAR.search(cleaned, m.end(), min(len(cleaned), m.end() + 200))
        items.append(([float(g) for g in m.groups()], label.group(1).strip() if label else "", math.nan))
    if items:
        return items[:MAX_ITEMS]
    for m in _BARE_BOX.finditer(cleaned):
        items.append(([float(g) for g in m.groups()], "", math.nan))
    return items[:MAX_ITEMS]


_EMPTY_LIST = re.compile(r"^\s*(?:```[a-zA-Z]*\s*)?\[\s*\]\s*(?:```)?\s*$")
"""An answer that is an empty JSON list, possibly in a code fence: the model saying "none" as prompted."""


def parse_detections(
    text: str,
    family: Family | str,
    image_size: ImageSize,
    processed_size: ImageSize | None = None,
    source: str = "vlm",
    warnings_out: list[str] | None = None,
) -> Detections:
    """Boxes in a model answer -> :class:`Detections` in pixels of the original image.

    Args:
        text: the model's answer, as generated.
        family: the model family (or its name), whose :meth:`~tenken.vlm.families.Family.to_pixels` is the
            one place model coordinates are converted.
        image_size: ``(width, height)`` of the original image shown to the model.
        processed_size: ``(width, height)`` the processor resized to (Qwen2.5-VL); computed when None.
        source: the ``sources`` value of every box.
        warnings_out: problems found (unparsable answer, dropped boxes) are appended here as strings; when
            None they are issued as :class:`ModelOutputWarning` instead.

    Returns:
        ``Detections`` with ``image_size`` set, corners reordered (``x1 <= x2``, ``y1 <= y2``), clipped to the
        image; boxes with no area after clipping are dropped. Scores are NaN unless the model gave one.
    """
    fam = get_family(family) if isinstance(family, str) else family
    items = extract_boxes(text)
    if not items:
        if isinstance(text, str) and text.strip() and not _EMPTY_LIST.match(text):  # "[]" is the asked-for "none"
            _warn(f"no boxes found in the model answer: {text.strip()[:200]!r}", warnings_out)
        return Detections.empty(image_size)
    raw = np.array([b for b, _, _ in items], dtype=np.float64)
    raw = np.concatenate(
        [np.minimum(raw[:, :2], raw[:, 2:]), np.maximum(raw[:, :2], raw[:, 2:])], axis=1
    )  # x1>x2 or y1>y2: reorder
    with np.errstate(all="ignore"):
        pix = clip_boxes(fam.to_pixels(raw, image_size, processed_size), image_size)
    keep = np.isfinite(pix).all(axis=1) & (pix[:, 2] > pix[:, 0]) & (pix[:, 3] > pix[:, 1])
    if not keep.all():
        _warn(f"dropped {int((~keep).sum())} of {len(items)} boxes outside the image or with no area", warnings_out)
    idx = np.flatnonzero(keep)
    scores = np.array([items[i][2] for i in idx], dtype=np.float64)
    scores = np.where(np.isfinite(scores), np.clip(scores, 0.0, 1.0), np.nan) if len(idx) else scores
    return Detections(
        pix[idx],
        scores,
        [items[i][1] for i in idx],
        [source] * len(idx),
        image_size,
    )


_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZERO_WORDS = ("none", "no ", "zero", "nothing", "なし", "ゼロ", "ありません", "いません", "無い", "ない")
_EN_NUMBERS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
}  # fmt: skip


def _kanji_number(s: str) -> int | None:
    """``"十二"`` -> 12, ``"三"`` -> 3, ``"二十"`` -> 20 (up to 99)."""
    if not s or any(c not in _KANJI_DIGITS and c != "十" for c in s):
        return None
    if "十" not in s:
        return int("".join(str(_KANJI_DIGITS[c]) for c in s)) if len(s) <= 3 else None
    tens, _, ones = s.partition("十")
    t = _KANJI_DIGITS.get(tens) if tens else 1
    o = _KANJI_DIGITS.get(ones) if ones else 0
    return None if t is None or o is None else t * 10 + o


def parse_count(text: str) -> int | None:
    """The count in an answer (``"3"``, ``"There are three cones."``, ``"3個"``, ``"三つ"``, ``"なし"``), or None."""
    if not isinstance(text, str):
        return None
    t = unicodedata.normalize("NFKC", text).strip().lower()
    if not t:
        return None
    m = re.search(r"(?<![\d.])(\d{1,6})(?![\d.]*\d)", t)
    if m:
        return int(m.group(1))
    m = re.search(r"[〇零一二三四五六七八九十]+", t)
    if m and (k := _kanji_number(m.group(0))) is not None:
        return k
    for word in re.findall(r"[a-z]+", t):
        if word in _EN_NUMBERS:
            return _EN_NUMBERS[word]
    if any(z in t + " " for z in _ZERO_WORDS):
        return 0
    return None


def answer_text(text: str) -> str:
    """The answer with code fences, surrounding quotes and a JSON ``{"answer"|"label": ...}`` wrapper removed."""
    if not isinstance(text, str):
        return ""
    t = _FENCE.sub(" ", text).strip()
    for value in _json_values(t):
        if isinstance(value, dict):
            for k in ("answer", "label", "task", "class", "name"):
                if isinstance(value.get(k), (str, int)):
                    return str(value[k]).strip()
        break
    return t.strip().strip("\"'「」`").strip()
