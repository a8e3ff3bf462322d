"""Flight logs: per-photo tables (CSV/JSON, exiftool ``-csv`` exports) and time series (AirData CSV, Litchi CSV,
DJI SRT subtitles of a video).

- :func:`read_flight_log`: one row per image file, keyed by file name; columns found by common names
  (:data:`DEFAULT_LOG_COLUMNS`) or named by the caller. Coordinates may be decimal degrees or exiftool's
  ``8 deg 17' 39.30" S``.
- :func:`read_flight_track`: a time series with the aircraft's and gimbal's attitude, from the real column
  names of AirData (``height_above_takeoff(feet)``, ``gimbal_heading(degrees)``, ``isPhoto`` ...) and Litchi
  (``altitude(m)``, ``yaw(deg)``, ``gimbalPitchRaw`` in tenths of a degree, ``isTakingPhoto`` ...) exports, or
  from a DJI ``.SRT`` (one cue per video frame). :meth:`FlightTrack.at` gives the telemetry at a time,
  :meth:`FlightTrack.photos` the rows where a photo was taken.

A log without a column tenken needs (file name, latitude, longitude, time) is an
:class:`~tenken.core.errors.InputError` naming the missing column and the columns the file has; a row with a
bad value is skipped with a warning.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenken.align.telemetry import Telemetry, capture_time, merge_telemetry
from tenken.align.xmp import wrap_degrees
from tenken.core.errors import InputError

DEFAULT_LOG_COLUMNS: dict[str, tuple[str, ...]] = {
    "file": ("file", "filename", "file_name", "image", "image_name", "name", "photo", "path", "sourcefile"),
    "latitude": ("latitude", "lat", "gps_latitude", "gpslatitude", "latitude(deg)"),
    "longitude": (
        "longitude",
        "lon",
        "lng",
        "long",
        "gps_longitude",
        "gpslongitude",
        "gpslongtitude",
        "longitude(deg)",
    ),
    "absolute_altitude_m": (
        "absolute_altitude",
        "absolutealtitude",
        "altitude",
        "alt",
        "altitude(m)",
        "gpsaltitude",
        "abs_alt",
    ),
    "relative_altitude_m": ("relative_altitude", "relativealtitude", "rel_alt", "height_above_takeoff(meters)"),
    "gimbal_yaw": ("gimbal_yaw", "gimbalyawdegree", "gimbal_heading(degrees)"),
    "gimbal_pitch": ("gimbal_pitch", "gimbalpitchdegree", "gimbal_pitch(degrees)"),
    "gimbal_roll": ("gimbal_roll", "gimbalrolldegree", "gimbal_roll(degrees)"),
    "flight_yaw": ("flight_yaw", "flightyawdegree", "yaw", "heading", "compass_heading(degrees)"),
    "flight_pitch": ("flight_pitch", "flightpitchdegree", "pitch", "pitch(degrees)"),
    "flight_roll": ("flight_roll", "flightrolldegree", "roll", "roll(degrees)"),
    "timestamp": ("timestamp", "time", "datetime", "datetime(utc)", "datetimeoriginal"),
}
"""Column names tried (case-insensitive) for each field of a per-photo log; override with ``columns=``."""

_FEET = 0.3048
_DMS = re.compile(
    r"^\s*([-+]?\d+(?:\.\d+)?)\s*(?:deg|°)\s*(?:(\d+(?:\.\d+)?)\s*')?\s*(?:(\d+(?:\.\d+)?)\s*\")?\s*([NSEW])?\s*$", re.I
)


def parse_coordinate(value: Any) -> float | None:
    """Decimal degrees from a number or a degrees-minutes-seconds string (``8 deg 17' 39.30" S``); None if
    neither."""
    try:
        f = float(value)
        return f if math.isfinite(f) else None
    except (TypeError, ValueError):
        pass
    m = _DMS.match(str(value)) if value is not None else None
    if m is None:
        return None
    deg = abs(float(m.group(1))) + float(m.group(2) or 0) / 60 + float(m.group(3) or 0) / 3600
    negative = m.group(1).startswith("-") or (m.group(4) or "").upper() in ("S", "W")
    return -deg if negative else deg


def _number(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _rows(p: Path) -> tuple[list[Any], list[str]]:
    """Rows of a CSV/JSON/JSONL log and the column names it has (lower-cased)."""
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read flight log ({exc})") from None
    try:
        if p.suffix.lower() == ".csv":
            reader = csv.DictReader(io.StringIO(text, newline=""))
            rows = list(reader)
            header = [str(c).strip().lower() for c in reader.fieldnames or []]
            return rows, header
        if p.suffix.lower() == ".jsonl":
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
            rows = data if isinstance(data, list) else data.get("frames", data.get("images", []))
    except (json.JSONDecodeError, csv.Error, AttributeError) as exc:
        raise InputError(f"{p}: malformed flight log ({exc})") from None
    header = sorted({str(k).strip().lower() for r in rows if isinstance(r, dict) for k in r if k is not None})
    return rows, header


def _require(p: Path, header: list[str], what: str, names: Iterable[str]) -> str:
    """The first of ``names`` present in ``header``; else an InputError naming the missing column."""
    names = tuple(names)
    for n in names:
        if n in header:
            return n
    raise InputError(
        f"{p}: no {what} column (looked for {', '.join(names)}); the log has: {', '.join(header) or 'no columns'}"
    )


def read_flight_log(
    path: str | os.PathLike, columns: dict[str, str] | None = None, warnings: list[str] | None = None
) -> dict[str, Telemetry]:
    """Per-image telemetry from a flight log: CSV (header row), a JSON list of objects, or JSON lines.

    Args:
        path: the log file (``.csv``, ``.json`` or ``.jsonl``).
        columns: field -> column name for logs whose names differ from :data:`DEFAULT_LOG_COLUMNS`, e.g.
            ``{"file": "photo", "latitude": "y", "longitude": "x"}``.
        warnings: rows without a file name or a valid position are skipped with a warning appended here.

    Returns:
        ``{file name: Telemetry}`` keyed by the base name of the image (``DJI_0001.JPG``), ``source="log"``.

    Raises:
        tenken.core.errors.InputError: the log cannot be read or parsed, or has no file-name, latitude or
            longitude column (the message names it).
    """
    warnings = warnings if warnings is not None else []
    p = Path(path)
    names = {k: tuple(v) for k, v in DEFAULT_LOG_COLUMNS.items()}
    for field_name, column in (columns or {}).items():
        if field_name not in names:
            raise InputError(f"unknown flight-log field {field_name!r}; known: {', '.join(names)}")
        names[field_name] = (column.strip().lower(),)
    rows, header = _rows(p)
    if rows:
        for what in ("file", "latitude", "longitude"):
            _require(p, header, what, names[what])
    out: dict[str, Telemetry] = {}
    for i, raw in enumerate(rows, start=2 if p.suffix.lower() == ".csv" else 1):
        if not isinstance(raw, dict):
            warnings.append(f"{p}: row {i} is not an object; skipped")
            continue
        row = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
        tel = _row_telemetry(row, names)
        file = _pick(row, names["file"])
        if tel is None or file is None:
            warnings.append(f"{p}: row {i} has no file name or no valid latitude/longitude; skipped")
            continue
        out[Path(str(file)).name] = tel
    return out


def _pick(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    for n in names:
        if n in row and row[n] not in (None, ""):
            return row[n]
    return None


def _row_telemetry(row: dict[str, Any], names: dict[str, tuple[str, ...]]) -> Telemetry | None:
    found: dict[str, Any] = {}
    lat, lon = parse_coordinate(_pick(row, names["latitude"])), parse_coordinate(_pick(row, names["longitude"]))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    found["latitude"], found["longitude"] = lat, lon
    for key in names:
        if key in ("file", "latitude", "longitude", "timestamp"):
            continue
        value = _number(_pick(row, names[key]))
        if value is not None:
            found[key] = wrap_degrees(value) if key in ("gimbal_yaw", "flight_yaw") else value
    stamp = _pick(row, names["timestamp"])
    if stamp is not None:
        found["timestamp"] = str(stamp)
    return merge_telemetry([("log", found)])


# --- time series: AirData, Litchi, DJI SRT ----------------------------------------------------------------


@dataclass(frozen=True)
class TrackPoint:
    """One row of a flight track: ``time_s`` seconds from the start of the log (or video), its telemetry, and
    whether a photo was taken at this row."""

    time_s: float
    telemetry: Telemetry
    photo: bool = False


@dataclass
class FlightTrack:
    """A flight's telemetry over time (rows sorted by ``time_s``); ``kind`` is ``"airdata"``, ``"litchi"`` or
    ``"dji-srt"``."""

    kind: str
    points: list[TrackPoint]

    def at(self, time_s: float, max_gap_s: float = 1.0) -> Telemetry | None:
        """The telemetry of the row nearest in time to ``time_s`` (seconds), None if none within
        ``max_gap_s``."""
        if not self.points:
            return None
        times = [pt.time_s for pt in self.points]
        i = bisect.bisect_left(times, time_s)
        near = min((j for j in (i - 1, i) if 0 <= j < len(times)), key=lambda j: abs(times[j] - time_s))
        return self.points[near].telemetry if abs(times[near] - time_s) <= max_gap_s else None

    def photos(self) -> list[TrackPoint]:
        """Rows where a photo was taken (the first row of each run of photo flags), in time order: the n-th
        is the flight's n-th photo."""
        return [pt for i, pt in enumerate(self.points) if pt.photo and (i == 0 or not self.points[i - 1].photo)]


TRACK_COLUMNS: dict[str, dict[str, tuple[tuple[str, float], ...]]] = {
    "airdata": {
        "time_ms": (("time(millisecond)", 1.0),),
        "latitude": (("latitude", 1.0),),
        "longitude": (("longitude", 1.0),),
        "relative_altitude_m": (("height_above_takeoff(meters)", 1.0), ("height_above_takeoff(feet)", _FEET)),
        "absolute_altitude_m": (("altitude_above_sealevel(meters)", 1.0), ("altitude_above_sealevel(feet)", _FEET)),
        "flight_yaw": (("compass_heading(degrees)", 1.0),),
        "flight_pitch": (("pitch(degrees)", 1.0),),
        "flight_roll": (("roll(degrees)", 1.0),),
        "gimbal_yaw": (("gimbal_heading(degrees)", 1.0),),
        "gimbal_pitch": (("gimbal_pitch(degrees)", 1.0),),
        "gimbal_roll": (("gimbal_roll(degrees)", 1.0),),
        "timestamp": (("datetime(utc)", 1.0),),
        "photo": (("isphoto", 1.0),),
    },
    "litchi": {
        "time_ms": (("time(millisecond)", 1.0),),
        "latitude": (("latitude", 1.0),),
        "longitude": (("longitude", 1.0),),
        "relative_altitude_m": (("altitude(m)", 1.0), ("altitude(feet)", _FEET)),
        "flight_yaw": (("yaw(deg)", 1.0),),
        "flight_pitch": (("pitch(deg)", 1.0),),
        "flight_roll": (("roll(deg)", 1.0),),
        "gimbal_yaw": (("gimbalyawraw", 0.1),),
        "gimbal_pitch": (("gimbalpitchraw", 0.1),),
        "gimbal_roll": (("gimbalrollraw", 0.1),),
        "timestamp": (("datetime(utc)", 1.0),),
        "photo": (("istakingphoto", 1.0),),
    },
}
"""Per export format: field -> ``(column, factor)`` alternatives (lower-cased real column names; the factor
turns the column's unit into metres or degrees: feet x 0.3048, Litchi raw gimbal angles x 0.1)."""

_REQUIRED = ("time_ms", "latitude", "longitude")


def _column(header: list[str], alternatives: tuple[tuple[str, float], ...]) -> tuple[str, float] | None:
    """The first ``(column, factor)`` alternative whose column is in ``header``."""
    return next((alt for alt in alternatives if alt[0] in header), None)


def _track_kind(header: list[str]) -> str | None:
    if any(h.startswith("height_above_takeoff(") for h in header):
        return "airdata"
    if "gimbalpitchraw" in header or "istakingphoto" in header or ("yaw(deg)" in header and "latitude" in header):
        return "litchi"
    return None


def read_flight_track(path: str | os.PathLike, warnings: list[str] | None = None) -> FlightTrack:
    """A flight's telemetry over time from an AirData CSV, a Litchi CSV or a DJI ``.SRT`` subtitle file.

    Altitudes in feet are converted to metres, Litchi's raw gimbal angles (tenths of a degree) to degrees,
    headings to ``[-180, 180)``. AirData's and Litchi's altitude above take-off becomes
    ``relative_altitude_m``.

    Raises:
        InputError: the file cannot be read, its format is not recognised, or a needed column is missing
            (the message names the column and lists the file's columns).
    """
    warnings = warnings if warnings is not None else []
    p = Path(path)
    if p.suffix.lower() == ".srt":
        return read_dji_srt(p, warnings)
    rows, header = _rows(p)
    kind = _track_kind(header)
    if kind is None:
        raise InputError(
            f"{p}: not an AirData or Litchi CSV export (no height_above_takeoff(...) or gimbalPitchRaw/"
            f"isTakingPhoto column); the log has: {', '.join(header) or 'no columns'}"
        )
    spec = TRACK_COLUMNS[kind]
    found = {key: _column(header, spec[key]) for key in spec}
    for key in _REQUIRED:
        if found[key] is None:
            _require(p, header, key.replace("_ms", ""), (name for name, _ in spec[key]))
    points = []
    for i, raw in enumerate(rows, start=2):
        if not isinstance(raw, dict):
            warnings.append(f"{p}: row {i} is not an object; skipped")
            continue
        row = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
        values: dict[str, Any] = {}
        for key, col in found.items():
            v = None if col is None else row.get(col[0])
            if key == "timestamp":
                values[key] = None if v in (None, "") else str(v)
            elif (number := _number(v)) is not None:
                values[key] = number * col[1]
        if values.get("time_ms") is None or values.get("latitude") is None or values.get("longitude") is None:
            warnings.append(f"{p}: row {i} has no numeric time/latitude/longitude; skipped")
            continue
        for key in ("gimbal_yaw", "flight_yaw"):
            if values.get(key) is not None:
                values[key] = wrap_degrees(values[key])
        tel = merge_telemetry([("log", {k: v for k, v in values.items() if k not in ("time_ms", "photo")})])
        if tel is None or not (-90 <= tel.latitude <= 90 and -180 <= tel.longitude <= 180):
            warnings.append(f"{p}: row {i} has an out-of-range position; skipped")
            continue
        points.append(TrackPoint(values["time_ms"] / 1000.0, tel, bool(values.get("photo"))))
    points.sort(key=lambda pt: pt.time_s)
    return FlightTrack(kind, points)


def is_flight_track(path: str | os.PathLike) -> bool:
    """Is ``path`` an AirData or Litchi CSV export (a time series) rather than a per-photo table?"""
    p = Path(path)
    if p.suffix.lower() != ".csv":
        return False
    try:
        with p.open(encoding="utf-8-sig", newline="") as fh:
            header = [h.strip().lower() for h in next(csv.reader(fh), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return _track_kind(header) is not None


def photo_telemetry(
    track: FlightTrack, photos: Sequence[str | os.PathLike], capture_times: Sequence[str | None]
) -> dict[str, Telemetry]:
    """Pair a track's photo events (:meth:`FlightTrack.photos`) with the flight's photos, in order.

    Args:
        track: an AirData or Litchi track.
        photos: the photo files of that flight.
        capture_times: each photo's capture time as written in EXIF (``YYYY:MM:DD HH:MM:SS``; None when
            unknown); photos are ordered by it, then by name.

    Returns:
        ``{base name: Telemetry}``.

    Raises:
        InputError: the numbers of photo events and photos differ (photos of another flight, or a missed
            event): they cannot be paired by order.
    """
    events = track.photos()
    if len(events) != len(photos):
        raise InputError(
            f"the {track.kind} log has {len(events)} photo event(s) but {len(photos)} photo(s) were given: they "
            "cannot be paired by order; give the photos of that one flight, or a per-photo log (exiftool -csv)"
        )
    order = sorted(range(len(photos)), key=lambda i: (capture_times[i] or "", Path(photos[i]).name))
    return {Path(photos[i]).name: event.telemetry for i, event in zip(order, events, strict=True)}


def read_photo_log(
    path: str | os.PathLike, photos: Sequence[str | os.PathLike], warnings: list[str] | None = None
) -> dict[str, Telemetry]:
    """Per-photo telemetry from any log: a per-photo table (:func:`read_flight_log`) as is, or an AirData /
    Litchi track whose photo events are paired in order with ``photos`` (:func:`photo_telemetry`, ordered by
    EXIF capture time). Returns ``{base name: Telemetry}``.

    Raises:
        InputError: the log cannot be read, lacks a needed column, or its photo events do not pair up.
    """
    if is_flight_track(path):
        return photo_telemetry(read_flight_track(path, warnings), photos, [capture_time(p) for p in photos])
    return read_flight_log(path, warnings=warnings)


_SRT_CUE = re.compile(r"(\d+):(\d+):(\d+)[,.](\d+)\s*-->\s*\d+:\d+:\d+[,.]\d+\s*\n(.*?)(?=\n\s*\n|\Z)", re.S)
_SRT_PAIR = re.compile(r"([A-Za-z_]+)\s*:\s*([-+]?\d+(?:\.\d+)?)")
_SRT_GPS = re.compile(r"GPS\s*\(\s*([-+]?\d+(?:\.\d+)?)\s*,\s*([-+]?\d+(?:\.\d+)?)\s*(?:,\s*([-+]?\d+(?:\.\d+)?))?")
_SRT_STAMP = re.compile(r"\d{4}[-.]\d{2}[-.]\d{2} \d{2}:\d{2}:\d{2}(?:[.,:]\d+)?")
SRT_KEYS = {
    "latitude": "latitude",
    "longitude": "longitude",
    "longtitude": "longitude",
    "rel_alt": "relative_altitude_m",
    "abs_alt": "absolute_altitude_m",
    "altitude": "absolute_altitude_m",
    "gb_yaw": "gimbal_yaw",
    "gb_pitch": "gimbal_pitch",
    "gb_roll": "gimbal_roll",
}
"""DJI SRT keys (Mini 3/4/5, Air 3, Avata, Mavic 3 ``[key: value]`` style) -> telemetry fields."""


def _srt_fields(text: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in _SRT_PAIR.findall(text):
        field_name = SRT_KEYS.get(key.lower())
        if field_name is not None and field_name not in found:
            found[field_name] = float(value)
    gps = _SRT_GPS.search(text)
    if gps and "latitude" not in found:
        # legacy "GPS(lon, lat, alt)" (Phantom 4, Mavic Pro); a value beyond +-90 can only be the longitude
        a, b = float(gps.group(1)), float(gps.group(2))
        found["longitude"], found["latitude"] = (b, a) if abs(b) > 90 >= abs(a) else (a, b)
    stamp = _SRT_STAMP.search(text)
    if stamp:
        found["timestamp"] = stamp.group(0)
    if "gimbal_yaw" in found:
        found["gimbal_yaw"] = wrap_degrees(found["gimbal_yaw"])
    return found


def read_dji_srt(path: str | os.PathLike, warnings: list[str] | None = None) -> FlightTrack:
    """Per-frame telemetry of a DJI video from its ``.SRT`` subtitle file (``time_s`` = cue start).

    Reads the bracketed style (``[latitude: 53.365108] [longitude: 6.460719] [rel_alt: 6.000 abs_alt:
    -122.769] [gb_yaw: -162.8 gb_pitch: 0.0 gb_roll: 0.0]``) and the legacy ``GPS(lon,lat,alt)`` style. Cues
    without a position are skipped with one warning.

    Raises:
        InputError: the file cannot be read or has no subtitle cue.
    """
    warnings = warnings if warnings is not None else []
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig", errors="replace").replace("\r\n", "\n")
    except OSError as exc:
        raise InputError(f"{p}: cannot read DJI SRT file ({exc.strerror or exc})") from None
    cues = _SRT_CUE.findall(text)
    if not cues:
        raise InputError(f"{p}: no subtitle cue ('00:00:00,000 --> 00:00:00,033' lines); not a DJI SRT file")
    points, missing = [], 0
    for h, m, s, ms, body in cues:
        tel = merge_telemetry([("log", _srt_fields(re.sub(r"<[^>]+>", " ", body)))])
        if tel is None or not (-90 <= tel.latitude <= 90 and -180 <= tel.longitude <= 180):
            missing += 1
            continue
        points.append(TrackPoint(int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 10 ** len(ms), tel))
    if missing:
        warnings.append(f"{p}: {missing} of {len(cues)} subtitle cue(s) have no valid position; skipped")
    return FlightTrack("dji-srt", points)
