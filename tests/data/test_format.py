import json

import pytest
from pydantic import ValidationError

from tenken.core.artifacts import LoadReport
from tenken.data.format import TrainingSample, read_samples, write_samples

GOOD = {
    "id": "rec-1",
    "images": ["img/a.jpg"],
    "messages": [{"role": "user", "content": "<image>黒い車は？"}, {"role": "assistant", "content": "<bbox><bbox>"}],
    "boxes": [{"box": [1, 2, 30, 40], "label": "黒い車"}, {"box": [50, 2, 80, 40], "label": "黒い車"}],
    "task": "rec",
    "lang": "ja",
    "provenance": {"recipe": "rec", "teachers": {"vlm": "m"}, "filters": [{"name": "count", "keep": True}]},
}


def test_round_trip(tmp_path):
    s = TrainingSample.model_validate(GOOD)
    write_samples(tmp_path / "d.jsonl", [s])
    back = read_samples(tmp_path / "d.jsonl")
    assert back == [s]
    assert back[0].image_paths(tmp_path) == [tmp_path / "img/a.jpg"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"boxes": [{"box": [5, 2, 1, 40]}, {"box": [1, 2, 3, 4]}]}, "negative width"),
        ({"boxes": [{"box": [1, 2, 3, 4]}]}, "2 <bbox> mark"),
        ({"images": []}, "1 <image> mark"),
        ({"lang": "fr"}, "lang"),
    ],
)
def test_bad_samples_are_refused_with_the_reason(change, message):
    with pytest.raises(ValidationError, match=message):
        TrainingSample.model_validate({**GOOD, **change})


def test_reader_records_bad_lines(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "id": "x", "lang": "fr"}) + "\n")
    report = LoadReport()
    assert [s.id for s in read_samples(p, report)] == ["rec-1"]
    assert report.skipped[0].id == "x" and report.skipped[0].line == 2
