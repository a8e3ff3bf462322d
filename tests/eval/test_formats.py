import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenken.core.artifacts import LoadReport, iter_jsonl
from tenken.core.errors import InputError
from tenken.eval.formats import (
    parse_box,
    read_anomaly,
    read_classification,
    read_detection_truth,
    read_ja_vg_vqa_500,
    read_rec,
    read_ref_l4,
    read_vqa,
)
from tests.eval.jsonl_files import write as write_lines


def reasons(report):
    return [(s.line, s.id, s.reason) for s in report.skipped]


def test_vqa_reader_resolves_images_and_reports_bad_lines(tmp_path):
    f = write_lines(
        tmp_path / "vqa.jsonl",
        [
            {"id": "q1", "image": "img/a.jpg", "question": "何色？", "answer": "白"},
            "{not json",
            {"id": "q2", "image": "b.jpg", "question": "何個？"},
            {"id": "q1", "image": "c.jpg", "question": "x", "answer": "y"},
            {"image": "d.jpg", "question": "x", "answer": "y"},
            [1, 2],
        ],
    )
    samples, report = read_vqa(f)
    assert [s.id for s in samples] == ["q1"]
    assert samples[0].image == str(tmp_path / "img" / "a.jpg")
    r = reasons(report)
    assert r[0][0] == 2 and "malformed JSON" in r[0][2]
    assert r[1][:2] == (3, "q2") and "'answer'" in r[1][2]
    assert r[2][:2] == (4, "q1") and "duplicate id" in r[2][2] and "line 1" in r[2][2]
    assert r[3][0] == 5 and "no 'id'" in r[3][2]
    assert r[4][0] == 6 and "JSON object" in r[4][2]
    assert "vqa.jsonl:2" in str(report.skipped[0])


def test_rec_reader_rejects_nan_and_negative_size_boxes(tmp_path):
    f = write_lines(
        tmp_path / "rec.jsonl",
        [
            {"id": 1, "image": "a.jpg", "expression": "左の人", "box": [1, 2, 30, 40]},
            '{"id": 2, "image": "a.jpg", "expression": "x", "box": [NaN, 2, 30, 40]}',
            {"id": 3, "image": "a.jpg", "expression": "x", "box": [50, 2, 30, 40]},
            {"id": 4, "image": "a.jpg", "expression": "x", "box": [1, 2, 3]},
        ],
    )
    samples, report = read_rec(f)
    assert [s.id for s in samples] == ["1"] and samples[0].box.tolist() == [1, 2, 30, 40]
    r = reasons(report)
    assert [x[1] for x in r] == ["2", "3", "4"]
    assert "NaN" in r[0][2] and "negative width or height" in r[1][2] and "4 numbers" in r[2][2]


def test_classification_and_anomaly_and_detection_truth(tmp_path):
    cls = write_lines(tmp_path / "c.jsonl", [{"id": "a", "image": "x.jpg", "label": "drill"}, {"id": "b"}])
    samples, report = read_classification(cls)
    assert samples[0].label == "drill" and reasons(report)[0][1] == "b"

    an = write_lines(
        tmp_path / "an.jsonl",
        [
            {"id": "p1", "target": "t.jpg", "reference": "r.jpg", "boxes": [[0, 0, 5, 5]], "labels": ["tool"]},
            {"id": "p2", "target": "t.jpg", "reference": ["r1.jpg", "r2.jpg"], "boxes": [], "labels": []},
            {"id": "p3", "target": "t.jpg", "reference": "r.jpg", "boxes": [[0, 0, -5, 5]], "labels": ["tool"]},
            {"id": "p4", "target": "t.jpg", "reference": "r.jpg", "boxes": [[0, 0, 5, 5]], "labels": []},
        ],
    )
    samples, report = read_anomaly(an)
    assert [s.id for s in samples] == ["p1", "p2"]
    assert samples[1].reference == [str(tmp_path / "r1.jpg"), str(tmp_path / "r2.jpg")]
    assert samples[0].truth.labels == ["tool"] and len(samples[1].truth) == 0
    r = reasons(report)
    assert r[0][1] == "p3" and "ground-truth box 0" in r[0][2]
    assert r[1][1] == "p4" and "one label per box" in r[1][2]

    truth, report = read_detection_truth(an)  # anomaly lines are valid detection ground truth too
    assert truth.ids == ["p1", "p2"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40), max_size=8))
