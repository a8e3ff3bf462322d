"""Telemetry from EXIF GPS and drone XMP, merged per field; malformed input is a warning, never a crash."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.ExifTags import IFD

from tenken.align.telemetry import read_telemetry
from tenken.align.xmp import parse_xmp_tags

DJI_XMP = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="DJI Meta Data" xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"
  drone-dji:AbsoluteAltitude="+87.35" drone-dji:RelativeAltitude="+45.20"
  drone-dji:GpsLatitude="35.6812" drone-dji:GpsLongitude="139.7671"
  drone-dji:GimbalRollDegree="+0.00" drone-dji:GimbalYawDegree="-12.40" drone-dji:GimbalPitchDegree="-90.00"
  drone-dji:FlightRollDegree="+1.10" drone-dji:FlightYawDegree="-11.90" drone-dji:FlightPitchDegree="-2.30">
  <drone-dji:CalibratedFocalLength>3666.67</drone-dji:CalibratedFocalLength>
</rdf:Description></rdf:RDF></x:xmpmeta>"""


def _jpeg(exif: Image.Exif | None = None) -> bytes:
    buf = io.BytesIO()
    img = Image.fromarray(np.full((32, 48, 3), 100, np.uint8))
    img.save(buf, format="JPEG", **({"exif": exif} if exif is not None else {}))
    return buf.getvalue()


def _with_xmp(jpeg: bytes, xmp: str) -> bytes:
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + xmp.encode()
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + segment + jpeg[2:]


def _gps_exif(lat=(35.0, 39.0, 29.16), lat_ref="N", lon=(139.0, 44.0, 28.8), lon_ref="E", alt=52.5) -> Image.Exif:
    exif = Image.Exif()
    gps = exif.get_ifd(IFD.GPSInfo)
    gps.update({1: lat_ref, 2: lat, 3: lon_ref, 4: lon, 5: b"\x00", 6: alt})
    exif[0x0132] = "2026:05:01 10:00:00"
    return exif


def test_exif_gps(tmp_path: Path) -> None:
    p = tmp_path / "a.jpg"
    p.write_bytes(_jpeg(_gps_exif()))
    t = read_telemetry(p)
    assert t is not None and t.source == "exif"
    assert t.latitude == pytest.approx(35.6581) and t.longitude == pytest.approx(139.741333, abs=1e-6)
    assert t.altitude_m == pytest.approx(52.5) and t.altitude_kind == "absolute"
    assert t.timestamp == "2026:05:01 10:00:00"


def test_exif_southern_western_hemisphere(tmp_path: Path) -> None:
    p = tmp_path / "s.jpg"
    p.write_bytes(_jpeg(_gps_exif(lat=(33.0, 52.0, 0.0), lat_ref="S", lon=(151.0, 12.0, 0.0), lon_ref="W")))
    t = read_telemetry(p)
    assert t.latitude == pytest.approx(-33.8667, abs=1e-4) and t.longitude == pytest.approx(-151.2)


def test_dji_xmp_with_attitude(tmp_path: Path) -> None:
    p = tmp_path / "DJI_0001.JPG"
    p.write_bytes(_with_xmp(_jpeg(), DJI_XMP))
    t = read_telemetry(p)
    assert t is not None and t.source == "xmp"
    assert (t.latitude, t.longitude) == (35.6812, 139.7671)
    assert t.altitude_m == pytest.approx(87.35) and t.altitude_kind == "absolute"
    assert t.relative_altitude_m == pytest.approx(45.2)
    assert (t.gimbal_yaw, t.gimbal_pitch, t.gimbal_roll) == (-12.4, -90.0, 0.0)
    assert (t.flight_yaw, t.flight_pitch, t.flight_roll) == (-11.9, -2.3, 1.1)
    assert "gimbal_pitch" in t.to_dict() and "timestamp" not in t.to_dict()


def test_xmp_element_form_and_relative_altitude_only() -> None:
    fields = parse_xmp_tags(
        "<drone-dji:GpsLatitude>10.5</drone-dji:GpsLatitude><drone-dji:GpsLongitude>-20.25</drone-dji:GpsLongitude>"
    )
    assert fields == {"drone-dji:gpslatitude": "10.5", "drone-dji:gpslongitude": "-20.25"}


