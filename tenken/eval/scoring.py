"""Score a ground-truth file against a predictions file, for each task; the one path used by the CLI verbs
(``tenken eval detection|rec|vqa|classify``) and by the benchmark tasks (:mod:`tenken.eval.tasks`).

Every function returns a typed :class:`~tenken.eval.tasks.base.Scored`: the task's scores, the per-sample rows
when asked for, and ``input``, the :class:`~tenken.core.artifacts.LoadReport` of what was skipped and which ids
had no prediction (scored as empty / a miss), so a score is never silently computed on less data.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tenken.core.artifacts import LoadReport
from tenken.core.errors import InputError
from tenken.eval.classification import ClassificationScores
from tenken.eval.detection import DetectionScores, FlatBoxes, SizeRow, score_flat
from tenken.eval.formats import (
    BoxTable,
    parse_box,
    prediction_table,
    read_classification,
    read_detection_truth,
    read_predictions,
    read_rec,
    read_vqa,
)
from tenken.eval.rec import RecScores
from tenken.eval.tasks.base import Scored

if TYPE_CHECKING:
    from tenken.eval.judge import LLMJudge


def _require_truth(n_samples: int, gt_path: str | Path, report: LoadReport) -> None:
    """Refuse to score when no ground-truth line could be used (an empty, binary or all-malformed file):
    a table of NaNs with exit code 0 hid the mistake.

    Raises:
        InputError: naming the file and the first reason lines were skipped.
    """
    if n_samples:
        return
    first = f"; first: {report.skipped[0]}" if report.skipped else ""
    raise InputError(f"{gt_path}: no usable ground-truth line ({len(report.skipped)} skipped{first})")


# -- detection -----------------------------------------------------------------------------------------


@dataclass
class DetectionFileScores:
    """Detection scores of a ground-truth file against tenken reports.

    Attributes:
        detection: per-sample F1 (bbox only, bbox + label), size tables and counts.
        map50: COCO mAP@50 (labels must agree); None without ground-truth boxes.
        map50_bbox: class-agnostic COCO mAP@50.
        per_label: recall and agreement per ground-truth label (``name`` = the label), when asked for.
    """

    detection: DetectionScores
    map50: float | None
    map50_bbox: float | None
    per_label: list[SizeRow] | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{f1_bbox, f1_bbox_label, size_quartiles, size_lower_bounds, <counts>, map50, map50_bbox,
        per_label?}``."""
        out = self.detection.to_dict()
        out["map50"] = self.map50
        out["map50_bbox"] = self.map50_bbox
        if self.per_label is not None:
            out["per_label"] = [r.to_dict() for r in self.per_label]
        return out


