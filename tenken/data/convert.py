"""Converters from tenken's training JSONL to the formats people train with.

- **LLaVA** conversations (:func:`to_llava`): ``{"id", "image" | "images", "conversations": [{"from":
  "human"|"gpt"|"system", "value"}]}``; ``<image>`` marks kept (LLaVA's own), each ``<bbox>`` mark filled
  with its box written ``[x1, y1, x2, y2]`` in a **model family's** frame (Qwen2.5-VL resized pixels, Qwen3-VL
  0-1000, ...) by that family's adapter (:meth:`tenken.vlm.families.Family.from_pixels`), the one place
  conventions are applied.
- **ms-swift** grounding (:func:`to_swift`): ``{"messages", "images", "objects": {"ref", "bbox"}}``;
  ms-swift fills ``<bbox>`` marks itself from ``objects.bbox`` (pixel xyxy of the original image, converted
  per model by ms-swift), so marks and boxes pass through unchanged.
- **COCO** detection (:func:`to_coco`): one COCO image per distinct image file, one annotation per box
  (``bbox`` is COCO's ``[x, y, w, h]``), categories from the box labels.

Image paths are rewritten relative to the output file's folder (absolute when that is impossible).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tenken.core.artifacts import LoadReport, json_text, write_json, write_jsonl
from tenken.core.boxes import xyxy_to_xywh
from tenken.core.errors import ImageLoadError, InputError
from tenken.data.format import BOX_MARK, TrainingSample, iter_samples
from tenken.vlm.families import Family

FORMATS = ("llava", "swift", "coco")
_ROLE_LLAVA = {"user": "human", "assistant": "gpt", "system": "system"}
_TRANSPOSED = {5, 6, 7, 8}  # EXIF orientations that swap width and height


def stored_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of an image file after EXIF orientation, read from its header only.

    Raises:
        ImageLoadError: the file is missing or not an image.
    """
    try:
        with Image.open(path) as im:
            w, h = im.size
            orientation = im.getexif().get(0x0112, 1)
    except (OSError, ValueError) as exc:
        raise ImageLoadError(f"{path}: cannot read the image size ({exc})") from None
    return (h, w) if orientation in _TRANSPOSED else (w, h)


def _rebase(paths: list[Path], out_dir: Path) -> list[str]:
    out = []
    for p in paths:
        try:
            out.append(os.path.relpath(p.resolve(), out_dir.resolve()))
        except ValueError:
            out.append(str(p.resolve()))
    return out


def fill_boxes(sample: TrainingSample, paths: list[Path], family: Family) -> list[tuple[str, str]]:
    """``(role, content)`` turns with each ``<bbox>`` replaced by its box in ``family``'s frame.

    An assistant turn made of ``<bbox>`` marks only (a grounding answer; ``[]`` for none) becomes the family's
    JSON answer ``[{"bbox_2d": [...], "label": "..."}, ...]`` and the question before it gets the family's
    box-format sentence (as tenken's grounding prompt has at inference); a mark inside text becomes
    ``[x1, y1, x2, y2]``.
    """
    sizes: dict[int, tuple[int, int]] = {}
    coords: list[list[int]] = []
    for b in sample.boxes:
        if b.image not in sizes:
            sizes[b.image] = stored_size(paths[b.image])
        size = sizes[b.image]
        v = family.from_pixels(np.asarray([b.box]), size, family.processed_size(size))[0]
        coords.append([round(float(x)) for x in v])
    texts = ["[" + ", ".join(map(str, c)) + "]" for c in coords]
    turns: list[tuple[str, str]] = []
    k = 0
    for m in sample.messages:
        n = m.content.count(BOX_MARK)
        box_only = not m.content.replace(BOX_MARK, "").strip() or m.content.strip() == "[]"
        if m.role == "assistant" and box_only:
            items = [{family.box_key: coords[k + i], "label": sample.boxes[k + i].label} for i in range(n)]
            turns.append((m.role, json_text(items)))
            k += n
            if len(turns) > 1 and turns[-2][0] == "user":  # the question gets the family's box-format sentence,
                sep = "" if sample.lang == "ja" else " "  # as tenken's grounding and pass-1 prompts do
                turns[-2] = ("user", turns[-2][1] + sep + family.box_instruction(sample.lang))
            continue
        parts = m.content.split(BOX_MARK)
        content = parts[0]
        for part in parts[1:]:
            content += texts[k] + part
            k += 1
        turns.append((m.role, content))
    return turns


