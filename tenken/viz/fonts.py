"""The Japanese-capable font used for every label tenken draws.

The font is IPAex Gothic (IPA Font License v1.0), shipped inside the ``japanize-matplotlib`` package, a
core dependency, so drawing never depends on fonts installed on the system.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from tenken.core.errors import TenkenError


@lru_cache(maxsize=1)
def japanese_font_path() -> Path:
    """Path of the bundled IPAex Gothic TrueType file (covers kana, kanji and Latin)."""
    spec = importlib.util.find_spec("japanize_matplotlib")  # located, not imported: importing restyles matplotlib
    if spec is None or not spec.submodule_search_locations:
        raise TenkenError("the japanize-matplotlib package (which ships the Japanese font) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / "ipaexg.ttf"
    if not path.is_file():
        raise TenkenError(f"Japanese font not found at {path}; reinstall japanize-matplotlib")
    return path


@lru_cache(maxsize=32)
def font(size: int) -> ImageFont.FreeTypeFont:
    """The Japanese-capable font at ``size`` pixels."""
    return ImageFont.truetype(str(japanese_font_path()), size=max(6, int(size)))
