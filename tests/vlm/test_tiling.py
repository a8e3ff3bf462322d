"""Dynamic tiling: InternVL's grid choice, tiles covering the image, boxes mapped back, the token budget."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenken.core.errors import InputError
from tenken.vlm.tiling import budget_report, tile_box_to_image, tile_grid, tile_image


def _internvl_reference(w: int, h: int, size: int, max_num: int, min_num: int = 1) -> tuple[int, int]:
    """InternVL's ``find_closest_aspect_ratio`` (from its model card), for comparison."""
    ratios = sorted(
        {(i, j) for n in range(min_num, max_num + 1) for i in range(1, n + 1) for j in range(1, n + 1)
         if min_num <= i * j <= max_num},
        key=lambda x: x[0] * x[1],
    )  # fmt: skip
    aspect = w / h
    best_diff, best = float("inf"), (1, 1)
    for r in ratios:
        diff = abs(aspect - r[0] / r[1])
        if diff < best_diff:
            best_diff, best = diff, r
        elif diff == best_diff and w * h > 0.5 * size * size * r[0] * r[1]:
            best = r
    return best


@settings(max_examples=200, deadline=None)
@given(st.integers(16, 8000), st.integers(16, 8000), st.integers(1, 16))
def test_grid_matches_internvl(w, h, max_tiles):
    assert tile_grid((w, h), 448, max_tiles) == _internvl_reference(w, h, 448, max_tiles)


def test_known_grids():
    assert tile_grid((1920, 1080), 448, 12) == (4, 2)
    assert tile_grid((7680, 2160), 384, 12) == (4, 1)  # the side-by-side composite: 1/5 of full scale
    assert tile_grid((100, 100), 448, 12) == (1, 1)


def test_tiles_cover_the_image_and_boxes_map_back():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (300, 700, 3), dtype=np.uint8)
    tiles = tile_image(image, tile_size=64, max_tiles=6)
    body = [t for t in tiles if not t.thumbnail]
    assert tiles[-1].thumbnail and tiles[-1].rect == (0.0, 0.0, 700.0, 300.0)
    assert all(t.image.shape == (64, 64, 3) for t in tiles)
    assert min(t.rect[0] for t in body) == 0 and np.isclose(max(t.rect[2] for t in body), 700)
    assert sum((t.rect[2] - t.rect[0]) * (t.rect[3] - t.rect[1]) for t in body) == pytest.approx(700 * 300)
    assert np.isclose(max(t.rect[3] for t in body), 300)
    # a box covering a whole tile maps to that tile's rectangle
    second = body[1]
    assert np.allclose(tile_box_to_image(np.array([[0, 0, 64, 64]]), second, 64)[0], second.rect)


def test_budget_report():
    b = budget_report((7680, 2160), tile_size=384, max_tiles=12, tokens_per_tile=729)
    assert b.grid == (4, 1) and b.n_tiles == 5 and b.tokens == 5 * 729
    assert b.scale == pytest.approx(0.2)
    single = budget_report((3840, 2160), tile_size=384, max_tiles=12, tokens_per_tile=729)
    assert single.scale > b.scale  # tiling target and reference separately keeps more resolution
    with pytest.raises(InputError):
        tile_grid((0, 10))
