"""File-level scoring: bad input is reported, never silently scored."""

import pytest

from tenken.core.errors import InputError
from tenken.eval.scoring import (
    score_classification_files,
    score_detection_files,
    score_rec_files,
    score_vqa_files,
)
from tests.eval.jsonl_files import write


def skipped(scores):
    return {(s["id"], s["reason"].split(";")[0]) for s in scores["input"]["skipped"]}


@pytest.fixture
def det_files(tmp_path):
    gt = write(
        tmp_path / "gt.jsonl",
        [
            {"id": "a", "boxes": [[0, 0, 100, 100]], "labels": ["cone"]},
            {"id": "b", "boxes": [[0, 0, 50, 50], [200, 200, 260, 260]], "labels": ["glove", "cone"]},
            {"id": "c", "boxes": [], "labels": []},
            {"id": "d", "boxes": [[0, 0, 10, 10]], "labels": ["tool"]},  # no prediction line
            {"id": "e", "boxes": [[0, 0, float("nan"), 10]], "labels": ["tool"]},  # bad ground truth
        ],
    )
    pred = write(
        tmp_path / "pred.jsonl",
        [
            {"id": "a", "detections": [{"box": [0, 0, 100, 100], "label": "cone", "score": 0.9}]},
            {
                "id": "b",
                "detections": [
                    {"box": [0, 0, 50, 50], "label": "cone", "score": 0.8},
                    {"box": [10, 10, 5, 20], "label": "cone"},  # negative width: dropped, reported
                ],
            },
            {"id": "c", "detections": []},
            {"id": "zzz", "detections": [{"box": [0, 0, 1, 1], "label": "cone"}]},  # unknown id
            "{broken",
            {"id": "e", "detections": []},  # its ground truth was skipped, so e is unknown here
        ],
    )
    return gt, pred


def test_detection_scores_and_skip_report(det_files):
    gt, pred = det_files
    s = score_detection_files(gt, pred, per_label=True).to_dict()
    # a: F=1, 1; b: TP 1 of (1 pred, 2 gt) -> 2/3 bbox, 0 label; c: empty/empty 1; d: missing -> 0
    assert s["n_samples"] == 4
    assert s["f1_bbox"] == pytest.approx((1 + 2 / 3 + 1 + 0) / 4)
    assert s["f1_bbox_label"] == pytest.approx((1 + 0 + 1 + 0) / 4)
    assert s["input"]["missing"] == ["d"]
    reasons = skipped(s)
    assert ("e", "ground-truth box 0: box has NaN or infinite coordinates: [0, 0, nan, 10]") in reasons
    assert ("b", "detection 1: box has negative width or height (x2 < x1 or y2 < y1): [10, 10, 5, 20]") in reasons
    assert ("zzz", "prediction for an id that is not in the ground truth") in reasons
    assert ("e", "prediction for an id whose ground-truth line was skipped (see above)") in reasons
    assert any(sid is None and r.startswith("malformed JSON") for sid, r in reasons)
    assert 0 < s["map50"] < 1 and s["map50_bbox"] > s["map50"]
    per = {r["name"]: r for r in s["per_label"]}
    assert per["cone"]["n_boxes"] == 2 and per["cone"]["recall"] == 0.5
    assert per["glove"]["recall"] == 1.0 and per["glove"]["agreement"] == 0.0


def test_unlabelled_ground_truth_gets_a_note(tmp_path):
    gt = write(tmp_path / "gt.jsonl", [{"id": "a", "boxes": [[0, 0, 10, 10]]}])
    pred = write(tmp_path / "pred.jsonl", [{"id": "a", "detections": [{"box": [0, 0, 10, 10], "label": "tool"}]}])
    s = score_detection_files(gt, pred).to_dict()
    assert s["f1_bbox"] == 1.0 and s["f1_bbox_label"] == 0.0
    assert "no labels" in s["input"]["notes"][0]


def test_rec_missing_null_and_bad_boxes_are_misses(tmp_path):
    gt = write(
        tmp_path / "gt.jsonl",
        [{"id": str(i), "image": "x.jpg", "expression": "e", "box": [0, 0, 100, 100]} for i in range(5)],
    )
    pred = write(
        tmp_path / "pred.jsonl",
        [
            {"id": "0", "box": [0, 0, 100, 100]},
            {"id": "1", "box": None},
            {"id": "2", "box": [0, 0, "x", 3]},
            {"id": "3", "box": [0, 0, 100, 100]},
            {"id": "9", "box": [0, 0, 100, 100]},
        ],
    )
    s = score_rec_files(gt, pred).to_dict()
    assert s["acc@0.5"] == pytest.approx(2 / 5) and s["n"] == 5
    assert s["input"]["missing"] == ["4"]
    ids = {x["id"] for x in s["input"]["skipped"]}
    assert ids == {"1", "2", "9"}


def test_vqa_scores_with_missing_prediction_field(tmp_path):
    gt = write(
        tmp_path / "gt.jsonl",
        [
            {"id": "1", "image": "x.jpg", "question": "車は何色？", "answer": "車は白色です。"},
            {"id": "2", "image": "x.jpg", "question": "何個？", "answer": "2"},
            {"id": "3", "image": "x.jpg", "question": "何？", "answer": "猫"},
        ],
    )
    pred = write(tmp_path / "pred.jsonl", [{"id": "1", "prediction": "白色"}, {"id": "2", "answer": "2"}])
    s = score_vqa_files(gt, pred, use_neologdn=False).to_dict()
    assert s["rouge_l"] == pytest.approx((100 / 3 + 0 + 0) / 3)
    assert s["input"]["missing"] == ["3"]
    assert skipped(s) == {("2", "no 'prediction' field")}
    assert s["rouge_l_config"]["neologdn"] is False and "llm_judge" not in s