def to_llava(sample: TrainingSample, paths: list[Path], out_dir: Path, family: Family) -> dict[str, Any]:
    """One LLaVA-style record (see the module docstring)."""
    images = _rebase(paths, out_dir)
    row: dict[str, Any] = {"id": sample.id}
    if len(images) == 1:
        row["image"] = images[0]
    elif images:
        row["images"] = images
    row["conversations"] = [{"from": _ROLE_LLAVA[r], "value": c} for r, c in fill_boxes(sample, paths, family)]
    return row


def to_swift(sample: TrainingSample, paths: list[Path], out_dir: Path) -> dict[str, Any]:
    """One ms-swift record (see the module docstring)."""
    row: dict[str, Any] = {
        "messages": [{"role": m.role, "content": m.content} for m in sample.messages],
        "images": _rebase(paths, out_dir),
    }
    if sample.boxes:
        row["objects"] = {"ref": [b.label for b in sample.boxes], "bbox": [list(b.box) for b in sample.boxes]}
    return row


def to_coco(samples: Iterable[tuple[TrainingSample, list[Path]]], out_dir: Path) -> dict[str, Any]:
    """A COCO detection document of the boxes of ``samples`` (see the module docstring)."""
    images: dict[str, dict[str, Any]] = {}
    cats: dict[str, int] = {}
    anns: list[dict[str, Any]] = []
    for sample, paths in samples:
        rebased = _rebase(paths, out_dir)
        for b in sample.boxes:
            name = rebased[b.image]
            if name not in images:
                w, h = stored_size(paths[b.image])
                images[name] = {"id": len(images) + 1, "file_name": name, "width": w, "height": h}
            label = b.label or "object"
            cats.setdefault(label, len(cats) + 1)
            x, y, bw, bh = xyxy_to_xywh([b.box])[0].tolist()
            anns.append(
                {"id": len(anns) + 1, "image_id": images[name]["id"], "category_id": cats[label],
                 "bbox": [x, y, bw, bh], "area": bw * bh, "iscrowd": 0, "sample_id": sample.id}
            )  # fmt: skip
    return {
        "images": list(images.values()),
        "annotations": anns,
        "categories": [{"id": i, "name": n} for n, i in cats.items()],
    }


def convert(
    src: str | os.PathLike, dst: str | os.PathLike, fmt: str, family: str = "qwen2.5-vl", **family_options: Any
) -> dict[str, Any]:
    """Convert the training JSONL ``src`` into ``dst`` in format ``fmt`` (``llava``, ``swift``, ``coco``).

    Args:
        family: for ``llava``, the model family whose box frame fills the ``<bbox>`` marks.
        family_options: ``box_format``, ``factor``, ``min_pixels``, ``max_pixels`` (see ``get_family``).

    Returns:
        ``{"written", "skipped", "path"}``: samples converted, invalid lines skipped (with reasons).

    Raises:
        InputError: an unknown format or a missing source file.
    """
    from tenken.vlm.families import get_family

    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    src_p, dst_p = Path(src), Path(dst)
    if not src_p.is_file():
        raise InputError(f"{src_p}: no such training JSONL file")
    report = LoadReport()
    pairs = [(s, s.image_paths(src_p.parent)) for _, s in iter_samples(src_p, report)]
    out_dir = dst_p.parent
    if fmt == "coco":
        doc = to_coco(pairs, out_dir)
        write_json(dst_p, doc)
        written = len(doc["annotations"])
    elif fmt == "swift":
        written = len(pairs)
        write_jsonl(dst_p, (to_swift(s, p, out_dir) for s, p in pairs))
    else:
        fam = get_family(family, **family_options)
        written = len(pairs)
        write_jsonl(dst_p, (to_llava(s, p, out_dir, fam) for s, p in pairs))
    return {"path": str(dst_p), "format": fmt, "written": written, "input": report.to_dict()}
