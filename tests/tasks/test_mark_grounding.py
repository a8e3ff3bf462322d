"""ground_by_marks: the model's numbers become the proposer's exact boxes; the proposer's recall is kept."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from tenken.core.boxes import box_iou
from tenken.core.detections import Detections
from tenken.core.errors import InputError
from tenken.tasks.mark_grounding import change_proposals, ground_by_marks, read_proposals
from tests.vlm.fakes import scripted_vlm

IMG = np.full((400, 600, 3), 128, np.uint8)
PROPOSALS = Detections(
    np.array([[10.25, 20.5, 40.75, 60.125], [200, 200, 260, 250], [400, 50, 590, 390]]),
    np.array([0.9, 0.8, 0.7]),
    ["change"] * 3,
    ["classical"] * 3,
    (600, 400),
)


def test_chosen_numbers_give_the_proposals_exact_boxes_in_one_request():
    vlm = scripted_vlm('{"marks": [1, 3]}')
    dets = ground_by_marks(vlm, IMG, "カラーコーン", PROPOSALS)
    np.testing.assert_array_equal(dets.xyxy, PROPOSALS.xyxy[[0, 2]])
    assert dets.labels == ["カラーコーン"] * 2 and dets.sources == ["classical"] * 2 and dets.extra["mark"] == [1, 3]
    (req,) = vlm.backend.seen
    assert "marks" in req.prompt and "拡大" in req.prompt  # proposal 1 is small: crops are shown and announced
    assert req.images[0].shape[1] > 600


def test_a_model_that_picks_the_right_numbers_keeps_the_proposers_recall():
    truth = [1, 2]  # proposals 1 and 2 are real objects; 3 is a false alarm
    vlm = scripted_vlm("<ground>cone</ground><objects><region0><region1></objects>")
    dets = ground_by_marks(vlm, IMG, "cone", PROPOSALS, lang="en")
    assert dets.extra["mark"] == truth and dets.labels == ["cone", "cone"]
    assert "enlarged" in vlm.backend.seen[0].prompt


def test_bad_numbers_are_warned_and_no_proposals_sends_nothing():
    notes: list[str] = []
    dets = ground_by_marks(scripted_vlm("[2, 9]"), IMG, "cone", PROPOSALS, warnings_out=notes)
    assert dets.extra["mark"] == [2] and notes == ["mark 9 is not one of the 3 proposals"]
    vlm = scripted_vlm("[1]")
    assert len(ground_by_marks(vlm, IMG, "cone", Detections.empty((600, 400)))) == 0 and vlm.backend.seen == []
    with pytest.raises(InputError, match="proposals are for"):
        ground_by_marks(vlm, IMG, "cone", Detections.empty((60, 40)))


def test_change_proposals_find_what_appeared(tmp_path):
    rng = np.random.default_rng(3)
    ref = np.full((480, 640, 3), 120, np.uint8)
    for _ in range(400):  # a cluttered scene with corners for the feature matcher
        x, y, r = int(rng.integers(0, 640)), int(rng.integers(0, 480)), int(rng.integers(3, 15))
        cv2.circle(ref, (x, y), r, tuple(int(v) for v in rng.integers(0, 256, 3)), -1)
    target = ref.copy()
    target[300:340, 400:450] = (250, 40, 40)
    props = change_proposals(target, ref)
    assert len(props) >= 1 and props.sources[0] == "classical"
    assert (box_iou(props.xyxy, np.array([[400, 300, 450, 340]])) > 0.5).any()
    path = tmp_path / "p.json"
    path.write_text(json.dumps(props.to_dict()))
    np.testing.assert_array_equal(read_proposals(path).xyxy, props.xyxy)
    path.write_text("{not json")
    with pytest.raises(InputError, match="not JSON"):
        read_proposals(path)
