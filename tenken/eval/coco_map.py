"""mAP@50 through an established COCO evaluator: faster-coco-eval when installed, else pycocotools.

We never compute AP by hand (DESIGN.md "Metrics"): the samples are turned into COCO ground-truth and result
dicts (vectorised, from flat box tables: :func:`coco_dicts_flat`) and handed to the evaluator. The number
returned is COCO's ``AP @ IoU=0.50, area=all, maxDets=100`` (``stats[1]``). Both backends give the same
number (tested to 1e-9 on randomised cases); faster-coco-eval is several times faster.

Scores: COCO ranks predictions by score; a prediction with an unknown score (NaN) is written with score 1.0
by ``to_coco``, so a model that gives no confidences is ranked in input order.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from tenken.core.boxes import xyxy_to_xywh
from tenken.core.detections import Detections
from tenken.core.errors import require_module
from tenken.eval.formats import BoxTable

Backend = Literal["auto", "pycocotools", "faster-coco-eval"]

AGNOSTIC_LABEL = "object"
"""The single category used for class-agnostic ("bbox only") mAP."""


def coco_dicts(
    gts: Sequence[Detections], preds: Sequence[Detections], class_agnostic: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """COCO ground-truth dataset dict and result list for aligned samples (image ids 1..K).

    Categories are the sorted union of labels (ids from 1); with ``class_agnostic`` every box is
    :data:`AGNOSTIC_LABEL`.
    """
    if len(gts) != len(preds):
        raise ValueError(f"{len(gts)} ground-truth samples but {len(preds)} prediction samples")
    sizes = [g.image_size or p.image_size or (1, 1) for g, p in zip(gts, preds, strict=True)]
    return coco_dicts_flat(_table(gts), _table(preds), sizes, class_agnostic)


def _table(items: Sequence[Detections]) -> BoxTable:
    counts = [len(d) for d in items]
    return BoxTable(
        ids=[str(k) for k in range(len(items))],
        xyxy=np.concatenate([d.xyxy for d in items]).reshape(-1, 4) if items else np.zeros((0, 4)),
        labels=[lab for d in items for lab in d.labels],
        scores=np.concatenate([d.scores for d in items]) if items else np.zeros(0),
        sample=np.repeat(np.arange(len(items), dtype=np.int64), counts),
    )


def coco_dicts_flat(
    gt: BoxTable, pred: BoxTable, sizes: Sequence[tuple[int, int]] | None = None, class_agnostic: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """COCO ground-truth dataset dict and result list of flat box tables (``gt.sample`` and ``pred.sample``
    index the same images; COCO image id = index + 1). ``sizes``: ``(width, height)`` per image (default 1x1:
    box evaluation does not use it). Unknown prediction scores are written as 1.0 (COCO needs a score)."""
    n_images = len(gt.ids)
    names = sorted({*gt.labels, *pred.labels})
    cat_ids = {name: 1 for name in names} if class_agnostic else {name: i + 1 for i, name in enumerate(names)}
    categories = (
        [{"id": 1, "name": AGNOSTIC_LABEL}] if class_agnostic else [{"id": i, "name": n} for n, i in cat_ids.items()]
    )
    sizes = sizes if sizes is not None else [(1, 1)] * n_images
    images = [{"id": k + 1, "width": int(w), "height": int(h)} for k, (w, h) in enumerate(sizes)]
    anns = _coco_records(gt, cat_ids, with_score=False)
    results = _coco_records(pred, cat_ids, with_score=True)
    return {"images": images, "annotations": anns, "categories": categories}, results


def _coco_records(table: BoxTable, cat_ids: dict[str, int], with_score: bool) -> list[dict[str, Any]]:
    """COCO annotation (``with_score=False``) or result dicts of a box table, ``bbox`` as ``[x, y, w, h]``."""
    xywh = xyxy_to_xywh(table.xyxy)
    area = (xywh[:, 2] * xywh[:, 3]).tolist()
    image = (table.sample + 1).tolist()
    cats = [cat_ids[lab] for lab in table.labels]
    boxes = xywh.tolist()
    if not with_score:
        return [
            {"id": i + 1, "image_id": m, "category_id": c, "bbox": b, "area": a, "iscrowd": 0}
            for i, (m, c, b, a) in enumerate(zip(image, cats, boxes, area, strict=True))
        ]
    scores = np.where(np.isnan(table.scores), 1.0, table.scores).tolist()
    return [
        {"id": i + 1, "image_id": m, "category_id": c, "bbox": b, "area": a, "iscrowd": 0, "score": s}
        for i, (m, c, b, a, s) in enumerate(zip(image, cats, boxes, area, scores, strict=True))
    ]


def map50(
    gts: Sequence[Detections],
    preds: Sequence[Detections],
    class_agnostic: bool = False,
    backend: Backend = "auto",
) -> float | None:
    """COCO mAP at IoU 0.5 (0..1) over aligned samples (see :func:`map50_flat`)."""
    if len(gts) != len(preds):
        raise ValueError(f"{len(gts)} ground-truth samples but {len(preds)} prediction samples")
    return map50_flat(_table(gts), _table(preds), class_agnostic, backend)


def map50_flat(gt: BoxTable, pred: BoxTable, class_agnostic: bool = False, backend: Backend = "auto") -> float | None:
    """COCO mAP at IoU 0.5 (0..1) of flat box tables over the same images (``gt.ids``); see :func:`map50_both`."""
    return map50_both(gt, pred, backend)[1 if class_agnostic else 0]


def map50_both(gt: BoxTable, pred: BoxTable, backend: Backend = "auto") -> tuple[float | None, float | None]:
    """``(mAP@50, class-agnostic mAP@50)`` (0..1) of flat box tables over the same images (``gt.ids``).

    ``backend="auto"`` uses faster-coco-eval when it is installed, else pycocotools. The data is loaded into the
    evaluator once: the label-aware figure evaluates per category, the class-agnostic one with the evaluator's
    ``useCats = 0`` (every box one category). The evaluator is asked for IoU 0.5 and the area range "all" only
    (what ``stats[1]`` reads; the other thresholds and ranges would be computed and thrown away); each number
    equals a full evaluation of its own (tests compare with pycocotools).

    Returns ``None`` for both when there is no ground-truth box at all (COCO's AP is undefined then). No
    prediction at all with some ground truth gives 0.0.
    """
    if len(gt.xyxy) == 0:
        return None, None
    if len(pred.xyxy) == 0:
        return 0.0, 0.0
    dataset, results = coco_dicts_flat(gt, pred)
    if backend == "auto":
        backend = "faster-coco-eval" if importlib.util.find_spec("faster_coco_eval") else "pycocotools"
    if backend in ("pycocotools", "faster-coco-eval"):
        require_module(backend.replace("-", "_"), "eval", "mAP@50 (a COCO evaluator)")
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt, coco_dt = _load(backend, dataset, results)
        if len(gt.xyxy) + len(pred.xyxy) < PARALLEL_MIN_BOXES or not _can_fork():
            return _ap50(backend, coco_gt, coco_dt, 1), _ap50(backend, coco_gt, coco_dt, 0)
        return _ap50_in_parallel(backend, coco_gt, coco_dt)


PARALLEL_MIN_BOXES = 50_000
"""From this many boxes (ground truth + predictions) the two mAP figures are evaluated at once, the
class-agnostic one in a forked child process (the evaluator is mostly Python: one process does one at a time)."""


def _can_fork() -> bool:
    """A child can be forked safely: a platform with ``fork``, two CPUs or more, and no other thread in this
    process (a thread holding a lock at the fork would leave the child blocked on it)."""
    import multiprocessing
    import os
    import threading

    return (
        "fork" in multiprocessing.get_all_start_methods()
        and (os.cpu_count() or 1) > 1
        and threading.active_count() == 1
    )


def _ap50_in_parallel(backend: str, coco_gt: Any, coco_dt: Any) -> tuple[float | None, float | None]:
    """``(label-aware, class-agnostic)`` AP@50: the second in a forked child (which shares the loaded data
    without copying it), the first here meanwhile. If the child fails, its figure is computed here."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_ap50_child, args=(send, backend, coco_gt, coco_dt), daemon=True)
    child.start()
    send.close()
    try:
        label = _ap50(backend, coco_gt, coco_dt, 1)
        try:
            agnostic = receive.recv()
        except EOFError:  # the child died (e.g. out of memory): do its part here
            agnostic = _ap50(backend, coco_gt, coco_dt, 0)
    finally:
        receive.close()
        child.join()
    return label, agnostic


def _ap50_child(send: Any, backend: str, coco_gt: Any, coco_dt: Any) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        send.send(_ap50(backend, coco_gt, coco_dt, 0))
    send.close()


def _ap50(backend: str, coco_gt: Any, coco_dt: Any, use_cats: int) -> float | None:
    """COCO ``stats[1]`` (AP at IoU 0.5, area all, 100 detections) per category (``use_cats=1``) or over all
    boxes as one category (``use_cats=0``); None when undefined. Only IoU 0.5 and area "all" are evaluated."""
    ev = _evaluator(backend, coco_gt, coco_dt)
    ev.params.useCats = use_cats
    ev.params.iouThrs = np.array([0.5])
    ev.params.areaRng = [ev.params.areaRng[0]]  # "all"
    ev.params.areaRngLbl = ["all"]
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    value = float(ev.stats[1])
    return None if value < 0 else value


def _load(backend: str, dataset: dict[str, Any], results: list[dict[str, Any]]) -> tuple[Any, Any]:
    """The evaluator's ground-truth and result objects."""
    if backend == "pycocotools":
        from pycocotools.coco import COCO

        coco_gt = COCO()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        return coco_gt, coco_gt.loadRes(results)
    if backend == "faster-coco-eval":
        from faster_coco_eval import COCO as FCOCO

        coco_gt = FCOCO(dataset)
        return coco_gt, coco_gt.loadRes(results)
    raise ValueError(f"unknown COCO backend {backend!r} (use 'pycocotools' or 'faster-coco-eval')")


def _evaluator(backend: str, coco_gt: Any, coco_dt: Any) -> Any:
    """A COCO bbox evaluator of ``backend``."""
    if backend == "pycocotools":
        from pycocotools.cocoeval import COCOeval

        return COCOeval(coco_gt, coco_dt, "bbox")
    from faster_coco_eval import COCOeval_faster

    return COCOeval_faster(coco_gt, coco_dt, "bbox", print_function=lambda *a, **k: None)
