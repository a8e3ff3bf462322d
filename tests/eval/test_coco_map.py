import contextlib
import io
import json

import numpy as np
import pytest

from tenken.core.detections import Detections
from tenken.eval.coco_map import coco_dicts, map50

LABELS = ["cone", "glove", "helmet"]


def random_case(rng: np.random.Generator, n_images: int):
    gts, preds = [], []
    for _ in range(n_images):
        n = int(rng.integers(0, 5))
        xy = rng.uniform(0, 400, (n, 2))
        wh = rng.uniform(8, 120, (n, 2))
        g = np.hstack([xy, xy + wh])
        labels = list(rng.choice(LABELS, n))
        gts.append(Detections(g, labels=labels, image_size=(640, 480)))
        # predictions: jittered copies (some relabelled), some dropped, plus random false positives
        keep = rng.random(n) < 0.8
        p = g[keep] + rng.normal(0, 6, (int(keep.sum()), 4))
        p[:, 2:] = np.maximum(p[:, 2:], p[:, :2] + 1)
        plabels = [lab if rng.random() < 0.8 else str(rng.choice(LABELS)) for lab in np.array(labels)[keep]]
        m = int(rng.integers(0, 3))
        fxy = rng.uniform(0, 400, (m, 2))
        fp = np.hstack([fxy, fxy + rng.uniform(8, 120, (m, 2))])
        preds.append(
            Detections(
                np.vstack([p, fp]).reshape(-1, 4),
                scores=rng.uniform(0, 1, len(p) + m),
                labels=plabels + list(rng.choice(LABELS, m)),
                image_size=(640, 480),
            )
        )
    return gts, preds


def pycocotools_direct(tmp_path, gts, preds, agnostic=False):
    """The reference: pycocotools reading the COCO files from disk, as its own docs show."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    dataset, results = coco_dicts(gts, preds, class_agnostic=agnostic)
    gt_file, dt_file = tmp_path / "gt.json", tmp_path / "dt.json"
    gt_file.write_text(json.dumps(dataset))
    dt_file.write_text(json.dumps(results))
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt_file))
        ev = COCOeval(coco, coco.loadRes(str(dt_file)), "bbox")
        ev.params.iouThrs = np.array([0.5])
        ev.evaluate()
        ev.accumulate()
    p = ev.eval["precision"][0, :, :, 0, -1]  # IoU 0.5, all recall points, all classes, area all, maxDets 100
    return float(np.mean(p[p > -1]))


@pytest.mark.parametrize("seed", range(6))
def test_map50_equals_pycocotools(tmp_path, seed):
    rng = np.random.default_rng(seed)
    gts, preds = random_case(rng, int(rng.integers(3, 25)))
    for agnostic in (False, True):
        expect = pycocotools_direct(tmp_path, gts, preds, agnostic)
        for backend in ("auto", "pycocotools", "faster-coco-eval"):
            assert map50(gts, preds, class_agnostic=agnostic, backend=backend) == pytest.approx(expect, abs=1e-9)


def test_perfect_predictions_score_one_and_none_score_zero():
    g = [Detections([[0, 0, 10, 10]], labels=["cone"]), Detections([[5, 5, 50, 50]], labels=["glove"])]
    assert map50(g, g) == pytest.approx(1.0)
    assert map50(g, [Detections.empty(), Detections.empty()]) == 0.0


def test_no_ground_truth_is_undefined():
    assert map50([Detections.empty()], [Detections([[0, 0, 1, 1]], labels=["a"])]) is None


def test_both_figures_in_parallel_equal_the_serial_ones(monkeypatch):
    # on large inputs the class-agnostic figure is evaluated in a forked child; it must be the same number
    import tenken.eval.coco_map as coco_map

    if not coco_map._can_fork():
        pytest.skip("no fork here (platform, one CPU, or other threads running)")
    gts, preds = random_case(np.random.default_rng(7), 60)
    gt, pred = coco_map._table(gts), coco_map._table(preds)
    serial = coco_map.map50_both(gt, pred)
    parallel, calls = coco_map._ap50_in_parallel, []
    monkeypatch.setattr(coco_map, "PARALLEL_MIN_BOXES", 0)
    monkeypatch.setattr(coco_map, "_ap50_in_parallel", lambda *a: calls.append(1) or parallel(*a))
    assert coco_map.map50_both(gt, pred) == pytest.approx(serial, abs=1e-12) and calls == [1]
