import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tenken.core.boxes import (
    as_boxes,
    box_area,
    box_iou,
    clip_boxes,
    nms_indices,
    normalized_to_pixels,
    pixels_to_normalized,
    rescale_boxes,
    xywh_to_xyxy,
    xyxy_to_xywh,
)

coord = st.floats(min_value=0, max_value=5000, allow_nan=False, allow_infinity=False)
sizes = st.tuples(st.integers(1, 8000), st.integers(1, 8000))


@st.composite
def xyxy_boxes(draw, max_n=8):
    n = draw(st.integers(0, max_n))
    out = []
    for _ in range(n):
        x1, x2 = sorted((draw(coord), draw(coord)))
        y1, y2 = sorted((draw(coord), draw(coord)))
        out.append([x1, y1, x2, y2])
    return as_boxes(out)


@given(xyxy_boxes())
def test_xywh_round_trip(b):
    np.testing.assert_allclose(xywh_to_xyxy(xyxy_to_xywh(b)), b, atol=1e-9)


@given(xyxy_boxes(), sizes, st.sampled_from([1.0, 1000.0]))
def test_normalized_round_trip(b, size, scale):
    back = normalized_to_pixels(pixels_to_normalized(b, size, scale), size, scale)
    np.testing.assert_allclose(back, b, rtol=1e-9, atol=1e-6)


@given(xyxy_boxes(), sizes, sizes)
def test_rescale_round_trip(b, a, c):
    np.testing.assert_allclose(rescale_boxes(rescale_boxes(b, a, c), c, a), b, rtol=1e-9, atol=1e-6)


@given(xyxy_boxes(), xyxy_boxes())
def test_iou_symmetric_and_bounded(a, b):
    m = box_iou(a, b)
    assert m.shape == (len(a), len(b))
    np.testing.assert_allclose(m, box_iou(b, a).T)
    assert np.all((m >= 0) & (m <= 1))


@given(xyxy_boxes())
def test_iou_with_self_is_one_for_nonempty_boxes(b):
    d = np.diag(box_iou(b, b))
    np.testing.assert_allclose(d[box_area(b) > 0], 1.0)


def test_iou_known_value():
    # two 10x10 boxes overlapping in a 5x10 strip: 50 / (100 + 100 - 50)
    assert box_iou([[0, 0, 10, 10]], [[5, 0, 15, 10]])[0, 0] == pytest.approx(1 / 3)


def test_qwen3_style_relative_to_pixels():
    np.testing.assert_allclose(
        normalized_to_pixels([[500, 250, 1000, 1000]], (640, 480), 1000), [[320, 120, 640, 480]]
    )


def test_resized_processor_pixels_to_original():
    # Qwen2.5-VL answers in pixels of the resized (e.g. 1288x728) image of a 3840x2160 photo
    np.testing.assert_allclose(
        rescale_boxes([[644, 364, 1288, 728]], (1288, 728), (3840, 2160)), [[1920, 1080, 3840, 2160]]
    )


@given(arrays(np.float64, (5, 4), elements=st.floats(-1e4, 1e4)), sizes)
def test_clip_stays_inside(b, size):
    c = clip_boxes(b, size)
    assert np.all(c[:, [0, 2]] >= 0) and np.all(c[:, [0, 2]] <= size[0])
    assert np.all(c[:, [1, 3]] >= 0) and np.all(c[:, [1, 3]] <= size[1])


def test_as_boxes_rejects_bad_shape():
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        as_boxes([[1, 2, 3]])
    assert as_boxes([]).shape == (0, 4)
    assert as_boxes([1, 2, 3, 4]).shape == (1, 4)


def test_nms_keeps_highest_and_suppresses_overlap():
    boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]]
    keep = nms_indices(np.array(boxes, float), np.array([0.5, 0.9, 0.1]), 0.5)
    assert keep.tolist() == [1, 2]


def test_nms_nan_scores_rank_last():
    keep = nms_indices(np.array([[0, 0, 10, 10], [0, 0, 10, 10]], float), np.array([np.nan, 0.2]), 0.5)
    assert keep.tolist() == [1]


@given(xyxy_boxes(), st.floats(0.05, 0.95))
def test_nms_result_has_no_overlapping_pair(b, thr):
    scores = np.linspace(1, 0, len(b))
    keep = nms_indices(b, scores, thr)
    m = box_iou(b[keep], b[keep])
    np.fill_diagonal(m, 0)
    assert np.all(m <= thr)


@given(xyxy_boxes(max_n=6))
def test_paired_iou_is_the_diagonal_of_the_iou_matrix(b):
    from tenken.core.boxes import paired_iou

    other = b[::-1].copy()
    np.testing.assert_allclose(paired_iou(b, other), np.diag(box_iou(b, other)))


def test_box_sizes_is_the_square_root_of_the_area():
    from tenken.core.boxes import box_sizes

    np.testing.assert_allclose(box_sizes([[0, 0, 4, 9], [5, 5, 1, 9], [0, 0, 0, 0]]), [6.0, 0.0, 0.0])
