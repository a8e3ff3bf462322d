"""NSFW classifiers: the nudenet rule from detections to one score, the CLIP zero-shot alternative, the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tenken.core.errors import InputError
from tenken.data.curate.nsfw import NSFW_CLASSIFIERS, NudeNetClassifier, load_nsfw
from tenken.data.curate.options import CurateOptions
from tests.conftest import ASSETS


class _FakeDetector:
    def __init__(self, found: list[dict]) -> None:
        self.found = found

    def detect_batch(self, images: list[np.ndarray], batch_size: int) -> list[list[dict]]:
        return [self.found for _ in images]


def test_score_is_the_highest_exposed_detection() -> None:
    clf = NudeNetClassifier.__new__(NudeNetClassifier)
    clf.batch_size = 4
    clf._detector = _FakeDetector([{"class": "FACE_FEMALE", "score": 0.99}, {"class": "BUTTOCKS_EXPOSED", "score": 0.4},
                                   {"class": "FEMALE_BREAST_EXPOSED", "score": 0.7}])  # fmt: skip
    assert clf.scores([np.zeros((8, 8, 3), np.uint8)]) == [0.7]
    clf._detector = _FakeDetector([{"class": "FEET_COVERED", "score": 0.9}])
    assert clf.scores([np.zeros((8, 8, 3), np.uint8)]) == [0.0]


def test_nudenet_runs_offline_on_a_dev_photo() -> None:
    img = np.asarray(Image.open(ASSETS / "backgrounds" / "sam_dog.jpg").convert("RGB"))
    clf = load_nsfw(CurateOptions(nsfw="nudenet"))
    scores = clf.scores([img, img[:200, :300], img])
    assert len(scores) == 3 and all(0.0 <= s < 0.5 for s in scores) and scores[0] == scores[2]


def test_clip_classifier_gives_probabilities(tiny_clip_path: Path) -> None:
    clf = load_nsfw(CurateOptions(nsfw="clip", similarity_model=str(tiny_clip_path), device="cpu"))
    scores = clf.scores([np.full((40, 40, 3), v, np.uint8) for v in (0, 128, 255)])
    assert len(scores) == 3 and all(0.0 <= s <= 1.0 for s in scores)


def test_registry_and_missing_model() -> None:
    assert {"nudenet", "clip"} <= set(NSFW_CLASSIFIERS.names())
    assert load_nsfw(CurateOptions(nsfw="none")) is None
    with pytest.raises(InputError, match="nudenet"):
        load_nsfw(CurateOptions(nsfw="bogus"))
    with pytest.raises(InputError, match="similarity model"):
        load_nsfw(CurateOptions(nsfw="clip"))
