import io

import numpy as np
import pytest
from PIL import Image

from tenken import ImageLoadError, InputError, load_image, save_image
from tenken.core.images import check_output_path, check_writable, image_size


def rgb_pattern(w=64, h=48):
    rng = np.random.default_rng(0)
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = (255, 0, 0)  # red top-left quadrant marks orientation
    img[h // 2 :, w // 2 :] = rng.integers(0, 255, (h - h // 2, w - w // 2, 3))
    return img


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "WEBP", "BMP"])
def test_reads_each_format_as_rgb_uint8(tmp_path, fmt):
    src = rgb_pattern()
    path = tmp_path / f"img.{fmt.lower()}"
    kw = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    Image.fromarray(src).save(path, format=fmt, **kw)
    img = load_image(path)
    assert img.dtype == np.uint8 and img.shape == (48, 64, 3)
    assert img[5, 5, 0] > 200 and img[5, 5, 1] < 60  # top-left stays red


def test_reads_heic_when_pillow_heif_is_installed(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    path = tmp_path / "img.heic"
    try:
        pillow_heif.from_pillow(Image.fromarray(rgb_pattern())).save(path)
    except Exception as exc:  # encoder not built into this wheel
        pytest.skip(f"HEIC encoder unavailable: {exc}")
    assert load_image(path).shape == (48, 64, 3)


def test_exif_orientation_is_applied(tmp_path):
    src = rgb_pattern(64, 48)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored image must be rotated 90 degrees clockwise to display upright
    path = tmp_path / "rot.jpg"
    Image.fromarray(src).save(path, exif=exif.tobytes(), quality=95)
    img = load_image(path)
    assert img.shape == (64, 48, 3)  # width and height swapped
    # the red top-left quadrant of the stored image ends up top-right after a clockwise turn
    assert img[5, 40, 0] > 200 and img[5, 40, 1] < 60
    assert img[5, 5, 0] < 100 or img[5, 5, 1] > 100


def test_bytes_input(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(rgb_pattern()).save(buf, format="PNG")
    assert load_image(buf.getvalue()).shape == (48, 64, 3)


def test_grayscale_palette_and_16bit_become_rgb(tmp_path):
    gray = (np.arange(64 * 48) % 256).astype(np.uint8).reshape(48, 64)
    Image.fromarray(gray, mode="L").save(tmp_path / "g.png")
    g = load_image(tmp_path / "g.png")
    assert g.shape == (48, 64, 3) and np.array_equal(g[:, :, 0], gray) and np.array_equal(g[:, :, 2], gray)

    Image.fromarray(rgb_pattern()).convert("P").save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").shape == (48, 64, 3)

    deep = np.full((48, 64), 65535, np.uint16)
    deep[:, :32] = 0
    Image.fromarray(deep).save(tmp_path / "d.png")
    d = load_image(tmp_path / "d.png")
    assert d.dtype == np.uint8 and d[0, 63, 0] == 255 and d[0, 0, 0] == 0


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :5, 3] = 255  # left half opaque red, right half fully transparent
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png")
    assert img[0, 0].tolist() == [255, 0, 0]
    assert img[0, 9].tolist() == [255, 255, 255]


def test_array_inputs_are_validated_and_converted():
    assert load_image(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    f = load_image(np.ones((4, 5, 3), np.float32))
    assert f.dtype == np.uint8 and f.max() == 255
    with pytest.raises(ImageLoadError, match=r"\(H, W\)"):
        load_image(np.zeros((4, 5, 2), np.uint8))
    with pytest.raises(ImageLoadError, match="NaN"):
        load_image(np.full((4, 5, 3), np.nan))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "not found"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("this is not an image"), "not a recognised image"),
    ],
)
def test_bad_files_name_the_file_and_cause(tmp_path, make, message):
    path = tmp_path / "bad.jpg"
    make(path)
    with pytest.raises(ImageLoadError, match=message) as info:
        load_image(path)
    assert "bad.jpg" in str(info.value)


def test_directory_is_refused(tmp_path):
    with pytest.raises(ImageLoadError, match="directory"):
        load_image(tmp_path)


def test_truncated_jpeg_is_refused(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(
        buf, "JPEG"
    )
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageLoadError, match="truncated") as info:
        load_image(path)
    assert "cut.jpg" in str(info.value)


def test_corrupt_png_data_is_refused(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(rgb_pattern()).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[60:90] = b"\x00" * 30  # smash the compressed image data, keep the header
    path = tmp_path / "smashed.png"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageLoadError, match=r"smashed\.png"):
        load_image(path)


def test_pixel_limit_refuses_decompression_bombs(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("RGB", (1000, 1000)).save(path)
    with pytest.raises(ImageLoadError, match="decompression bomb"):
        load_image(path, max_pixels_limit=999_999)
    monkeypatch.setenv("TENKEN_MAX_PIXELS", "1000")
    with pytest.raises(ImageLoadError, match="exceeds the limit"):
        load_image(path)
    monkeypatch.setenv("TENKEN_MAX_PIXELS", "lots")
    with pytest.raises(ImageLoadError, match="TENKEN_MAX_PIXELS"):
        load_image(path)


def test_save_and_reload(tmp_path):
    img = rgb_pattern()
    out = save_image(img, tmp_path / "sub" / "x.png")
    assert np.array_equal(load_image(out), img)
    assert image_size(img) == (64, 48)
    save_image(img, tmp_path / "x.jpg")
    with pytest.raises(ValueError, match="unsupported output format"):
        save_image(img, tmp_path / "x.gifx")


def test_real_dev_photo_loads(assets):
    img = load_image(assets / "backgrounds" / "sam_truck.jpg")
    assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8


def test_check_output_path_refuses_before_the_work(tmp_path):
    assert check_output_path(tmp_path / "a.PNG") == tmp_path / "a.PNG"
    with pytest.raises(InputError, match=r"out\.gif: unsupported output format '\.gif'"):
        check_output_path(tmp_path / "out.gif")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        check_output_path(tmp_path / "dir.png")


def test_save_image_unwritable_path_is_an_input_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write"):
        save_image(np.zeros((4, 4, 3), np.uint8), blocker / "x.png")  # a file where a folder should be


def test_check_writable_names_a_file_given_as_a_folder(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_writable(blocker)
    assert check_writable(tmp_path / "new" / "deep").is_dir()
