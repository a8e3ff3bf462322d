"""Synthetic colour-distractor grounding data: "where is the red one?" among objects of other colours.

A smoke test for a whole train -> infer -> eval chain: a model can only score on it if it sees the image, reads
the colour word and writes the box in its family's frame. Written in both of tenken's formats: training JSONL
(:mod:`tenken.data.format`, the prompt with a ``<bbox_format>`` mark so it equals the inference prompt of
:func:`tenken.tasks.grounding.grounding_prompt`) and the REC benchmark JSONL ``{id, image, expression, box}``
that ``tenken eval run rec`` reads. Boxes are pixel xyxy of the stored PNG.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tenken.configs import Lang
from tenken.core.artifacts import write_jsonl
from tenken.core.errors import InputError
from tenken.core.images import save_image
from tenken.data.format import (
    BOX_FORMAT_MARK,
    BOX_MARK,
    IMAGE_MARK,
    Box,
    Message,
    Provenance,
    TrainingSample,
    write_samples,
)
from tenken.tasks.prompts import GROUND, fill

COLOURS: dict[str, tuple[tuple[int, int, int], str]] = {
    "red": ((220, 30, 30), "赤い"),
    "green": ((30, 180, 40), "緑の"),
    "blue": ((40, 60, 230), "青い"),
    "yellow": ((235, 220, 30), "黄色い"),
    "white": ((245, 245, 245), "白い"),
    "black": ((15, 15, 15), "黒い"),
}


def expression(colour: str, lang: Lang) -> str:
    """The referring expression for ``colour`` (``"red square"`` / ``"赤い四角"``)."""
    return f"{colour} square" if lang == "en" else f"{COLOURS[colour][1]}四角"


@dataclass(frozen=True)
class ColourScene:
    """One scene: ``image`` ``(side, side, 3)`` uint8 RGB, the target ``box`` (pixel xyxy) and its colour."""

    image: np.ndarray
    box: tuple[float, float, float, float]
    colour: str


def make_scene(
    rng: np.random.Generator,
    side: int = 32,
    distractors: tuple[int, int] = (1, 3),
    size: tuple[int, int] = (6, 12),
    target: str | None = None,
) -> ColourScene:
    """A grey noisy background with one target square and ``distractors`` squares of other colours.

    Squares (side drawn from ``size`` pixels) do not overlap, so the target is unambiguous. ``target`` fixes
    the target's colour (a key of :data:`COLOURS`; the distractors are drawn from the others); None draws it
    with the distractors' colours, so the model must read the colour word to know which square is meant.

    Raises:
        InputError: ``target`` is not a colour of :data:`COLOURS`.
    """
    img = rng.normal(128, 12, (side, side, 3)).clip(0, 255).astype(np.uint8)
    n = int(rng.integers(distractors[0], distractors[1] + 1)) + 1
    if target is None:
        names = list(COLOURS)
        colours = [names[i] for i in rng.choice(len(names), size=min(n, len(names)), replace=False)]
    elif target not in COLOURS:
        raise InputError(f"target colour {target!r} is not one of {', '.join(COLOURS)}")
    else:
        others = [c for c in COLOURS if c != target]
        colours = [target] + [others[i] for i in rng.choice(len(others), size=min(n - 1, len(others)), replace=False)]
    placed: list[tuple[int, int, int, int]] = []
    for colour in colours:
        for _ in range(50):
            s = int(rng.integers(size[0], size[1] + 1))
            x, y = int(rng.integers(0, side - s + 1)), int(rng.integers(0, side - s + 1))
            box = (x, y, x + s, y + s)
            if all(box[2] <= b[0] or b[2] <= box[0] or box[3] <= b[1] or b[3] <= box[1] for b in placed):
                placed.append(box)
                img[y : y + s, x : x + s] = COLOURS[colour][0]
                break
    x1, y1, x2, y2 = placed[0]
    return ColourScene(img, (float(x1), float(y1), float(x2), float(y2)), colours[0])


def write_colour_grounding(
    out_dir: str | os.PathLike,
    n: int,
    seed: int = 0,
    side: int = 32,
    distractors: tuple[int, int] = (1, 3),
    size: tuple[int, int] = (6, 12),
    langs: tuple[Lang, ...] = ("en", "ja"),
    blind: bool = False,
    target: str | None = None,
) -> tuple[Path, dict[str, Path]]:
    """Write ``n`` scenes to ``out_dir``: ``images/*.png``, ``train.jsonl`` (training format) and one
    ``rec-{lang}.jsonl`` per language (REC benchmark format; ``tenken eval run rec --lang`` prompts in one
    language). ``blind`` replaces every image by noise (boxes unchanged): the baseline a model that ignores
    the image reaches. Languages alternate over ``langs``. ``target`` fixes the target's colour (see
    :func:`make_scene`): every prompt then names that colour, and only the image tells where it is.

    Returns:
        ``(train.jsonl, {lang: rec-{lang}.jsonl})``.
    """
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    samples: list[TrainingSample] = []
    rec: dict[str, list[dict]] = {lang: [] for lang in langs}
    for i in range(n):
        scene = make_scene(rng, side, distractors, size, target)
        lang = langs[i % len(langs)]
        image = rng.integers(0, 256, scene.image.shape, dtype=np.uint8) if blind else scene.image
        name = f"images/{i:06d}.png"
        save_image(image, out / name)
        expr = expression(scene.colour, lang)
        prompt = IMAGE_MARK + fill(GROUND, lang, expression=expr, fmt=BOX_FORMAT_MARK)
        samples.append(
            TrainingSample(
                id=f"colour-{i:06d}",
                images=[name],
                messages=[Message(role="user", content=prompt), Message(role="assistant", content=BOX_MARK)],
                boxes=[Box(box=scene.box, label=expr)],
                task="rec",
                lang=lang,
                provenance=Provenance(recipe="colour-grounding", prompt_version="colour-grounding/1"),
            )
        )
        rec[lang].append({"id": f"colour-{i:06d}", "image": name, "expression": expr, "box": list(scene.box)})
    write_samples(out / "train.jsonl", samples)
    for lang, rows in rec.items():
        write_jsonl(out / f"rec-{lang}.jsonl", rows)
    return out / "train.jsonl", {lang: out / f"rec-{lang}.jsonl" for lang in langs}
