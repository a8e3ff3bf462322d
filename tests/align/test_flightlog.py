"""Flight logs: per-photo tables and AirData / Litchi / DJI SRT time series, with their real column names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenken.align.flightlog import parse_coordinate, read_dji_srt, read_flight_log, read_flight_track
from tenken.core.errors import InputError


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


def test_flight_log_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_flight_log(tmp_path / "none.csv")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="malformed"):
        read_flight_log(tmp_path / "bad.json")
    (tmp_path / "ok.csv").write_text("file,lat,lon\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown flight-log field"):
        read_flight_log(tmp_path / "ok.csv", columns={"speed": "v"})
    (tmp_path / "nolon.csv").write_text("file,lat,x\na.jpg,1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no longitude column \(looked for longitude, lon.*the log has: file, lat, x"):
        read_flight_log(tmp_path / "nolon.csv")


@pytest.mark.parametrize(
    ("text", "value"),
    [("8 deg 17' 39.30\" S", -8.294250), ("115 deg 27' 42.59\" E", 115.461831), ("12.5", 12.5), ("x", None)],
)
def test_parse_coordinate(text: str, value: float | None) -> None:
    got = parse_coordinate(text)
    assert got == (None if value is None else pytest.approx(value, abs=1e-6))


AIRDATA = (
    "time(millisecond),datetime(utc),latitude,longitude,height_above_takeoff(feet),"
    "altitude_above_seaLevel(feet),compass_heading(degrees),pitch(degrees),roll(degrees),isPhoto,"
    "gimbal_heading(degrees),gimbal_pitch(degrees),gimbal_roll(degrees)\n"
    "0,2024-05-01 10:00:00,35.0,139.0,0,164.0,10,0,0,0,10,0,0\n"
    "100,2024-05-01 10:00:00,35.00001,139.0,100.0,264.0,350,-2,1,1,350,-45.5,0\n"
    "200,2024-05-01 10:00:00,35.00002,139.0,100.0,264.0,350,-2,1,1,350,-45.5,0\n"
    "300,2024-05-01 10:00:00,35.00003,139.0,100.0,264.0,350,-2,1,0,350,-45.5,0\n"
)


def test_airdata_csv(tmp_path: Path) -> None:
    p = tmp_path / "airdata.csv"
    p.write_text(AIRDATA, encoding="utf-8")
    track = read_flight_track(p)
    assert track.kind == "airdata" and len(track.points) == 4
    t = track.at(0.12)
    assert t.relative_altitude_m == pytest.approx(30.48) and t.altitude_m == pytest.approx(80.47, abs=0.01)
    assert (t.gimbal_yaw, t.gimbal_pitch, t.flight_yaw) == (-10.0, -45.5, -10.0)
    assert [pt.time_s for pt in track.photos()] == [0.1]  # one photo: the run of isPhoto=1 counts once
    assert track.at(5.0) is None


def test_litchi_csv_raw_gimbal_in_tenths(tmp_path: Path) -> None:
    p = tmp_path / "litchi.csv"
    p.write_text(
        "latitude,longitude,altitude(m),time(millisecond),datetime(utc),yaw(deg),pitch(deg),roll(deg),"
        "gimbalPitchRaw,gimbalRollRaw,gimbalYawRaw,isTakingPhoto\n"
        "35.0,139.0,42.5,1000,2024-05-01 10:00:01,90,0,0,-900,0,905,1\n",
        encoding="utf-8",
    )
    track = read_flight_track(p)
    t = track.points[0].telemetry
    assert track.kind == "litchi" and track.points[0].time_s == 1.0 and track.points[0].photo
    assert (t.gimbal_pitch, t.gimbal_yaw, t.flight_yaw, t.relative_altitude_m) == (-90.0, 90.5, 90.0, 42.5)


def test_track_errors_name_the_missing_column(tmp_path: Path) -> None:
    p = tmp_path / "airdata.csv"
    p.write_text(AIRDATA.replace("time(millisecond)", "t"), encoding="utf-8")
    with pytest.raises(InputError, match=r"no time column \(looked for time\(millisecond\)\)"):
        read_flight_track(p)
    q = tmp_path / "other.csv"
    q.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="not an AirData or Litchi CSV export"):
        read_flight_track(q)
    r = tmp_path / "empty.SRT"
    r.write_text("hello\n", encoding="utf-8")
    with pytest.raises(InputError, match="no subtitle cue"):
        read_dji_srt(r)


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300))
def test_srt_parser_never_crashes_on_garbage(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    p = tmp_path_factory.mktemp("srt") / "x.SRT"
    p.write_text("1\n00:00:00,000 --> 00:00:00,033\n" + text + "\n", encoding="utf-8")
    warnings: list[str] = []
    track = read_dji_srt(p, warnings)
    for pt in track.points:
        assert -90 <= pt.telemetry.latitude <= 90 and -180 <= pt.telemetry.longitude <= 180


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


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.floats(allow_nan=True), st.text(max_size=5), st.just("")), min_size=13, max_size=13),
        max_size=6,
    )
)
def test_airdata_parser_never_crashes_on_odd_values(tmp_path_factory: pytest.TempPathFactory, rows: list) -> None:
    import csv

    p = tmp_path_factory.mktemp("airdata") / "log.csv"
    with p.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(AIRDATA.splitlines()[0].split(","))
        w.writerows(rows)
    warnings: list[str] = []
    track = read_flight_track(p, warnings)
    assert len(track.points) + len(warnings) == len(rows)
    for pt in track.points:
        assert -90 <= pt.telemetry.latitude <= 90 and -180 <= pt.telemetry.longitude <= 180
        assert pt.telemetry.gimbal_yaw is None or -180 <= pt.telemetry.gimbal_yaw < 180


def test_airdata_photo_events_pair_with_photos_by_capture_time(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from tenken.align.retrieve import ReferenceIndex

    def photo(name: str, stamp: str) -> Path:
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = stamp  # DateTimeOriginal
        path = tmp_path / name
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path, exif=exif)
        return path

    log = tmp_path / "airdata.csv"
    header = AIRDATA.splitlines()[0]
    log.write_text(
        f"{header}\n"
        "0,2024-05-01 10:00:00,35.0,139.0,0,164.0,10,0,0,0,10,0,0\n"
        "100,2024-05-01 10:00:00,35.00001,139.0,100.0,264.0,350,-2,1,1,350,-45.5,0\n"
        "200,2024-05-01 10:00:00,35.00002,139.0,100.0,264.0,350,-2,1,0,350,-45.5,0\n"
        "250,2024-05-01 10:00:00,35.0,139.0,0,164.0,10,0,0,1,10,0,0\n",
        encoding="utf-8",
    )
    # photo events at 0.1 s (north 35.00001, gimbal -45.5) and 0.25 s (35.0, gimbal 0); names in the other order
    first, second = photo("b.jpg", "2024:05:01 10:00:00"), photo("a.jpg", "2024:05:01 10:00:05")
    index = ReferenceIndex.from_paths([second, first], log=log)
    by_name = {Path(n).name: i for i, n in enumerate(index.names)}
    assert index.relative_altitude[by_name["b.jpg"]] == pytest.approx(30.48)
    assert index.relative_altitude[by_name["a.jpg"]] == pytest.approx(0.0)
    with pytest.raises(InputError, match=r"2 photo event.*3 photo"):
        ReferenceIndex.from_paths([first, second, photo("c.jpg", "2024:05:01 10:00:09")], log=log)


@settings(max_examples=80, deadline=None)
@given(
    deg=st.integers(0, 179),
    minutes=st.integers(0, 59),
    seconds=st.floats(0, 59.99, allow_nan=False),
    hemisphere=st.sampled_from("NSEW"),
)
def test_dms_text_round_trips(deg: int, minutes: int, seconds: float, hemisphere: str) -> None:
    text = f"{deg} deg {minutes}' {seconds:.2f}\" {hemisphere}"
    value = deg + minutes / 60 + round(seconds, 2) / 3600
    assert parse_coordinate(text) == pytest.approx(-value if hemisphere in "SW" else value, abs=1e-9)
