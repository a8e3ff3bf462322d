"""Content-addressed image storage: each file is stored once, named by the SHA-256 of its bytes.

``BlobStore.put`` accepts only real images, judged by their content (the file's magic bytes as Pillow reads
them), never by a file name or a declared content type; it checks the pixel count from the header *before*
decoding (a decompression bomb is refused without being expanded), then decodes the whole image once
(a truncated or corrupt file is refused). Names are 64 hex digits, so no request can reach another path.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from tenken.core.artifacts import write_atomic
from tenken.core.errors import ImageLoadError, InputError
from tenken.core.images import load_image

MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff", "WEBP": "image/webp", "BMP": "image/bmp"}
"""Image formats accepted for upload (Pillow format name -> media type)."""
_SHA = re.compile(r"[0-9a-f]{64}")


class TooLargeError(InputError):
    """An upload exceeds the byte or pixel limit (HTTP 413)."""


class UnsupportedMediaError(InputError):
    """An upload is not an image of an accepted format (HTTP 415)."""


@dataclass(frozen=True)
class StoredImage:
    """A stored image: its SHA-256 (hex), media type and size in pixels (after EXIF orientation)."""

    sha256: str
    media_type: str
    width: int
    height: int
    size_bytes: int


def sniff(data: bytes, name: str, max_pixels: int) -> tuple[str, int, int]:
    """``(media type, width, height)`` of an encoded image, from its content; checks the pixel limit first.

    Raises:
        UnsupportedMediaError: not an image, or a format not in :data:`MEDIA_TYPES`.
        TooLargeError: more than ``max_pixels`` pixels.
        ImageLoadError: the image is corrupt or truncated.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                fmt, (w, h) = im.format, im.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        raise UnsupportedMediaError(f"{name}: not an image tenken accepts ({', '.join(MEDIA_TYPES)})") from None
    if fmt not in MEDIA_TYPES:
        raise UnsupportedMediaError(f"{name}: {fmt} images are not accepted ({', '.join(MEDIA_TYPES)})")
    if w * h > max_pixels:
        raise TooLargeError(f"{name}: {w}x{h} = {w * h} pixels, more than the limit of {max_pixels}")
    rgb = load_image(data, max_pixels_limit=max_pixels)  # full decode: refuses truncated/corrupt files
    return MEDIA_TYPES[fmt], int(rgb.shape[1]), int(rgb.shape[0])


class BlobStore:
    """Images on disk under ``root/<sha[:2]>/<sha>``, written atomically, never overwritten."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        """The file of blob ``sha256``.

        Raises:
            InputError: ``sha256`` is not 64 lowercase hex digits (so it cannot name any other path).
        """
        if not _SHA.fullmatch(sha256):
            raise InputError(f"not an image id (64 hex digits): {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256

    def put_image(self, data: bytes, name: str, max_pixels: int) -> StoredImage:
        """Check ``data`` is an accepted image (see :func:`sniff`) and store it; the same bytes are stored once."""
        media, w, h = sniff(data, name, max_pixels)
        sha = self.put_bytes(data)
        return StoredImage(sha, media, w, h, len(data))

    def put_bytes(self, data: bytes) -> str:
        """Store bytes the service made itself (rendered images); returns their SHA-256."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.path(sha)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data)
        return sha

    def put_array(self, rgb: np.ndarray, quality: int = 90) -> StoredImage:
        """Encode an ``(H, W, 3)`` uint8 RGB array as JPEG and store it."""
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
        data = buf.getvalue()
        return StoredImage(self.put_bytes(data), "image/jpeg", int(rgb.shape[1]), int(rgb.shape[0]), len(data))

    def read(self, sha256: str) -> bytes:
        """The bytes of blob ``sha256``.

        Raises:
            ImageLoadError: no such blob.
        """
        path = self.path(sha256)
        if not path.is_file():
            raise ImageLoadError(f"image {sha256} is not in the store")
        return path.read_bytes()
