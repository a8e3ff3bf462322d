"""The tenken.report/1 models, the shipped JSON Schema, and conversions."""

from __future__ import annotations

import json
import math

import jsonschema
import numpy as np
import pytest
from pydantic import ValidationError

from tenken.align.types import Alignment
from tenken.configs import load_anomaly_classes
from tenken.core.detections import Detections
from tenken.tasks.report import Report, display_label, report_json_schema, shipped_schema_path

CLASSES = load_anomaly_classes()


def _report(**kw) -> Report:
    al = Alignment(
        ok=True, homography=np.eye(3), inliers=812, inlier_ratio=0.64, mean_reprojection_px=0.9,
        selection_score=1.7, valid_fraction=0.97, reference="r.jpg", candidates=["r.jpg", "r2.jpg"],
    )  # fmt: skip
    dets = Detections(
        [[10, 20, 110, 220], [5, 5, 9, 9]],
        [0.83, np.nan],
        ["traffic_cone", "unknown"],
        ["classical", "vlm"],
        (3840, 2160),
        {"label_pass1": ["change", None], "label_pass2": ["traffic_cone", "unknown"]},
    )
    args = dict(
        id="plantA-0001", target_path="t.jpg", target_size=(3840, 2160), alignment=al, detections=dets,
        classes=CLASSES, telemetry={"lat": 35.1, "lon": 139.2, "alt": 52.0}, detectors=["classical", "vlm"],
        model={"backend": "transformers", "name": "Qwen/Qwen2.5-VL-7B-Instruct", "family": "qwen2.5-vl"},
        timings_ms={"align": 310.04, "pass1": 95, "pass2": 0, "total": 420}, warnings=[],
    )  # fmt: skip
    args.update(kw)
    return Report.from_inspection(**args)


def test_shipped_schema_file_is_the_models_current_schema():
    shipped = json.loads(shipped_schema_path().read_text(encoding="utf-8"))
    assert shipped == json.loads(json.dumps(report_json_schema())), (
        "tenken/schemas/report.schema.json is stale: run `python -m tenken report-schema --ship`"
    )


def test_report_matches_design_and_validates_against_schema():
    data = _report().to_json()
    jsonschema.validate(data, report_json_schema())
    assert next(iter(data)) == "schema" and data["schema"] == "tenken.report/1"
    ref = {"path": "r.jpg", "candidates": ["r.jpg", "r2.jpg"], "selection_score": 1.7, "explain": []}
    assert data["reference"] == ref
    assert data["alignment"]["homography"] == np.eye(3).tolist()
    first, second = data["detections"]
    assert first == {
        "box": [10.0, 20.0, 110.0, 220.0], "label": "traffic_cone", "label_ja": "カラーコーン", "score": 0.83,
        "source": "classical", "label_pass1": "change", "label_pass2": "traffic_cone",
    }  # fmt: skip
    assert second["score"] is None and second["label_ja"] == "不明"
    assert data["model"]["family"] == "qwen2.5-vl"
    assert data["timings_ms"]["align"] == 310.0


def test_classical_only_report_has_change_labels_and_null_model():
    dets = Detections([[1, 2, 3, 4]], [0.5], ["change"], ["classical"], (100, 80))
    data = _report(detections=dets, model=None).to_json()
    d = data["detections"][0]
    assert (d["label"], d["label_ja"], d["label_pass1"], d["label_pass2"]) == ("change", "変化", None, None)
    assert data["model"] is None
    jsonschema.validate(data, report_json_schema())


def test_failed_alignment_report_has_no_reference_and_the_reason():
    al = Alignment(ok=False, reason="too few inliers", candidates=["a.jpg"], reference="a.jpg")
    data = _report(alignment=al, detections=Detections.empty((100, 80)), warnings=["alignment failed"]).to_json()
    assert data["alignment"]["ok"] is False and data["alignment"]["reason"] == "too few inliers"
    assert data["reference"]["path"] is None and data["reference"]["candidates"] == ["a.jpg"]
    jsonschema.validate(data, report_json_schema())


def test_round_trip_through_json_and_detections_as():
    rep = _report()
    again = Report.model_validate(json.loads(rep.to_json_text()))
    assert again == rep
    dets = again.detections_as()
    assert isinstance(dets, Detections) and dets.image_size == (3840, 2160)
    assert dets.labels == ["traffic_cone", "unknown"] and math.isnan(dets.scores[1])
    assert dets.extra["label_pass1"] == ["change", None]
    np.testing.assert_allclose(dets.xyxy[0], [10, 20, 110, 220])


def test_unknown_fields_and_bad_boxes_are_rejected():
    data = _report().to_json()
    with pytest.raises(ValidationError):
        Report.model_validate({**data, "surprise": 1})
    data["detections"][0]["box"] = [1, 2, 3]
    with pytest.raises(ValidationError):
        Report.model_validate(data)


def test_display_label_names_builtin_and_class_labels():
    assert display_label("change", CLASSES, "en") == "change"
    assert display_label("helmet", CLASSES, "ja") == "ヘルメット"
    assert display_label("not_a_class", CLASSES, "ja") == "not_a_class"


def test_telemetry_section_uses_the_design_keys():
    from tenken.align.telemetry import Telemetry

    tel = Telemetry(35.1, 139.2, 52.0, altitude_kind="absolute", gimbal_pitch=-90.0, source="xmp")
    from tenken.tasks.report import telemetry_section

    sec = telemetry_section(tel)
    assert sec == {"lat": 35.1, "lon": 139.2, "alt": 52.0, "altitude_kind": "absolute", "gimbal_pitch": -90.0,
                   "source": "xmp"}  # fmt: skip
