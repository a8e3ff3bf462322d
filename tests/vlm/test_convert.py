"""The training direction of the box boundary: pixel boxes -> a family's answer text -> parse_detections -> the
same pixel boxes (up to the family's rounding), for every family and frame."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tenken.core.errors import InputError
from tenken.vlm.convert import MarkedBox, chat_messages
from tenken.vlm.families import get_family
from tenken.vlm.parse import parse_detections

FAMILIES = [
    ("qwen2.5-vl", {}),
    ("qwen2.5-vl", {"min_pixels": 28 * 28 * 4, "max_pixels": 28 * 28 * 16}),
    ("qwen2-vl", {}),
    ("qwen3-vl", {}),
    ("llava", {}),
    ("llava", {"box_format": "rel1"}),
    ("llava", {"box_format": "pixels"}),
    ("plamo", {}),
]


def _tolerance(fam, size) -> np.ndarray:
    """Half a model unit, in original pixels, per coordinate (the rounding the model's integers carry)."""
    w, h = size
    unit = {"rel1000": (w / 1000, h / 1000), "rel1": (w / 1000, h / 1000), "pixels": (1.0, 1.0)}.get(fam.box_format)
    if unit is None:  # processed: one resized pixel
        pw, ph = fam.processed_size(size)
        unit = (w / pw, h / ph)
    return np.array([unit[0], unit[1], unit[0], unit[1]]) / 2 + 1e-9


@st.composite
def boxes_in_image(draw):
    w = draw(st.integers(16, 4000))
    h = draw(st.integers(16, 4000))
    if max(w, h) / min(w, h) > 150:
        h = w
    n = draw(st.integers(1, 4))
    rows = []
    for _ in range(n):
        x1 = draw(st.floats(0, w - 8))
        y1 = draw(st.floats(0, h - 8))
        x2 = draw(st.floats(x1 + 4, w))
        y2 = draw(st.floats(y1 + 4, h))
        rows.append([x1, y1, x2, y2])
    return (w, h), np.array(rows)


@pytest.mark.parametrize(("name", "opts"), FAMILIES)
@settings(max_examples=60, deadline=None)
@given(data=boxes_in_image())
def test_format_then_parse_round_trips(name, opts, data):
    size, boxes = data
    fam = get_family(name, **opts)
    labels = [f"obj{i}" for i in range(len(boxes))]
    model = fam.from_pixels(boxes, size)
    unit = 0.001 if fam.box_format == "rel1" else 1.0
    assume(np.all(model[:, 2:] - model[:, :2] >= 2 * unit))  # smaller boxes round to no area: parse drops them
    text = fam.format_boxes(boxes, labels, size)
    dets = parse_detections(text, fam, size, warnings_out=[])
    assert dets.labels == labels
    assert np.all(np.abs(dets.xyxy - boxes) <= _tolerance(fam, size))


@pytest.mark.parametrize(("name", "opts"), FAMILIES)
def test_boxes_on_the_model_grid_round_trip_exactly(name, opts):
    fam = get_family(name, **opts)
    size = (640, 480)
    model = np.array([[2, 3, 50, 60]], dtype=float) if fam.box_format != "rel1" else np.array([[0.1, 0.2, 0.5, 0.75]])
    pixels = fam.to_pixels(model, size)
    assert np.allclose(fam.from_pixels(pixels, size), model)
    back = parse_detections(fam.format_boxes(pixels, ["a"], size), fam, size).xyxy
    assert np.allclose(back, pixels)


def test_qwen25_frame_is_the_resized_image_not_the_original():
    """The trap that makes a detection reward always 0: Qwen2.5-VL numbers are pixels of the smart_resize'd
    image, so a 1000x500 image's right edge is written as 1008 (its resized width), not 1000."""
    fam = get_family("qwen2.5-vl")
    size = (1000, 500)
    text = fam.format_boxes(np.array([[0.0, 0.0, 1000.0, 500.0]]), ["all"], size)
    pw, ph = fam.processed_size(size)
    assert json.loads(text)[0]["bbox_2d"] == [0, 0, pw, ph]
    assert (pw, ph) != size


def test_chat_messages_fill_marks_for_the_family():
    fam = get_family("qwen3-vl")
    msgs = chat_messages(
        [("user", "<image>Where is the red one? <bbox_format>"), ("assistant", "<bbox>")],
        [MarkedBox((10.0, 20.0, 30.0, 40.0), "red")],
        [(100, 200)],
        fam,
        "en",
    )
    assert msgs[0]["content"][0] == {"type": "image"}
    assert msgs[0]["content"][1]["text"] == "Where is the red one? " + fam.box_instruction("en")
    assert json.loads(msgs[1]["content"][0]["text"]) == [{"bbox_2d": [100, 100, 300, 200], "label": "red"}]


def test_inline_box_marks_and_images_without_marks():
    fam = get_family("llava", box_format="pixels")
    msgs = chat_messages(
        [("user", "What is at <bbox>?"), ("assistant", "a cone")],
        [MarkedBox((1.0, 2.0, 3.0, 4.0))],
        [(8, 8)],
        fam,
        "en",
    )
    assert msgs[0]["content"] == [{"type": "image"}, {"type": "text", "text": "What is at [1, 2, 3, 4]?"}]


def test_mark_count_mismatch_is_an_input_error():
    with pytest.raises(InputError, match="mark"):
        chat_messages([("assistant", "<bbox><bbox>")], [MarkedBox((0, 0, 1, 1))], [(8, 8)], get_family("llava"), "en")
