"""Benchmark file formats (JSONL, one sample per line), their readers, and readers for published datasets.

Formats (boxes are ``[x1, y1, x2, y2]`` float pixels of the image; image paths are relative to the JSONL
file's folder unless absolute):

- VQA: ``{"id", "image", "question", "answer"}``
- REC (grounding): ``{"id", "image", "expression", "box": [x1, y1, x2, y2]}``
- task classification: ``{"id", "image", "label"}``
- anomaly pairs: ``{"id", "target", "reference", "boxes": [[x1, y1, x2, y2], ...], "labels": [...]}``
  (``reference`` is a path or a list of candidate paths)
- detection ground truth (``tenken eval detection``): ``{"id", "boxes": [[...]], "labels": [...]}``

Predictions: ``{"id", "prediction"}`` (VQA, classification), ``{"id", "box"}`` (REC), and tenken reports
``{"id", "detections": [{"box", "label", ...}]}`` (detection, anomaly).

Bad input is never scored silently. Every reader returns the samples it could read and a
:class:`~tenken.core.artifacts.LoadReport` listing each skipped line or box with the file, line number, id and reason:
malformed JSON, a missing field, a box with NaN/infinite coordinates or negative width/height, a duplicate id,
a prediction for an id not in the ground truth. Ground-truth ids with no prediction are listed in
``LoadReport.missing`` and scored as empty predictions.

Published datasets read from a local copy: :func:`read_ja_vg_vqa_500` (SakanaAI/JA-VG-VQA-500 parquet, its
``qas`` list flattened to one sample per question) and :func:`read_ref_l4` (JierunChen/Ref-L4 parquet with
``[x, y, w, h]`` boxes converted to ``xyxy``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tenken.core.artifacts import LoadReport, iter_jsonl, read_jsonl, write_atomic
from tenken.core.detections import Detections
from tenken.core.errors import InputError

# -- samples --------------------------------------------------------------------------------------------


@dataclass
class VQASample:
    """A question about an image with its reference answer."""

    id: str
    image: str
    question: str
    answer: str

    def to_dict(self) -> dict[str, Any]:
        """The sample as a line of the VQA format (the image path as stored)."""
        return {"id": self.id, "image": self.image, "question": self.question, "answer": self.answer}

    def image_paths(self) -> list[str]:
        """The image files the sample needs."""
        return [self.image]


@dataclass
class RECSample:
    """A referring expression and its one ground-truth box (``(4,)`` float64 xyxy pixels)."""

    id: str
    image: str
    expression: str
    box: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """The sample as a line of the REC format."""
        return {"id": self.id, "image": self.image, "expression": self.expression, "box": self.box.tolist()}

    def image_paths(self) -> list[str]:
        """The image files the sample needs."""
        return [self.image]


@dataclass
class TaskSample:
    """An image with its true class label (e.g. a factory task id)."""

    id: str
    image: str
    label: str

    def to_dict(self) -> dict[str, Any]:
        """The sample as a line of the task-classification format."""
        return {"id": self.id, "image": self.image, "label": self.label}

    def image_paths(self) -> list[str]:
        """The image files the sample needs."""
        return [self.image]


@dataclass
class AnomalySample:
    """A target, its reference candidates, and the ground-truth anomaly boxes (target pixels)."""

    id: str
    target: str
    reference: list[str]
    truth: Detections

    def to_dict(self) -> dict[str, Any]:
        """The sample as a line of the anomaly-pairs format (also detection ground truth)."""
        return {"id": self.id, "target": self.target, "reference": self.reference,
                "boxes": self.truth.xyxy.tolist(), "labels": self.truth.labels}  # fmt: skip

    def image_paths(self) -> list[str]:
        """The image files the sample needs: the target, then its reference candidates."""
        return [self.target, *self.reference]


@dataclass
class BoxTable:
    """The boxes of many images in flat arrays (one row per box), as read from a JSONL file.

    Attributes:
        ids: the image (sample) ids, in file order; ``sample`` indexes this list.
        xyxy: ``(N, 4)`` float64 boxes, pixels of each image.
        labels: ``N`` label strings (``""`` when a box has none).
        scores: ``(N,)`` float64 confidences (NaN when unknown; ground truth has none).
        sample: ``(N,)`` int64 index into ``ids`` of each box's image.
    """

    ids: list[str]
    xyxy: np.ndarray
    labels: list[str]
    scores: np.ndarray
    sample: np.ndarray

    def detections(self) -> list[Detections]:
        """One :class:`Detections` per image (in ``ids`` order; slow for very many images)."""
        order = np.argsort(self.sample, kind="stable")
        bounds = np.searchsorted(self.sample[order], np.arange(len(self.ids) + 1))
        out = []
        for k in range(len(self.ids)):
            idx = order[bounds[k] : bounds[k + 1]]
            out.append(Detections(self.xyxy[idx], self.scores[idx], [self.labels[i] for i in idx]))
        return out


# -- low-level parsing ----------------------------------------------------------------------------------


def parse_box(value: Any, truth: bool = False) -> np.ndarray:
    """``[x1, y1, x2, y2]`` -> ``(4,)`` float64; raises ``ValueError`` naming what is wrong.

    With ``truth`` (a ground-truth box) a zero width or height is wrong too: no prediction can ever match it
    (IoU 0), so it would lower recall silently."""
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise ValueError(f"box must be a list of 4 numbers [x1, y1, x2, y2], got {value!r}")
    try:
        x1, y1, x2, y2 = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"box has a non-numeric coordinate: {value!r}") from None
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise ValueError(f"box has NaN or infinite coordinates: {value!r}")
    if x2 < x1 or y2 < y1:
        raise ValueError(f"box has negative width or height (x2 < x1 or y2 < y1): {value!r}")
    if truth and (x2 == x1 or y2 == y1):
        raise ValueError(f"box has zero width or height (nothing can match it): {value!r}")
    return np.array([x1, y1, x2, y2], dtype=np.float64)


def _id(obj: dict[str, Any]) -> str | None:
    v = obj.get("id")
    if v is None or isinstance(v, (dict, list)) or (isinstance(v, float) and math.isnan(v)):
        return None
    return str(v)


def _resolve(base: Path, value: Any) -> str:
    p = Path(str(value)).expanduser()
    return str(p if p.is_absolute() else base / p)


def _require(obj: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first missing or non-string/empty field name, or None."""
    for k in keys:
        if k not in obj or obj[k] is None:
            return k
    return None


