"""The colour-grounding smoke data: scenes, the fixed-target variant, the written files."""

from __future__ import annotations

import numpy as np
import pytest

from tenken.core.artifacts import read_jsonl
from tenken.core.errors import InputError
from tenken.train.synthetic import COLOURS, make_scene, write_colour_grounding


def colour_pixels(image: np.ndarray, colour: str) -> np.ndarray:
    return (image == np.array(COLOURS[colour][0], np.uint8)).all(-1)


def test_a_scene_boxes_its_target_and_no_distractor_shares_its_colour() -> None:
    rng = np.random.default_rng(0)
    for _ in range(30):
        s = make_scene(rng, 32, (1, 3), (6, 10))
        x1, y1, x2, y2 = (int(v) for v in s.box)
        mask = colour_pixels(s.image, s.colour)
        assert mask[y1:y2, x1:x2].all() and mask.sum() == (x2 - x1) * (y2 - y1)


def test_a_fixed_target_colour_is_every_scene_s_target_and_never_a_distractor() -> None:
    rng = np.random.default_rng(1)
    others = 0
    for _ in range(30):
        s = make_scene(rng, 32, (2, 3), (6, 10), target="red")
        assert s.colour == "red"
        x1, y1, x2, y2 = (int(v) for v in s.box)
        assert colour_pixels(s.image, "red").sum() == (x2 - x1) * (y2 - y1)
        others += sum(colour_pixels(s.image, c).any() for c in COLOURS if c != "red")
    assert others >= 2 * 30 * 0.9  # the distractors are there, in the other colours


def test_an_unknown_target_colour_is_refused_by_name() -> None:
    with pytest.raises(InputError, match="'purple'"):
        make_scene(np.random.default_rng(0), target="purple")


def test_written_prompts_all_name_the_fixed_colour(tmp_path) -> None:
    _, rec = write_colour_grounding(tmp_path, 6, target="blue", langs=("en",))
    rows = read_jsonl(rec["en"])
    assert len(rows) == 6 and {r["expression"] for r in rows} == {"blue square"}
