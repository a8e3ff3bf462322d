"""Dynamic tiling as in InternVL / Eagle 2: a grid chosen by aspect ratio, at most ``max_tiles`` tiles of
``tile_size`` pixels, plus a thumbnail of the whole image; and the token budget it costs.

The grid ``(cols, rows)`` is the one among all grids with ``min_tiles <= cols * rows <= max_tiles`` whose
aspect ratio is closest to the image's; on a tie the larger grid wins when the image has enough pixels to
fill it (more than half of its area), as in InternVL's ``dynamic_preprocess``. The image is resized to
``(cols * tile_size, rows * tile_size)`` and cut into tiles, row by row; the thumbnail (the whole image at
``tile_size`` x ``tile_size``) is appended when there is more than one tile.

Boxes: every tile records its rectangle in pixels of the original image, so a box a model gives on a tile
maps back with :func:`tile_box_to_image` (xyxy pixels, tenken's convention).

Which to tile: a target and its reference side by side (a 2x-wide composite, e.g. 7680x2160 for two 4K
frames) gets the budget of one image: at 12 tiles of 384 px its aspect ratio (3.6) picks a 4x1 grid, i.e.
1/5 of full scale, so small changes vanish (a single 3840x2160 frame gets 4x2 at 0.4). Tile target and
reference *separately* (:func:`budget_report` for both) to keep each
at the scale the budget allows; use the composite only when the pair is small or the changes are large.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tenken.core.boxes import ImageSize, as_boxes
from tenken.core.errors import InputError


def tile_grid(image_size: ImageSize, tile_size: int = 448, max_tiles: int = 12, min_tiles: int = 1) -> tuple[int, int]:
    """``(cols, rows)`` of the tiling of an image of ``(width, height)`` (see the module docstring)."""
    w, h = image_size
    if w <= 0 or h <= 0:
        raise InputError(f"image size must be positive, got {w}x{h}")
    if not 1 <= min_tiles <= max_tiles:
        raise InputError(f"need 1 <= min_tiles <= max_tiles, got {min_tiles}, {max_tiles}")
    aspect = w / h
    grids = sorted(
        {(c, r) for n in range(min_tiles, max_tiles + 1) for c in range(1, n + 1) for r in range(1, n + 1)
         if min_tiles <= c * r <= max_tiles},
        key=lambda g: g[0] * g[1],
    )  # fmt: skip
    best, best_diff = (1, 1), float("inf")
    for c, r in grids:
        diff = abs(aspect - c / r)
        if diff < best_diff:
            best, best_diff = (c, r), diff
        elif diff == best_diff and w * h > 0.5 * tile_size * tile_size * c * r:
            best = (c, r)
    return best


@dataclass(frozen=True)
class Tile:
    """One tile: ``image`` ``(tile_size, tile_size, 3)`` uint8 and ``rect`` ``(x1, y1, x2, y2)``, the part of the
    original image it shows (float pixels); the thumbnail's rect is the whole image."""

    image: np.ndarray
    rect: tuple[float, float, float, float]
    thumbnail: bool = False


def tile_image(
    image: np.ndarray, tile_size: int = 448, max_tiles: int = 12, min_tiles: int = 1, thumbnail: bool = True
) -> list[Tile]:
    """Cut ``image`` (``(H, W, 3)`` uint8 RGB) into the dynamic-tiling tiles (row by row), then the thumbnail
    when ``thumbnail`` and there is more than one tile."""
    h, w = image.shape[:2]
    cols, rows = tile_grid((w, h), tile_size, max_tiles, min_tiles)
    resized = cv2.resize(image, (cols * tile_size, rows * tile_size), interpolation=cv2.INTER_AREA)
    sx, sy = w / (cols * tile_size), h / (rows * tile_size)
    tiles = [
        Tile(
            np.ascontiguousarray(resized[r * tile_size : (r + 1) * tile_size, c * tile_size : (c + 1) * tile_size]),
            (c * tile_size * sx, r * tile_size * sy, (c + 1) * tile_size * sx, (r + 1) * tile_size * sy),
        )
        for r in range(rows)
        for c in range(cols)
    ]
    if thumbnail and len(tiles) > 1:
        thumb = cv2.resize(image, (tile_size, tile_size), interpolation=cv2.INTER_AREA)
        tiles.append(Tile(thumb, (0.0, 0.0, float(w), float(h)), thumbnail=True))
    return tiles


def tile_box_to_image(boxes: np.ndarray, tile: Tile, tile_size: int) -> np.ndarray:
    """Boxes ``(N, 4)`` xyxy in pixels of a ``tile_size`` tile -> xyxy pixels of the original image."""
    x1, y1, x2, y2 = tile.rect
    s = np.array([(x2 - x1) / tile_size, (y2 - y1) / tile_size] * 2)
    return as_boxes(boxes) * s + np.array([x1, y1, x1, y1])


@dataclass(frozen=True)
class TokenBudget:
    """What tiling an image costs and keeps.

    Attributes:
        grid: ``(cols, rows)``; n_tiles: tiles incl. the thumbnail; tokens: ``n_tiles * tokens_per_tile``.
        scale: resized / original width (how much of the original resolution a tile keeps, < 1 = shrunk).
        pixels_per_token: original pixels one visual token stands for (``sqrt`` side, in pixels).
    """

    image_size: ImageSize
    grid: tuple[int, int]
    n_tiles: int
    tokens: int
    scale: float
    pixels_per_token: float

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict."""
        return {"image_size": list(self.image_size), "grid": list(self.grid), "n_tiles": self.n_tiles,
                "tokens": self.tokens, "scale": self.scale, "pixels_per_token": self.pixels_per_token}  # fmt: skip


def budget_report(
    image_size: ImageSize,
    tile_size: int = 448,
    max_tiles: int = 12,
    tokens_per_tile: int = 256,
    thumbnail: bool = True,
    min_tiles: int = 1,
) -> TokenBudget:
    """The token budget of tiling an image of ``(width, height)`` (``tokens_per_tile``: 256 for InternVL's
    448-px tiles after pixel shuffle; 729 for SigLIP-so400m at 384 px without merging)."""
    cols, rows = tile_grid(image_size, tile_size, max_tiles, min_tiles)
    n = cols * rows + (1 if thumbnail and cols * rows > 1 else 0)
    w, h = image_size
    scale = cols * tile_size / w
    per_token = float(np.sqrt(w * h / (cols * rows * tokens_per_tile)))
    return TokenBudget((w, h), (cols, rows), n, n * tokens_per_tile, scale, per_token)