def test_missing_telemetry_is_none_without_warning(tmp_path: Path) -> None:
    p = tmp_path / "plain.jpg"
    p.write_bytes(_jpeg())
    warnings: list[str] = []
    assert read_telemetry(p, warnings) is None
    assert warnings == []


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (_with_xmp(_jpeg(), DJI_XMP.replace('"35.6812"', '"north"')), "GpsLatitude='north' is not a number"),
        (_with_xmp(_jpeg(), DJI_XMP.replace('"35.6812"', '"135.0"')), "out of range"),
        (_jpeg(_gps_exif(lat=(95.0, 0.0, 0.0))), "out of range"),
        (b"\xff\xd8garbage", "not a readable image"),
    ],
)
def test_malformed_telemetry_is_a_warning(tmp_path: Path, data: bytes, words: str) -> None:
    p = tmp_path / "bad.jpg"
    p.write_bytes(data)
    warnings: list[str] = []
    assert read_telemetry(p, warnings) is None
    assert any(words in w and "bad.jpg" in w for w in warnings), warnings


def test_unreadable_file_is_a_warning(tmp_path: Path) -> None:
    warnings: list[str] = []
    assert read_telemetry(tmp_path / "nope.jpg", warnings) is None
    assert "cannot read" in warnings[0]


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=400))
def test_xmp_parser_never_crashes_on_garbage(tmp_path_factory: pytest.TempPathFactory, blob: bytes) -> None:
    p = tmp_path_factory.mktemp("fuzz") / "f.jpg"
    p.write_bytes(b"\xff\xd8" + b"drone-dji:" + blob)
    read_telemetry(p, [])


MINI2_XMP = DJI_XMP.replace('drone-dji:GpsLatitude="35.6812" drone-dji:GpsLongitude="139.7671"', "").replace(
    'drone-dji:AbsoluteAltitude="+87.35" ', ""
)


def test_xmp_without_position_merges_with_exif_position(tmp_path: Path) -> None:
    """The issue-16 case (DJI Mini: attitude and relative altitude in XMP, position only in EXIF)."""
    p = tmp_path / "DJI_0100.JPG"
    p.write_bytes(_with_xmp(_jpeg(_gps_exif()), MINI2_XMP))
    warnings: list[str] = []
    t = read_telemetry(p, warnings)
    assert warnings == [] and t is not None and t.source == "exif"
    assert t.latitude == pytest.approx(35.6581) and t.altitude_m == pytest.approx(52.5)
    assert (t.gimbal_yaw, t.gimbal_pitch, t.relative_altitude_m) == (-12.4, -90.0, 45.2)
    assert t.sources["latitude"] == "exif" and t.sources["gimbal_yaw"] == "xmp"
    assert t.sources["altitude_m"] == "exif" and t.sources["relative_altitude_m"] == "xmp"


def test_a_flight_log_row_wins_over_the_file(tmp_path: Path) -> None:
    from tenken.align.telemetry import Telemetry

    p = tmp_path / "DJI_0100.JPG"
    p.write_bytes(_with_xmp(_jpeg(_gps_exif()), MINI2_XMP))
    t = read_telemetry(p, log=Telemetry(35.0, 139.0, source="log"))
    assert (t.latitude, t.source, t.sources["latitude"]) == (35.0, "log", "log")
    assert t.gimbal_pitch == -90.0 and t.sources["gimbal_pitch"] == "xmp"


