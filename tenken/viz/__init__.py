"""Drawing: boxes with Japanese/English labels, composites (and, in :mod:`tenken.eval`, plots)."""

from tenken.viz.draw import draw_detections, label_color, side_by_side
from tenken.viz.fonts import font, japanese_font_path

__all__ = ["draw_detections", "font", "japanese_font_path", "label_color", "side_by_side"]
