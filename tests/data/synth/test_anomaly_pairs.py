"""anomaly-pairs: copy-paste pairs from cut-outs (and COCO masks), deterministic per item."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tenken.core.artifacts import write_json
from tenken.core.errors import InputError
from tenken.core.images import load_image, save_image
from tenken.data.format import read_samples
from tenken.data.synth.job import run_synth
from tenken.data.synth.recipes.anomaly_pairs import class_of
from tenken.data.synth.teachers import Teachers

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools.*")


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    rng = np.random.default_rng(1)
    for k in range(3):
        grad = np.linspace(40, 200, 320)[None, :, None] * np.ones((240, 1, 3))
        save_image(np.clip(grad + rng.normal(0, 6, (240, 320, 3)), 0, 255).astype(np.uint8), folder / f"p{k}.png")
    return folder


@pytest.fixture
def cutouts(tmp_path: Path) -> Path:
    folder = tmp_path / "cutouts"
    folder.mkdir()
    for name, colour in (("cone-1", (255, 120, 0)), ("glove-2", (20, 20, 230))):
        rgba = np.zeros((40, 30, 4), np.uint8)
        rgba[5:35, 5:25] = (*colour, 255)
        Image.fromarray(rgba).save(folder / f"{name}.out.png")
    return folder


def test_pairs_have_reference_target_composite_and_boxes(photos: Path, cutouts: Path, tmp_path: Path):
    opts = {"cutouts": str(cutouts), "clean_fraction": 0.0, "max_objects": 2, "object_size": [20, 40], "long_side": 320}
    res = run_synth("anomaly-pairs", photos, tmp_path / "out", Teachers(), opts)
    samples = read_samples(res.samples)
    assert len(samples) == 3
    for s in samples:
        prov = s.provenance
        comp = load_image(tmp_path / "out" / s.images[0])
        tgt = load_image(tmp_path / "out" / prov.target)
        assert (
            comp.shape[1] == 2 * tgt.shape[1] + 8 and np.abs(comp[:, : tgt.shape[1]].astype(int) - tgt).mean() < 3
        )  # JPEG
        assert s.boxes and s.messages[1].content == "<bbox>" * len(s.boxes)
        assert {b.label for b in s.boxes} <= {"cone", "glove"}
        assert all(b.box[2] <= tgt.shape[1] for b in s.boxes)  # target (left half) pixels
        assert set(prov.dummy_classes).isdisjoint({b.label for b in s.boxes}) and len(prov.dummy_classes) == 2
        assert all(c in s.messages[0].content for c in prov.classes_shown)
    again = run_synth("anomaly-pairs", photos, tmp_path / "again", Teachers(), opts)
    assert [s.boxes for s in read_samples(again.samples)] == [s.boxes for s in samples]  # seeded by item id


def test_coco_masks_are_cut_out_and_classes_named(photos: Path, tmp_path: Path):
    img = np.full((100, 100, 3), 90, np.uint8)
    img[20:60, 30:70] = (250, 250, 0)
    save_image(img, tmp_path / "coco" / "a.png")
    poly = [30, 20, 70, 20, 70, 60, 30, 60]
    write_json(tmp_path / "coco" / "ann.json", {
        "images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 100}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 7, "segmentation": [poly], "area": 1600,
                         "bbox": [30, 20, 40, 40], "iscrowd": 0}],
        "categories": [{"id": 7, "name": "helmet"}],
    })  # fmt: skip
    opts = {"masks": str(tmp_path / "coco" / "ann.json"), "clean_fraction": 0.0, "object_size": [20, 40]}
    res = run_synth("anomaly-pairs", photos, tmp_path / "out", Teachers(), opts)
    labels = {b.label for s in read_samples(res.samples) for b in s.boxes}
    assert labels == {"helmet"}
    with pytest.raises(InputError, match="needs objects"):
        run_synth("anomaly-pairs", photos, tmp_path / "x", Teachers())
    assert class_of("car-2") == "car" and class_of("traffic_cone") == "traffic cone"