@pytest.mark.parametrize(
    ("xmp", "expected"),
    [
        # Autel (old firmware): DJI names under drone:, with the Longtitude spelling
        (
            '<rdf:Description rdf:about="DJI" drone:GpsLatitude="31.5" drone:GpsLongtitude="120.25" '
            'drone:GimbalYawDegree="190.0" drone:GimbalPitchDegree="-30"/>',
            {"latitude": 31.5, "longitude": 120.25, "gimbal_yaw": -170.0, "gimbal_pitch": -30.0},
        ),
        # Pix4D camera namespace (Sequoia, senseFly, Sentera): pitch counted from nadir
        (
            '<rdf:Description Camera:Yaw="-131.9" Camera:Pitch="12.2" Camera:Roll="10.0" '
            'Camera:AboveGroundAltitude="64.5"/>',
            {"gimbal_yaw": -131.9, "gimbal_pitch": pytest.approx(-77.8), "relative_altitude_m": 64.5},
        ),
        # Parrot Anafi
        (
            '<rdf:Description drone-parrot:CameraPitchDegree="-45.5" drone-parrot:CameraYawDegree="12.0"/>',
            {"gimbal_pitch": -45.5, "gimbal_yaw": 12.0},
        ),
        # Skydio: only the NED camera block's Yaw/Pitch count
        (
            "<drone-skydio:Latitude>1.5</drone-skydio:Latitude><drone-skydio:Longitude>2.5</drone-skydio:Longitude>"
            '<drone-skydio:CameraOrientationFLU drone-skydio:Yaw="99" drone-skydio:Pitch="99"/>'
            '<drone-skydio:CameraOrientationNED rdf:parseType="Resource"><drone-skydio:Yaw>45.0</drone-skydio:Yaw>'
            "<drone-skydio:Pitch>-20.0</drone-skydio:Pitch></drone-skydio:CameraOrientationNED>",
            {"latitude": 1.5, "longitude": 2.5, "gimbal_yaw": 45.0, "gimbal_pitch": -20.0},
        ),
        # Skydio, attribute style over several lines, followed by another frame's block
        (
            '<drone-skydio:CameraOrientationNED\n drone-skydio:Yaw="-10.5"\n drone-skydio:Pitch="-89.0"/>\n'
            '<drone-skydio:CameraOrientationFLU drone-skydio:Yaw="99" drone-skydio:Pitch="99"/>',
            {"gimbal_yaw": -10.5, "gimbal_pitch": -89.0},
        ),
    ],
)
def test_vendor_spellings(xmp: str, expected: dict) -> None:
    from tenken.align.xmp import xmp_fields

    warnings: list[str] = []
    got = xmp_fields(parse_xmp_tags(f"<x:xmpmeta>{xmp}</x:xmpmeta>"), "f", warnings)
    assert {k: got.get(k) for k in expected} == expected and warnings == []


def test_xmp_in_a_second_app1_segment_and_fov_from_35mm_focal_length(tmp_path: Path) -> None:
    exif = _gps_exif()
    exif.get_ifd(IFD.Exif)[0xA405] = 24  # FocalLengthIn35mmFilm
    jpeg = _jpeg(exif)
    pos = 2
    while jpeg[pos + 1] in range(0xE0, 0xF0):  # skip every APPn segment (JFIF, EXIF)
        pos += 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
    xmp = _with_xmp(b"\xff\xd8", DJI_XMP)[2:]
    reordered = jpeg[:pos] + xmp + jpeg[pos:]
    assert reordered.index(b"Exif") < reordered.index(b"drone-dji")
    p = tmp_path / "second.jpg"
    p.write_bytes(reordered)
    t = read_telemetry(p)
    assert t.source == "xmp" and t.gimbal_pitch == -90.0
    assert t.fov_deg == pytest.approx(73.74, abs=0.01)  # 2 atan(18 / 24)


@settings(max_examples=80, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "drone-dji:gpslatitude",
                "drone-dji:gpslongtitude",
                "drone-dji:gimbalyawdegree",
                "camera:pitch",
                "camera:yaw",
                "drone:flightyawdegree",
                "drone-parrot:camerapitchdegree",
                "tiff:model",
            ]
        ),
        st.one_of(st.text(max_size=8), st.floats(allow_nan=True, allow_infinity=True).map(str)),
    )
)
def test_xmp_fields_are_finite_numbers_in_range_or_absent(tags: dict[str, str]) -> None:
    from tenken.align.xmp import xmp_fields

    warnings: list[str] = []
    got = xmp_fields(tags, "f", warnings)
    for key, value in got.items():
        if key != "camera":
            assert isinstance(value, float) and np.isfinite(value), key
    for key in ("gimbal_yaw", "flight_yaw"):
        assert key not in got or -180 <= got[key] < 180
