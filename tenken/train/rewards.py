"""Verifiable rewards for GRPO: functions of (completion text, ground truth) -> float in [0, 1].

Each reward is registered by name in :data:`REWARDS` (one decorator per reward; a new one is one function):

================  ==============================================================================================
``format``        1 when the completion is exactly ``<think>...</think>`` then ``<answer>...</answer>``.
``json``          1 when the answer (inside ``<answer>`` if present) is valid JSON.
``schema``        1 when the answer's JSON validates against a user JSON Schema (option ``schema``: a dict or
                  a file path), e.g. the inspection report's ``tenken/schemas/report.schema.json``.
``count``         agreement of the number of boxes answered with a count: the answer's own ``"count"`` when it
                  states one (consistency), else the ground truth's: ``1 - |n - m| / max(n, m)``.
``iou_f1``        tenken's per-sample detection F1 at IoU 0.5 (label-aware unless option ``labels=False``),
                  :func:`tenken.eval.detection.score_detections`, after the family turned the answer's boxes
                  into pixels of the image (never comparing numbers across frames).
``attributes``    over IoU-matched pairs, the fraction of ground-truth attribute fields the answer got right.
``gibberish``     1 for plain text; lower for repetition (zlib ratio) and control or replacement characters.
``rec_iou``       IoU of the answer's first box with the single ground-truth box (referring expressions).
================  ==============================================================================================

:class:`Truth` carries what a reward needs: boxes (pixel xyxy of the image), labels, per-box attributes, the
image size and the model family (whose :meth:`~tenken.vlm.families.Family.to_pixels` reads the answer).
:func:`grpo_reward_functions` turns names and options into TRL reward functions.
"""

from __future__ import annotations

import json
import re
import unicodedata
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tenken.core.boxes import ImageSize, box_iou, paired_iou
from tenken.core.detections import Detections
from tenken.core.errors import InputError
from tenken.core.registry import Registry
from tenken.eval.detection import greedy_match, score_detections
from tenken.vlm.families import Family, get_family
from tenken.vlm.parse import extract_boxes, parse_count, parse_detections

Reward = Callable[..., float]
"""``reward(completion: str, truth: Truth, **options) -> float`` in [0, 1]."""

REWARDS: Registry[Reward] = Registry("reward")

_ENVELOPE = re.compile(r"^\s*<think>(?P<think>.*?)</think>\s*<answer>(?P<answer>.*?)</answer>\s*$", re.S)
_ANSWER = re.compile(r"<answer>(?P<answer>.*?)(?:</answer>|$)", re.S)


@dataclass
class Truth:
    """Ground truth of one prompt.

    Attributes:
        boxes: ``(N, 4)`` float pixel xyxy of the original image (tenken's convention).
        labels: N label strings.
        image_size: ``(width, height)`` of the original image.
        family: the model family the completion is written in.
        attributes: per-box dicts of attribute fields (``[{"location": "pipe", ...}, ...]``), or empty.
        count: the expected count when it is not ``len(boxes)``.
    """

    boxes: np.ndarray
    labels: list[str]
    image_size: ImageSize
    family: Family
    attributes: list[dict[str, Any]] = field(default_factory=list)
    count: int | None = None

    def detections(self) -> Detections:
        """The boxes as :class:`Detections`."""
        return Detections(np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4), labels=list(self.labels),
                          image_size=self.image_size)  # fmt: skip


def answer_part(completion: str) -> str:
    """The text inside ``<answer>...</answer>`` (to the end when unclosed), else the whole completion."""
    m = _ANSWER.search(completion)
    return m.group("answer") if m else completion


def _answer_json(completion: str) -> Any:
    """The answer's JSON value (code fences removed); raises ValueError when it is not JSON."""
    text = re.sub(r"```[a-zA-Z]*", "", answer_part(completion)).strip()
    return json.loads(text)


def _predicted(completion: str, truth: Truth) -> Detections:
    return parse_detections(answer_part(completion), truth.family, truth.image_size, warnings_out=[])


@REWARDS.register("format")
def format_reward(completion: str, truth: Truth | None = None) -> float:
    """1.0 for ``<think>…</think><answer>…</answer>`` with non-empty parts and nothing around them, else 0."""
    m = _ENVELOPE.match(completion)
    return float(bool(m and m.group("think").strip() and m.group("answer").strip()))


