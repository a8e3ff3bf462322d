"""Numbered marks: every number maps back to exactly its proposal, tags stay outside boxes, bad numbers reported."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenken.core.detections import Detections
from tenken.core.errors import InputError
from tenken.vlm.marks import MAX_MARKS, MarkRef, parse_mark_refs, read_marks, render_marks, select_marks

W, H = 640, 480


@st.composite
def proposals(draw, max_n=30):
    n = draw(st.integers(1, max_n))
    xy = draw(st.lists(st.tuples(st.floats(0, W - 2), st.floats(0, H - 2)), min_size=n, max_size=n))
    wh = draw(st.lists(st.tuples(st.floats(1, 200), st.floats(1, 200)), min_size=n, max_size=n))
    boxes = [[x, y, min(W, x + bw), min(H, y + bh)] for (x, y), (bw, bh) in zip(xy, wh, strict=True)]
    return Detections(np.array(boxes), labels=[f"p{i}" for i in range(n)], sources=["classical"] * n, image_size=(W, H))


@settings(max_examples=40, deadline=None)
@given(proposals(), st.data())
def test_every_mark_number_maps_back_to_its_exact_box(props, data):
    marked = render_marks(np.zeros((H, W, 3), np.uint8), props)
    chosen = data.draw(st.lists(st.integers(1, len(props)), unique=True))
    style = data.draw(st.sampled_from(["list", "dict", "records", "bare", "fo1"]))
    if style == "list":
        answer = json.dumps(chosen)
    elif style == "dict":
        answer = "```json\n" + json.dumps({"marks": chosen}) + "\n```"
    elif style == "records":
        answer = json.dumps([{"mark": k, "label": "cone"} for k in chosen])
    elif style == "bare":
        answer = ", ".join(map(str, chosen)) if chosen else "none"
    else:
        answer = "<ground>cone</ground><objects>" + "".join(f"<region{k - 1}>" for k in chosen) + "</objects>"
    notes: list[str] = []
    dets = read_marks(answer, marked, "default", warnings_out=notes)
    assert notes == []
    assert dets.extra["mark"] == chosen
    for j, k in enumerate(chosen):
        np.testing.assert_array_equal(dets.xyxy[j], props.xyxy[k - 1])  # bit for bit, no arithmetic
        np.testing.assert_array_equal(marked.box(k), props.xyxy[k - 1])
    assert set(dets.labels) <= {"cone", "default"}


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 12), st.data())
def test_tags_never_cover_a_separated_object(n, data):
    # proposals on a grid with room around each: the inside of every box keeps its original pixels
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    img = rng.integers(0, 255, size=(H, W, 3), dtype=np.uint8)
    cells = rng.choice(4 * 3, size=n, replace=False)
    boxes = []
    for c in cells:
        r, col = divmod(int(c), 4)
        x, y = 40 + col * 150, 40 + r * 150
        bw, bh = rng.integers(6, 90, 2)
        boxes.append([x, y, x + bw, y + bh])
    props = Detections(np.array(boxes, float), image_size=(W, H))
    marked = render_marks(img, props, line_px=1)
    for x1, y1, x2, y2 in np.array(boxes):
        np.testing.assert_array_equal(
            marked.image[y1 + 2 : y2 - 1, x1 + 2 : x2 - 1], img[y1 + 2 : y2 - 1, x1 + 2 : x2 - 1]
        )
    np.testing.assert_array_equal(marked.image.shape[0], H)


def test_small_proposals_get_crops_beside_the_image():
    props = Detections(np.array([[10, 10, 20, 20], [100, 100, 300, 300]], float), image_size=(W, H))
    marked = render_marks(np.zeros((H, W, 3), np.uint8), props, small_px=32)
    assert marked.crops == [1]
    assert marked.image.shape[0] == H and marked.image.shape[1] > W
    assert render_marks(np.zeros((H, W, 3), np.uint8), props[1:]).image.shape == (H, W, 3)


def test_unknown_and_out_of_range_numbers_are_reported_not_guessed():
    props = Detections(np.array([[0, 0, 10, 10], [20, 20, 40, 40]], float), image_size=(W, H))
    marked = render_marks(np.zeros((H, W, 3), np.uint8), props)
    notes: list[str] = []
    dets = select_marks(
        [MarkRef("2"), MarkRef("3"), MarkRef("0"), MarkRef("1.5"), MarkRef("x")], marked, warnings_out=notes
    )
    assert dets.extra["mark"] == [2]
    assert len(notes) == 4 and any("mark 3" in n for n in notes) and any("'1.5'" in n for n in notes)
    notes = []
    assert len(read_marks("<objects><region2></objects>", marked, warnings_out=notes)) == 0
    assert notes == ["<region2> is not one of the 2 proposals"]
    notes = []
    assert len(read_marks("I think it's the red one on the left", marked, warnings_out=notes)) == 0
    assert "no mark numbers" in notes[0]
    with pytest.raises(InputError, match="not one of"):
        marked.box(3)


def test_answer_forms():
    assert parse_mark_refs("[]") == [] and parse_mark_refs("なし") == []
    assert [r.value for r in parse_mark_refs('{"marks": ["#4", 7]}')] == ["4", "7"]
    assert [r.value for r in parse_mark_refs("3、5")] == ["3", "5"]
    fo1 = parse_mark_refs("<ground>cone</ground><objects><region1></objects><ground>bag</ground><objects><region0>")
    assert [(r.value, r.label, r.region) for r in fo1] == [("1", "cone", True), ("0", "bag", True)]
    assert parse_mark_refs("there are 2 cones") is None


def test_too_many_or_misplaced_proposals_are_refused():
    img = np.zeros((H, W, 3), np.uint8)
    with pytest.raises(InputError, match="at most"):
        render_marks(img, Detections(np.tile([[0, 0, 5, 5]], (MAX_MARKS + 1, 1)).astype(float)))
    with pytest.raises(InputError, match="outside"):
        render_marks(img, Detections(np.array([[0, 0, W + 10, 5]], float)))
