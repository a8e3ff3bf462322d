"""Telemetry from EXIF GPS, DJI XMP and flight logs; malformed input is a warning, never a crash."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.ExifTags import IFD

from tenken.align.telemetry import parse_dji_xmp, read_flight_log, read_telemetry
from tenken.core.errors import InputError

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


def _gps_exif(
    lat=(35.0, 39.0, 29.16), lat_ref="N", lon=(139.0, 44.0, 28.8), lon_ref="E", alt=52.5
) -> Image.Exif:
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
    fields = parse_dji_xmp(
        "<drone-dji:GpsLatitude>10.5</drone-dji:GpsLatitude><drone-dji:GpsLongitude>-20.25</drone-dji:GpsLongitude>"
    )
    assert fields == {"gpslatitude": "10.5", "gpslongitude": "-20.25"}


def test_missing_telemetry_is_none_without_warning(tmp_path: Path) -> None:
    p = tmp_path / "plain.jpg"
    p.write_bytes(_jpeg())
    warnings: list[str] = []
    assert read_telemetry(p, warnings) is None
    assert warnings == []


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (_with_xmp(_jpeg(), DJI_XMP.replace('"35.6812"', '"north"')), "no usable GpsLatitude"),
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


def test_flight_log_csv_default_and_custom_columns(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text(
        "FileName,Latitude,Longitude,Altitude,Gimbal_Pitch\n"
        "DJI_0001.JPG,35.1,139.2,50.0,-90\n"
        "sub/DJI_0002.JPG,35.2,139.3,,\n"
        "DJI_0003.JPG,abc,139.3,10,\n"
        ",35.2,139.3,10,\n",
        encoding="utf-8",
    )
    warnings: list[str] = []
    out = read_flight_log(log, warnings=warnings)
    assert set(out) == {"DJI_0001.JPG", "DJI_0002.JPG"}
    assert out["DJI_0001.JPG"].altitude_m == 50.0 and out["DJI_0001.JPG"].gimbal_pitch == -90
    assert out["DJI_0002.JPG"].altitude_m is None and out["DJI_0002.JPG"].source == "log"
    assert len(warnings) == 2 and "row 4" in warnings[0] and "row 5" in warnings[1]

    custom = tmp_path / "custom.csv"
    custom.write_text("photo,y,x\nIMG_1.jpg,1.5,2.5\n", encoding="utf-8")
    got = read_flight_log(custom, columns={"file": "photo", "latitude": "y", "longitude": "x"})
    assert (got["IMG_1.jpg"].latitude, got["IMG_1.jpg"].longitude) == (1.5, 2.5)


def test_flight_log_json_and_jsonl(tmp_path: Path) -> None:
    rows = [{"image": "a.jpg", "lat": 1.0, "lon": 2.0, "relative_altitude": 30}, "junk"]
    (tmp_path / "log.json").write_text(json.dumps(rows), encoding="utf-8")
    warnings: list[str] = []
    out = read_flight_log(tmp_path / "log.json", warnings=warnings)
    assert out["a.jpg"].altitude_m == 30 and out["a.jpg"].altitude_kind == "relative"
    assert "not an object" in warnings[0]
    (tmp_path / "log.jsonl").write_text(json.dumps(rows[0]) + "\n\n", encoding="utf-8")
    assert "a.jpg" in read_flight_log(tmp_path / "log.jsonl")


def test_flight_log_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_flight_log(tmp_path / "none.csv")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="malformed"):
        read_flight_log(tmp_path / "bad.json")
    (tmp_path / "ok.csv").write_text("file,lat,lon\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown flight-log field"):
        read_flight_log(tmp_path / "ok.csv", columns={"speed": "v"})


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
            st.one_of(
                st.floats(allow_nan=True),
                st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=6),
            ),
        ),
        max_size=8,
    )
)
def test_flight_log_parser_never_crashes_on_odd_rows(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, object]]
) -> None:
    import csv

    p = tmp_path_factory.mktemp("log") / "log.csv"
    with p.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "lat", "lon"])
        for name, value in rows:
            w.writerow([name, value, value])
    warnings: list[str] = []
    out = read_flight_log(p, warnings=warnings)
    for tel in out.values():
        assert -90 <= tel.latitude <= 90 and -180 <= tel.longitude <= 180
    # every row gives a telemetry entry (keyed by base name) or a warning
    assert sum(1 for n, _ in rows if Path(n).name in out) + len(warnings) >= len(rows)
