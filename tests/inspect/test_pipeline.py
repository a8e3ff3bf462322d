"""The Inspector end to end on a real dev photo pair (real alignment, real change detector) and its slots."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import numpy as np
import pytest

from tenken.core.contracts import AlignedPair, Labels
from tenken.core.detections import Detections
from tenken.core.errors import ImageLoadError, InputError
from tenken.inspect.pipeline import Inspector
from tenken.inspect.report import report_json_schema
from tests.inspect.synthetic import iou, make_pair, other_place
from tests.vlm.fakes import mark_picker, scripted_vlm


@pytest.fixture(scope="module")
def pair(assets: Path, tmp_path_factory: pytest.TempPathFactory):
    return make_pair(assets, tmp_path_factory.mktemp("pair"))


class BoxDetector:
    """Proposes fixed boxes and counts its calls."""

    def __init__(self, name: str, boxes: list[list[float]], scores: list[float], label: str = "change"):
        self.name, self.boxes, self.scores, self.label = name, boxes, scores, label
        self.calls = 0

    def detect(self, pair: AlignedPair) -> Detections:
        self.calls += 1
        size = (pair.target.shape[1], pair.target.shape[0])
        n = len(self.boxes)
        return Detections(np.array(self.boxes).reshape(-1, 4), self.scores, [self.label] * n, [self.name] * n, size)


class ConstantLabeller:
    def __init__(self, label: str):
        self.label_id = label

    def label(self, target, candidates, classes, lang):
        n = len(candidates)
        return Labels(candidates.with_labels([self.label_id] * n), list(candidates.labels), [self.label_id] * n,
                      ["answer"] * n)  # fmt: skip


def test_classical_finds_the_pasted_object_through_real_alignment(pair):
    target, reference, box = pair
    report = Inspector().inspect(target, [reference], id="p1")
    assert report.alignment.ok and report.alignment.inliers > 50
    assert report.id == "p1" and report.detectors == ["classical"]
    assert max(iou(d.box, box) for d in report.detections) > 0.5
    assert {d.label for d in report.detections} == {"change"} and report.model is None
    assert set(report.timings_ms) == {"align", "pass1", "pass2", "total"}
    assert report.timings_ms["total"] >= report.timings_ms["align"] > 0
    jsonschema.validate(report.to_dict(), report_json_schema())


def test_reference_of_another_place_is_reported_and_no_detector_runs(pair, assets, tmp_path):
    target, _, _ = pair
    spy = BoxDetector("spy", [[0, 0, 5, 5]], [0.9])
    report = Inspector(detector=spy).inspect(target, other_place(assets, tmp_path))
    assert report.alignment.ok is False and report.alignment.reason
    assert spy.calls == 0 and report.detections == [] and report.detectors == []
    assert any("alignment failed" in w for w in report.warnings)


def test_hybrid_style_merge_runs_nms_across_detectors_and_pass2_labels(pair):
    target, reference, _ = pair
    a = BoxDetector("a", [[10, 10, 50, 50], [200, 200, 240, 240]], [0.9, 0.4])
    b = BoxDetector("b", [[12, 12, 50, 50]], [0.8], label="helmet")
    ins = Inspector(detector=[a, b], labeller=ConstantLabeller("glove"), align_options={"registered": True})
    report = ins.inspect(target, reference)
    assert [d.box for d in report.detections] == [[10, 10, 50, 50], [200, 200, 240, 240]]
    assert {d.label for d in report.detections} == {"glove"} and report.detections[0].label_ja == "手袋"
    assert report.detections[0].label_pass1 == "helmet" and report.detections[0].label_pass2 == "glove"
    assert report.detections[0].answer_pass2 == "answer"  # the raw answer is kept in the report (schema 1, additive)
    assert report.detectors == ["a", "b"]


def test_scripted_vlm_hybrid_fills_model_section_and_labels(pair):
    target, reference, _ = pair

    def answer(request):  # pass 1: one box on the target half (qwen3-vl: 0-1000 of the composite); pass 2: a label
        if "JSON" in request.prompt or "json" in request.prompt:
            return '[{"bbox_2d": [100, 100, 200, 300], "label": "traffic cone"}]'
        return "traffic cone"

    vlm = scripted_vlm(answer)
    report = Inspector(detector="vlm", vlm=vlm, lang="en", align_options={"registered": True}).inspect(
        target, reference
    )
    assert report.model is not None and report.model.backend == "scripted"
    assert report.detectors == ["vlm"] and len(report.detections) == 1
    d = report.detections[0]
    assert d.source == "vlm" and d.label == "traffic_cone" and d.label_pass2 == "traffic_cone"
    assert d.box[2] <= report.target.width


def test_tiny_vlm_hybrid_plumbing(pair, tiny_llava):
    target, reference, _ = pair
    ins = Inspector(detector="hybrid", vlm=tiny_llava, align_options={"registered": True})
    report = ins.inspect(target, reference)
    jsonschema.validate(report.to_dict(), report_json_schema())
    assert report.detectors == ["classical", "vlm"]
    assert report.model is not None and report.model.name == tiny_llava.name
    allowed = set(ins.classes.ids) | {"unknown"}
    for d in report.detections:  # the tiny model's answers are noise: labels must still be class ids
        assert d.label in allowed and d.label_pass2 in allowed
        assert d.source in ("classical", "vlm")


def test_bad_inputs_give_clear_errors(pair, tmp_path):
    target, reference, _ = pair
    ins = Inspector(align_options={"registered": True})
    with pytest.raises(ImageLoadError, match=r"missing\.jpg: file not found"):
        ins.inspect(tmp_path / "missing.jpg", [reference])
    with pytest.raises(ImageLoadError, match=r"nope\.jpg"):
        ins.inspect(target, [tmp_path / "nope.jpg"])
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image at all")
    with pytest.raises(ImageLoadError, match=r"broken\.jpg"):
        ins.inspect(broken, [reference])
    with pytest.raises(InputError, match="no reference"):
        ins.inspect(target, [])


def test_constructor_rejects_bad_configuration():
    with pytest.raises(InputError, match="needs a vision-language model"):
        Inspector(detector="vlm")
    with pytest.raises(InputError, match="classical, vlm or hybrid"):
        Inspector(detector="magic")
    with pytest.raises(InputError, match="lang"):
        Inspector(lang="fr")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="not a CandidateDetector"):
        Inspector(detector=[object()])  # type: ignore[list-item]


def test_feature_cache_is_shared_across_calls(pair):
    target, reference, _ = pair
    ins = Inspector(detector=BoxDetector("x", [], []))
    ins.inspect(target, reference)
    misses = ins.cache.misses
    ins.inspect(target, reference)
    assert ins.cache.hits >= 1 and ins.cache.misses == misses


def test_target_telemetry_is_reported_and_public_api_is_lazy(pair, tmp_path):
    from PIL import Image
    from PIL.ExifTags import IFD

    import tenken

    target, reference, _ = pair
    exif = Image.Exif()
    exif.get_ifd(IFD.GPSInfo).update({1: "N", 2: (35, 6, 0.0), 3: "E", 4: (139, 12, 0.0), 6: 52.0})
    gps_target = tmp_path / "gps.jpg"
    Image.open(target).save(gps_target, quality=95, exif=exif)
    report = tenken.Inspector(detector=BoxDetector("x", [], []), align_options={"registered": True}).inspect(
        gps_target, reference
    )
    tel = report.target.telemetry
    assert tel is not None and tel["lat"] == pytest.approx(35.1) and tel["lon"] == pytest.approx(139.2)
    assert tel["alt"] == pytest.approx(52.0)
    assert tenken.Report is type(report)


def test_merge_keeps_the_best_box_and_a_suppressed_class_label():
    from tenken.inspect.pipeline import merge_candidates

    classical = Detections([[10, 10, 50, 50], [100, 100, 120, 120]], [0.9, 0.6], ["change"] * 2, ["classical"] * 2)
    vlm = Detections([[12, 11, 50, 52], [300, 300, 340, 340]], None, ["traffic_cone", "helmet"], ["vlm"] * 2)
    out = merge_candidates([classical, vlm], 0.5)
    assert out.xyxy.tolist() == [[10, 10, 50, 50], [100, 100, 120, 120], [300, 300, 340, 340]]
    assert out.labels == ["traffic_cone", "change", "helmet"]
    assert out.sources == ["classical", "classical", "vlm"]


def test_hybrid_mark_mode_returns_exactly_the_classical_hits(pair):
    target, reference, box = pair
    options = {"registered": True}
    classical = Inspector(align_options=options).run(target, reference).detections
    vlm = scripted_vlm(mark_picker(classical, [box]))
    ins = Inspector(detector="hybrid", vlm=vlm, marks=True, labeller=False, align_options=options)
    report = ins.inspect(target, reference)
    jsonschema.validate(report.to_dict(), report_json_schema())
    assert report.detectors == ["hybrid-marks"] and "hybrid-marks" in report.conditions
    hits = [list(b) for b in classical.xyxy if iou(list(b), box) >= 0.5]
    assert hits and [d.box for d in report.detections] == hits  # the proposer's boxes, not the model's
    assert {d.source for d in report.detections} == {"hybrid-marks"} and report.model is not None


def test_slicing_and_marks_options_are_checked():
    from tenken.vlm.slicing import FAMILY_SLICE_DEFAULTS, SliceOptions

    vlm = scripted_vlm("[]", family="qwen2.5-vl")
    ins = Inspector(detector="hybrid", vlm=vlm, slicing=True)
    assert ins.detector_names == ["classical", "vlm"]
    assert ins.detectors[1].slicing == FAMILY_SLICE_DEFAULTS["qwen2.5-vl"]  # the family's defaults
    custom = SliceOptions(tile=512)
    assert Inspector(detector="vlm", vlm=vlm, slicing=custom).detectors[0].slicing is custom
    with pytest.raises(InputError, match="slicing applies to the vlm and hybrid"):
        Inspector(detector="classical", slicing=True)
    with pytest.raises(InputError, match="marks is a mode of detector='hybrid'"):
        Inspector(detector="vlm", vlm=vlm, marks=True)
    with pytest.raises(InputError, match="choose one"):
        Inspector(detector="hybrid", vlm=vlm, marks=True, slicing=True)