@REWARDS.register("json")
def json_reward(completion: str, truth: Truth | None = None) -> float:
    """1.0 when the answer is one valid JSON value, else 0."""
    try:
        _answer_json(completion)
    except ValueError:
        return 0.0
    return 1.0


def load_schema(schema: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """A JSON Schema given as a dict or a file path (checked to be a valid schema)."""
    import jsonschema

    if not isinstance(schema, Mapping):
        try:
            schema = json.loads(Path(schema).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{schema}: cannot read a JSON Schema ({exc})") from None
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise InputError(f"invalid JSON Schema: {exc.message}") from None
    return dict(schema)


@REWARDS.register("schema")
def schema_reward(completion: str, truth: Truth | None = None, schema: Mapping[str, Any] | str | None = None) -> float:
    """1.0 when the answer's JSON validates against ``schema`` (see :func:`load_schema`), else 0."""
    import jsonschema

    if schema is None:
        raise InputError("the 'schema' reward needs a JSON Schema (reward option schema=PATH)")
    try:
        value = _answer_json(completion)
    except ValueError:
        return 0.0
    validator = jsonschema.validators.validator_for(schema)(load_schema(schema))
    return float(validator.is_valid(value))


def _stated_count(completion: str) -> int | None:
    """A count the answer states: a JSON ``"count"`` field, or a number in the text outside any JSON."""
    try:
        value = _answer_json(completion)
    except ValueError:
        value = None
    if isinstance(value, dict) and isinstance(value.get("count"), int) and not isinstance(value["count"], bool):
        return value["count"]
    if value is not None:
        return None
    prose = re.sub(r"[\[{].*[\]}]", " ", answer_part(completion), flags=re.S)
    return parse_count(prose) if prose.strip() else None


@REWARDS.register("count")
def count_reward(completion: str, truth: Truth) -> float:
    """``1 - |n - m| / max(n, m)`` between the number of boxes answered ``n`` and ``m``: the count the answer
    states itself (consistency) or else the ground truth's (``truth.count`` or its number of boxes); 1 when
    both are 0."""
    n = len(extract_boxes(answer_part(completion)))
    stated = _stated_count(completion)
    m = stated if stated is not None else (truth.count if truth.count is not None else len(truth.boxes))
    return 1.0 if max(n, m) == 0 else 1.0 - abs(n - m) / max(n, m)


@REWARDS.register("iou_f1")
def iou_f1_reward(completion: str, truth: Truth, labels: bool = True) -> float:
    """tenken's per-sample F1 at IoU >= 0.5 (greedy one-to-one; label-aware when ``labels``) in pixels of the
    image; an answer and a truth with no boxes score 1."""
    scores = score_detections([truth.detections()], [_predicted(completion, truth)])
    return float((scores.per_sample_f1_bbox_label if labels else scores.per_sample_f1_bbox)[0])


def _answer_items(completion: str, truth: Truth) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Boxes (pixels) and the dicts they came from, for answers that are JSON objects with a box."""
    try:
        value = _answer_json(completion)
    except ValueError:
        return np.zeros((0, 4)), []
    items = value if isinstance(value, list) else [value]
    boxes, dicts = [], []
    for item in items:
        if not isinstance(item, dict):
            continue
        found = extract_boxes(json.dumps(item))
        if found:
            boxes.append(found[0][0])
            dicts.append(item)
    if not boxes:
        return np.zeros((0, 4)), []
    return truth.family.to_pixels(np.array(boxes, dtype=np.float64), truth.image_size), dicts


@REWARDS.register("attributes")
def attribute_reward(completion: str, truth: Truth, iou_threshold: float = 0.5) -> float:
    """Over ground-truth boxes matched (IoU >= ``iou_threshold``, greedy) to answered boxes, the fraction of
    their attribute fields (``truth.attributes``) the matched answer object states with an equal value
    (strings compared after NFKC and case folding). 0 when nothing matches; 1 when there are no attributes."""
    fields = sum(len(a) for a in truth.attributes)
    if not fields:
        return 1.0
    pred, dicts = _answer_items(completion, truth)
    if not len(pred):
        return 0.0
    gt = np.asarray(truth.boxes, dtype=np.float64).reshape(-1, 4)
    iou = box_iou(pred, gt)
    pp, gg = np.nonzero(iou >= iou_threshold)
    match = greedy_match(pp, gg, iou[pp, gg], len(pred), len(gt))

    def norm(v: Any) -> Any:
        return unicodedata.normalize("NFKC", v).casefold().strip() if isinstance(v, str) else v

    right = sum(
        norm(dicts[match[g]].get(k)) == norm(v)
        for g, attrs in enumerate(truth.attributes)
        if g < len(match) and match[g] >= 0
        for k, v in attrs.items()
    )
    return right / fields


@REWARDS.register("gibberish", "anti_gibberish")
def gibberish_reward(completion: str, truth: Truth | None = None, min_ratio: float = 0.25) -> float:
    """1.0 for ordinary text; falls linearly to 0 as the zlib compression ratio of a long completion
    (> 80 bytes) drops below ``min_ratio`` (a loop repeating itself) and with the fraction of control or
    replacement characters. Empty completions score 0."""
    if not completion.strip():
        return 0.0
    data = completion.encode("utf-8")
    bad = sum(1 for c in completion if c == "\ufffd" or (unicodedata.category(c) == "Cc" and c not in "\n\t\r"))
    score = 1.0 - bad / len(completion)
    if len(data) > 80:
        ratio = len(zlib.compress(data, 9)) / len(data)
        score *= min(1.0, ratio / min_ratio)
    return max(0.0, score)


@REWARDS.register("rec_iou")
def rec_iou_reward(completion: str, truth: Truth) -> float:
    """IoU (pixels of the image) of the answer's first box with the first ground-truth box; 0 without a box."""
    pred = _predicted(completion, truth)
    if not len(pred) or not len(truth.boxes):
        return 0.0
    return float(paired_iou(pred.xyxy[:1], np.asarray(truth.boxes, dtype=np.float64).reshape(-1, 4)[:1])[0])


def score_completion(completion: str, truth: Truth, weights: Mapping[str, float],
                     options: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, float]:  # fmt: skip
    """Each named reward and their weighted mean ``"total"`` (weights normalised to sum 1)."""
    opts = options or {}
    out = {name: float(REWARDS.get(name)(completion, truth, **opts.get(name, {}))) for name in weights}
    total = sum(weights.values())
    out["total"] = sum(w * out[n] for n, w in weights.items()) / total if total else 0.0
    return out


def _text(completion: Any) -> str:
    """TRL gives a completion as text or as chat turns ``[{"role": "assistant", "content": ...}]``."""
    if isinstance(completion, str):
        return completion
    parts = []
    for turn in completion:
        content = turn.get("content", "")
        if isinstance(content, list):
            content = "".join(c.get("text", "") for c in content if isinstance(c, dict))
        parts.append(str(content))
    return "".join(parts)


def truths_from_columns(family: Family | str, **columns: Sequence[Any]) -> list[Truth]:
    """:class:`Truth` per row from dataset columns ``boxes``, ``labels``, ``image_size`` (and optional
    ``attributes``, ``count``), as TRL passes them to reward functions."""
    fam = get_family(family) if isinstance(family, str) else family
    n = len(columns["boxes"])
    attrs = columns.get("attributes") or [[] for _ in range(n)]
    counts = columns.get("count") or [None] * n
    return [
        Truth(np.asarray(b, dtype=np.float64).reshape(-1, 4), list(lab), tuple(size), fam, list(a or []), c)
        for b, lab, size, a, c in zip(columns["boxes"], columns["labels"], columns["image_size"], attrs, counts,
                                      strict=True)
    ]  # fmt: skip


def grpo_reward_functions(
    names: Sequence[str], family: Family, options: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Callable[..., list[float]]]:
    """TRL reward functions (``f(prompts, completions, **columns) -> list[float]``), one per reward name, each
    named after its reward (TRL logs ``rewards/<name>``). Pass the weights as ``GRPOConfig.reward_weights``.

    Raises:
        InputError: an unknown reward name (the known ones are listed).
    """
    opts = options or {}
    funcs = []
    for name in names:
        reward = REWARDS.get(name)
        kw = dict(opts.get(name, {}))

        def fn(
            prompts: Any, completions: Sequence[Any], _r: Reward = reward, _kw: dict = kw, **cols: Any
        ) -> list[float]:
            truths = truths_from_columns(family, **{k: cols[k] for k in cols if k in _TRUTH_COLUMNS})
            return [float(_r(_text(c), t, **_kw)) for c, t in zip(completions, truths, strict=True)]

        fn.__name__ = name
        funcs.append(fn)
    return funcs


_TRUTH_COLUMNS = ("boxes", "labels", "image_size", "attributes", "count")
