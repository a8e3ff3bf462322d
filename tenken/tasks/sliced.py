"""Grounding and counting on large images by slicing: one grounding request per tile, in one batch.

The geometry (tiles, mapping back, merging) is :mod:`tenken.vlm.slicing`; this module sends the grounding
prompt of :mod:`tenken.tasks.grounding` for each tile through the VLM's batched ``generate`` (the
transformers backend batches them, the OpenAI-compatible backend sends them concurrently) and parses each
answer in its tile's frame with the family adapter.
"""

from __future__ import annotations

from tenken.configs import Lang
from tenken.core.detections import Detections
from tenken.core.images import ImageInput, image_size, load_image
from tenken.tasks.grounding import grounding_prompt
from tenken.vlm.backends.base import VLMRequest
from tenken.vlm.model import VLM
from tenken.vlm.parse import parse_detections
from tenken.vlm.slicing import SliceOptions, collect, make_tiles, merge_sliced, slice_options


def sliced_ground(
    vlm: VLM,
    image: ImageInput,
    expression: str,
    lang: Lang = "ja",
    options: SliceOptions | None = None,
    max_new_tokens: int | None = None,
    warnings_out: list[str] | None = None,
) -> Detections:
    """Boxes of every instance of ``expression`` in a large image, found tile by tile.

    Args:
        vlm: the model; its family picks the default tiling (:data:`~tenken.vlm.slicing.FAMILY_SLICE_DEFAULTS`).
        image: the full image (path, bytes or ``(H, W, 3)`` uint8 RGB array).
        expression: what to find.
        options: tiling and merging; ``slice_options(vlm.family.name)`` when None.
        warnings_out: per-tile parse problems, each prefixed with the tile index.

    Returns:
        ``Detections`` in pixels of the full image (after EXIF orientation), ``sources == "vlm"``, with
        ``extra["tile"]`` (index of the tile the kept box came from; -1 for the whole-image view) and
        ``extra["cut"]``. One request per tile (plus one whole-image request) is sent in one ``generate``.
    """
    img = load_image(image)
    size = image_size(img)
    opts = options or slice_options(vlm.family.name)
    tiles = make_tiles(size, opts)
    prompt = grounding_prompt(vlm, expression, lang)
    answers = vlm.generate([VLMRequest(prompt, [t.crop(img)], max_new_tokens=max_new_tokens) for t in tiles])
    per_tile = []
    for tile, answer in zip(tiles, answers, strict=True):
        notes: list[str] = []
        dets = parse_detections(
            answer, vlm.family, tile.sent_size, vlm.processed_size(tile.sent_size), warnings_out=notes
        )
        if warnings_out is not None:
            warnings_out.extend(f"tile {tile.index}: {n}" for n in notes)
        per_tile.append((tile, dets.with_labels([lab or expression for lab in dets.labels])))
    return merge_sliced(collect(per_tile, opts.edge_px), opts)


def sliced_count(
    vlm: VLM,
    image: ImageInput,
    expression: str,
    lang: Lang = "ja",
    options: SliceOptions | None = None,
    max_new_tokens: int | None = None,
) -> int:
    """The number of ``expression`` in a large image: the boxes of :func:`sliced_ground` after merging.

    Counting by number per tile would count an object in an overlap twice; merged boxes count it once.
    """
    return len(sliced_ground(vlm, image, expression, lang, options, max_new_tokens, warnings_out=[]))
