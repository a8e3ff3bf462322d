import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenken.core.artifacts import (
    JsonlAppender,
    LoadReport,
    complete_lines,
    iter_jsonl,
    json_text,
    jsonable,
    read_jsonl,
    write_atomic,
    write_json,
    write_jsonl,
)
from tenken.core.errors import InputError


def test_json_text_turns_nan_and_numpy_into_json():
    obj = {"a": float("nan"), "b": np.float32(1.5), "c": np.array([1, 2]), "d": [float("inf")], "名": "点検"}
    assert json.loads(json_text(obj)) == {"a": None, "b": 1.5, "c": [1, 2], "d": [None], "名": "点検"}
    assert "点検" in json_text(obj)  # non-ASCII kept readable


@given(st.recursive(st.floats() | st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)))
def test_jsonable_output_always_encodes(value):
    text = json_text(value)  # allow_nan=False inside: would raise on any NaN left behind
    assert isinstance(json.loads(text), (list, dict, float, int, str, type(None)))


def test_jsonable_keeps_finite_numbers():
    assert jsonable({"x": (1.0, 2)}) == {"x": [1.0, 2]}
    assert jsonable(math.nan) is None


def test_write_atomic_replaces_whole_and_leaves_no_temp(tmp_path):
    p = tmp_path / "sub" / "f.json"
    write_json(p, {"a": 1})
    write_json(p, {"a": 2})
    assert json.loads(p.read_text()) == {"a": 2}
    assert [q.name for q in p.parent.iterdir()] == ["f.json"]
    write_atomic(p, b"raw")
    assert p.read_bytes() == b"raw"


def test_appender_and_complete_lines_repair_a_torn_tail(tmp_path):
    p = tmp_path / "r.jsonl"
    with JsonlAppender(p) as log:
        log.write({"id": "a"})
        log.write({"id": "b", "score": float("nan")})
    with p.open("a") as fh:
        fh.write('{"id": "c", "sco')  # a kill mid-write
    assert complete_lines(p, repair=False) == [{"id": "a"}, {"id": "b", "score": None}]
    assert p.read_text().endswith('"sco')
    complete_lines(p)
    assert p.read_text().endswith("}\n")
    assert complete_lines(tmp_path / "missing.jsonl") == []


def test_appender_outside_with_is_an_error(tmp_path):
    with pytest.raises(RuntimeError):
        JsonlAppender(tmp_path / "x.jsonl").write({})


def test_iter_jsonl_records_each_bad_line(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_bytes(b'{"id": 1}\n\n[1, 2]\n{"id": \n\xff\xfe\n{"id": 2}\n')
    report = LoadReport()
    rows = list(iter_jsonl(p, report))
    assert [n for n, _ in rows] == [1, 6]
    reasons = [(s.line, s.reason.split(" ")[0]) for s in report.skipped]
    assert reasons == [(3, "expected"), (4, "malformed"), (5, "not")]
    assert report.to_dict()["n_skipped"] == 3


def test_json_document_reads_as_rows(tmp_path):
    p = tmp_path / "report.json"
    p.write_text(json.dumps({"id": "x", "detections": []}, indent=2))
    assert read_jsonl(p) == [{"id": "x", "detections": []}]
    write_jsonl(tmp_path / "l.jsonl", [{"a": 1}, {"a": 2}])
    assert read_jsonl(tmp_path / "l.jsonl") == [{"a": 1}, {"a": 2}]


def test_missing_or_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_jsonl(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="folder"):
        read_jsonl(tmp_path)
