"""Real drone files (small cuts, see data/telemetry/NOTICE.md): every field read as expected."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tenken.align.flightlog import read_dji_srt, read_flight_log
from tenken.align.retrieve import ReferenceIndex
from tenken.align.telemetry import read_telemetry

DATA = Path(__file__).parent / "data" / "telemetry"

PHOTOS = {
    # DJI Phantom 4 RTK (FC6310R): position in XMP with the "GpsLongtitude" spelling, no EXIF (TIFF source)
    "dji_fc6310r_100_0005_0018.jpg": dict(
        latitude=24.68027804, longitude=120.95170160, altitude_m=186.57, altitude_kind="absolute",
        relative_altitude_m=99.96, gimbal_yaw=92.9, gimbal_pitch=-60.0, gimbal_roll=0.0,
        flight_yaw=92.8, flight_pitch=0.0, flight_roll=2.3, camera="DJI FC6310R", source="xmp",
    ),
    "dji_fc6310r_100_0005_0136.jpg": dict(
        latitude=24.68014678, longitude=120.95166508, altitude_m=186.65, relative_altitude_m=100.01,
        gimbal_yaw=-175.8, gimbal_pitch=-60.0, flight_yaw=-178.1, flight_pitch=-11.4, flight_roll=11.1,
    ),
    # senseFly eBee, Canon S110 (WebODM fixture, resized to 48x36): EXIF position, attitude in the senseFly
    # "Camera:" namespace with pitch counted from nadir (2.36 -> -87.64)
    "sensefly_canon_s110_tiny_drone_image.jpg": dict(
        latitude=41.22636995, longitude=-81.70550109, altitude_m=438.1886, altitude_kind="absolute",
        gimbal_yaw=-85.068756, gimbal_pitch=-87.639935, gimbal_roll=6.698936, timestamp="2015:07:31 14:32:14",
        camera="Canon Canon PowerShot S110", source="exif", fov_deg=None,
    ),
    "sensefly_canon_s110_tiny_drone_image_2.jpg": dict(
        latitude=41.22654322, longitude=-81.70597351, gimbal_yaw=-76.044983, gimbal_pitch=-86.671636,
    ),
    # MicaSense RedEdge-M (WebODM fixture): EXIF only, no attitude written
    "micasense_rededge_m_tiny_multispec.tif": dict(
        latitude=50.9813956, longitude=21.4300088, altitude_m=294.816, gimbal_yaw=None, gimbal_pitch=None,
        camera="MicaSense RedEdge-M", source="exif",
    ),
}  # fmt: skip
SOURCES = {
    "dji_fc6310r_100_0005_0018.jpg": {"latitude": "xmp", "gimbal_yaw": "xmp", "altitude_m": "xmp", "fov_deg": "xmp"},
    "sensefly_canon_s110_tiny_drone_image.jpg": {"latitude": "exif", "gimbal_pitch": "xmp", "altitude_m": "exif"},
}


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_real_photos(name: str) -> None:
    warnings: list[str] = []
    t = read_telemetry(DATA / name, warnings)
    assert warnings == [] and t is not None
    for key, value in PHOTOS[name].items():
        got = getattr(t, key)
        assert got == (pytest.approx(value, abs=1e-4) if isinstance(value, float) else value), key
    for key, source in SOURCES.get(name, {}).items():
        assert t.sources[key] == source, key


def test_real_fov_and_a_resized_file() -> None:
    # calibrated focal length 3666.67 px, optical centre x 2736 px: 73.5 deg horizontal field of view
    assert read_telemetry(DATA / "dji_fc6310r_100_0005_0018.jpg").fov_deg == pytest.approx(73.46, abs=0.01)
    # the WebODM fixtures were resized without updating FocalPlaneXResolution (a 0.09 mm "sensor"): no FOV
    assert read_telemetry(DATA / "sensefly_canon_s110_tiny_drone_image.jpg").fov_deg is None


def test_real_photos_retrieval_figures() -> None:
    """Same survey, 15 m apart, yaw 92.9 vs -175.8 at pitch -60: directions 41.9 deg apart, still overlapping
    (limit 73.5 deg); score = 15.0 m + 0.05 m relative altitude + 30 m x 0.731 rad."""
    index = ReferenceIndex.from_paths([DATA / "dji_fc6310r_100_0005_0136.jpg"])
    target = read_telemetry(DATA / "dji_fc6310r_100_0005_0018.jpg")
    (c,) = index.query(target, k=1).chosen
    assert c.distance_m == pytest.approx(15.0, abs=0.1) and c.altitude_kind == "relative"
    assert c.altitude_diff_m == pytest.approx(0.05) and c.angle_deg == pytest.approx(41.9, abs=0.1)
    assert c.score == pytest.approx(c.distance_m + 0.05 + 30 * math.radians(c.angle_deg))


def test_real_exiftool_csv_export_with_dms_coordinates() -> None:
    out = read_flight_log(DATA / "exiftool_dji_agung.csv")
    t = out["DJI_20251002120847_0345_D.JPG"]
    assert len(out) == 4
    assert (t.latitude, t.longitude) == (pytest.approx(-8.294250), pytest.approx(115.461831, abs=1e-6))
    assert (t.altitude_m, t.gimbal_pitch, t.flight_yaw) == (1131.876, -80.0, -90.1)
    assert t.timestamp == "2025:10:02 12:08:47" and t.view_yaw == -90.1


@pytest.mark.parametrize(
    ("name", "first"),
    [
        (
            "dji_mini5pro.SRT",
            dict(latitude=53.365108, longitude=6.460719, relative_altitude_m=6.0, altitude_m=-122.769),
        ),
        (
            "dji_avata360.SRT",
            dict(latitude=53.36508, longitude=6.460739, relative_altitude_m=5.4, gimbal_yaw=-162.8, gimbal_pitch=0.0),
        ),
        ("dji_avata2_legacy.SRT", dict(latitude=39.906217, longitude=116.391305)),
        # legacy "GPS (lon, lat, n)" of an older DJI video (WebODM fixture): longitude first
        ("dji_legacy_gps_video.srt", dict(latitude=27.7716, longitude=-82.6669)),
    ],
)
def test_real_dji_srt(name: str, first: dict) -> None:
    warnings: list[str] = []
    track = read_dji_srt(DATA / name, warnings)
    assert warnings == [] and len(track.points) >= 2 and track.points[0].time_s == 0.0
    t = track.points[0].telemetry
    for key, value in first.items():
        assert getattr(t, key) == pytest.approx(value), key
    second = {"dji_mini5pro.SRT": 0.04, "dji_avata360.SRT": 0.041, "dji_legacy_gps_video.srt": 1.0}
    assert track.points[1].time_s == pytest.approx(second.get(name, 0.033))
