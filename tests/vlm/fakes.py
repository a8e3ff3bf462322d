"""A scripted backend: answers chosen by the test, every request recorded (for prompt and mapping tests)."""

from __future__ import annotations

import json
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


BLOB_RGB = (255, 0, 0)
"""Colour of the objects a :func:`blob_answer` model can see."""


def blob_answer(
    family: str = "qwen3-vl", min_px: int = 16, label: str = "object", max_pixels: int | None = None
) -> Callable[[VLMRequest], str]:
    """A scripted "model" that sees pure-red blobs (:data:`BLOB_RGB`) in the image it is given, and only those
    at least ``min_px`` pixels on both sides as it sees them: downscaled to ``max_pixels`` (its pixel budget)
    when the image is larger. It answers their boxes in ``family``'s box frame of the given image, rounded to
    integers as a model writes them. Measures slicing plumbing, not a model."""
    import cv2
    import numpy as np

    from tenken.core.boxes import pixels_to_normalized, rescale_boxes

    fam = get_family(family)

    def answer(request: VLMRequest) -> str:
        img = request.images[0]
        h, w = img.shape[:2]
        view = 1.0 if max_pixels is None or w * h <= max_pixels else (max_pixels / (w * h)) ** 0.5
        if view < 1.0:
            img = cv2.resize(img, (max(1, int(w * view)), max(1, int(h * view))), interpolation=cv2.INTER_AREA)
        r, g, b = (img[..., i].astype(np.int16) for i in range(3))
        mask = ((r - np.maximum(g, b)) > 128).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        boxes = [[x, y, x + bw, y + bh] for x, y, bw, bh, _ in stats[1:n].tolist() if bw >= min_px and bh >= min_px]
        if not boxes:
            return "[]"
        vh, vw = img.shape[:2]
        px = np.asarray(boxes, dtype=np.float64) * [w / vw, h / vh, w / vw, h / vh]  # back to the given image
        if fam.box_format == "processed":
            out = rescale_boxes(px, (w, h), fam.processed_size((w, h)))
        elif fam.box_format == "rel1000":
            out = pixels_to_normalized(px, (w, h), 1000.0)
        else:
            out = px
        items = [{fam.box_key: [round(v) for v in box], "label": label} for box in out.tolist()]
        return json.dumps(items)

    return answer


def mark_picker(proposals, truth, extra: Sequence = ()) -> Callable[[VLMRequest], str]:
    """A scripted "model" for mark mode that picks the right numbers: the marks (1-based, in proposal order,
    restarting at 1 in each marked image of :data:`~tenken.vlm.marks.MAX_MARKS`, one call per marked image)
    whose proposal (a :class:`~tenken.core.detections.Detections`) overlaps a ``truth`` box (``(M, 4)`` xyxy)
    at IoU >= 0.5; ``extra`` entries are appended to every answer (e.g. out-of-range numbers)."""
    import numpy as np

    from tenken.core.boxes import box_iou
    from tenken.vlm.marks import MAX_MARKS

    truth = np.asarray(truth, dtype=np.float64).reshape(-1, 4)
    right = (box_iou(proposals.xyxy, truth) >= 0.5).any(axis=1) if len(truth) and len(proposals) else []
    numbers = [int(i) for i in np.flatnonzero(right)]
    calls = iter(range(10**9))

    def answer(request: VLMRequest) -> str:
        part = next(calls)
        mine = [i - part * MAX_MARKS + 1 for i in numbers if i // MAX_MARKS == part]
        return json.dumps({"marks": [{"mark": k, "label": "ペットボトル"} for k in mine] + list(extra)})

    return answer