def test_classification_file_scoring(tmp_path):
    gt = write(tmp_path / "gt.jsonl", [{"id": str(i), "image": "x.jpg", "label": lab} for i, lab in enumerate("aab")])
    pred = write(tmp_path / "pred.jsonl", [{"id": "0", "prediction": "a"}, {"id": "2", "prediction": "a"}])
    s = score_classification_files(gt, pred).to_dict()
    assert s["accuracy"] == pytest.approx(1 / 3)
    assert s["labels"] == ["a", "b", "(other)"]
    assert s["confusion"] == [[1, 0, 1], [1, 0, 0], [0, 0, 0]]
    assert s["input"]["missing"] == ["1"]


@pytest.mark.parametrize("score", [score_detection_files, score_rec_files, score_vqa_files, score_classification_files])
@pytest.mark.parametrize("content", [b"", b"{broken\n", b"\xff\xd8\xff\xe0 a JPEG, not JSONL\n"])
def test_ground_truth_with_no_usable_line_is_an_error_not_a_nan_table(tmp_path, score, content):
    # an empty, all-malformed or binary GT file printed NaN scores with exit code 0
    gt = tmp_path / "gt.jsonl"
    gt.write_bytes(content)
    pred = write(tmp_path / "pred.jsonl", [{"id": "a", "prediction": "x"}])
    with pytest.raises(InputError, match="no usable ground-truth line"):
        score(gt, pred)


def test_a_failed_item_scores_zero_even_on_a_clean_image(tmp_path):
    # an {"id", "error"} line (missing image, model crash) was scored as an empty prediction: F1 1 on a
    # clean image, so failures raised the score
    gt = write(tmp_path / "gt.jsonl", [{"id": "clean", "boxes": [], "labels": []},
                                       {"id": "ok", "boxes": [], "labels": []}])  # fmt: skip
    pred = write(tmp_path / "p.jsonl", [{"id": "clean", "target": "x.jpg", "line": 1, "error": "file not found"},
                                        {"id": "ok", "detections": []}])  # fmt: skip
    scores = score_detection_files(gt, pred, per_sample=True).to_dict()
    assert scores["f1_bbox"] == 0.5 and scores["f1_bbox_label"] == 0.5
    assert [r["f1_bbox"] for r in scores["per_sample"]] == [0.0, 1.0]
    assert ("clean", "prediction failed (file not found)") in skipped(scores)


def test_a_report_that_could_not_align_scores_zero(tmp_path):
    # alignment failed -> no detector ran -> "detections": []; that is not a verified clean image
    gt = write(tmp_path / "gt.jsonl", [{"id": "clean", "boxes": [], "labels": []}])
    report = {"id": "clean", "alignment": {"ok": False, "reason": "too few inliers"}, "detections": []}
    scores = score_detection_files(gt, write(tmp_path / "p.jsonl", [report])).to_dict()
    assert scores["f1_bbox"] == 0.0
    assert ("clean", "not aligned, nothing was inspected (too few inliers)") in skipped(scores)


def test_a_judge_that_fails_every_request_gives_no_score(tmp_path):
    # server down: llm_judge was 0.0 (the mean of the empty answers' zeros) with exit code 0
    import socket

    from tenken.eval.judge import LLMJudge

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gt = write(tmp_path / "gt.jsonl", [{"id": i, "image": "x.jpg", "question": "q", "answer": "赤"} for i in "abc"])
    pred = write(tmp_path / "p.jsonl", [{"id": "a", "prediction": "赤"}, {"id": "b", "prediction": "青"}])
    judge = LLMJudge("m", f"http://127.0.0.1:{port}/v1", cache_dir=tmp_path / "cache", retries=0)
    scores = score_vqa_files(gt, pred, judge=judge).to_dict()
    assert scores["llm_judge"] is None and scores["llm_judge_detail"]["failed"] == 2
    assert any(n.startswith("the judge failed on every request") for n in scores["input"]["notes"])


def test_classification_ignores_surrounding_whitespace(tmp_path):
    # " 検査\n" (a model's answer with a newline) counted as wrong
    gt = write(tmp_path / "gt.jsonl", [{"id": "a", "image": "x.jpg", "label": "検査"}])
    pred = write(tmp_path / "p.jsonl", [{"id": "a", "prediction": " 検査\n"}])
    assert score_classification_files(gt, pred).to_dict()["accuracy"] == 1.0


def test_partly_unlabelled_ground_truth_gets_a_note(tmp_path):
    # a line without "labels" among labelled ones silently scored 0 in f1_bbox_label
    gt = write(tmp_path / "gt.jsonl", [{"id": "a", "boxes": [[0, 0, 10, 10]], "labels": ["cone"]},
                                       {"id": "b", "boxes": [[0, 0, 10, 10]]}])  # fmt: skip
    found = [{"box": [0, 0, 10, 10], "label": "cone"}]
    pred = write(tmp_path / "p.jsonl", [{"id": i, "detections": found} for i in "ab"])
    notes = score_detection_files(gt, pred).to_dict()["input"]["notes"]
    assert len(notes) == 1 and notes[0].startswith("1 ground-truth image(s) have boxes without a label (first: 'b')")
