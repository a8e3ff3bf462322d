"""Score a model in training on validation samples: generate through tenken's own inference path
(:class:`~tenken.vlm.backends.hf.TransformersBackend` over the in-memory model), read boxes with the family's
parser and score them with :mod:`tenken.eval`'s per-sample detection F1 (DESIGN.md "Metrics").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tenken.core.detections import Detections
from tenken.eval.detection import score_detections
from tenken.train.examples import SampleDataset
from tenken.train.rewards import Truth, score_completion
from tenken.vlm.backends.base import BackendError, VLMRequest
from tenken.vlm.backends.hf import TransformersBackend
from tenken.vlm.parse import parse_detections


@dataclass
class ValidationScores:
    """``f1_bbox`` / ``f1_bbox_label``: macro per-sample F1 (0..1) over ``n`` samples; ``answers`` as generated."""

    f1_bbox: float
    f1_bbox_label: float
    n: int
    answers: list[str]
    rewards: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"f1_bbox", "f1_bbox_label", "n", "rewards": {name: mean}}``."""
        return {"f1_bbox": self.f1_bbox, "f1_bbox_label": self.f1_bbox_label, "n": self.n, "rewards": self.rewards}


def request_for(example: dict[str, Any], max_new_tokens: int) -> VLMRequest | None:
    """The inference request equal to an example's prompt (a system turn and one user turn with images
    first, as :class:`TransformersBackend` renders it); None for prompts of another shape (multi-turn)."""
    turns = example["prompt"]
    system = None
    if turns and turns[0]["role"] == "system":
        system = "".join(c.get("text", "") for c in turns[0]["content"])
        turns = turns[1:]
    if len(turns) != 1 or turns[0]["role"] != "user":
        return None
    content = turns[0]["content"]
    n_img = sum(c["type"] == "image" for c in content)
    if content[:n_img] != [{"type": "image"}] * n_img:
        return None  # images after text: the backend would render another prompt
    text = "".join(c.get("text", "") for c in content)
    return VLMRequest(text, [np.asarray(im) for im in example["images"]], system, max_new_tokens)


def score_model(
    model: Any,
    processor: Any,
    dataset: SampleDataset,
    n: int,
    max_new_tokens: int = 128,
    batch_size: int = 8,
    rewards: Mapping[str, float] | None = None,
    reward_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> ValidationScores:
    """Generate (greedy) for the first ``n`` samples of ``dataset`` and score boxes against theirs, and the
    mean of each reward in ``rewards`` (names -> weights, :mod:`tenken.train.rewards`) with their ``"total"``.

    Boxes of the sample's first image are the ground truth; samples whose prompt is not a single user turn are
    skipped. The model is put in eval mode and back in train mode afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        backend = TransformersBackend.from_loaded(model, processor, batch_size, max_new_tokens)
        requests, truths = [], []
        for i in range(min(n, len(dataset))):
            example = dataset[i]
            req = request_for(example, max_new_tokens)
            if req is None:
                continue
            sample = dataset.samples[i]
            size = (example["images"][0].width, example["images"][0].height)
            boxes = [b for b in sample.boxes if b.image == 0]
            truths.append(
                Detections(
                    np.array([b.box for b in boxes], dtype=np.float64).reshape(-1, 4),
                    labels=[b.label for b in boxes],
                    image_size=size,
                )
            )
            requests.append(req)
        try:
            answers = backend.generate(requests)
        except BackendError as exc:  # keep the finished answers; a failed one scores as no boxes
            answers = [a or "" for a in exc.results]
    finally:
        if was_training:
            model.train()
    family = dataset.family
    preds = [parse_detections(a, family, t.image_size, warnings_out=[]) for a, t in zip(answers, truths, strict=True)]
    if not truths:
        return ValidationScores(float("nan"), float("nan"), 0, [])
    scores = score_detections(truths, preds)
    means: dict[str, float] = {}
    if rewards:
        rows = [
            score_completion(a, Truth(t.xyxy, t.labels, t.image_size, family), rewards, reward_options)
            for a, t in zip(answers, truths, strict=True)
        ]
        means = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    return ValidationScores(scores.f1_bbox, scores.f1_bbox_label, len(truths), answers, means)