def test_jsonl_reader_never_crashes_and_accounts_for_every_line(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("fuzz") / "x.jsonl"
    path.write_text("\n".join(x.replace("\n", " ").replace("\r", " ") for x in lines), encoding="utf-8")
    samples, report = read_vqa(path)
    non_blank = [x for x in path.read_text(encoding="utf-8").split("\n") if x.strip()]
    assert len(samples) + len(report.skipped) == len(non_blank)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_vqa(tmp_path / "nope.jsonl")


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=4, max_size=4))
def test_parse_box_accepts_exactly_finite_ordered_boxes(values):
    ok = all(np.isfinite(values)) and values[2] >= values[0] and values[3] >= values[1]
    if ok:
        assert parse_box(values).tolist() == [float(v) for v in values]
    else:
        with pytest.raises(ValueError):
            parse_box(values)


# -- published datasets, in the layout they are published in ---------------------------------------------


def jpeg_bytes(color):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(buf, format="JPEG")
    return buf.getvalue()


def test_ja_vg_vqa_500_parquet_is_flattened(tmp_path):
    """SakanaAI/JA-VG-VQA-500: data/test-00000-of-00001.parquet, one row per image with a `qas` list."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    qa = pa.struct(
        [
            ("a_objects", pa.list_(pa.null())),
            ("answer", pa.string()),
            ("q_objects", pa.list_(pa.null())),
            ("qa_id", pa.int64()),
            ("question", pa.string()),
        ]
    )
    schema = pa.schema(
        [
            ("image_id", pa.int64()),
            ("url", pa.string()),
            ("width", pa.int64()),
            ("height", pa.int64()),
            ("coco_id", pa.float64()),
            ("flickr_id", pa.float64()),
            ("qas", pa.list_(qa)),
            ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
        ]
    )
    rows = [
        {
            "image_id": 1001, "url": "https://example.org/1001.jpg", "width": 32, "height": 24,
            "coco_id": None, "flickr_id": 5.0,
            "qas": [
                {"a_objects": [], "answer": "白色です。", "q_objects": [], "qa_id": 7, "question": "車は何色ですか？"},
                {"a_objects": [], "answer": "二台", "q_objects": [], "qa_id": 8, "question": "車は何台？"},
            ],
            "image": {"bytes": jpeg_bytes("white"), "path": "1001.jpg"},
        },
        {
            "image_id": 1002, "url": "u", "width": 32, "height": 24, "coco_id": 3.0, "flickr_id": None,
            "qas": [{"a_objects": [], "answer": "晴れ", "q_objects": [], "qa_id": 9, "question": "天気は？"}],
            "image": {"bytes": jpeg_bytes("blue"), "path": None},
        },
    ]  # fmt: skip
    (tmp_path / "data").mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp_path / "data" / "test-00000-of-00001.parquet")
    samples, report = read_ja_vg_vqa_500(tmp_path)
    assert report.clean
    assert [s.id for s in samples] == ["1001-7", "1001-8", "1002-9"]
    assert samples[0].question == "車は何色ですか？" and samples[0].answer == "白色です。"
    assert samples[0].image == samples[1].image == str(tmp_path / "images" / "1001.jpg")
    from tenken.core.images import load_image

    assert load_image(samples[2].image).shape == (24, 32, 3)


def test_ref_l4_parquet_boxes_are_converted_from_xywh(tmp_path):
    """JierunChen/Ref-L4: ref-l4-{val,test}.parquet and images/ (from images.tar.gz)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [
        {
            "id": 1, "caption": "The man on the motorcycle closest to the camera.",
            "bbox": [163.48, 123.16, 139.51, 271.38], "bbox_area": 37860.2238, "bbox_id": "coco_536932",
            "ori_category_id": "refcoco_1", "image_id": "coco_128974", "height": 485, "width": 640,
            "file_name": "COCO_train2014_000000128974.jpg", "is_rewrite": False, "split": "val",
        },
        {
            "id": 2, "caption": "broken", "bbox": [10, 10, -5, 4], "bbox_area": 0.0, "bbox_id": "x",
            "ori_category_id": "o365_1", "image_id": "o365_1", "height": 10, "width": 10,
            "file_name": "o365.jpg", "is_rewrite": True, "split": "val",
        },
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "ref-l4-val.parquet")
    samples, report = read_ref_l4(tmp_path)
    assert [s.id for s in samples] == ["1"]
    np.testing.assert_allclose(samples[0].box, [163.48, 123.16, 163.48 + 139.51, 123.16 + 271.38])
    assert samples[0].image == str(tmp_path / "images" / "COCO_train2014_000000128974.jpg")
    assert samples[0].expression.startswith("The man")
    assert len(report.skipped) == 1 and "negative width" in report.skipped[0].reason
    with pytest.raises(InputError, match="test split"):
        read_ref_l4(tmp_path, split="test")


