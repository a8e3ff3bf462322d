"""Training JSONL (:mod:`tenken.data.format`) -> trainer examples in a model family's conventions.

An example is what TRL's trainers take for vision-language data: ``{"prompt": [chat turns],
"completion": [the last assistant turn], "images": [PIL images]}`` (prompt-completion format: the loss is on
the completion only). The marks are filled by :func:`tenken.vlm.convert.chat_messages`, the one conversion
point; this module only loads images, splits prompt from completion, and mixes languages.

Images load lazily (``__getitem__``), so a large dataset does not sit in memory.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from tenken.core.artifacts import LoadReport
from tenken.core.errors import InputError
from tenken.core.images import load_image
from tenken.data.format import TrainingSample, read_samples
from tenken.vlm.convert import MarkedBox, chat_messages
from tenken.vlm.families import Family


def sample_images(sample: TrainingSample, base: str | os.PathLike) -> list[Image.Image]:
    """The sample's images as RGB PIL images (after EXIF orientation)."""
    return [Image.fromarray(load_image(p)) for p in sample.image_paths(base)]


def to_example(sample: TrainingSample, images: Sequence[Image.Image], family: Family) -> dict[str, Any]:
    """One sample as a prompt-completion example for ``family`` (boxes in its frame, its box key and prompt).

    The completion is the last assistant turn; everything before it is the prompt.

    Raises:
        InputError: the sample does not end with an assistant turn.
    """
    if sample.messages[-1].role != "assistant":
        raise InputError(f"sample {sample.id}: the last turn must be the assistant's answer to train on")
    sizes = [(im.width, im.height) for im in images]
    boxes = [MarkedBox(tuple(b.box), b.label, b.image) for b in sample.boxes]
    chat = chat_messages([(m.role, m.content) for m in sample.messages], boxes, sizes, family, sample.lang)
    return {"prompt": chat[:-1], "completion": chat[-1:], "images": list(images)}


def mix_languages(
    samples: Sequence[TrainingSample], ratio: Mapping[str, float] | None, seed: int = 0
) -> list[TrainingSample]:
    """Subsample so the languages appear in ``ratio`` (e.g. ``{"ja": 1, "en": 1}``); None keeps all.

    The largest subset that fits the ratio is kept (no sample is repeated); languages not in ``ratio`` are
    dropped, and a language of ``ratio`` with no sample at all is left out of it (JA-only data under a 1:1
    recipe trains on all its JA samples rather than on none). The result is shuffled with ``seed``.
    """
    if not ratio:
        return list(samples)
    present = {s.lang for s in samples}
    weights = {k: float(v) for k, v in ratio.items() if float(v) > 0 and k in present}
    by_lang = {k: [s for s in samples if s.lang == k] for k in weights}
    scale = min((len(v) / weights[k] for k, v in by_lang.items()), default=0.0)
    rng = random.Random(seed)
    out: list[TrainingSample] = []
    for k, group in by_lang.items():
        out.extend(rng.sample(group, int(scale * weights[k])))
    rng.shuffle(out)
    return out


class SampleDataset:
    """Training samples served as trainer examples for one family (a map-style dataset).

    Args:
        path: the training JSONL file.
        family: the model family targets are written for (from :func:`tenken.vlm.loader.checkpoint_family`).
        lang_ratio: JA:EN mixing, see :func:`mix_languages`.
        limit: keep at most this many samples (after mixing).
        seed: shuffling seed.

    Raises:
        InputError: the file has no valid sample (the load report's first problems are named).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        family: Family,
        lang_ratio: Mapping[str, float] | None = None,
        limit: int | None = None,
        seed: int = 0,
    ) -> None:
        self.path = Path(path)
        self.base = self.path.parent
        self.family = family
        self.report = LoadReport()
        if not self.path.is_file():
            raise InputError(f"{path}: training data not found (a JSONL file of tenken training samples)")
        samples = read_samples(self.path, self.report)
        samples = mix_languages(samples, lang_ratio, seed)
        self.samples = samples[:limit] if limit else samples
        if not self.samples:
            why = "; ".join(f"line {s.line}: {s.reason}" for s in self.report.skipped[:3])
            raise InputError(f"{path}: no usable training samples{' (' + why + ')' if why else ''}")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < len(self.samples):
            raise IndexError(i)
        sample = self.samples[i]
        return to_example(sample, sample_images(sample, self.base), self.family)

    def to_hf(self) -> Any:
        """A ``datasets.Dataset`` of indices whose rows convert on access (``with_transform``) to examples, as
        TRL's trainers require; train with ``remove_unused_columns=False``."""
        from datasets import Dataset

        def transform(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
            rows = [self[i] for i in batch["index"]]
            return {k: [r[k] for r in rows] for k in ("prompt", "completion", "images")}

        return Dataset.from_dict({"index": list(range(len(self)))}).with_transform(transform)

    def truth_row(self, i: int, example: dict[str, Any] | None = None) -> dict[str, Any]:
        """Ground truth of sample ``i`` as reward columns: ``boxes`` (pixel xyxy of its first image), ``labels``,
        ``image_size`` ``[width, height]`` (see :func:`tenken.train.rewards.truths_from_columns`)."""
        example = example if example is not None else self[i]
        boxes = [b for b in self.samples[i].boxes if b.image == 0]
        im = example["images"][0]
        return {
            "boxes": [list(b.box) for b in boxes],
            "labels": [b.label for b in boxes],
            "image_size": [im.width, im.height],
        }

    def to_hf_prompts(self) -> Any:
        """Like :meth:`to_hf` for GRPO: rows are ``prompt``, ``images`` and the reward columns of
        :meth:`truth_row` (the completion is generated, not given)."""
        from datasets import Dataset

        def transform(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
            rows = []
            for i in batch["index"]:
                ex = self[i]
                rows.append({"prompt": ex["prompt"], "images": ex["images"], **self.truth_row(i, ex)})
            return {k: [r[k] for r in rows] for k in rows[0]} if rows else {}

        return Dataset.from_dict({"index": list(range(len(self)))}).with_transform(transform)
