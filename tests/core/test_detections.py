import json
import math

import numpy as np
import pytest

from tenken import Detections


def make():
    return Detections(
        [[0, 0, 10, 10], [5, 5, 20, 25], [100, 100, 120, 110]],
        scores=[0.9, np.nan, 0.3],
        labels=["traffic_cone", "tool", "traffic_cone"],
        sources=["classical", "vlm", "classical"],
        image_size=(200, 150),
    )


def test_construction_normalises_types():
    d = make()
    assert d.xyxy.dtype == np.float64 and d.xyxy.shape == (3, 4)
    assert len(d) == 3 and d.image_size == (200, 150)
    e = Detections.empty((10, 10))
    assert len(e) == 0 and e.xyxy.shape == (0, 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"xyxy": [[10, 0, 5, 5]]}, "x2 < x1"),
        ({"xyxy": [[0, 0, 5, np.nan]]}, "NaN"),
        ({"xyxy": [[0, 0, 5]]}, r"\(N, 4\)"),
        ({"xyxy": [[0, 0, 5, 5]], "scores": [0.1, 0.2]}, "scores"),
        ({"xyxy": [[0, 0, 5, 5]], "labels": []}, "labels"),
        ({"xyxy": [[0, 0, 5, 5]], "sources": ["a", "b"]}, "sources"),
        ({"xyxy": [[0, 0, 5, 5]], "image_size": (0, 5)}, "image_size"),
        ({"xyxy": [[0, 0, 5, 5]], "extra": {"k": []}}, "extra"),
    ],
)
def test_validation_errors_are_clear(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Detections(**kwargs)


def test_indexing_and_masks():
    d = make()
    assert d[0].labels == ["traffic_cone"]
    assert d[-1].scores[0] == pytest.approx(0.3)
    assert d[1:].labels == ["tool", "traffic_cone"]
    assert d[np.array([True, False, True])].sources == ["classical", "classical"]
    assert d[[2, 0]].xyxy[0].tolist() == [100, 100, 120, 110]
    with pytest.raises(IndexError):
        d[5]


def test_iou_clip_scale():
    d = make()
    assert d.iou(d).shape == (3, 3)
    big = Detections([[-5, -5, 300, 300]], image_size=(200, 150))
    assert big.clip().xyxy[0].tolist() == [0, 0, 200, 150]
    s = d.scale(2.0, 0.5)
    assert s.xyxy[1].tolist() == [10, 2.5, 40, 12.5]
    assert s.image_size == (400, 75)
    with pytest.raises(ValueError):
        Detections([[0, 0, 1, 1]]).clip()


def test_nms_plain_and_class_aware():
    d = Detections([[0, 0, 10, 10], [0, 0, 10, 10]], scores=[0.4, 0.8], labels=["a", "b"])
    assert d.nms(0.5).labels == ["b"]
    assert sorted(d.nms(0.5, class_aware=True).labels) == ["a", "b"]


def test_merge_keeps_extra_and_checks_sizes():
    a = Detections([[0, 0, 1, 1]], labels=["x"], image_size=(10, 10), extra={"label_pass1": ["change"]})
    b = Detections([[2, 2, 3, 3]], labels=["y"], image_size=(10, 10))
    m = a.merge(b)
    assert m.labels == ["x", "y"] and m.extra["label_pass1"] == ["change", None]
    with pytest.raises(ValueError, match="different image sizes"):
        a.merge(Detections([[0, 0, 1, 1]], image_size=(20, 20)))


def test_json_round_trip_with_unknown_score_and_extra():
    d = make()
    d = Detections(
        d.xyxy,
        d.scores,
        d.labels,
        d.sources,
        d.image_size,
        {"label_ja": ["カラーコーン", "工具", "カラーコーン"]},
    )
    text = json.dumps(d.to_dict(), ensure_ascii=False)
    back = Detections.from_dict(json.loads(text))
    np.testing.assert_array_equal(back.xyxy, d.xyxy)
    assert math.isnan(back.scores[1]) and back.scores[0] == pytest.approx(0.9)
    assert back.labels == d.labels and back.sources == d.sources and back.image_size == (200, 150)
    assert back.extra["label_ja"][1] == "工具"


def test_from_dict_accepts_bare_records_and_bbox_key():
    d = Detections.from_dict([{"bbox": [1, 2, 3, 4], "label": "person"}])
    assert d.xyxy.tolist() == [[1, 2, 3, 4]] and math.isnan(d.scores[0])
    with pytest.raises(ValueError, match="no 'box'"):
        Detections.from_dict([{"label": "x"}])


def test_coco_round_trip():
    d = make()
    cats = {"traffic_cone": 1, "tool": 2}
    anns = d.to_coco(image_id=7, category_ids=cats)
    assert anns[1]["bbox"] == [5.0, 5.0, 15.0, 20.0] and anns[1]["image_id"] == 7
    assert anns[1]["score"] == 1.0  # unknown score written as 1.0 for COCO results
    back = Detections.from_coco(anns, {v: k for k, v in cats.items()}, image_size=(200, 150))
    np.testing.assert_allclose(back.xyxy, d.xyxy)
    assert back.labels == d.labels
