"""Shared test fixtures.

The few real photos the tests need ship in ``tests/assets`` (sources and licences in ``tests/assets/NOTICE``);
data that may not ship (aerial tiles, the Japanese VQA sample) is generated (``tests/synthetic_data.py``). The
larger development set in ``../shared/data/dev`` (override with ``TENKEN_DEV_DATA``) is needed only by the tests
of the synthetic-pair generator, which load that whole layout; they skip with a clear reason when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import pytest
from hypothesis import settings

from tests.synthetic_data import aerial_tiles, ja_vqa_sample

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "tests" / "assets"
DEV_DATA = Path(os.environ.get("TENKEN_DEV_DATA", REPO.parent / "shared" / "data" / "dev"))

# CI runs the same property-test examples every time (a red CI is then a real regression, not a new random draw);
# developers keep hypothesis's random search, which finds new counter-examples.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def dev_data() -> Path:
    """Path of the real development images (``shared/data/dev``)."""
    if not DEV_DATA.is_dir():
        pytest.skip(f"development data not found at {DEV_DATA} (set TENKEN_DEV_DATA)")
    return DEV_DATA


@pytest.fixture(scope="session")
def assets() -> Path:
    """The real photos shipped for tests (``tests/assets``: ``backgrounds/``, ``cutouts/``, ``homography/``)."""
    return ASSETS


@pytest.fixture(scope="session")
def graf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first four views of oxford_graf as a folder: ``img1.png`` .. ``img4.png`` (800x640 RGB) and
    ``H1to2p`` .. ``H1to4p`` (homographies img1 -> img{k}).

    The PNGs are decoded once per session from the JPEG copies in ``tests/assets`` (a quarter of the size).
    """
    src = ASSETS / "homography" / "oxford_graf"
    folder = tmp_path_factory.mktemp("oxford_graf")
    for k in (1, 2, 3, 4):
        cv2.imwrite(str(folder / f"img{k}.png"), cv2.imread(str(src / f"img{k}.jpg")))
        if k > 1:
            (folder / f"H1to{k}p").write_bytes((src / f"H1to{k}p").read_bytes())
    return folder


@pytest.fixture(scope="session")
def aerial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated orthorectified before/after tiles in the LEVIR-CD layout (``A/``, ``B/``, ``label/``)."""
    return aerial_tiles(tmp_path_factory.mktemp("aerial"))


@pytest.fixture(scope="session")
def ja_vqa_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated Japanese VQA sample: one image, three questions with reference answers."""
    return ja_vqa_sample(tmp_path_factory.mktemp("vqa_ja"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return REPO


# Tiny random-weight VLM checkpoints (tiny_llava, tiny_llava_path, tiny_qwen25_path), built once per session.
pytest_plugins = ["tests.vlm.tiny_models"]
