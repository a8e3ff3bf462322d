"""The annotated composite."""

from __future__ import annotations

import numpy as np

from tenken.align.types import Alignment
from tenken.configs import load_anomaly_classes
from tenken.core.detections import Detections
from tenken.inspect.pipeline import Inspection
from tenken.inspect.render import render_annotated
from tenken.inspect.report import Report

CLASSES = load_anomaly_classes()


def _inspection(ok: bool, reference: str | None = None, size=(200, 120)) -> Inspection:
    w, h = size
    target = np.full((h, w, 3), 90, np.uint8)
    dets = Detections([[20, 30, 60, 80]], [0.9], ["traffic_cone"], ["classical"], (w, h))
    al = Alignment(ok=ok, reason=None if ok else "too few inliers", reference=reference)
    if ok:
        al.warped_reference = np.full((h, w, 3), 30, np.uint8)
        al.valid_mask = np.ones((h, w), bool)
    report = Report.from_inspection(target_path=None, target_size=(w, h), alignment=al, detections=dets,
                                    classes=CLASSES)  # fmt: skip
    return Inspection(report, target, al, dets)


def test_target_left_with_boxes_and_aligned_reference_right():
    img = render_annotated(_inspection(True), CLASSES, "ja")
    assert img.shape == (120, 408, 3) and img.dtype == np.uint8
    assert not np.array_equal(img[30:80, 20], np.full((50, 3), 90))  # box outline drawn on the target
    assert (img[100:, 220:] == 30).all()  # the aligned reference, untouched below the title


def test_failed_alignment_shows_a_red_banner_over_the_unaligned_reference(tmp_path):
    from PIL import Image

    ref = tmp_path / "r.png"
    Image.fromarray(np.full((120, 200, 3), 200, np.uint8)).save(ref)
    img = render_annotated(_inspection(False, str(ref)), CLASSES, "en")
    bottom = img[-3:, 220:].reshape(-1, 3)
    assert (bottom == [200, 0, 0]).all(axis=1).mean() > 0.9
    assert (img[40:60, 300] == 200).all()  # the unaligned reference itself is shown above the banner
    grey = render_annotated(_inspection(False, None), CLASSES, "ja")  # no readable reference: grey panel
    assert (grey[40:60, 300] == 128).all()


def test_large_images_are_shrunk_with_their_boxes():
    img = render_annotated(_inspection(True, size=(4000, 2000)), CLASSES, "ja", max_side=1000)
    assert img.shape[0] == 500 and img.shape[1] == 1000 + 8 + 1000
