"""The VLM pass-1 detector and pass-2 labeller against the inspect-pipeline protocols."""

from __future__ import annotations

import numpy as np

from tenken.align.types import Alignment
from tenken.configs import load_anomaly_classes
from tenken.core.contracts import AlignedPair, CandidateDetector, Labeller
from tenken.core.detections import Detections
from tenken.tasks.anomaly import VLMCandidateDetector, VLMLabeller, crop_with_margin
from tests.vlm.fakes import scripted_vlm

CLASSES = load_anomaly_classes()


def _pair(w: int = 200, h: int = 100) -> AlignedPair:
    t = np.full((h, w, 3), 100, dtype=np.uint8)
    return AlignedPair(t, t.copy(), np.ones((h, w), bool), Alignment(ok=True))


def test_detector_keeps_left_half_boxes_in_target_pixels():
    pair = _pair()  # composite: 200 + 8 + 200 = 408 wide, 100 high
    answer = (
        '[{"bbox": [10, 10, 50, 60], "label": "カラーコーン"}, '
        '{"bbox": [250, 10, 300, 60], "label": "cone"}, '  # in the reference half: dropped
        '{"bbox": [170, 20, 220, 40], "label": "bucket"}]'  # straddles, centre in the left: clipped
    )
    vlm = scripted_vlm(answer, family="llava", box_format="pixels")
    det = VLMCandidateDetector(vlm, CLASSES, lang="ja")
    assert isinstance(det, CandidateDetector) and det.name == "vlm"
    out = det.detect(pair)
    assert out.image_size == (200, 100)
    np.testing.assert_allclose(out.xyxy, [[10, 10, 50, 60], [170, 20, 200, 40]])
    assert out.labels == ["traffic_cone", "unknown"] and out.sources == ["vlm", "vlm"]
    seen = vlm.backend.seen[-1]
    assert seen.images[0].shape == (100, 408, 3)
    assert "左の画像にあって右の画像にない" in seen.prompt and "ペットボトル" in seen.prompt


def test_detector_english_prompt_and_relative_boxes():
    vlm = scripted_vlm('[{"bbox_2d": [0, 0, 245, 500]}]', family="qwen3-vl")  # 0-1000 of the 408-wide composite
    det = VLMCandidateDetector(vlm, CLASSES, lang="en")
    out = det.detect(_pair())
    np.testing.assert_allclose(out.xyxy, [[0, 0, 99.96, 50]], atol=0.01)
    assert "present in the left image but missing in the right image" in vlm.backend.seen[-1].prompt


def test_detector_unparsable_answer_is_empty_with_warning():
    det = VLMCandidateDetector(scripted_vlm("I see nothing new."), CLASSES)
    assert len(det.detect(_pair())) == 0 and det.warnings


def test_labeller_batches_crops_and_records_both_passes():
    target = np.zeros((100, 200, 3), dtype=np.uint8)
    cands = Detections(
        [[10, 10, 30, 30], [100, 50, 180, 90]],
        labels=["traffic_cone", ""],
        sources=["vlm", "classical"],
        image_size=(200, 100),
    )
    answers = iter(["ヘルメット", "something else"])
    vlm = scripted_vlm(lambda r: next(answers))
    lab = VLMLabeller(vlm, margin=0.25)
    assert isinstance(lab, Labeller)
    out = lab.label(target, cands, CLASSES, "ja")
    assert out.labels == ["helmet", "unknown"]
    assert out.extra["label_pass1"] == ["traffic_cone", None]
    assert out.extra["label_pass2"] == ["helmet", "unknown"]
    np.testing.assert_array_equal(out.xyxy, cands.xyxy)
    assert len(vlm.backend.seen) == 2 and vlm.backend.seen[0].images[0].shape == (32, 32, 3)  # min side 32
    assert vlm.backend.seen[1].images[0].shape == (60, 120, 3)  # 80x40 box + 25% each side (clipped at 100)
    empty = lab.label(target, Detections.empty((200, 100)), CLASSES, "en")
    assert len(empty) == 0 and empty.extra["label_pass2"] == []


def test_labeller_keeps_labels_when_some_requests_fail():
    from tenken.vlm.backends.base import BackendError
    from tenken.vlm.model import VLM

    class HalfBroken:
        name = "half"

        def generate(self, requests):
            raise BackendError("1 of 2 failed", ["glove", None], {1: "HTTP 500"})

    vlm = VLM(HalfBroken(), scripted_vlm("").family, "half")
    cands = Detections([[0, 0, 10, 10], [20, 20, 40, 40]], image_size=(50, 50))
    lab = VLMLabeller(vlm)
    out = lab.label(np.zeros((50, 50, 3), np.uint8), cands, CLASSES, "en")
    assert out.labels == ["glove", "unknown"] and out.extra["answer_pass2"] == ["glove", None]
    assert lab.warnings and "1 of 2" in lab.warnings[0]


def test_crop_with_margin_stays_inside():
    img = np.zeros((50, 60, 3), dtype=np.uint8)
    assert crop_with_margin(img, np.array([0, 0, 60, 50]), 0.5).shape == (50, 60, 3)
    # a 1-px box in the corner: grown to 32 px where the image allows (15.5 px up and left, cut at the edge)
    assert crop_with_margin(img, np.array([59, 49, 60, 50]), 0.25).shape[:2] == (17, 17)


def test_tiny_model_runs_both_passes(tiny_llava):
    pair = _pair(64, 48)
    cands = VLMCandidateDetector(tiny_llava, CLASSES).detect(pair)
    assert cands.image_size == (64, 48)
    boxes = Detections([[5, 5, 20, 20]], labels=["x"], sources=["classical"], image_size=(64, 48))
    out = VLMLabeller(tiny_llava).label(pair.target, boxes, CLASSES, "en")
    assert out.labels[0] in {*CLASSES.ids, "unknown"}
