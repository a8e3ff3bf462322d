"""Grounding by numbered region proposals: the model picks mark numbers, tenken returns the proposals' boxes.

See :mod:`tenken.vlm.marks` for drawing and reading marks. The model never writes a coordinate, so the boxes
are exactly the proposer's; the model only decides which proposals the expression refers to.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tenken.configs import Lang
from tenken.core.detections import Detections
from tenken.core.errors import AlignmentError, InputError, describe_json_error
from tenken.core.images import ImageInput, image_size, load_image
from tenken.tasks.prompts import MARKS_CROPS_NOTE, MARKS_GROUND, fill
from tenken.vlm.backends.base import VLMRequest
from tenken.vlm.marks import MarkedImage, read_marks, render_marks
from tenken.vlm.model import VLM


def marks_prompt(marked: MarkedImage, expression: str, lang: Lang = "ja") -> str:
    """The prompt asking which marks of ``marked`` show ``expression``."""
    return fill(MARKS_GROUND, lang, expression=expression, crops=fill(MARKS_CROPS_NOTE, lang) if marked.crops else "")


def ground_by_marks(
    vlm: VLM,
    image: ImageInput,
    expression: str,
    proposals: Detections,
    lang: Lang = "ja",
    small_px: float = 32.0,
    max_new_tokens: int | None = 64,
    warnings_out: list[str] | None = None,
) -> Detections:
    """The proposals that show ``expression``, chosen by the VLM from a numbered-marks image.

    Args:
        image: the image the proposals were found on (path, bytes or ``(H, W, 3)`` uint8 RGB).
        proposals: candidate boxes in pixels of ``image`` (e.g. the classical change detector's output).
        small_px: proposals with a shorter side below this many pixels are also shown as enlarged crops.
        warnings_out: an answer with no mark list, and every reference that is not a mark, are appended here.

    Returns:
        ``Detections`` of ``image``: exactly the chosen proposals' boxes, labelled with the answer's label or
        ``expression``, ``extra["mark"]`` the mark number. No proposals gives no boxes and sends nothing.

    Raises:
        InputError: ``proposals`` were found on an image of another size.
    """
    img = load_image(image)
    size = image_size(img)
    if proposals.image_size is not None and proposals.image_size != size:
        raise InputError(f"proposals are for a {proposals.image_size} image, the image is {size}")
    if len(proposals) == 0:
        return Detections.empty(size)
    if proposals.image_size is None:
        proposals = Detections(
            proposals.xyxy, proposals.scores, proposals.labels, proposals.sources, size, proposals.extra
        )
    marked = render_marks(img, proposals, small_px)
    prompt = marks_prompt(marked, expression, lang)
    answer = vlm.generate([VLMRequest(prompt, [marked.image], max_new_tokens=max_new_tokens)])[0]
    return read_marks(answer, marked, expression, warnings_out)


def read_proposals(path: str | os.PathLike) -> Detections:
    """Proposal boxes from a JSON file: ``{"image_size", "detections": [...]}`` (``Detections.to_json``, the
    output of ``tenken ground --json``, or a report), or a bare list of ``{"box": [x1, y1, x2, y2], ...}``.

    Raises:
        InputError: the file is missing, not JSON, or holds no usable boxes (the message names the file).
    """
    p = Path(path)
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{p}: proposals file not found") from None
    except ValueError as exc:
        raise InputError(f"{p}: not JSON ({describe_json_error(exc)})") from None
    try:
        return Detections.from_dict(obj)
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(f"{p}: not a list of proposal boxes ({exc})") from None


def change_proposals(target: ImageInput, reference: ImageInput) -> Detections:
    """Proposals from the classical change detector: ``reference`` aligned to ``target``, then what changed.

    Returns:
        ``Detections`` in ``target`` pixels, label ``change``, source ``classical``.

    Raises:
        AlignmentError: the pair cannot be aligned (the reason is in the message).
    """
    from tenken.align.pair import align_pair
    from tenken.changedet.detect import detect_changes

    tgt = load_image(target)
    alignment = align_pair(tgt, reference)
    if not alignment.ok or alignment.warped_reference is None:
        raise AlignmentError(f"cannot align the reference to the target: {alignment.reason}")
    return detect_changes(tgt, alignment.warped_reference, alignment.valid_mask)
