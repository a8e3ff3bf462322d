import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenken.core.boxes import box_iou
from tenken.core.detections import Detections
from tenken.eval.detection import score_detections


def D(boxes, labels=None):
    return Detections(np.array(boxes, dtype=float).reshape(-1, 4), labels=labels)


def f1(gt, pred):
    s = score_detections([gt], [pred])
    return s.f1_bbox, s.f1_bbox_label


def test_empty_ground_truth_and_empty_prediction_score_one():
    assert f1(D([]), D([])) == (1.0, 1.0)


def test_empty_prediction_scores_zero():
    assert f1(D([[0, 0, 10, 10]], ["a"]), D([])) == (0.0, 0.0)


def test_prediction_on_empty_ground_truth_scores_zero():
    assert f1(D([]), D([[0, 0, 10, 10]], ["a"])) == (0.0, 0.0)


def test_duplicate_predictions_count_once_then_as_false_positive():
    gt = D([[0, 0, 10, 10]], ["a"])
    pred = D([[0, 0, 10, 10], [0, 0, 10, 10]], ["a", "a"])
    # TP=1, FP=1, FN=0 -> 2/(2+1)
    assert f1(gt, pred) == pytest.approx((2 / 3, 2 / 3))


def test_one_prediction_overlapping_two_ground_truth_boxes_matches_one():
    gt = D([[0, 0, 10, 10], [1, 0, 11, 10]], ["a", "a"])
    pred = D([[0, 0, 10.5, 10]], ["a"])
    assert f1(gt, pred) == pytest.approx((2 / 3, 2 / 3))


def test_iou_exactly_half_matches():
    gt = D([[0, 0, 10, 10]], ["a"])
    pred = D([[0, 0, 20, 5]], ["a"])  # inter 50, union 150 -> 1/3: no
    assert f1(gt, pred)[0] == 0.0
    pred = D([[0, 0, 10, 5]], ["a"])  # inter 50, union 100 -> 0.5: yes (>=)
    assert f1(gt, pred)[0] == 1.0


def test_label_must_agree_for_bbox_label_f1():
    gt = D([[0, 0, 10, 10], [20, 20, 30, 30]], ["cone", "glove"])
    pred = D([[0, 0, 10, 10], [20, 20, 30, 30]], ["cone", "helmet"])
    b, lab = f1(gt, pred)
    assert b == 1.0
    assert lab == pytest.approx(2 * 1 / (2 + 2))  # TP=1, FP=1, FN=1


def test_greedy_takes_the_highest_iou_first():
    # pred 0 overlaps gt 0 strongly and gt 1 weakly; pred 1 only overlaps gt 1. Greedy gives 2 matches.
    gt = D([[0, 0, 10, 10], [4, 0, 14, 10]], ["a", "a"])
    pred = D([[0, 0, 10, 10], [5, 0, 15, 10]], ["a", "a"])
    assert f1(gt, pred)[0] == 1.0


def test_greedy_is_not_maximum_cardinality():
    # pred 0 fits gt 0 best (0.82) and gt 1 well (0.67); pred 1 fits only gt 0 (0.67). A maximum matching
    # would pair pred0-gt1 and pred1-gt0 (2 TP); greedy by highest IoU takes pred0-gt0 and stops at 1 TP.
    gt = D([[2, 0, 12, 10], [5, 0, 15, 10]], ["a", "a"])
    pred = D([[3, 0, 13, 10], [0, 0, 10, 10]], ["a", "a"])
    iou = box_iou(pred.xyxy, gt.xyxy)
    assert iou[0, 0] > iou[0, 1] >= 0.5 and iou[1, 0] >= 0.5 > iou[1, 1]
    s = score_detections([gt], [pred])
    assert s.counts["tp_bbox"] == 1 and s.f1_bbox == pytest.approx(0.5)


def test_macro_average_over_samples():
    gts = [D([[0, 0, 10, 10]], ["a"]), D([]), D([[0, 0, 10, 10]], ["a"])]
    preds = [D([[0, 0, 10, 10]], ["a"]), D([]), D([])]
    s = score_detections(gts, preds)
    assert s.per_sample_f1_bbox.tolist() == [1.0, 1.0, 0.0]
    assert s.f1_bbox == pytest.approx(2 / 3)