def test_jsonl_reader_reports_binary_lines_and_accepts_a_bom(tmp_path):
    # a binary file raised UnicodeDecodeError (a traceback); Notepad's UTF-8 BOM made line 1 "malformed JSON"
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "a"}\n\xff\xfe junk\n{"id": "b"}\n')
    report = LoadReport()
    rows = list(iter_jsonl(path, report))
    assert [obj["id"] for _, obj in rows] == ["a", "b"]
    assert [(s.line, s.reason) for s in report.skipped] == [(2, "not UTF-8 text (is this a JSONL file?)")]


def test_a_folder_is_not_a_jsonl_file(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        list(iter_jsonl(tmp_path, LoadReport()))


def test_a_pretty_printed_json_report_is_read_as_one_document(tmp_path):
    # report.json of `tenken inspect` spans many lines: each line was "malformed JSON" and the id "missing"
    one = tmp_path / "report.json"
    one.write_text(json.dumps({"id": "a", "detections": []}, indent=2), encoding="utf-8")
    report = LoadReport()
    assert [(n, obj["id"]) for n, obj in iter_jsonl(one, report)] == [(1, "a")] and report.clean
    many = tmp_path / "reports.json"
    many.write_text(json.dumps([{"id": "a"}, 3, {"id": "b"}], indent=2), encoding="utf-8")
    assert [obj["id"] for _, obj in iter_jsonl(many, report)] == ["a", "b"]
    assert [(s.line, s.reason) for s in report.skipped] == [(2, "expected a JSON object, got int")]


def test_a_zero_size_ground_truth_box_is_rejected_but_a_prediction_is_not(tmp_path):
    # a point or line GT box can never be matched (IoU 0): it lowered recall without a word
    path = write_lines(tmp_path / "gt.jsonl", [{"id": "a", "boxes": [[5, 5, 5, 9]], "labels": ["x"]}])
    items, report = read_detection_truth(path)
    assert items.ids == [] and "zero width or height" in report.skipped[0].reason
    assert parse_box([5, 5, 5, 9]).tolist() == [5, 5, 5, 9]
    with pytest.raises(ValueError, match="zero width"):
        parse_box([5, 5, 9, 5], truth=True)


_coord = st.one_of(
    st.floats(-50, 500, allow_nan=False), st.just(float("nan")), st.just("7"), st.none(), st.booleans()
)
_box = st.one_of(st.lists(_coord, min_size=4, max_size=4), st.lists(_coord, max_size=5), st.just("0 0 1 1"))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(_box, max_size=3), max_size=6))
def test_vectorised_truth_reader_agrees_with_parse_box_line_by_line(tmp_path_factory, lines):
    from tenken.eval.formats import _truth_boxes

    rows = [{"id": f"s{k}", "boxes": boxes, "labels": ["a"] * len(boxes)} for k, boxes in enumerate(lines)]
    path = tmp_path_factory.mktemp("gt") / "gt.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    table, report = read_detection_truth(path)
    expect_ids, expect_boxes, expect_skips = [], [], []
    for n, r in enumerate(rows, start=1):
        try:
            expect_boxes.append(_truth_boxes(r).xyxy)
            expect_ids.append(r["id"])
        except ValueError as exc:
            expect_skips.append((n, str(exc)))
    assert table.ids == expect_ids and [(s.line, s.reason) for s in report.skipped] == expect_skips
    np.testing.assert_array_equal(table.xyxy, np.concatenate([np.zeros((0, 4)), *expect_boxes]))
    assert table.sample.tolist() == [k for k, b in enumerate(expect_boxes) for _ in range(len(b))]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(_box, max_size=3), max_size=6))
def test_vectorised_prediction_reader_drops_exactly_the_boxes_parse_box_refuses(tmp_path_factory, lines):
    from tenken.core.artifacts import LoadReport
    from tenken.eval.formats import prediction_table

    rows = {
        f"s{k}": (k + 1, {"detections": [{"box": b, "label": "a"} for b in boxes]}) for k, boxes in enumerate(lines)
    }
    ids = list(rows)
    report = LoadReport()
    table = prediction_table(tmp_path_factory.mktemp("p") / "p.jsonl", ids, rows, report)
    kept, dropped = [], 0
    for k, boxes in enumerate(lines):
        for b in boxes:
            try:
                kept.append((k, parse_box(b).tolist()))
            except ValueError:
                dropped += 1
    assert [(int(s), x.tolist()) for s, x in zip(table.sample, table.xyxy, strict=True)] == kept
    assert len(report.skipped) == dropped and all("dropped" in s.reason for s in report.skipped)
