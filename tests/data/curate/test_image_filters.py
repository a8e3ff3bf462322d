"""Per-image rules: format, decodable, minimum side, aspect ratio, URL words; pHash stability."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tenken.core.errors import ImageLoadError
from tenken.data.curate.image_filters import decode_rgb, format_drop, image_drop, inspect_image, url_drop
from tenken.data.curate.options import CurateOptions

OPTS = CurateOptions()


def _encode(w: int, h: int, fmt: str = "JPEG", exif_orientation: int | None = None) -> bytes:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    buf = io.BytesIO()
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        img.save(buf, fmt, exif=exif)
    else:
        img.save(buf, fmt)
    return buf.getvalue()


def test_size_and_aspect_rules() -> None:
    assert image_drop(inspect_image(_encode(300, 200)), OPTS) is None
    small = image_drop(inspect_image(_encode(300, 149)), OPTS)
    assert small is not None and small.filter == "min_side" and small.score == 149 and small.threshold == 150
    wide = image_drop(inspect_image(_encode(700, 300)), OPTS)
    assert wide is not None and wide.filter == "aspect_ratio" and wide.threshold == 2.0
    tall = image_drop(inspect_image(_encode(160, 400)), OPTS)
    assert tall is not None and tall.filter == "aspect_ratio" and tall.threshold == 0.5


def test_exif_rotation_swaps_the_sides() -> None:
    info = inspect_image(_encode(400, 180, exif_orientation=6))
    assert (info.width, info.height) == (180, 400)


def test_format_rule_reads_the_bytes_not_the_name() -> None:
    assert format_drop(_encode(200, 200, "PNG"), OPTS) is None
    gif = format_drop(_encode(200, 200, "GIF"), OPTS)
    assert gif is not None and gif.filter == "format"
    assert format_drop(_encode(200, 200, "WEBP"), OPTS).filter == "format"


def test_corrupt_and_truncated_images_raise_a_clear_error() -> None:
    data = _encode(300, 300)
    with pytest.raises(ImageLoadError, match=r"x\.jpg: cannot be decoded"):
        inspect_image(data[: len(data) // 2], "x.jpg")
    with pytest.raises(ImageLoadError):
        inspect_image(b"not an image", "y.jpg")
    with pytest.raises(ImageLoadError):
        decode_rgb(b"not an image")


def test_url_words() -> None:
    assert url_drop("https://example.com/img/site-LOGO.png", "a.png", OPTS).filter == "url_words"
    assert url_drop(None, "share_button.jpg", OPTS) is not None
    assert url_drop("https://example.com/photos/harbour.jpg", "harbour.jpg", OPTS) is None


def test_phash_survives_reencoding() -> None:
    data = _encode(320, 240)
    img = Image.open(io.BytesIO(data))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=40)
    assert (inspect_image(data).phash ^ inspect_image(buf.getvalue()).phash).bit_count() <= 5


def test_decode_rgb_composites_alpha_on_white() -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (20, 10), (0, 0, 0, 0)).save(buf, "PNG")
    rgb = decode_rgb(buf.getvalue())
    assert rgb.shape == (10, 20, 3) and (rgb == 255).all()
