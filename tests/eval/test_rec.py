import numpy as np
import pytest

from tenken.eval.rec import MACC_THRESHOLDS, paired_iou, rec_scores, size_bucket


def test_iou_exactly_half_is_not_a_hit():
    gt = np.array([[0, 0, 10, 10]], float)
    pred = np.array([[0, 0, 10, 5]], float)  # IoU = 0.5 exactly
    assert paired_iou(pred, gt)[0] == 0.5
    s = rec_scores(pred, gt)
    assert s.acc[0.5] == 0.0 and s.macc == 0.0


def test_accuracies_and_macc_on_hand_made_cases():
    gt = np.array([[0, 0, 100, 100]] * 4, float)
    pred = np.array(
        [
            [0, 0, 100, 100],  # IoU 1.0: hit at every threshold
            [0, 0, 100, 80],  # IoU 0.8: hits at 0.5..0.75 (6 thresholds of 10)
            [0, 0, 100, 75],  # IoU 0.75 exactly: hits at 0.5..0.7 (5), not at 0.75
            [np.nan] * 4,  # no answer: a miss
        ]
    )
    s = rec_scores(pred, gt)
    assert s.acc == {0.5: 0.75, 0.75: 0.5, 0.9: 0.25}
    assert s.macc == pytest.approx((10 + 6 + 5 + 0) / 40)
    assert list(MACC_THRESHOLDS) == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
    d = s.to_dict()
    assert d["acc@0.5"] == 0.75 and d["n"] == 4 and set(d["curve"]) == {f"{t:g}" for t in MACC_THRESHOLDS}


def test_size_buckets_use_sqrt_area_with_inclusive_medium():
    boxes = np.array([[0, 0, 127.9, 128], [0, 0, 128, 128], [0, 0, 256, 256], [0, 0, 256, 257]], float)
    assert size_bucket(boxes).tolist() == ["small", "medium", "medium", "large"]


def test_by_size_accuracy():
    gt = np.array([[0, 0, 10, 10], [0, 0, 200, 200], [0, 0, 300, 300]], float)
    pred = np.array([[0, 0, 10, 10], [np.nan] * 4, [0, 0, 300, 300]], float)
    by = rec_scores(pred, gt).by_size
    assert by["small"]["n"] == 1 and by["small"]["acc@0.5"] == 1.0
    assert by["medium"]["acc@0.5"] == 0.0 and by["large"]["macc"] == 1.0