def _unique_rows(path: str | Path, report: LoadReport) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Lines with a usable, first-seen ``id``; id-less and duplicate lines are recorded in ``report``."""
    seen: dict[str, int] = {}
    for n, obj in iter_jsonl(path, report):
        sid = _id(obj)
        if sid is None:
            report.skip(path, n, None, "no 'id' field")
            continue
        if sid in seen:
            report.skip(path, n, sid, f"duplicate id (first on line {seen[sid]}); this line is ignored")
            continue
        seen[sid] = n
        yield n, sid, obj


def _complete_rows(
    path: str | Path, report: LoadReport, keys: tuple[str, ...]
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """:func:`_unique_rows` that have every field of ``keys`` (not null); the others are recorded."""
    for n, sid, obj in _unique_rows(path, report):
        miss = _require(obj, keys)
        if miss:
            report.skip(path, n, sid, f"missing field {miss!r}")
            continue
        yield n, sid, obj


# -- ground-truth readers -------------------------------------------------------------------------------


def read_vqa(path: str | Path) -> tuple[list[VQASample], LoadReport]:
    """Read a VQA JSONL file ``{"id", "image", "question", "answer"}``."""
    report = LoadReport()
    base = Path(path).parent
    out = []
    for _, sid, obj in _complete_rows(path, report, ("image", "question", "answer")):
        out.append(VQASample(sid, _resolve(base, obj["image"]), str(obj["question"]), str(obj["answer"])))
    return out, report


def read_rec(path: str | Path) -> tuple[list[RECSample], LoadReport]:
    """Read a REC JSONL file ``{"id", "image", "expression", "box": [x1, y1, x2, y2]}``."""
    report = LoadReport()
    base = Path(path).parent
    out = []
    for n, sid, obj in _complete_rows(path, report, ("image", "expression", "box")):
        try:
            box = parse_box(obj["box"], truth=True)
        except ValueError as exc:
            report.skip(path, n, sid, f"ground truth {exc}")
            continue
        out.append(RECSample(sid, _resolve(base, obj["image"]), str(obj["expression"]), box))
    return out, report


def read_classification(path: str | Path) -> tuple[list[TaskSample], LoadReport]:
    """Read a task-classification JSONL file ``{"id", "image", "label"}``."""
    report = LoadReport()
    base = Path(path).parent
    out = []
    for _, sid, obj in _complete_rows(path, report, ("image", "label")):
        out.append(TaskSample(sid, _resolve(base, obj["image"]), str(obj["label"])))
    return out, report


def _truth_boxes(obj: dict[str, Any]) -> Detections:
    """Ground-truth ``boxes`` + ``labels`` of a line; raises ``ValueError`` on any bad box (a sample with a
    bad ground-truth box cannot be scored correctly, so the whole line is skipped)."""
    boxes = obj.get("boxes")
    if boxes is None:
        raise ValueError("missing field 'boxes' (use [] for an image with nothing to find)")
    if not isinstance(boxes, list):
        raise ValueError(f"'boxes' must be a list of [x1, y1, x2, y2], got {boxes!r}")
    labels = obj.get("labels", [""] * len(boxes))
    if not isinstance(labels, list) or len(labels) != len(boxes):
        raise ValueError(f"'labels' must be a list with one label per box ({len(boxes)} boxes)")
    parsed = []
    for i, b in enumerate(boxes):
        try:
            parsed.append(parse_box(b, truth=True))
        except ValueError as exc:
            raise ValueError(f"ground-truth box {i}: {exc}") from None
    xyxy = np.array(parsed).reshape(-1, 4)
    return Detections(xyxy, labels=[str(x) for x in labels], sources=["gt"] * len(parsed))


def _stack_boxes(raw: list[Any]) -> np.ndarray | None:
    """``raw`` (boxes as JSON gave them) as an ``(N, 4)`` float64 array, or None when any is not 4 numbers."""
    try:
        arr = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if len(raw) == 0:
        return np.zeros((0, 4))
    return arr if arr.shape == (len(raw), 4) else None


def _valid_boxes(xyxy: np.ndarray, truth: bool) -> np.ndarray:
    """``(N,)`` bool: the rows :func:`parse_box` accepts (finite, ``x2 >= x1``, ``y2 >= y1``; strict for truth)."""
    w = xyxy[:, 2] - xyxy[:, 0]
    h = xyxy[:, 3] - xyxy[:, 1]
    ok = np.isfinite(xyxy).all(axis=1)
    return ok & ((w > 0) & (h > 0) if truth else (w >= 0) & (h >= 0))


def read_detection_truth(path: str | Path) -> tuple[BoxTable, LoadReport]:
    """Read detection ground truth ``{"id", "boxes", "labels"}`` (also accepts anomaly-pair lines).

    Vectorised: boxes are checked as one array, and only lines with a bad box are parsed box by box (for the
    message); such a line is skipped whole (a sample with a bad ground-truth box cannot be scored correctly).
    """
    report = LoadReport()
    rows: list[tuple[int, str, dict[str, Any]]] = []
    raw: list[Any] = []
    labels: list[str] = []
    owner: list[int] = []
    for n, sid, obj in _unique_rows(path, report):
        boxes = obj.get("boxes")
        labs = obj.get("labels", [""] * len(boxes)) if isinstance(boxes, list) else None
        if not isinstance(boxes, list) or not isinstance(labs, list) or len(labs) != len(boxes):
            _skip_truth_line(path, n, sid, obj, report)
            continue
        owner.extend([len(rows)] * len(boxes))
        rows.append((n, sid, obj))
        raw.extend(boxes)
        labels.extend([str(x) for x in labs])
    xyxy = _stack_boxes(raw)
    rows_of = np.array(owner, dtype=np.int64)
    if xyxy is None:  # some box is not 4 numbers: parse line by line (slow, exact messages)
        xyxy = np.full((len(raw), 4), np.nan)
        start = np.searchsorted(rows_of, np.arange(len(rows) + 1))  # the boxes of row r: start[r]:start[r + 1]
        for r, (_, _, obj) in enumerate(rows):
            with contextlib.suppress(ValueError):  # a bad line is left NaN: skipped below with its message
                xyxy[start[r] : start[r + 1]] = _truth_boxes(obj).xyxy
    bad = sorted(set(rows_of[~_valid_boxes(xyxy, truth=True)].tolist()))
    for r in bad:
        _skip_truth_line(path, *rows[r], report)
    report.skipped.sort(key=lambda s: s.line or 0)  # file order, as the lines were read
    keep_rows = np.ones(len(rows), dtype=bool)
    keep_rows[bad] = False
    keep = keep_rows[rows_of]
    table = BoxTable(
        ids=[row[1] for row, k in zip(rows, keep_rows, strict=True) if k],
        xyxy=xyxy[keep],
        labels=[lab for lab, k in zip(labels, keep, strict=True) if k],
        scores=np.full(int(keep.sum()), np.nan),
        sample=(np.cumsum(keep_rows) - 1)[rows_of[keep]].astype(np.int64),
    )
    return table, report


def _skip_truth_line(path: str | Path, n: int, sid: str, obj: dict[str, Any], report: LoadReport) -> None:
    """Record why a ground-truth line is skipped (the message of :func:`_truth_boxes`)."""
    try:
        _truth_boxes(obj)
    except ValueError as exc:
        report.skip(path, n, sid, str(exc))
    else:  # the vectorised check is stricter than parse_box only for values it cannot read
        report.skip(path, n, sid, "ground-truth boxes could not be read as numbers")


def read_anomaly(path: str | Path) -> tuple[list[AnomalySample], LoadReport]:
    """Read anomaly pairs ``{"id", "target", "reference", "boxes", "labels"}``."""
    report = LoadReport()
    base = Path(path).parent
    out = []
    for n, sid, obj in _complete_rows(path, report, ("target", "reference")):
        refs = obj["reference"] if isinstance(obj["reference"], list) else [obj["reference"]]
        if not refs:
            report.skip(path, n, sid, "'reference' is an empty list")
            continue
        try:
            truth = _truth_boxes(obj)
        except ValueError as exc:
            report.skip(path, n, sid, str(exc))
            continue
        out.append(AnomalySample(sid, _resolve(base, obj["target"]), [_resolve(base, r) for r in refs], truth))
    return out, report


# -- prediction readers ---------------------------------------------------------------------------------


def read_predictions(
    path: str | Path, known_ids: list[str], report: LoadReport
) -> dict[str, tuple[int, dict[str, Any]]]:
    """Prediction lines by id (``id -> (line, object)``), restricted to ``known_ids``.

    Lines for unknown ids, duplicates and malformed lines are recorded in ``report``; the ids of
    ``known_ids`` without a line are appended to ``report.missing``.
    """
    known = set(known_ids)
    dropped_truth = {s.id for s in report.skipped if s.source != str(path)}
    out: dict[str, tuple[int, dict[str, Any]]] = {}
    for n, sid, obj in _unique_rows(path, report):
        if sid not in known:
            why = (
                "prediction for an id whose ground-truth line was skipped (see above)"
                if sid in dropped_truth
                else "prediction for an id that is not in the ground truth"
            )
            report.skip(path, n, sid, why)
            continue
        out[sid] = (n, obj)
    report.missing.extend(i for i in known_ids if i not in out)
    return out


def prediction_table(
    path: str | Path, ids: list[str], rows: dict[str, tuple[int, dict[str, Any]]], report: LoadReport
) -> BoxTable:
    """The detections of tenken report lines, for the images ``ids`` (``sample`` indexes ``ids``).

    ``rows`` is :func:`read_predictions`' result (ids without a line have no boxes). A line whose
    ``detections`` is missing or not a list is recorded and scored as an empty prediction; a record that is
    not an object or whose box is bad (see :func:`parse_box`) is dropped and recorded; an unknown or
    non-numeric score is NaN. Boxes are read as one array; only bad ones are parsed one by one (for the message).
    """
    raw: list[Any] = []
    labels: list[str] = []
    scores: list[Any] = []
    sample: list[int] = []
    where: list[tuple[int, str, int]] = []  # (line, id, index in the line) of each box
    for k, sid in enumerate(ids):
        if sid not in rows:
            continue
        line, obj = rows[sid]
        records = obj.get("detections")
        if not isinstance(records, list):
            report.skip(path, line, sid, "no 'detections' list; scored as an empty prediction")
            continue
        for j, rec in enumerate(records):
            if not isinstance(rec, dict):
                report.skip(path, line, sid, f"detection {j} is not an object; dropped")
                continue
            raw.append(rec["box"] if "box" in rec else rec["bbox"] if "bbox" in rec else rec.get("xyxy"))
            labels.append(str(rec.get("label", "")))
            scores.append(rec.get("score"))
            sample.append(k)
            where.append((line, sid, j))
    xyxy = _stack_boxes(raw)
    if xyxy is None:  # some box is not 4 numbers: parse one by one
        xyxy = np.array([_parsed_or_nan(b) for b in raw]).reshape(-1, 4)
    ok = _valid_boxes(xyxy, truth=False)
    for i in np.flatnonzero(~ok):
        line, sid, j = where[i]
        try:
            parse_box(raw[i])
            reason = "box could not be read as numbers"
        except ValueError as exc:
            reason = str(exc)
        report.skip(path, line, sid, f"detection {j}: {reason}; dropped")
    return BoxTable(
        ids=ids,
        xyxy=xyxy[ok],
        labels=[lab for lab, k in zip(labels, ok, strict=True) if k],
        scores=_scores(scores)[ok],
        sample=np.array(sample, dtype=np.int64)[ok],
    )


def _parsed_or_nan(box: Any) -> np.ndarray:
    try:
        return parse_box(box)
    except ValueError:
        return np.full(4, np.nan)


def _scores(raw: list[Any]) -> np.ndarray:
    """Scores as float64, NaN for None, non-numbers and non-finite values."""
    try:
        out = np.array([np.nan if v is None else v for v in raw], dtype=np.float64)
    except (TypeError, ValueError):
        out = np.zeros(0)
    if out.shape != (len(raw),):  # something was not a number: one by one
        out = np.array([_score(v) for v in raw], dtype=np.float64)
    return np.where(np.isfinite(out), out, np.nan)


def _score(value: Any) -> float:
    try:
        return float("nan") if value is None else float(value)
    except (TypeError, ValueError):
        return float("nan")


# -- published datasets ---------------------------------------------------------------------------------


def _read_table(path: Path) -> list[dict[str, Any]]:
    """Rows of a parquet, JSON (list of objects) or JSONL file."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise InputError(f"{path}: reading parquet needs pyarrow (pip install pyarrow)") from None
        return pq.read_table(path).to_pylist()
    if suffix in (".json", ".jsonl"):
        report = LoadReport()
        rows = read_jsonl(path, report)
        if report.skipped:
            raise InputError(f"{path}: not a table of JSON objects ({report.skipped[0]})")
        return rows
    raise InputError(f"{path}: unsupported file type {suffix!r} (parquet, json or jsonl)")


