"""tenken's training-data format: one JSON object per line, the same for every recipe and every trainer.

A sample (:class:`TrainingSample`)::

    {"id": "rec-000017",
     "images": ["images/000017.jpg"],
     "messages": [{"role": "user", "content": "<image>黒い車はどこ？"},
                  {"role": "assistant", "content": "<bbox><bbox>"}],
     "boxes": [{"box": [12.0, 40.5, 88.0, 97.0], "label": "黒い車", "image": 0},
               {"box": [140.0, 38.0, 210.5, 99.0], "label": "黒い車", "image": 0}],
     "task": "rec", "lang": "ja",
     "provenance": {"recipe": "rec", "teachers": {"vlm": "Qwen/Qwen3-VL-235B-A22B-Instruct"},
                    "prompt_version": "rec/1", "filters": [{"name": "count_agreement", "keep": true, "score": 1.0}]}}

Conventions:

- ``images``: paths relative to the JSONL file's folder (absolute paths are kept as they are).
- ``messages``: chat turns (``system`` / ``user`` / ``assistant``) with plain-text content. ``<image>`` marks
  where each image goes, in the order of ``images`` (a sample with images and no ``<image>`` mark gets them
  before the first user turn's text). ``<bbox>`` marks where a box goes in a turn's text, in the order of
  ``boxes``; a trainer fills each mark in the **model family's** box convention (Qwen2.5-VL resized pixels,
  Qwen3-VL 0–1000, ...) through the family adapter in :mod:`tenken.vlm`, the one place conventions are applied.
  ``<bbox_format>`` marks where the family's box-format sentence goes (so a grounding prompt trained on is
  the prompt asked at inference); see :mod:`tenken.vlm.convert`.
- ``boxes``: pixel ``[x1, y1, x2, y2]`` (float) of the stored image ``images[image]`` after EXIF orientation,
  origin top-left (tenken's one convention), each with its ``label`` (the referring expression or class).
- ``provenance``: how the sample was made and which filters let it through (recipe, teacher model ids, prompt
  version, each filter's decision and score), so a dataset can be audited and filtered again.

Rejected samples are written to a side file in the same format, with ``provenance.rejected_by`` naming the
filter and its reason.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tenken.core.artifacts import LoadReport, iter_jsonl, write_jsonl
from tenken.vlm.convert import BOX_FORMAT_MARK, BOX_MARK, IMAGE_MARK  # the marks are defined where they are filled


class Message(BaseModel):
    """One chat turn."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str


class Box(BaseModel):
    """A labelled box: ``box`` is pixel xyxy (float) of ``images[image]``, origin top-left."""

    model_config = ConfigDict(extra="forbid")

    box: tuple[float, float, float, float]
    label: str = ""
    image: int = Field(default=0, ge=0, description="index into the sample's images")

    @field_validator("box")
    @classmethod
    def _ordered(cls, v: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        if not all(math.isfinite(c) for c in v):
            raise ValueError(f"box has NaN or infinite coordinates: {list(v)}")
        if v[2] < v[0] or v[3] < v[1]:
            raise ValueError(f"box has negative width or height (x2 < x1 or y2 < y1): {list(v)}")
        return v


class FilterDecision(BaseModel):
    """What one filter said about a sample: kept or not, its score and threshold when it has them."""

    model_config = ConfigDict(extra="allow")

    name: str
    keep: bool
    score: float | None = None
    threshold: float | None = None
    reason: str | None = None


class Provenance(BaseModel):
    """How a sample was made."""

    model_config = ConfigDict(extra="allow")

    recipe: str
    teachers: dict[str, str] = Field(default_factory=dict, description="role -> model id, e.g. {'vlm': '...'}")
    prompt_version: str | None = None
    filters: list[FilterDecision] = Field(default_factory=list)
    rejected_by: FilterDecision | None = None


class TrainingSample(BaseModel):
    """One training sample (see the module docstring for the conventions)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    images: list[str] = Field(default_factory=list)
    messages: list[Message] = Field(min_length=1)
    boxes: list[Box] = Field(default_factory=list)
    task: str = Field(min_length=1, description="rec, vqa, count, spatial, anomaly, caption, tool-rec, ...")
    lang: Literal["ja", "en"]
    provenance: Provenance

    @model_validator(mode="after")
    def _marks_match(self) -> TrainingSample:
        text = "".join(m.content for m in self.messages)
        n_img = text.count(IMAGE_MARK)
        if n_img and n_img != len(self.images):
            raise ValueError(f"{n_img} {IMAGE_MARK} mark(s) in the messages but {len(self.images)} image(s)")
        n_box = text.count(BOX_MARK)
        if n_box and n_box != len(self.boxes):
            raise ValueError(f"{n_box} {BOX_MARK} mark(s) in the messages but {len(self.boxes)} box(es)")
        for b in self.boxes:
            if b.image >= max(len(self.images), 1):
                raise ValueError(f"box refers to image {b.image} but the sample has {len(self.images)} image(s)")
        return self

    def image_paths(self, base: str | os.PathLike) -> list[Path]:
        """The image files, relative paths resolved against ``base`` (the JSONL file's folder)."""
        return [p if p.is_absolute() else Path(base) / p for p in (Path(i).expanduser() for i in self.images)]


def iter_samples(path: str | os.PathLike, report: LoadReport | None = None) -> Iterator[tuple[int, TrainingSample]]:
    """``(line, sample)`` for each valid line of a training JSONL file; invalid lines are recorded in
    ``report`` (file, line, id, what is wrong) and skipped."""
    report = report if report is not None else LoadReport()
    for n, obj in iter_jsonl(path, report):
        try:
            yield n, TrainingSample.model_validate(obj)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "sample"
            report.skip(path, n, obj.get("id"), f"{where}: {first.get('msg')}")


def read_samples(path: str | os.PathLike, report: LoadReport | None = None) -> list[TrainingSample]:
    """Every valid sample of a training JSONL file (see :func:`iter_samples`)."""
    return [s for _, s in iter_samples(path, report)]


def write_samples(path: str | os.PathLike, samples: Iterable[TrainingSample]) -> Path:
    """Write samples as training JSONL, replacing ``path`` atomically."""
    return write_jsonl(path, (sample_row(s) for s in samples))


def sample_row(sample: TrainingSample) -> dict[str, Any]:
    """A sample as its JSON line (``None`` fields of the provenance dropped)."""
    return sample.model_dump(mode="json", exclude_none=True)


__all__ = [
    "BOX_FORMAT_MARK", "BOX_MARK", "IMAGE_MARK", "Box", "FilterDecision", "Message", "Provenance", "TrainingSample",
    "iter_samples", "read_samples", "sample_row", "write_samples",
]  # fmt: skip
