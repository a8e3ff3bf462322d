"""Per-image rules of the curation chain: format, decodable, minimum side, aspect ratio, URL words; and the pHash.

:func:`inspect_image` decodes an image once, cheaply (JPEG DCT scaling to a small draft, enough for the
32 x 32 pHash), and :func:`image_drop` applies the rules in the recipe's order, returning the first refusal.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tenken.core.errors import ImageLoadError
from tenken.core.images import max_pixels
from tenken.data.curate.decisions import Drop
from tenken.data.curate.options import CurateOptions

_ROTATED = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_HASH_DRAFT = 128  # decode JPEGs at >= this size for the pHash (imagehash resizes to 32 x 32)


@dataclass(frozen=True)
class ImageInfo:
    """What the filters need of one decoded image.

    Attributes:
        format: PIL's name of the decoded format (``"JPEG"``, ``"PNG"``, ...), from the bytes, not the name.
        width, height: pixels after EXIF orientation.
        phash: the 64-bit perceptual hash (imagehash ``phash``, hash size 8), as an int.
    """

    format: str
    width: int
    height: int
    phash: int

    @property
    def area(self) -> int:
        """Width x height in pixels."""
        return self.width * self.height


def phash_int(image: Image.Image) -> int:
    """imagehash's pHash (8 x 8 DCT bits of a 32 x 32 grey image) as a 64-bit int, row-major bit order."""
    import imagehash

    bits = imagehash.phash(image).hash.ravel()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def inspect_image(data: bytes, name: str = "image") -> ImageInfo:
    """Decode ``data`` (fully, at reduced scale for JPEG) and measure it.

    Raises:
        ImageLoadError: not an image, corrupt or truncated, or larger than the pixel limit.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format or "?"
            w, h = img.size
            if w * h > max_pixels():
                raise ImageLoadError(f"{name}: {w}x{h} is larger than the pixel limit")
            orientation = img.getexif().get(0x0112, 1)
            if fmt == "JPEG":
                img.draft("L", (_HASH_DRAFT, _HASH_DRAFT))
            img.load()
            img = ImageOps.exif_transpose(img)
            ph = phash_int(img)
    except ImageLoadError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:  # fmt: skip
        raise ImageLoadError(f"{name}: cannot be decoded ({type(exc).__name__}: {exc})") from None
    if orientation in _ROTATED:
        w, h = h, w
    return ImageInfo(fmt, w, h, ph)


def format_drop(data: bytes, opts: CurateOptions) -> Drop | None:
    """The format rule alone, from the file's header (no decoding)."""
    try:
        fmt = Image.open(io.BytesIO(data)).format or "?"
    except (UnidentifiedImageError, OSError, ValueError):
        return None  # not identifiable: the decodable rule reports it
    if fmt not in opts.formats:
        return Drop("format", f"format {fmt} not in {'/'.join(opts.formats)}")
    return None


def url_drop(url: str | None, name: str, opts: CurateOptions) -> Drop | None:
    """The URL-words rule: a word such as ``logo`` or ``icon`` in the lower-cased URL (or file name)."""
    where = (url or name).lower()
    word = next((w for w in opts.url_words if w in where), None)
    return None if word is None else Drop("url_words", f"{word!r} in {url or name}")


def image_drop(info: ImageInfo, opts: CurateOptions) -> Drop | None:
    """The size rules on a decoded image: minimum side, then aspect ratio (width / height)."""
    side = min(info.width, info.height)
    if side < opts.min_side:
        return Drop("min_side", f"min side {side} px < {opts.min_side} px", side, opts.min_side)
    aspect = info.width / info.height
    if not opts.min_aspect <= aspect <= opts.max_aspect:
        bound = opts.min_aspect if aspect < opts.min_aspect else opts.max_aspect
        return Drop("aspect_ratio", f"aspect {aspect:.2f} outside {opts.min_aspect}–{opts.max_aspect}", aspect, bound)
    return None


def decode_rgb(data: bytes, max_side: int = 448) -> np.ndarray:
    """Decode for a model: ``(H, W, 3)`` uint8 RGB after EXIF orientation, JPEGs decoded at a reduced scale
    no smaller than ``max_side`` on the long side (CLIP/SigLIP and nudenet resize to <= 448 px anyway).

    Raises:
        ImageLoadError: not decodable.
    """
    try:
        img = Image.open(io.BytesIO(data))
        if img.format == "JPEG":
            img.draft("RGB", (max_side, max_side))
        img = ImageOps.exif_transpose(img)
        if img.mode in ("RGBA", "LA", "P"):
            img = img.convert("RGBA")
            canvas = Image.new("RGBA", img.size, (255, 255, 255, 255))
            img = Image.alpha_composite(canvas, img)
        return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(f"cannot be decoded ({type(exc).__name__}: {exc})") from None