def _find(path: Path, patterns: tuple[str, ...], what: str) -> Path:
    if path.is_file():
        return path
    if path.is_dir():
        for pattern in patterns:
            hits = sorted(path.glob(pattern))
            if hits:
                return hits[0]
    raise InputError(f"{path}: no {what} found (looked for {', '.join(patterns)})")


def read_ja_vg_vqa_500(
    path: str | Path, split: str = "test", images_dir: str | Path | None = None
) -> tuple[list[VQASample], LoadReport]:
    """Read a local copy of SakanaAI/JA-VG-VQA-500 as VQA samples, one per question.

    Args:
        path: the dataset folder (as downloaded from the hub: ``data/{split}-00000-of-00001.parquet``) or a
            parquet/JSON/JSONL file of its rows. A row is ``{"image_id", "url", "width", "height", "coco_id",
            "flickr_id", "qas": [{"qa_id", "question", "answer", "q_objects", "a_objects"}], "image"}`` where
            ``image`` is ``{"bytes", "path"}`` (parquet) or a path string.
        split: ``"test"`` (the 500-image benchmark) or ``"train"``.
        images_dir: where embedded image bytes are written once (default ``<folder>/images``).

    Sample ids are ``"{image_id}-{qa_id}"``.
    """
    root = Path(path)
    table = _find(root, (f"data/{split}-*.parquet", f"{split}-*.parquet", f"{split}*.jsonl"), f"{split} split")
    img_dir = Path(images_dir) if images_dir else (root if root.is_dir() else root.parent) / "images"
    report = LoadReport()
    out: list[VQASample] = []
    for r, row in enumerate(_read_table(table), start=1):
        image_id = row.get("image_id")
        qas = row.get("qas")
        if image_id is None or not isinstance(qas, list):
            report.skip(table, r, image_id, "row has no 'image_id' or no 'qas' list")
            continue
        image = row.get("image")
        if isinstance(image, dict) and image.get("bytes"):
            suffix = Path(str(image.get("path") or "x.jpg")).suffix or ".jpg"
            target = img_dir / f"{image_id}{suffix}"
            if not target.is_file():
                write_atomic(target, image["bytes"])  # a killed run leaves no torn image to reuse
            image_path = str(target)
        elif isinstance(image, dict) and image.get("path"):
            image_path = _resolve(table.parent, image["path"])
        elif isinstance(image, str):
            image_path = _resolve(table.parent, image)
        else:
            report.skip(table, r, image_id, "row has no image bytes or path")
            continue
        for j, qa in enumerate(qas):
            if not isinstance(qa, dict) or qa.get("question") is None or qa.get("answer") is None:
                report.skip(table, r, image_id, f"qas[{j}] has no question or answer")
                continue
            qa_id = qa.get("qa_id", j)
            out.append(VQASample(f"{image_id}-{qa_id}", image_path, str(qa["question"]), str(qa["answer"])))
    return out, report


