"""Parsing model answers: each family's realistic answers against boxes we know, and fuzzing."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenken.vlm.families import get_family
from tenken.vlm.parse import ModelOutputWarning, answer_text, extract_boxes, parse_count, parse_detections

SIZE = (1920, 1080)


def test_qwen25_answer_in_resized_pixels_maps_to_original():
    fam = get_family("qwen2.5-vl")  # 1920x1080 -> smart_resize (default max_pixels) -> 1932x1092
    pw, ph = fam.processed_size(SIZE)
    assert (pw % 28, ph % 28) == (0, 0)
    truth = np.array([[192.0, 108.0, 960.0, 540.0], [1500.0, 900.0, 1800.0, 1000.0]])
    model = truth * np.array([pw / 1920, ph / 1080] * 2)
    text = (
        "```json\n"
        + json.dumps(
            [
                {"bbox_2d": [round(float(v)) for v in b], "label": lab}
                for b, lab in zip(model, ["カラーコーン", "ヘルメット"], strict=True)
            ],
            ensure_ascii=False,
        )
        + "\n```"
    )
    dets = parse_detections(text, fam, SIZE)
    assert dets.image_size == SIZE
    assert dets.labels == ["カラーコーン", "ヘルメット"]
    np.testing.assert_allclose(dets.xyxy, truth, atol=1.5)  # rounding to integer resized pixels only


def test_qwen25_with_processor_of_small_max_pixels():
    fam = get_family("qwen2.5-vl", max_pixels=28 * 28 * 16)  # 1920x1080 -> 140x84
    assert fam.processed_size(SIZE) == (140, 84)
    dets = parse_detections('[{"bbox_2d": [14, 21, 70, 42]}]', fam, SIZE)
    np.testing.assert_allclose(dets.xyxy, [[192, 270, 960, 540]])


def test_qwen3_relative_1000():
    text = 'Here you go:\n```json\n[\n  {"bbox_2d": [100, 250, 500, 750], "label": "traffic cone"}\n]\n```'
    dets = parse_detections(text, "qwen3-vl", (2000, 1000))
    np.testing.assert_allclose(dets.xyxy, [[200, 250, 1000, 750]])
    assert dets.sources == ["vlm"]
    assert np.isnan(dets.scores).all()


def test_qwen2_box_tokens_with_and_without_special_tokens():
    raw = "<|object_ref_start|>ペットボトル<|object_ref_end|><|box_start|>(100,200),(300,400)<|box_end|>"
    stripped = "ペットボトル(100,200),(300,400) and (500, 500), (600, 700)"
    a = parse_detections(raw, "qwen2-vl", (1000, 500))
    np.testing.assert_allclose(a.xyxy, [[100, 100, 300, 200]])
    assert a.labels == ["ペットボトル"]
    b = parse_detections(stripped, "qwen2-vl", (1000, 500))
    np.testing.assert_allclose(b.xyxy, [[100, 100, 300, 200], [500, 250, 600, 350]])


def test_llava_relative_one_and_pixels_overrides():
    d1 = parse_detections(
        '{"bbox": [0.1, 0.2, 0.5, 0.6], "label": "glove"}', get_family("llava", box_format="rel1"), (200, 100)
    )
    np.testing.assert_allclose(d1.xyxy, [[20, 20, 100, 60]])
    d2 = parse_detections('{"box": [10, 20, 30, 40]}', get_family("plamo", box_format="pixels"), (200, 100))
    np.testing.assert_allclose(d2.xyxy, [[10, 20, 30, 40]])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"bbox_2d": [10, 10, 20, 20], "label": "a"}', [[10, 10, 20, 20]]),  # single object
        ('[{"bbox": [10, 10, 20, 20]}, {"box": [30, 30, 40, 40]}]', [[10, 10, 20, 20], [30, 30, 40, 40]]),
        ('[{"bbox_2d": [20, 20, 10, 10]}]', [[10, 10, 20, 20]]),  # x1 > x2, y1 > y2: reordered
        ('[{"bbox_2d": [-50, 10, 2000, 20]}]', [[0, 10, 1000, 20]]),  # out of range: clipped
        ('[{"bbox_2d": [1, 2, 3, 4]}, {"bbox_2d": [5, 6, 7, 8]}, {"bbox_2d": [9, 10, 1', [[1, 2, 3, 4], [5, 6, 7, 8]]),
        ("{'bbox_2d': [1, 2, 3, 4], 'label': 'cone'}", [[1, 2, 3, 4]]),  # Python-style quotes
        ('{"objects": [{"bbox": {"x1": 1, "y1": 2, "x2": 3, "y2": 4}}]}', [[1, 2, 3, 4]]),
        ("The cone is at [100, 200, 300, 400].", [[100, 200, 300, 400]]),
        ('[{"bbox_2d": [[1, 2], [3, 4]]}]', [[1, 2, 3, 4]]),
        ('[{"bbox_2d": ["1", "2", "３", "4"]}]', [[1, 2, 3, 4]]),  # strings, full-width digits
    ],
)
def test_tolerated_shapes(text, expected):
    dets = parse_detections(text, get_family("llava", box_format="pixels"), (1000, 1000))
    np.testing.assert_allclose(dets.xyxy, expected)


def test_labels_scores_and_japanese():
    text = (
        '[{"bbox_2d": [1, 1, 5, 5], "label": "養生テープ", "score": 0.9}, {"bbox_2d": [2, 2, 6, 6], "confidence": 7}]'
    )
    dets = parse_detections(text, get_family("llava", box_format="pixels"), (10, 10))
    assert dets.labels == ["養生テープ", ""]
    np.testing.assert_allclose(dets.scores, [0.9, 1.0])


def test_unparsable_gives_empty_and_a_recorded_warning():
    notes: list[str] = []
    dets = parse_detections("I cannot see any cones, sorry.", "qwen3-vl", (10, 10), warnings_out=notes)
    assert len(dets) == 0 and dets.image_size == (10, 10)
    assert notes and "no boxes" in notes[0]
    with pytest.warns(ModelOutputWarning):
        parse_detections("nothing here", "qwen3-vl", (10, 10))


def test_boxes_fully_outside_are_dropped_with_warning():
    notes: list[str] = []
    dets = parse_detections(
        '[{"bbox_2d": [2000, 2000, 3000, 3000]}, {"bbox_2d": [0, 0, 10, 10]}]',
        get_family("llava", box_format="pixels"),
        (100, 100),
        warnings_out=notes,
    )
    assert len(dets) == 1 and "dropped 1 of 2" in notes[0]


def test_empty_list_answer_is_no_boxes_without_error():
    for answer in ("[]", " [ ] ", "```json\n[]\n```"):  # the prompted "none": no boxes and no warning
        notes: list[str] = []
        assert len(parse_detections(answer, "qwen3-vl", (10, 10), warnings_out=notes)) == 0 and notes == []
    notes = []
    parse_detections("nothing here", "qwen3-vl", (10, 10), warnings_out=notes)
    assert notes  # prose without boxes is still reported


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fuzz_any_text_never_raises(text):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelOutputWarning)
        dets = parse_detections(text, "qwen2.5-vl", (640, 480))
    assert dets.image_size == (640, 480)
    assert (dets.xyxy >= 0).all() and (dets.xyxy[:, [0, 2]] <= 640).all() and (dets.xyxy[:, [1, 3]] <= 480).all()


_json_ish = st.text(alphabet='[]{}(),:." 0123456789-e+bboxlabel_2d<|>startend', max_size=200)


@settings(max_examples=300, deadline=None)
@given(_json_ish, st.sampled_from(["qwen2.5-vl", "qwen3-vl", "qwen2-vl", "plamo", "llava"]))
def test_fuzz_json_like_text_never_raises(text, family):
    dets = parse_detections(text, family, (100, 50), warnings_out=[])
    assert np.isfinite(dets.xyxy).all()
    assert ((dets.xyxy[:, 2] > dets.xyxy[:, 0]) & (dets.xyxy[:, 3] > dets.xyxy[:, 1])).all()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 1000)] * 4), min_size=1, max_size=5), st.integers(1, 60))
def test_fuzz_truncation_keeps_complete_objects(boxes, cut):
    text = json.dumps([{"bbox_2d": list(b), "label": "x"} for b in boxes])
    truncated = text[: max(1, len(text) - cut)]
    items = extract_boxes(truncated)
    assert len(items) <= len(boxes)
    for (got, _, _), want in zip(items, boxes, strict=False):
        assert got == [float(v) for v in want]


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("3", 3),
        ("There are three cones.", 3),
        ("カラーコーンは5個あります。", 5),
        ("三つ", 3),
        ("十二", 12),
        ("二十一本", 21),
        ("１０", 10),
        ("なし", 0),
        ("None.", 0),
        ("I'm not sure", None),
        ("", None),
    ],
)
def test_parse_count(text, n):
    assert parse_count(text) == n


def test_answer_text_unwraps_json_and_quotes():
    assert answer_text('```json\n{"label": "traffic_cone"}\n```') == "traffic_cone"
    assert answer_text("「カラーコーン」") == "カラーコーン"


def test_json_objects_reads_lists_fences_and_truncation():
    from tenken.vlm.parse import json_objects

    text = 'Sure:\n```json\n[{"expression": "red cars", "count": 2}, {"expression": "sky", "count": 1}, {"expr'
    assert json_objects(text) == [{"expression": "red cars", "count": 2}, {"expression": "sky", "count": 1}]
    assert json_objects('{"a": 1} and [{"b": 2}, 3]') == [{"a": 1}, {"b": 2}]
    assert json_objects("no json here") == [] and json_objects(None) == []  # type: ignore[arg-type]


@given(
    st.lists(st.dictionaries(st.sampled_from(["expression", "count"]), st.integers(0, 99), min_size=1), max_size=5),
    st.sampled_from(["", "Sure! ", "```json\n"]),
)
def test_json_objects_recovers_a_list_of_objects(objs, prefix):
    from tenken.vlm.parse import json_objects

    assert json_objects(prefix + json.dumps(objs) + " done.") == objs
