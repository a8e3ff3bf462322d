"""align_pair / align_best on real and synthetic pairs, and every bad input of issue 3."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import tenken
from tenken.align.homography import corner_error
from tenken.align.match import FeatureCache
from tenken.align.pair import align_best, align_pair
from tenken.core.errors import ImageLoadError, InputError
from tenken.core.images import load_image


def test_public_names_are_exported() -> None:
    assert tenken.align_pair is align_pair
    assert tenken.align_best is align_best
    assert tenken.FeatureCache is FeatureCache


def test_real_pair_matches_ground_truth(graf: Path, load_h) -> None:
    a = align_pair(graf / "img2.png", graf / "img1.png")
    gt = load_h(graf / "H1to2p")
    assert a.ok, a.reason
    assert a.homography[2, 2] == pytest.approx(1.0)
    assert corner_error(a.homography, gt, (800, 640)) < 1.5
    assert a.inliers > 100 and 0 < a.inlier_ratio <= 1
    assert a.mean_reprojection_px < 2.0
    assert a.warped_reference.shape == (640, 800, 3) and a.warped_reference.dtype == np.uint8
    assert a.valid_mask.shape == (640, 800) and a.valid_mask.dtype == bool
    assert 0.3 < a.valid_fraction < 1.0
    assert {"features_target", "match", "refine", "warp", "total"} <= set(a.timings_ms)
    assert a.candidates == [str(graf / "img1.png")]


def test_synthetic_pair_is_subpixel_and_warp_reproduces_target(
    photo: np.ndarray, moderate_h: np.ndarray, synthetic_pair
) -> None:
    tgt, ref, h = synthetic_pair(photo, moderate_h)
    a = align_pair(tgt, ref)
    assert a.ok, a.reason
    assert corner_error(a.homography, h, (ref.shape[1], ref.shape[0])) < 0.5
    # the warped reference lies on the target (up to the photometric change) where valid
    diff = np.abs(a.warped_reference.astype(float) * 0.85 + 12 - tgt.astype(float))[a.valid_mask]
    assert np.median(diff) < 6


def test_refinement_improves_downscaled_estimate(photo: np.ndarray, moderate_h: np.ndarray, synthetic_pair) -> None:
    big = cv2.resize(photo, (1600, round(1600 * photo.shape[0] / photo.shape[1])), interpolation=cv2.INTER_CUBIC)
    s = np.diag([2.5, 2.5, 1.0])
    h = s @ moderate_h @ np.linalg.inv(s)
    tgt, ref, h = synthetic_pair(big, h)
    coarse = align_pair(tgt, ref, max_side=400, refine=False, warp=False)
    fine = align_pair(tgt, ref, max_side=400, warp=False)
    size = (ref.shape[1], ref.shape[0])
    assert fine.ok and coarse.ok
    assert corner_error(fine.homography, h, size) < 0.5
    assert corner_error(fine.homography, h, size) < corner_error(coarse.homography, h, size)
    assert fine.warped_reference is None  # warp=False


def test_cache_serves_reference_features(
    tmp_path: Path, photo: np.ndarray, moderate_h: np.ndarray, synthetic_pair
) -> None:
    tgt, ref, _ = synthetic_pair(photo, moderate_h)
    cache = FeatureCache(tmp_path / "features")
    first = align_pair(tgt, ref, cache=cache)
    second = align_pair(tgt, ref, cache=cache)
    assert cache.misses == 1 and cache.hits == 1
    np.testing.assert_allclose(first.homography, second.homography)
    # a fresh cache object reads the disk entry written by the first
    disk = FeatureCache(tmp_path / "features")
    align_pair(tgt, ref, cache=disk)
    assert disk.hits == 1 and disk.misses == 0


# --- bad input ------------------------------------------------------------------------------------------


def test_different_sizes_are_aligned_with_a_warning(graf: Path, load_h) -> None:
    ref = load_image(graf / "img1.png")
    small = cv2.resize(ref, (400, 320), interpolation=cv2.INTER_AREA)
    a = align_pair(graf / "img2.png", small)
    # small -> img1 is a scale by 2 (pixel centres: x1 = 2 x + 0.5)
    up = np.array([[2.0, 0, 0.5], [0, 2.0, 0.5], [0, 0, 1]])
    expected = load_h(graf / "H1to2p") @ up
    assert a.ok, a.reason
    assert corner_error(a.homography, expected, (400, 320)) < 3.0
    assert any("400x320" in w and "800x640" in w for w in a.warnings)


def test_different_sizes_of_different_places_fail(graf: Path, photo: np.ndarray) -> None:
    a = align_pair(graf / "img2.png", photo, views=False)
    assert not a.ok and "inlier" in a.reason


def test_grayscale_reference_with_colour_target(graf: Path, load_h) -> None:
    gray = cv2.cvtColor(load_image(graf / "img1.png"), cv2.COLOR_RGB2GRAY)
    a = align_pair(graf / "img2.png", gray)
    assert a.ok, a.reason
    assert corner_error(a.homography, load_h(graf / "H1to2p"), (800, 640)) < 1.5
    assert a.warped_reference.shape == (640, 800, 3)


def test_tiny_image_gives_reason(photo: np.ndarray) -> None:
    a = align_pair(photo, photo[:16, :16])
    assert not a.ok and "too small" in a.reason and "16x16" in a.reason


def test_textureless_image_gives_reason(photo: np.ndarray) -> None:
    blank = np.full_like(photo, 128)
    a = align_pair(photo, blank)
    assert not a.ok and "too few features" in a.reason and "reference" in a.reason
    b = align_pair(blank, photo)
    assert not b.ok and "target" in b.reason


def test_identical_images_give_reason(photo: np.ndarray) -> None:
    a = align_pair(photo, photo.copy())
    assert not a.ok and "identical" in a.reason
    assert align_pair(photo, photo.copy(), allow_identical=True).ok


def test_different_place_gives_reason(graf: Path, assets: Path) -> None:
    a = align_pair(graf / "img2.png", assets / "homography" / "kaze_boat" / "img1.jpg", views=False)
    assert not a.ok
    assert "inlier" in a.reason
    assert a.warped_reference is None and a.selection_score == float("inf")


@pytest.mark.slow
def test_different_place_fails_even_with_view_synthesis(graf: Path, assets: Path) -> None:
    a = align_pair(graf / "img2.png", assets / "homography" / "kaze_boat" / "img1.jpg", views=True)
    assert not a.ok


def test_unreadable_files_raise_naming_the_file(tmp_path: Path, photo: np.ndarray) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(ImageLoadError, match=r"broken\.jpg"):
        align_pair(photo, broken)
    with pytest.raises(ImageLoadError, match=r"missing\.png"):
        align_pair(tmp_path / "missing.png", photo)


def test_unknown_option_is_a_type_error(photo: np.ndarray) -> None:
    with pytest.raises(TypeError, match="max_sidee"):
        align_pair(photo, photo, max_sidee=3)


def test_mirrored_reference_is_refused(photo: np.ndarray) -> None:
    a = align_pair(photo, photo[:, ::-1].copy(), views=False)
    assert not a.ok


# --- align_best -----------------------------------------------------------------------------------------


def test_align_best_picks_the_closest_view(
    assets: Path, photo: np.ndarray, moderate_h: np.ndarray, synthetic_pair
) -> None:
    boat = assets / "homography" / "kaze_boat" / "img1.jpg"
    shift = np.array([[1, 0, 6.0], [0, 1, -4.0], [0, 0, 1]])
    target, near, _ = synthetic_pair(photo, shift)
    far = cv2.warpPerspective(photo, moderate_h, (photo.shape[1], photo.shape[0]), borderMode=cv2.BORDER_REFLECT)
    a = align_best(target, [boat, far, near], views=False)
    assert a.ok
    # the nearest viewpoint (smallest mean image-plane distance of inliers, about 7 px) wins
    assert a.reference == "references[2]"
    assert a.selection_score < 10
    assert a.candidates == [str(boat), "references[1]", "references[2]"]
    assert a.warped_reference is not None


def test_align_best_reports_every_failure(graf: Path, photo: np.ndarray) -> None:
    blank = np.full_like(photo, 90)
    a = align_best(graf / "img2.png", [blank, photo], views=False)
    assert not a.ok
    assert a.reason.startswith("no candidate reference could be aligned")
    assert "too few features" in a.reason and "inlier" in a.reason
    assert len(a.candidates) == 2


def test_an_unreadable_candidate_is_skipped_not_fatal(tmp_path: Path, photo: np.ndarray, synthetic_pair) -> None:
    # one lost or corrupt frame among the candidates failed the whole item, though a good reference was there
    shift = np.array([[1, 0, 6.0], [0, 1, -4.0], [0, 0, 1]])
    target, near, _ = synthetic_pair(photo, shift)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8 not really a jpeg")
    a = align_best(target, [tmp_path / "lost.jpg", corrupt, near], views=False)
    assert a.ok and a.reference == "references[2]"
    assert [w.split(":")[0] for w in a.warnings[:2]] == ["reference skipped"] * 2
    assert "lost.jpg: file not found" in a.warnings[0]
    with pytest.raises(ImageLoadError, match=r"lost\.jpg"):  # nothing readable: the first cause, as before
        align_best(target, [tmp_path / "lost.jpg", corrupt], views=False)


def test_align_best_needs_references(photo: np.ndarray) -> None:
    with pytest.raises(InputError):
        align_best(photo, [])


def test_align_best_with_telemetry_matches_only_the_nearest(
    tmp_path: Path, photo: np.ndarray, moderate_h: np.ndarray, synthetic_pair
) -> None:
    from PIL import Image
    from PIL.ExifTags import IFD

    def save(img: np.ndarray, name: str, north_m: float) -> Path:
        exif = Image.Exif()
        lat = 35.0 + north_m / 111_000
        d = int(lat)
        m = (lat - d) * 60
        exif.get_ifd(IFD.GPSInfo).update({1: "N", 2: (d, int(m), (m - int(m)) * 60), 3: "E", 4: (139, 0, 0.0)})
        path = tmp_path / name
        Image.fromarray(img).save(path, quality=95, exif=exif)
        return path

    target_img, ref_img, _ = synthetic_pair(photo, moderate_h)
    target = save(target_img, "target.jpg", 0.0)
    near = save(ref_img, "near.jpg", 3.0)
    far = [save(ref_img, f"far{i}.jpg", 500.0 + i) for i in range(3)]
    a = align_best(target, [*far, near], k=1, views=False)
    assert a.ok and a.reference == str(near)
    assert a.candidates == [str(near)]  # the far frames were never matched
    b = align_best(target, [*far, near], k=1, telemetry=None, views=False)
    assert len(b.candidates) == 4
    # nothing within the radius: refused with a reason, nothing matched
    c = align_best(target, [*far, near], k=3, radius_m=1.0, views=False)
    assert not c.ok and "within 1.0 m" in c.reason and c.candidates == []
    # the target's position may come from a flight log instead of its file
    from tenken.align.telemetry import Telemetry

    d = align_best(target_img, [*far, near], k=1, target_telemetry=Telemetry(35.0 + 600 / 111_000, 139.0), views=False)
    assert d.candidates == [str(far[2])]


def test_registered_pair_skips_matching(aerial: Path) -> None:
    levir = aerial
    name = sorted((levir / "A").iterdir())[0].name
    # years apart: too few features survive for matching...
    assert not align_pair(levir / "B" / name, levir / "A" / name, views=False).ok
    # ...but the tiles are orthorectified: declare them registered
    a = align_pair(levir / "B" / name, levir / "A" / name, registered=True)
    assert a.ok and np.allclose(a.homography, np.eye(3))
    assert a.valid_mask[1:-1, 1:-1].all()  # the conservative mask may drop the outermost pixel ring
    assert any("registered" in w for w in a.warnings)
    np.testing.assert_array_equal(a.warped_reference, load_image(levir / "A" / name))


def test_to_dict_is_the_json_report_section(graf: Path) -> None:
    import json

    a = align_pair(graf / "img2.png", graf / "img1.png")
    d = json.loads(json.dumps(a.to_dict()))  # plain JSON types only
    assert d["ok"] is True and len(d["homography"]) == 3 and d["homography"][2][2] == 1.0
    assert {"inliers", "inlier_ratio", "mean_reprojection_px", "valid_fraction", "warnings"} <= set(d)
    assert "warped_reference" not in d and "valid_mask" not in d
    failed = align_pair(graf / "img2.png", np.full((100, 100, 3), 7, np.uint8)).to_dict()
    assert failed["homography"] is None and failed["selection_score"] is None and failed["reason"]


def test_align_best_retrieves_by_viewing_direction_and_explains(
    tmp_path: Path, photo: np.ndarray, moderate_h: np.ndarray, synthetic_pair, graf: Path
) -> None:
    """Frames of one waypoint: the one looking the target's way is matched; the one turned away is never
    matched; ``explain`` says why for each."""
    from PIL import Image
    from PIL.ExifTags import IFD

    def save(img: np.ndarray, name: str, north_m: float, yaw: float, pitch: float) -> Path:
        exif = Image.Exif()
        lat = 35.0 + north_m / 111_000
        d, m = int(lat), (lat - int(lat)) * 60
        exif.get_ifd(IFD.GPSInfo).update({1: "N", 2: (d, int(m), (m - int(m)) * 60), 3: "E", 4: (139, 0, 0.0)})
        path = tmp_path / name
        Image.fromarray(img).save(path, quality=95, exif=exif)
        xmp = (
            '<x:xmpmeta><rdf:Description drone-dji:RelativeAltitude="+30.0" '
            f'drone-dji:GimbalYawDegree="{yaw}" drone-dji:GimbalPitchDegree="{pitch}"/></x:xmpmeta>'
        ).encode()
        payload = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
        data = path.read_bytes()
        path.write_bytes(data[:2] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + data[2:])
        return path

    target_img, ref_img, _ = synthetic_pair(photo, moderate_h)
    target = save(target_img, "target.jpg", 0.0, 0.0, -30.0)
    same = save(ref_img, "same.jpg", 1.0, 2.0, -30.0)
    turned = save(ref_img, "turned.jpg", 0.5, 120.0, -30.0)
    other = save(load_image(graf / "img1.png")[:400, :600], "other.jpg", 2.0, 10.0, -30.0)
    a = align_best(target, [turned, other, same], k=2, views=False)
    assert a.ok and a.reference == str(same) and a.candidates == [str(same), str(other)]
    rows = {Path(r["name"]).name: r for r in a.explain}
    assert rows["same.jpg"]["decision"] == "chosen" and rows["same.jpg"]["angle_deg"] == pytest.approx(1.7, abs=0.1)
    assert rows["other.jpg"]["decision"] == "not aligned" and rows["other.jpg"]["aligned"] is False
    assert rows["turned.jpg"]["decision"] == "not retrieved" and "cannot overlap" in rows["turned.jpg"]["why"]
    assert rows["turned.jpg"]["aligned"] is None and a.to_dict()["explain"] == a.explain
    # k larger than the list: a view that cannot overlap is still never matched
    b = align_best(target, [turned, same], k=5, views=False)
    assert b.candidates == [str(same)] and b.explain[-1]["decision"] == "not retrieved"
