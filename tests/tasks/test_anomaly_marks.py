"""The hybrid detector's mark mode: the VLM picks proposals by number, tenken returns their exact boxes."""

from __future__ import annotations

import numpy as np

from tenken.align.types import Alignment
from tenken.changedet import ChangeDetector
from tenken.configs import load_anomaly_classes
from tenken.core.boxes import box_iou
from tenken.core.contracts import AlignedPair, CandidateDetector, WarnsOnDetect
from tenken.core.detections import Detections
from tenken.tasks.anomaly_marks import MarkCandidateDetector, marked_pair
from tests.vlm.fakes import BLOB_RGB, mark_picker, scripted_vlm

CLASSES = load_anomaly_classes()
OBJECTS = [[40, 50, 80, 90], [200, 100, 212, 112], [300, 200, 360, 250]]  # the 12 px one gets a crop


def _pair() -> AlignedPair:
    reference = np.broadcast_to((np.arange(400) % 100 + 60).astype(np.uint8)[None, :, None], (300, 400, 3)).copy()
    target = reference.copy()
    for x1, y1, x2, y2 in OBJECTS:
        target[y1:y2, x1:x2] = BLOB_RGB
    return AlignedPair(target, reference, np.ones((300, 400), bool), Alignment(ok=True))


class FixedProposer:
    """A proposer returning the same boxes every time (the true objects, shuffled among false ones)."""

    name = "fixed"

    def __init__(self, boxes: list[list[float]]) -> None:
        self.boxes = boxes
        self.last_warnings: list[str] = []

    def detect(self, pair: AlignedPair) -> Detections:
        self.last_warnings = ["fixed proposer note"]
        n = len(self.boxes)
        return Detections(self.boxes, np.linspace(0.9, 0.5, n), ["change"] * n, ["classical"] * n, (400, 300))


def test_marked_pair_shows_the_same_numbers_on_target_and_reference():
    pair = _pair()
    proposals = FixedProposer(OBJECTS).detect(pair)
    marked, image = marked_pair(pair, proposals)
    assert marked.crops == [2]  # the 12 px object is also enlarged
    assert image.shape[0] == 300 and image.shape[1] > 2 * 400 + 8
    np.testing.assert_array_equal(image[:, :400], marked.image[:, :400])  # marked target at offset 0
    right = image[:, 408:808]
    assert (right != pair.reference).any()  # marks drawn on the reference too
    np.testing.assert_array_equal(image[:, 808:], marked.image[:, 400:])  # crop panel of the target last


def test_scripted_picker_reaches_the_proposers_recall_with_the_same_boxes():
    pair = _pair()
    boxes = [[10, 10, 30, 30], OBJECTS[2], [100, 200, 150, 260], OBJECTS[0], OBJECTS[1]]
    proposer = FixedProposer(boxes)
    vlm = scripted_vlm(mark_picker(proposer.detect(pair), OBJECTS, extra=[42, "abc"]), family="qwen2.5-vl")
    det = MarkCandidateDetector(vlm, CLASSES, proposer, lang="ja")
    assert isinstance(det, CandidateDetector) and isinstance(det, WarnsOnDetect)
    out = det.detect(pair)
    np.testing.assert_array_equal(out.xyxy, np.array([OBJECTS[2], OBJECTS[0], OBJECTS[1]], dtype=float))
    np.testing.assert_allclose(out.scores, [0.8, 0.6, 0.5])  # the proposer's scores, exactly
    assert out.labels == ["plastic_bottle"] * 3 and set(out.sources) == {"hybrid-marks"}
    assert out.extra["mark"] == [2, 4, 5]
    # unknown / out-of-range numbers are reported, never guessed; the proposer's warnings pass through
    assert any("mark 42 is not one of the 5 proposals" in w for w in det.last_warnings)
    assert any("'abc' is not a mark number" in w for w in det.last_warnings)
    assert "proposer: fixed proposer note" in det.last_warnings
    request = vlm.backend.seen[-1]
    assert len(vlm.backend.seen) == 1 and "番号" in request.prompt and "ペットボトル" in request.prompt
    assert "拡大" in request.prompt  # the crop panel is announced


def test_fo1_answer_and_unlabelled_picks_keep_the_change_label():
    pair = _pair()
    vlm = scripted_vlm("<objects><region0><region7></objects>")  # regions are 0-based
    det = MarkCandidateDetector(vlm, CLASSES, FixedProposer(OBJECTS), lang="en")
    out = det.detect(pair)
    np.testing.assert_array_equal(out.xyxy, [OBJECTS[0]])
    assert out.labels == ["change"] and any("<region7>" in w for w in det.last_warnings)
    assert "present in the left image but missing in the right image" in vlm.backend.seen[-1].prompt


def test_no_proposals_sends_nothing_and_many_are_split_into_several_marked_images():
    pair = _pair()
    vlm = scripted_vlm('{"marks": []}')
    assert len(MarkCandidateDetector(vlm, CLASSES, FixedProposer([])).detect(pair)) == 0
    assert vlm.backend.seen == []
    grid = [[x, y, x + 8, y + 8] for y in range(0, 290, 20) for x in range(0, 390, 20)][:150]
    proposer = FixedProposer(grid)
    truth = [grid[3], grid[120]]
    vlm = scripted_vlm(mark_picker(proposer.detect(pair), truth))
    out = MarkCandidateDetector(vlm, CLASSES, proposer).detect(pair)
    assert len(vlm.backend.seen) == 2  # 99 + 51 marks, one batch
    np.testing.assert_array_equal(out.xyxy, np.array(truth, dtype=float))


def test_with_the_classical_proposer_on_a_real_pair(tmp_path):
    # the change detector proposes; a model picking the right numbers keeps exactly the proposer's hits
    from tenken.align.pair import align_pair
    from tests.inspect.synthetic import make_pair

    assets = __import__("pathlib").Path(__file__).resolve().parents[1] / "assets"
    target_path, reference_path, box = make_pair(assets, tmp_path)
    from tenken.core.images import load_image

    target = load_image(target_path)
    alignment = align_pair(target, reference_path)
    pair = AlignedPair(target, alignment.warped_reference, alignment.valid_mask, alignment)
    proposals = ChangeDetector().detect(pair)
    hits = (box_iou(proposals.xyxy, np.array([box])) >= 0.5).any(axis=1)
    assert hits.any()  # the proposer finds the pasted plant
    det = MarkCandidateDetector(scripted_vlm(mark_picker(proposals, [box])), CLASSES, ChangeDetector())
    out = det.detect(pair)
    np.testing.assert_array_equal(out.xyxy, proposals.xyxy[hits])
    assert det.last_conditions is not None  # the proposer's pair conditions reach the report