@contextmanager
def _bulk_objects() -> Iterator[None]:
    """Pause the cyclic garbage collector while hundreds of thousands of small dicts and lists are built
    (JSONL lines, COCO records): its repeated passes over them cost twice the work itself on 100,000 samples.
    Nothing built here forms reference cycles; the collector's previous state is restored."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def score_detection_files(
    gt_path: str | Path, pred_path: str | Path, per_label: bool = False, per_sample: bool = False
) -> Scored[DetectionFileScores]:
    """``tenken eval detection``: GT lines ``{"id","boxes","labels"}``, PRED lines tenken reports.

    Returns ``f1_bbox``, ``f1_bbox_label``, the size tables, ``map50`` (COCO, labels must agree),
    ``map50_bbox`` (class-agnostic), counts, optionally ``per_label`` and ``per_sample``
    (``[{"id", "f1_bbox", "f1_bbox_label", "n_gt", "n_pred"}]``). Vectorised over flat box tables (100,000
    samples in seconds, ``benchmarks/eval.py``).
    """
    with _bulk_objects():
        return _score_detection_files(gt_path, pred_path, per_label, per_sample)


def _score_detection_files(
    gt_path: str | Path, pred_path: str | Path, per_label: bool, per_sample: bool
) -> Scored[DetectionFileScores]:
    from tenken.eval.coco_map import map50_both

    truth, report = read_detection_truth(gt_path)
    _require_truth(len(truth.ids), gt_path, report)
    ids = truth.ids
    rows = read_predictions(pred_path, ids, report)
    failed = _failed_items(pred_path, ids, rows, report)
    preds = prediction_table(pred_path, ids, {k: v for k, v in rows.items() if k not in failed}, report)
    _label_notes(truth, report)
    vocab: dict[str, int] = {}
    g = FlatBoxes(truth.xyxy, _codes(truth.labels, vocab), truth.sample)
    p = FlatBoxes(preds.xyxy, _codes(preds.labels, vocab), preds.sample)
    det = score_flat(g, p, len(ids))
    if failed:
        # a failed item (missing image, model error, no alignment) is a failure, not an empty prediction:
        # on a clean image an empty prediction would score a perfect F1
        k = [i for i, sid in enumerate(ids) if sid in failed]
        det.per_sample_f1_bbox[k] = 0.0
        det.per_sample_f1_bbox_label[k] = 0.0
        det.f1_bbox = float(det.per_sample_f1_bbox.mean())
        det.f1_bbox_label = float(det.per_sample_f1_bbox_label.mean())
    scores = DetectionFileScores(
        det, *map50_both(truth, preds), _per_label(g, p, list(vocab), len(ids)) if per_label else None
    )
    rows_out = None
    if per_sample:
        n_gt = np.bincount(truth.sample, minlength=len(ids)).tolist()
        n_pred = np.bincount(preds.sample, minlength=len(ids)).tolist()
        rows_out = [
            {"id": sid, "f1_bbox": fb, "f1_bbox_label": fl, "n_gt": ng, "n_pred": npr}
            for sid, fb, fl, ng, npr in zip(
                ids, det.per_sample_f1_bbox.tolist(), det.per_sample_f1_bbox_label.tolist(), n_gt, n_pred, strict=True
            )
        ]
    return Scored(scores, report, rows_out)


def _codes(labels: list[str], vocab: dict[str, int]) -> np.ndarray:
    """Label strings as int64 codes of ``vocab`` (grown as new labels appear)."""
    return np.array([vocab.setdefault(lab, len(vocab)) for lab in labels], dtype=np.int64)


def _failed_items(
    pred_path: str | Path, ids: list[str], rows: dict[str, tuple[int, dict[str, Any]]], report: LoadReport
) -> set[str]:
    """Ids whose prediction line is a failed item (recorded in ``report``; scored F1 0, their boxes missed)."""
    failed = set()
    for sid in ids:
        if sid not in rows:
            continue
        line, obj = rows[sid]
        why = _failure(obj)
        if why is not None:
            report.skip(pred_path, line, sid, f"{why}; scored F1 0, its boxes missed")
            failed.add(sid)
    return failed


def _label_notes(truth: BoxTable, report: LoadReport) -> None:
    """Notes when some or all ground-truth boxes have no label (their label scores cannot be read as usual)."""
    if len(truth.labels) and not any(truth.labels):
        report.notes.append(
            "the ground truth has no labels: f1_bbox_label, agreement and map50 compare against empty labels; "
            "read f1_bbox, recall and map50_bbox"
        )
        return
    unlabelled = sorted({int(k) for k, lab in zip(truth.sample, truth.labels, strict=True) if not lab})
    if unlabelled:  # some lines labelled, some not: the label scores of the others are silently 0
        report.notes.append(
            f"{len(unlabelled)} ground-truth image(s) have boxes without a label (first: "
            f"{truth.ids[unlabelled[0]]!r}); those boxes never match in f1_bbox_label, agreement and map50"
        )


def _per_label(g: FlatBoxes, p: FlatBoxes, vocab: list[str], n_samples: int) -> list[SizeRow]:
    """Recall and agreement per ground-truth label (bbox-only matching over all samples)."""

    out = []
    for code, name in enumerate(vocab):
        sel = g.labels == code
        if not sel.any():
            continue
        # restrict ground truth to this label; predictions stay (any label may find the box)
        sub = FlatBoxes(g.xyxy[sel], g.labels[sel], g.sample[sel])
        row = score_flat(sub, p, n_samples, lower_bounds=(0.0,)).size_lower_bounds[0]
        out.append(replace(row, name=name))
    return out


def _failure(obj: dict[str, Any]) -> str | None:
    """Why a prediction line is a failed item rather than a prediction, or None: an ``error`` line, or a
    tenken report whose alignment failed (no detector ran on it)."""
    if "error" in obj:
        return f"prediction failed ({obj['error']})"
    alignment = obj.get("alignment")
    if isinstance(alignment, dict) and alignment.get("ok") is False:
        return f"not aligned, nothing was inspected ({alignment.get('reason')})"
    return None


# -- REC, VQA, classification -----------------------------------------------------------------------------


def score_rec_files(gt_path: str | Path, pred_path: str | Path, per_sample: bool = False) -> Scored[RecScores]:
    """``tenken eval rec``: GT in the REC format, PRED lines ``{"id", "box": [x1, y1, x2, y2]}``.

    A missing line, a missing/null box or a bad box is a miss (IoU 0) and is reported. ``per_sample`` adds
    ``[{"id", "iou", "hit@0.5", "size"}]``.
    """
    from tenken.eval.rec import rec_scores, size_bucket

    samples, report = read_rec(gt_path)
    _require_truth(len(samples), gt_path, report)
    ids = [s.id for s in samples]
    rows = read_predictions(pred_path, ids, report)
    pred = np.full((len(samples), 4), np.nan)
    for k, sid in enumerate(ids):
        if sid not in rows:
            continue
        line, obj = rows[sid]
        if obj.get("box") is None:
            report.skip(pred_path, line, sid, "no 'box' (the model gave no box); scored as a miss")
            continue
        try:
            pred[k] = parse_box(obj["box"])
        except ValueError as exc:
            report.skip(pred_path, line, sid, f"{exc}; scored as a miss")
    gt = np.array([s.box for s in samples]).reshape(-1, 4)
    scores = rec_scores(pred, gt)
    rows_out = None
    if per_sample:
        rows_out = [
            {"id": sid, "iou": float(v), "hit@0.5": float(v > 0.5), "size": str(b)}
            for sid, v, b in zip(ids, scores.iou, size_bucket(gt), strict=True)
        ]
    return Scored(scores, report, rows_out)


def _text_predictions(pred_path: str | Path, ids: list[str], report: LoadReport) -> list[str]:
    rows = read_predictions(pred_path, ids, report)
    out = []
    for sid in ids:
        if sid not in rows:
            out.append("")
            continue
        line, obj = rows[sid]
        value = obj.get("prediction")
        if value is None:
            report.skip(pred_path, line, sid, "no 'prediction' field; scored as an empty answer")
            value = ""
        out.append(str(value))
    return out


@dataclass
class VQAScores:
    """VQA scores over ``n`` samples.

    Attributes:
        rouge_l: Japanese ROUGE-L F-measure x100 (None without samples).
        exact_match, normalized_match: fractions 0..1.
        n: samples scored.
        rouge_l_config: how ROUGE-L was computed (tokeniser, normalisation).
        llm_judge: mean judge score 1–5 (0 for empty answers), when a judge ran (None: every request failed).
        llm_judge_detail: ``{"n", "failed", "invalid", "cached", "model"}`` of the judge, when it ran.
    """

    rouge_l: float | None
    exact_match: float | None
    normalized_match: float | None
    n: int
    rouge_l_config: dict[str, Any]
    llm_judge: float | None = None
    llm_judge_detail: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{rouge_l, exact_match, normalized_match, n, rouge_l_config, llm_judge?, llm_judge_detail?}``."""
        out = {
            "rouge_l": self.rouge_l,
            "exact_match": self.exact_match,
            "normalized_match": self.normalized_match,
            "n": self.n,
            "rouge_l_config": self.rouge_l_config,
        }
        if self.llm_judge_detail is not None:
            out["llm_judge"] = self.llm_judge
            out["llm_judge_detail"] = self.llm_judge_detail
        return out