def read_ref_l4(
    path: str | Path, split: str = "val", images_dir: str | Path | None = None
) -> tuple[list[RECSample], LoadReport]:
    """Read a local copy of JierunChen/Ref-L4 as REC samples.

    Args:
        path: the dataset folder (``ref-l4-{split}.parquet`` and ``images/`` extracted from
            ``images.tar.gz``) or the parquet/JSON file itself. A row is ``{"id", "caption", "bbox": [x, y,
            w, h], "bbox_area", "bbox_id", "ori_category_id", "image_id", "height", "width", "file_name",
            "is_rewrite", "split"}``.
        split: ``"val"`` or ``"test"``.
        images_dir: the image folder (default ``<folder>/images``).

    Boxes are converted from ``[x, y, w, h]`` to ``xyxy``; sample ids are the rows' ``id``.
    """
    root = Path(path)
    table = _find(root, (f"ref-l4-{split}.parquet", f"ref-l4-{split}.json", f"*{split}*.parquet"), f"{split} split")
    img_dir = Path(images_dir) if images_dir else (root if root.is_dir() else root.parent) / "images"
    report = LoadReport()
    out: list[RECSample] = []
    for r, row in enumerate(_read_table(table), start=1):
        sid = row.get("id")
        if sid is None or row.get("caption") is None or row.get("file_name") is None:
            report.skip(table, r, sid, "row has no 'id', 'caption' or 'file_name'")
            continue
        bbox = row.get("bbox")
        try:
            if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
                raise ValueError(f"bbox must be [x, y, w, h], got {bbox!r}")
            x, y, w, h = (float(v) for v in bbox)
            box = parse_box([x, y, x + w, y + h], truth=True)
        except (TypeError, ValueError) as exc:
            report.skip(table, r, sid, f"ground truth {exc}")
            continue
        out.append(RECSample(str(sid), str(img_dir / str(row["file_name"])), str(row["caption"]), box))
    return out, report
