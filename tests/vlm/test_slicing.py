"""Tiles cover the image, tile boxes map back exactly, merging keeps one box per object."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenken.core.detections import Detections
from tenken.core.errors import InputError
from tenken.vlm.slicing import WHOLE, SliceOptions, collect, make_tiles, merge_sliced, slice_options

sizes = st.tuples(st.integers(1, 4000), st.integers(1, 3000))
opts = st.builds(
    SliceOptions,
    tile=st.integers(32, 2048),
    overlap=st.floats(0.0, 0.9),
    pixel_budget=st.one_of(st.none(), st.integers(1024, 2_000_000)),
    whole_image=st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(sizes, opts)
def test_tiles_cover_the_image_and_overlap_as_asked(size, options):
    w, h = size
    tiles = make_tiles(size, options)
    grid = [t for t in tiles if t.index != WHOLE]
    cover = np.zeros((h, w), dtype=bool) if w * h <= 1_000_000 else None
    for t in grid:
        assert 0 <= t.x0 < t.x1 <= w and 0 <= t.y0 < t.y1 <= h
        assert t.size == (min(options.tile, w), min(options.tile, h))
        sw, sh = t.sent_size
        if options.pixel_budget is not None:
            assert sw * sh <= options.pixel_budget
        if cover is not None:
            cover[t.y0 : t.y1, t.x0 : t.x1] = True
    if cover is not None:
        assert cover.all()
    xs = sorted({t.x0 for t in grid})
    stride = max(1, round(options.tile * (1 - options.overlap)))
    assert all(b - a <= stride for a, b in itertools.pairwise(xs))  # overlap >= tile - stride
    assert (tiles[-1].index == WHOLE) == (options.whole_image and len(grid) > 1)


@settings(max_examples=60, deadline=None)
@given(sizes, opts, st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)), max_size=8))
def test_every_tile_box_maps_back_within_a_millionth_of_a_pixel(size, options, rel):
    for t in make_tiles(size, options):
        sw, sh = t.sent_size
        r = np.array(rel, dtype=np.float64).reshape(-1, 4)
        local = np.concatenate([np.minimum(r[:, :2], r[:, 2:]), np.maximum(r[:, :2], r[:, 2:])], axis=1) * [
            sw,
            sh,
            sw,
            sh,
        ]
        # the same box expressed independently in full-image pixels: its fraction of the tile window
        expected = local / [sw, sh, sw, sh] * [*t.size, *t.size] + [t.x0, t.y0, t.x0, t.y0]
        np.testing.assert_allclose(t.to_image(local), expected, atol=1e-6, rtol=0)
        if len(local):
            assert (t.to_image(local)[:, [0, 2]] <= t.x1 + 1e-6).all()


def test_crop_shows_the_tile_and_rejects_a_misaligned_image():
    img = np.arange(300 * 500 * 3, dtype=np.uint32).reshape(300, 500, 3).astype(np.uint8)
    t = make_tiles((500, 300), SliceOptions(tile=200, overlap=0.25, pixel_budget=None))[4]
    np.testing.assert_array_equal(t.crop(img), img[t.y0 : t.y1, t.x0 : t.x1])
    small = make_tiles((500, 300), SliceOptions(tile=200, pixel_budget=100 * 100))[0]
    assert small.crop(img).shape == (100, 100, 3)
    with pytest.raises(InputError, match="does not match"):
        t.crop(img[:, :400])


def test_bad_options_are_named():
    with pytest.raises(InputError, match="overlap"):
        SliceOptions(overlap=0.95)
    with pytest.raises(InputError, match="merge"):
        SliceOptions(merge="vote")  # type: ignore[arg-type]
    assert slice_options("qwen2.5-vl").tile == 1008 and slice_options("qwen2.5-vl", tile=512).tile == 512
    assert slice_options("no-such-family") == SliceOptions()


def _tile_dets(tile, boxes, label="cone"):
    return tile, Detections(
        np.array(boxes, dtype=float).reshape(-1, 4), labels=[label] * len(boxes), image_size=tile.sent_size
    )


@pytest.mark.parametrize("merge", ["nms", "wbf"])
def test_an_object_in_an_overlap_is_one_box_and_a_cut_copy_is_dropped(merge):
    options = SliceOptions(tile=100, overlap=0.5, pixel_budget=None, whole_image=False, merge=merge)
    tiles = make_tiles((150, 100), options)  # x0 = 0 and 50
    a, b = tiles
    per_tile = [
        _tile_dets(a, [[60, 10, 80, 30], [90, 50, 100, 70]]),  # object 1 whole; object 2 cut at a's right edge
        _tile_dets(b, [[10.5, 10, 30.5, 30], [40, 50, 60, 70]]),  # object 1 again (shifted 0.5); object 2 whole
    ]
    gathered = collect(per_tile)
    assert gathered.extra["cut"] == [False, True, False, False]
    merged = merge_sliced(gathered, options)
    assert len(merged) == 2
    obj2 = merged.xyxy[np.argmax(merged.xyxy[:, 1])]
    np.testing.assert_allclose(obj2, [90, 50, 110, 70])
    obj1 = merged.xyxy[np.argmin(merged.xyxy[:, 1])]
    np.testing.assert_allclose(obj1, [60.25, 10, 80.25, 30] if merge == "wbf" else [60, 10, 80, 30])


def test_different_labels_are_not_merged():
    options = SliceOptions(tile=100, overlap=0.5, pixel_budget=None, whole_image=False)
    a, b = make_tiles((150, 100), options)
    merged = merge_sliced(
        collect([_tile_dets(a, [[60, 10, 80, 30]], "cone"), _tile_dets(b, [[10, 10, 30, 30]], "bag")]), options
    )
    assert sorted(merged.labels) == ["bag", "cone"]