def score_vqa_files(
    gt_path: str | Path,
    pred_path: str | Path,
    judge: LLMJudge | None = None,
    use_neologdn: bool | None = None,
    per_sample: bool = False,
) -> Scored[VQAScores]:
    """``tenken eval vqa``: ROUGE-L (ja, x100), exact and normalised match (0..1), and ``llm_judge`` (1–5
    scale mean, 0 for empty answers) when ``judge`` (an :class:`~tenken.eval.judge.LLMJudge`) is given.
    ``per_sample`` adds ``[{"id", "rouge_l", "exact_match", "normalized_match", "llm_judge"?}]``."""
    from tenken.eval.text import exact_match, normalized_match, rouge_l, rouge_l_config

    samples, report = read_vqa(gt_path)
    _require_truth(len(samples), gt_path, report)
    ids = [s.id for s in samples]
    preds = _text_predictions(pred_path, ids, report)
    refs = [s.answer for s in samples]
    rl = rouge_l(refs, preds, use_neologdn)
    em = exact_match(refs, preds)
    nm = normalized_match(refs, preds)
    scores = VQAScores(
        rouge_l=float(np.mean(rl)) if rl else None,
        exact_match=float(np.mean(em)) if refs else None,
        normalized_match=float(np.mean(nm)) if refs else None,
        n=len(samples),
        rouge_l_config=rouge_l_config(use_neologdn),
    )
    rows = [
        {"id": sid, "rouge_l": r, "exact_match": e, "normalized_match": m}
        for sid, r, e, m in zip(ids, rl, em, nm, strict=True)
    ]
    if judge is not None:
        _judge(judge, samples, refs, preds, rows, scores, report, pred_path)
    return Scored(scores, report, rows if per_sample else None)


