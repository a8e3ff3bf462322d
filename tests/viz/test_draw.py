import numpy as np

from tenken import Detections
from tenken.configs import load_anomaly_classes
from tenken.viz import draw_detections, japanese_font_path, label_color, side_by_side
from tenken.viz.fonts import font


def test_font_is_packaged_and_renders_japanese():
    assert japanese_font_path().is_file()
    f = font(24)
    # a real CJK font gives kanji a box as wide as it is tall; a fallback font draws nothing or a narrow tofu
    left, top, right, bottom = f.getbbox("点検")
    assert right - left > 30 and bottom - top > 15


def test_draw_detections_marks_box_and_label_only():
    img = np.full((200, 300, 3), 255, np.uint8)
    dets = Detections([[100, 80, 180, 160]], scores=[0.8], labels=["traffic_cone"], image_size=(300, 200))
    cls = load_anomaly_classes()
    out = draw_detections(img, dets, display=lambda lab: cls.display(lab, "ja"))
    assert out.shape == img.shape and img.min() == 255  # input untouched
    color = np.array(label_color("traffic_cone"))
    assert np.abs(out[120, 100].astype(int) - color).sum() < 10  # left edge of the box drawn in its colour
    assert (out[130:150, 200:290] == 255).all()  # far from the box: untouched
    label_band = out[40:80, 100:200]
    assert (label_band != 255).any()  # the label was drawn above the box


def test_side_by_side_keeps_left_coordinates_and_resizes_right():
    left = np.zeros((100, 120, 3), np.uint8)
    right = np.full((50, 60, 3), 200, np.uint8)
    comp = side_by_side(left, right, gap=8, titles=["対象", "参照"])
    assert comp.shape == (100, 120 + 8 + 120, 3)
    assert (comp[60:, :120] == 0).all()
    assert (comp[60:, 128:] == 200).all()
