"""Safe image loading: one function that turns any supported input into an RGB ``uint8`` array.

``load_image`` applies the EXIF orientation (so boxes refer to the image as a person sees it), converts every
mode to RGB (grayscale, palette, 16-bit, CMYK; alpha is composited on white), and refuses decompression
bombs and corrupt or truncated files with an :class:`~tenken.core.errors.ImageLoadError` that names the
file and the cause.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tenken.core.errors import ImageLoadError, InputError

ImageInput = str | os.PathLike | bytes | np.ndarray
"""A path, the encoded bytes of a file, or an already decoded ``(H, W, 3)``/``(H, W)`` array."""

DEFAULT_MAX_PIXELS = 250_000_000
"""Largest image accepted, in pixels (width x height): about 16k x 16k. Override with ``TENKEN_MAX_PIXELS``."""

try:  # HEIC/HEIF photos (iPhones, some drones) when pillow-heif is installed: pip install tenken[heic]
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - optional dependency
    pass


def max_pixels() -> int:
    """The pixel limit in force: ``TENKEN_MAX_PIXELS`` from the environment, else :data:`DEFAULT_MAX_PIXELS`."""
    value = os.environ.get("TENKEN_MAX_PIXELS")
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        return int(value)
    except ValueError:
        raise ImageLoadError(f"TENKEN_MAX_PIXELS must be an integer, got {value!r}") from None


def describe(source: ImageInput) -> str:
    """A short human name for an image input, for error messages."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, bytes):
        return f"<{len(source)} bytes>"
    if isinstance(source, np.ndarray):
        return f"<array {source.shape} {source.dtype}>"
    return f"<{type(source).__name__}>"


def load_image(source: ImageInput, max_pixels_limit: int | None = None) -> np.ndarray:
    """Load an image as an ``(H, W, 3)`` ``uint8`` RGB array, EXIF orientation applied.

    Args:
        source: a file path (JPEG, PNG, TIFF, WebP, BMP, GIF; HEIC with ``tenken[heic]``), the file's bytes,
            or an array (``(H, W)`` gray, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA; uint8, uint16 or float in
            ``[0, 1]``), which is validated and converted the same way.
        max_pixels_limit: refuse images larger than this many pixels (default :func:`max_pixels`).

    Raises:
        ImageLoadError: the file is missing, unreadable, not an image, corrupt or truncated, or too large.
    """
    limit = max_pixels() if max_pixels_limit is None else max_pixels_limit
    name = describe(source)
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source, name, limit)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ImageLoadError(f"{name}: file not found")
        if path.is_dir():
            raise ImageLoadError(f"{name}: is a directory, not an image file")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageLoadError(f"{name}: cannot read file ({exc.strerror or exc})") from None
    elif isinstance(source, bytes):
        data = source
    else:
        raise ImageLoadError(f"{name}: expected a path, bytes or a numpy array")
    if not data:
        raise ImageLoadError(f"{name}: file is empty")
    return _decode(data, name, limit)