def _judge(
    judge: LLMJudge,
    samples: list[Any],
    refs: list[str],
    preds: list[str],
    rows: list[dict[str, Any]],
    scores: VQAScores,
    report: LoadReport,
    pred_path: str | Path,
) -> None:
    """Ask the LLM judge about every answer; fill ``scores.llm_judge*``, the rows' ``llm_judge`` and ``report``."""
    from tenken.eval.judge import summarize

    results = judge.judge_many([s.question for s in samples], refs, preds)
    for row, res in zip(rows, results, strict=True):
        row["llm_judge"] = res.score
    summary = summarize(results, judge.model)
    scores.llm_judge = summary.pop("llm_judge")
    scores.llm_judge_detail = summary
    asked = sum(1 for p in preds if str(p).strip())
    if asked and summary["failed"] == asked:
        # every request failed (server down, wrong URL): the mean of the empty answers' zeros is no score
        scores.llm_judge = None
        first = next(r.error for r in results if r.error)
        report.notes.append(f"the judge failed on every request, llm_judge not scored (first error: {first})")
    for s, r in zip(samples, results, strict=True):
        if r.error:
            report.skip(pred_path, None, s.id, f"judge request failed: {r.error}")


def score_classification_files(
    gt_path: str | Path, pred_path: str | Path, per_sample: bool = False
) -> Scored[ClassificationScores]:
    """Task classification: GT ``{"id","image","label"}``, PRED ``{"id","prediction"}``; accuracy and the
    confusion matrix (a missing prediction counts as a wrong answer ``""``, in the ``(other)`` column).
    ``per_sample`` adds ``[{"id", "label", "prediction", "correct"}]``."""
    from tenken.eval.classification import classification_scores

    samples, report = read_classification(gt_path)
    _require_truth(len(samples), gt_path, report)
    ids = [s.id for s in samples]
    # labels are compared after trimming whitespace (" 検査\n" from a model is 検査), as exact_match does
    preds = [p.strip() for p in _text_predictions(pred_path, ids, report)]
    truth = [s.label.strip() for s in samples]
    scores = classification_scores(truth, preds, list(dict.fromkeys(truth)))
    rows = None
    if per_sample:
        rows = [
            {"id": sid, "label": t, "prediction": p, "correct": float(t == p)}
            for sid, t, p in zip(ids, truth, preds, strict=True)
        ]
    return Scored(scores, report, rows)
