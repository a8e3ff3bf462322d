"""Score a ground-truth file against a predictions file, for each task; the one path used by the CLI verbs
(``tenken eval detection|rec|vqa|classify``) and by the benchmark runners.

Every result dict carries ``"input"``: the :class:`~tenken.eval.formats.LoadReport` of what was skipped and
which ids had no prediction (scored as empty / a miss), so a score is never silently computed on less data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tenken.core.detections import Detections
from tenken.core.errors import InputError
from tenken.eval.formats import (
    LoadReport,
    parse_box,
    prediction_detections,
    read_classification,
    read_detection_truth,
    read_predictions,
    read_rec,
    read_vqa,
)


def _require_truth(samples: list[Any], gt_path: str | Path, report: LoadReport) -> None:
    """Refuse to score when no ground-truth line could be used (an empty, binary or all-malformed file):
    a table of NaNs with exit code 0 hid the mistake.

    Raises:
        InputError: naming the file and the first reason lines were skipped.
    """
    if samples:
        return
    first = f"; first: {report.skipped[0]}" if report.skipped else ""
    raise InputError(f"{gt_path}: no usable ground-truth line ({len(report.skipped)} skipped{first})")


def score_detection_truth(
    ids: list[str],
    truth: list[Detections],
    pred_path: str | Path,
    report: LoadReport,
    per_label: bool = False,
    per_sample: bool = False,
) -> dict[str, Any]:
    """Detection scores of ground truth ``truth[k]`` (image ``ids[k]``) against a tenken-report JSONL.

    Returns ``f1_bbox``, ``f1_bbox_label``, ``size_quartiles``, ``size_lower_bounds``, ``map50`` (COCO,
    labels must agree), ``map50_bbox`` (class-agnostic), counts, optionally ``per_label`` and
    ``per_sample`` (``[{"id", "f1_bbox", "f1_bbox_label", "n_gt", "n_pred"}]``), and ``input``.
    """
    from tenken.eval.coco_map import map50
    from tenken.eval.detection import score_detections

    rows = read_predictions(pred_path, ids, report)
    preds = []
    failed = []
    for k, sid in enumerate(ids):
        why = _failure(rows[sid][1]) if sid in rows else None
        if why is not None:
            # a failed item (missing image, model error, no alignment) is a failure, not an empty prediction:
            # on a clean image an empty prediction would score a perfect F1
            report.skip(pred_path, rows[sid][0], sid, f"{why}; scored F1 0, its boxes missed")
            failed.append(k)
            preds.append(Detections.empty())
        elif sid in rows:
            line, obj = rows[sid]
            preds.append(prediction_detections(pred_path, line, sid, obj, report))
        else:
            preds.append(Detections.empty())
    det = score_detections(truth, preds)
    if failed:
        det.per_sample_f1_bbox[failed] = 0.0
        det.per_sample_f1_bbox_label[failed] = 0.0
        det.f1_bbox = float(det.per_sample_f1_bbox.mean())
        det.f1_bbox_label = float(det.per_sample_f1_bbox_label.mean())
    unlabelled = [sid for sid, t in zip(ids, truth, strict=True) if any(not lab for lab in t.labels)]
    if any(len(t) for t in truth) and not any(lab for t in truth for lab in t.labels):
        report.notes.append(
            "the ground truth has no labels: f1_bbox_label, agreement and map50 compare against empty labels; "
            "read f1_bbox, recall and map50_bbox"
        )
    elif unlabelled:  # some lines labelled, some not: the label scores of the others are silently 0
        report.notes.append(
            f"{len(unlabelled)} ground-truth image(s) have boxes without a label (first: {unlabelled[0]!r}); "
            "those boxes never match in f1_bbox_label, agreement and map50"
        )
    out = det.to_dict()
    out["map50"] = map50(truth, preds)
    out["map50_bbox"] = map50(truth, preds, class_agnostic=True)
    if per_label:
        out["per_label"] = _per_label(truth, preds)
    if per_sample:
        out["per_sample"] = [
            {"id": sid, "f1_bbox": float(fb), "f1_bbox_label": float(fl), "n_gt": len(g), "n_pred": len(p)}
            for sid, fb, fl, g, p in zip(
                ids, det.per_sample_f1_bbox, det.per_sample_f1_bbox_label, truth, preds, strict=True
            )
        ]
    out["input"] = report.to_dict()
    return out


def _per_label(truth: list[Detections], preds: list[Detections]) -> list[dict[str, Any]]:
    """Recall and agreement per ground-truth label (bbox-only matching over all samples)."""
    from tenken.eval.detection import FlatBoxes, flatten, score_flat

    g, p, vocab = flatten(truth, preds)
    out = []
    for code, name in enumerate(vocab):
        sel = g.labels == code
        if not sel.any():
            continue
        # restrict ground truth to this label; predictions stay (any label may find the box)
        sub = FlatBoxes(g.xyxy[sel], g.labels[sel], g.sample[sel])
        s = score_flat(sub, p, len(truth), lower_bounds=(0.0,))
        row = s.size_lower_bounds[0].to_dict()
        row["name"] = name
        out.append(row)
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


def score_detection_files(
    gt_path: str | Path, pred_path: str | Path, per_label: bool = False, per_sample: bool = False
) -> dict[str, Any]:
    """``tenken eval detection``: GT lines ``{"id","boxes","labels"}``, PRED lines tenken reports."""
    items, report = read_detection_truth(gt_path)
    _require_truth(items, gt_path, report)
    ids, truth = [t.id for t in items], [t.truth for t in items]
    return score_detection_truth(ids, truth, pred_path, report, per_label, per_sample)


def score_rec_files(gt_path: str | Path, pred_path: str | Path, per_sample: bool = False) -> dict[str, Any]:
    """``tenken eval rec``: GT in the REC format, PRED lines ``{"id", "box": [x1, y1, x2, y2]}``.

    A missing line, a missing/null box or a bad box is a miss (IoU 0) and is reported. ``per_sample`` adds
    ``[{"id", "iou", "hit@0.5", "size"}]``.
    """
    from tenken.eval.rec import rec_scores, size_bucket

    samples, report = read_rec(gt_path)
    _require_truth(samples, gt_path, report)
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
    out = scores.to_dict()
    if per_sample:
        out["per_sample"] = [
            {"id": sid, "iou": float(v), "hit@0.5": float(v > 0.5), "size": str(b)}
            for sid, v, b in zip(ids, scores.iou, size_bucket(gt), strict=True)
        ]
    out["input"] = report.to_dict()
    return out


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


def score_vqa_files(
    gt_path: str | Path,
    pred_path: str | Path,
    judge: Any = None,
    use_neologdn: bool | None = None,
    per_sample: bool = False,
) -> dict[str, Any]:
    """``tenken eval vqa``: ROUGE-L (ja, x100), exact and normalised match (0..1), and ``llm_judge`` (1–5
    scale mean, 0 for empty answers) when ``judge`` (an :class:`~tenken.eval.judge.LLMJudge`) is given.
    ``per_sample`` adds ``[{"id", "rouge_l", "exact_match", "normalized_match", "llm_judge"?}]``."""
    from tenken.eval.text import exact_match, normalized_match, rouge_l, rouge_l_config

    samples, report = read_vqa(gt_path)
    _require_truth(samples, gt_path, report)
    ids = [s.id for s in samples]
    preds = _text_predictions(pred_path, ids, report)
    refs = [s.answer for s in samples]
    rl = rouge_l(refs, preds, use_neologdn)
    em = exact_match(refs, preds)
    nm = normalized_match(refs, preds)
    out: dict[str, Any] = {
        "rouge_l": float(np.mean(rl)) if rl else None,
        "exact_match": float(np.mean(em)) if refs else None,
        "normalized_match": float(np.mean(nm)) if refs else None,
        "n": len(samples),
        "rouge_l_config": rouge_l_config(use_neologdn),
    }
    rows = [
        {"id": sid, "rouge_l": r, "exact_match": e, "normalized_match": m}
        for sid, r, e, m in zip(ids, rl, em, nm, strict=True)
    ]
    if judge is not None:
        from tenken.eval.judge import summarize

        results = judge.judge_many([s.question for s in samples], refs, preds)
        for row, res in zip(rows, results, strict=True):
            row["llm_judge"] = res.score
        summary = summarize(results, judge.model)
        out["llm_judge"] = summary.pop("llm_judge")
        out["llm_judge_detail"] = summary
        asked = sum(1 for p in preds if str(p).strip())
        if asked and summary["failed"] == asked:
            # every request failed (server down, wrong URL): the mean of the empty answers' zeros is no score
            out["llm_judge"] = None
            first = next(r.error for r in results if r.error)
            report.notes.append(f"the judge failed on every request, llm_judge not scored (first error: {first})")
        for sid, r in zip(ids, results, strict=True):
            if r.error:
                report.skip(pred_path, None, sid, f"judge request failed: {r.error}")
    if per_sample:
        out["per_sample"] = rows
    out["input"] = report.to_dict()
    return out


def score_classification_files(gt_path: str | Path, pred_path: str | Path, per_sample: bool = False) -> dict[str, Any]:
    """Task classification: GT ``{"id","image","label"}``, PRED ``{"id","prediction"}``; accuracy and the
    confusion matrix (a missing prediction counts as a wrong answer ``""``, in the ``(other)`` column).
    ``per_sample`` adds ``[{"id", "label", "prediction", "correct"}]``."""
    from tenken.eval.classification import classification_scores

    samples, report = read_classification(gt_path)
    _require_truth(samples, gt_path, report)
    ids = [s.id for s in samples]
    # labels are compared after trimming whitespace (" 検査\n" from a model is 検査), as exact_match does
    preds = [p.strip() for p in _text_predictions(pred_path, ids, report)]
    truth = [s.label.strip() for s in samples]
    labels = list(dict.fromkeys(truth))
    out = classification_scores(truth, preds, labels).to_dict()
    if per_sample:
        out["per_sample"] = [
            {"id": sid, "label": t, "prediction": p, "correct": float(t == p)}
            for sid, t, p in zip(ids, truth, preds, strict=True)
        ]
    out["input"] = report.to_dict()
    return out