def test_size_rows_counts_recall_and_agreement():
    # sizes sqrt(area): 50, 150, 250, 350 px, one box per sample
    sides = [50, 150, 250, 350]
    gts = [D([[0, 0, s, s]], ["cone"]) for s in sides]
    preds = [
        D([[0, 0, 50, 50]], ["cone"]),  # found, right label
        D([[0, 0, 150, 150]], ["glove"]),  # found, wrong label
        D([]),  # missed
        D([[0, 0, 350, 350]], ["cone"]),
    ]
    s = score_detections(gts, preds)
    rows = {r.name: r for r in s.size_lower_bounds}
    assert [r.name for r in s.size_lower_bounds] == ["0 px or larger", "100 px or larger", "200 px or larger"]
    assert rows["0 px or larger"].n_boxes == 4 and rows["0 px or larger"].n_samples == 4
    assert rows["0 px or larger"].recall == pytest.approx(3 / 4)
    assert rows["0 px or larger"].agreement == pytest.approx(2 / 3)
    assert rows["100 px or larger"].n_boxes == 3 and rows["100 px or larger"].recall == pytest.approx(2 / 3)
    assert rows["200 px or larger"].n_boxes == 2 and rows["200 px or larger"].recall == pytest.approx(1 / 2)
    assert rows["200 px or larger"].agreement == 1.0
    assert rows["0 px or larger"].recall_label == pytest.approx(2 / 4)
    q = s.size_quartiles
    assert [r.n_boxes for r in q] == [1, 1, 1, 1]
    assert [r.recall for r in q] == [1.0, 1.0, 0.0, 1.0]
    assert np.isnan(q[2].agreement)  # nothing found in that quartile
    d = s.to_dict()
    assert d["size_quartiles"][2]["agreement"] is None


def test_no_ground_truth_at_all_gives_empty_quartiles():
    s = score_detections([D([])], [D([[0, 0, 1, 1]], ["a"])])
    assert s.size_quartiles == []
    assert s.size_lower_bounds[0].n_boxes == 0 and s.size_lower_bounds[0].to_dict()["recall"] is None


# -- the vectorised matcher equals the sequential greedy definition ----------------------------------------


def reference_f1(gt: Detections, pred: Detections, use_labels: bool) -> float:
    iou = box_iou(pred.xyxy, gt.xyxy)
    pairs = [
        (-iou[i, j], i, j)
        for i in range(len(pred))
        for j in range(len(gt))
        if iou[i, j] >= 0.5 and (not use_labels or pred.labels[i] == gt.labels[j])
    ]
    used_p, used_g, tp = set(), set(), 0
    for _, i, j in sorted(pairs):
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
            tp += 1
    n = len(gt) + len(pred)
    return 1.0 if n == 0 else 2 * tp / n


@st.composite
def sample(draw):
    # integer coordinates on a small grid make ties and IoU == 0.5 frequent
    def boxes(n):
        out = []
        for _ in range(n):
            x, y = draw(st.integers(0, 6)), draw(st.integers(0, 6))
            w, h = draw(st.integers(1, 4)), draw(st.integers(1, 4))
            out.append([x, y, x + w, y + h])
        return out

    ng, npred = draw(st.integers(0, 5)), draw(st.integers(0, 5))
    labels = st.sampled_from(["a", "b"])
    return (
        D(boxes(ng), [draw(labels) for _ in range(ng)]),
        D(boxes(npred), [draw(labels) for _ in range(npred)]),
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(sample(), min_size=1, max_size=6))
def test_vectorised_scores_equal_sequential_greedy(samples):
    gts = [g for g, _ in samples]
    preds = [p for _, p in samples]
    s = score_detections(gts, preds)
    expect_b = [reference_f1(g, p, False) for g, p in samples]
    expect_l = [reference_f1(g, p, True) for g, p in samples]
    np.testing.assert_allclose(s.per_sample_f1_bbox, expect_b, atol=1e-12)
    np.testing.assert_allclose(s.per_sample_f1_bbox_label, expect_l, atol=1e-12)


def test_public_api_names():
    import tenken
    from tenken.eval.judge import LLMJudge
    from tenken.eval.text import rouge_l

    assert tenken.score_detections is score_detections
    assert tenken.LLMJudge is LLMJudge and tenken.rouge_l is rouge_l
