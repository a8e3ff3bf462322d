"""The VLM pass-1 detector and pass-2 labeller against the inspect-pipeline protocols."""

from __future__ import annotations

import numpy as np
import pytest

from tenken.align.types import Alignment
from tenken.configs import load_anomaly_classes
from tenken.core.contracts import AlignedPair, CandidateDetector, Labeller, WarnsOnDetect
from tenken.core.detections import Detections
from tenken.tasks.anomaly import VLMCandidateDetector, VLMLabeller, crop_with_margin
from tenken.vlm.slicing import SliceOptions, make_tiles
from tests.vlm.fakes import BLOB_RGB, blob_answer, scripted_vlm

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
    assert len(det.detect(_pair())) == 0 and det.last_warnings
    assert isinstance(det, WarnsOnDetect)
    det.vlm = scripted_vlm('[{"bbox_2d": [0, 0, 50, 50]}]')
    assert len(det.detect(_pair())) == 1 and det.last_warnings == []  # reset per call, not a batch-long list


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
    assert out.detections.labels == ["helmet", "unknown"]
    assert out.label_pass1 == ["traffic_cone", None]
    assert out.label_pass2 == ["helmet", "unknown"] and out.answer_pass2 == ["ヘルメット", "something else"]
    np.testing.assert_array_equal(out.detections.xyxy, cands.xyxy)
    assert len(vlm.backend.seen) == 2 and vlm.backend.seen[0].images[0].shape == (32, 32, 3)  # min side 32
    assert vlm.backend.seen[1].images[0].shape == (60, 120, 3)  # 80x40 box + 25% each side (clipped at 100)
    empty = lab.label(target, Detections.empty((200, 100)), CLASSES, "en")
    assert len(empty.detections) == 0 and empty.label_pass2 == []


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
    assert out.detections.labels == ["glove", "unknown"] and out.answer_pass2 == ["glove", None]
    assert out.warnings and "1 of 2" in out.warnings[0]


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
    assert out.detections.labels[0] in {*CLASSES.ids, "unknown"}


def _big_pair() -> tuple[AlignedPair, list[list[int]]]:
    """A 3000x2000 pair: small new objects (24-40 px) and a large one in the target, none in the reference;
    the reference has a gradient so its tiles are told apart."""
    objects = [[100, 120, 124, 150], [1000, 1010, 1030, 1040], [2500, 300, 2540, 330], [1500, 1500, 1900, 1900]]
    target = np.full((2000, 3000, 3), 90, dtype=np.uint8)
    for x1, y1, x2, y2 in objects:
        target[y1:y2, x1:x2] = BLOB_RGB
    reference = np.broadcast_to((np.arange(3000) % 200).astype(np.uint8)[None, :, None], (2000, 3000, 3)).copy()
    return AlignedPair(target, reference, np.ones((2000, 3000), bool), Alignment(ok=True)), objects


@pytest.mark.parametrize("family", ["qwen2.5-vl", "qwen3-vl"])
def test_sliced_detector_finds_small_new_objects_in_target_pixels(family):
    pair, objects = _big_pair()
    budget = 1008 * 1008
    options = SliceOptions(tile=1008, overlap=0.2, pixel_budget=budget)
    # a model that sees only blobs >= 16 px in what it is shown, downscaled to its own pixel budget (2 tiles)
    vlm = scripted_vlm(blob_answer(family, min_px=16, label="ペットボトル", max_pixels=2 * budget), family=family)
    whole = VLMCandidateDetector(vlm, CLASSES, lang="en").detect(pair)
    assert len(whole) == 1  # the whole pair shrunk to the budget: only the large object is seen
    vlm.backend.seen.clear()
    det = VLMCandidateDetector(vlm, CLASSES, lang="en", slicing=options)
    out = det.detect(pair)
    tiles = make_tiles((3000, 2000), options)
    assert len(vlm.backend.seen) == len(tiles)  # one request per tile (+ the whole pair), one batch
    for tile, request in zip(tiles, vlm.backend.seen, strict=True):  # left: target tile, right: the same tile
        sw, sh = tile.sent_size
        assert request.images[0].shape == (sh, 2 * sw + 8, 3)
        np.testing.assert_array_equal(request.images[0][:, sw + 8 :], tile.crop(pair.reference))
    order = np.argsort(out.xyxy[:, 0] + out.xyxy[:, 1])
    assert len(out) == 4 and out.image_size == (3000, 2000) and set(out.sources) == {"vlm"}
    tol = 1.0 if family == "qwen2.5-vl" else 1.5  # 0-1000 integers of a ~2000 px wide composite: 2 px a step
    assert np.abs(out.xyxy[order] - np.array(objects, dtype=float)).max() <= tol
    assert set(out.labels) == {"plastic_bottle"} and det.last_warnings == []


def test_sliced_detector_keeps_answered_tiles_when_some_requests_fail():
    from tenken.vlm.backends.base import BackendError

    pair, _ = _big_pair()
    options = SliceOptions(tile=1008, overlap=0.2, pixel_budget=1008 * 1008, whole_image=False)
    vlm = scripted_vlm(blob_answer("qwen2.5-vl", min_px=16), family="qwen2.5-vl")
    answer = vlm.backend.answer

    def generate(requests):
        results = [answer(r) for r in requests]
        results[0] = None  # the top-left tile (object at 100,120) failed
        raise BackendError("1 of 6 requests failed", results, {0: "timeout"})

    vlm.backend.generate = generate
    det = VLMCandidateDetector(vlm, CLASSES, slicing=options)
    out = det.detect(pair)
    assert len(out) == 3 and out.xyxy[:, 0].min() > 900
    assert any("1 of 6 requests failed" in w for w in det.last_warnings)
