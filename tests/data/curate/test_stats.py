"""Funnel plot and contact sheets."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tenken.core.errors import InputError
from tenken.data.curate.stats import THUMB, contact_sheet, load_funnel, plot_funnel
from tests.data.curate.corpus import jpeg, noise


def test_plot_funnel_writes_a_png(tmp_path: Path) -> None:
    funnel = [{"filter": "min_side", "unit": "sample", "in": 10, "dropped": 3, "out": 7},
              {"filter": "phash_in_doc", "unit": "image", "in": 20, "dropped": 2, "out": 18}]  # fmt: skip
    path = plot_funnel(funnel, tmp_path / "f.png", title="ファネル")
    assert Image.open(path).format == "PNG"


def test_contact_sheet_grid_with_undecodable_and_missing_images(tmp_path: Path) -> None:
    rows = [{"text": "白い犬が芝生の上に座っている", "score": 120, "threshold": 150}, {"text": "壊れた"}]
    rows.append({"text": "無し"})
    path = contact_sheet("min_side", rows, [jpeg(noise(0)), b"broken", None], tmp_path / "s.png", total=40, cols=2)
    sheet = Image.open(path)
    assert sheet.width == 2 * (THUMB + 8) + 8 and sheet.height > 2 * THUMB  # two rows of two


def test_not_a_curation_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"funnel\.json"):
        load_funnel(tmp_path)