def _decode(data: bytes, name: str, limit: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None  # tenken applies its own limit below, from the header, before decoding
        try:
            try:
                img = Image.open(io.BytesIO(data))
            except UnidentifiedImageError:
                raise ImageLoadError(f"{name}: not a recognised image format (or the header is corrupt)") from None
            except (OSError, ValueError, SyntaxError) as exc:
                raise ImageLoadError(f"{name}: cannot open image ({exc})") from None
            w, h = img.size
            if w <= 0 or h <= 0:
                raise ImageLoadError(f"{name}: image has no pixels ({w}x{h})")
            if w * h > limit:
                raise ImageLoadError(
                    f"{name}: {w}x{h} = {w * h:,} pixels exceeds the limit of {limit:,} "
                    "(possible decompression bomb; raise TENKEN_MAX_PIXELS if the image is genuine)"
                )
            try:
                img.load()
                img = ImageOps.exif_transpose(img)
            except OSError as exc:
                msg = str(exc)
                cause = "file is truncated" if "truncated" in msg else f"corrupt image data ({msg})"
                raise ImageLoadError(f"{name}: {cause}") from None
            except (ValueError, SyntaxError, Image.DecompressionBombError) as exc:
                raise ImageLoadError(f"{name}: corrupt image data ({exc})") from None
        finally:
            Image.MAX_IMAGE_PIXELS = previous
    return _pil_to_rgb(img)


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _convert_array(np.asarray(img), "")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _array_to_rgb(arr: np.ndarray, name: str, limit: int) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageLoadError(f"{name}: array must be (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")
    h, w = arr.shape[:2]
    if h == 0 or w == 0:
        raise ImageLoadError(f"{name}: image has no pixels ({w}x{h})")
    if h * w > limit:
        raise ImageLoadError(f"{name}: {w}x{h} pixels exceeds the limit of {limit:,}")
    return _convert_array(arr, name)


def _convert_array(arr: np.ndarray, name: str) -> np.ndarray:
    arr = _to_uint8(arr, name)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = (arr[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _to_uint8(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ImageLoadError(f"{name}: float image contains NaN or infinite values")
        top = 1.0 if arr.max(initial=0.0) <= 1.0 else 255.0
        return np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        a = arr.astype(np.int64)
        top = 255 if a.max(initial=0) <= 255 else 65535
        return np.clip((a * 255 + top // 2) // top, 0, 255).astype(np.uint8)
    raise ImageLoadError(f"{name}: unsupported array dtype {arr.dtype}")


def image_size(image: np.ndarray) -> tuple[int, int]:
    """``(width, height)`` of an ``(H, W, ...)`` array."""
    return int(image.shape[1]), int(image.shape[0])


SAVE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
"""File suffixes :func:`save_image` writes (PNG or JPEG recommended)."""


def check_output_path(path: str | os.PathLike) -> Path:
    """``path`` as a :class:`Path` if :func:`save_image` can write there; call it before long work.

    Raises:
        InputError: an unsupported suffix, or ``path`` is an existing directory.
    """
    out = Path(path)
    if out.suffix.lower() not in SAVE_SUFFIXES:
        raise InputError(f"{out}: unsupported output format {out.suffix or '(no suffix)'!r} (use .png or .jpg)")
    if out.is_dir():
        raise InputError(f"{out}: is a directory; give an image file name such as {out / 'annotated.png'}")
    return out


def check_writable(out: str | os.PathLike) -> Path:
    """Create folder ``out`` and prove a file can be written there; call it before long work.

    Raises:
        InputError: the folder cannot be created or written.
    """
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: is a file, not a folder; give an output folder")
    probe = folder / ".tenken-write-test"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"{folder}: output folder is not writable ({exc.strerror or exc})") from None
    return folder


def save_image(image: np.ndarray, path: str | os.PathLike, quality: int = 92, png_compress_level: int = 6) -> Path:
    """Save an RGB ``uint8`` array as PNG or JPEG (by the file's suffix); creates parent folders.

    ``quality``: JPEG quality; ``png_compress_level``: zlib level 0-9 for PNG (1 is ~4x faster than 6 and
    ~15% larger).

    Raises:
        ValueError: an unsupported suffix (see :data:`SAVE_SUFFIXES`).
        InputError: the file or its folder cannot be written (permissions, a file where a folder should be).
    """
    out = Path(path)
    if out.suffix.lower() not in SAVE_SUFFIXES:
        raise ValueError(f"{out}: unsupported output format {out.suffix!r} (use .png or .jpg)")
    pil = Image.fromarray(np.ascontiguousarray(image))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() in (".jpg", ".jpeg"):
            pil.convert("RGB").save(out, quality=quality)
        elif out.suffix.lower() == ".png":
            pil.save(out, compress_level=png_compress_level)
        else:
            pil.save(out)
    except OSError as exc:
        raise InputError(f"{out}: cannot write ({exc.strerror or exc})") from None
    return out
