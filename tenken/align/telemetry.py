"""Camera telemetry: where (and how) a frame was taken, from EXIF GPS, DJI XMP or a flight log.

Missing or malformed telemetry is never an error: the readers return None (or skip the row) and append a
human-readable warning to the ``warnings`` list the caller passes.

Units: latitude/longitude in decimal degrees (WGS84, north/east positive), altitudes in metres, angles in
degrees. ``altitude_m`` is the best altitude for 3-D distances: absolute (above mean sea level) when the
source has it, else relative to the take-off point (consistent within one site's flights).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from tenken.core.artifacts import LoadReport, read_jsonl

_GPS_IFD = 0x8825
_XMP_SCAN_BYTES = 1 << 20  # DJI writes its XMP packet in the first APP1 segments; 1 MiB is plenty


@dataclass
class Telemetry:
    """Position and attitude of the camera for one frame.

    Attributes:
        latitude, longitude: decimal degrees, WGS84.
        altitude_m: metres; absolute (above sea level) when known, else relative to take-off (see
            ``altitude_kind``); None when unknown (retrieval then uses 0).
        altitude_kind: ``"absolute"``, ``"relative"`` or None.
        relative_altitude_m: metres above the take-off point (DJI ``RelativeAltitude``), when known.
        gimbal_yaw, gimbal_pitch, gimbal_roll: degrees (DJI ``GimbalYawDegree``...; pitch -90 looks down).
        flight_yaw, flight_pitch, flight_roll: degrees, the aircraft's attitude.
        timestamp: capture time as written by the source (ISO 8601 or EXIF ``YYYY:MM:DD HH:MM:SS``).
        source: ``"exif"``, ``"xmp"`` or ``"log"``.
    """

    latitude: float
    longitude: float
    altitude_m: float | None = None
    altitude_kind: str | None = None
    relative_altitude_m: float | None = None
    gimbal_yaw: float | None = None
    gimbal_pitch: float | None = None
    gimbal_roll: float | None = None
    flight_yaw: float | None = None
    flight_pitch: float | None = None
    flight_roll: float | None = None
    timestamp: str | None = None
    source: str = "exif"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (None fields dropped)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def _valid_position(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


# --- EXIF -------------------------------------------------------------------------------------------------


def _rational(value: Any) -> float:
    if isinstance(value, tuple) and len(value) == 2:  # (numerator, denominator) from old readers
        return float(value[0]) / float(value[1])
    return float(value)


def _dms(value: Any, ref: Any, negative: str) -> float:
    parts = [_rational(v) for v in value]
    deg = parts[0] + (parts[1] / 60 if len(parts) > 1 else 0) + (parts[2] / 3600 if len(parts) > 2 else 0)
    ref = ref.decode() if isinstance(ref, bytes) else str(ref or "")
    return -deg if ref.strip().upper().startswith(negative) else deg


def _exif(img: Image.Image, name: str, warnings: list[str]) -> Telemetry | None:
    try:
        exif = img.getexif()
        gps = exif.get_ifd(_GPS_IFD)
    except (OSError, ValueError, TypeError, KeyError, SyntaxError):
        warnings.append(f"{name}: unreadable EXIF block")
        return None
    if not gps or 2 not in gps or 4 not in gps:
        return None
    try:
        lat = _dms(gps[2], gps.get(1), "S")
        lon = _dms(gps[4], gps.get(3), "W")
        alt = None
        if 6 in gps:
            alt = _rational(gps[6])
            if gps.get(5) in (1, b"\x01"):
                alt = -alt
            if not math.isfinite(alt):
                alt = None
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        warnings.append(f"{name}: malformed EXIF GPS tags")
        return None
    if not _valid_position(lat, lon):
        warnings.append(f"{name}: EXIF GPS position out of range ({lat}, {lon})")
        return None
    stamp = exif.get(0x0132)  # DateTime
    return Telemetry(lat, lon, alt, "absolute" if alt is not None else None, timestamp=stamp, source="exif")


# --- DJI XMP ----------------------------------------------------------------------------------------------

_XMP_FIELD = re.compile(r"drone-dji:(\w+)\s*=\s*\"([^\"]*)\"|<drone-dji:(\w+)>([^<]*)</drone-dji:\3>", re.IGNORECASE)


def parse_dji_xmp(text: str) -> dict[str, str]:
    """Every ``drone-dji:`` field of an XMP packet (attribute or element form), names lower-cased."""
    fields: dict[str, str] = {}
    for m in _XMP_FIELD.finditer(text):
        key, value = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        fields[key.lower()] = value.strip()
    return fields


def _num(fields: dict[str, str], *names: str) -> float | None:
    for n in names:
        v = fields.get(n.lower())
        if v is None or v == "":
            continue
        try:
            f = float(v)
        except ValueError:
            continue
        if math.isfinite(f):
            return f
    return None


def _xmp(data: bytes, name: str, warnings: list[str]) -> Telemetry | None:
    start = data.find(b"drone-dji:")
    if start < 0:
        return None
    begin = data.rfind(b"<x:xmpmeta", 0, start)
    end = data.find(b"</x:xmpmeta>", start)
    chunk = data[begin if begin >= 0 else start : end if end >= 0 else len(data)]
    fields = parse_dji_xmp(chunk.decode("utf-8", errors="replace"))
    lat = _num(fields, "GpsLatitude", "Latitude")
    lon = _num(fields, "GpsLongitude", "GpsLongtitude", "Longitude")  # some firmware spells it Longtitude
    if lat is None or lon is None:
        if fields:
            warnings.append(f"{name}: DJI XMP has no usable GpsLatitude/GpsLongitude")
        return None
    if not _valid_position(lat, lon):
        warnings.append(f"{name}: DJI XMP position out of range ({lat}, {lon})")
        return None
    absolute = _num(fields, "AbsoluteAltitude")
    relative = _num(fields, "RelativeAltitude")
    return Telemetry(
        lat,
        lon,
        absolute if absolute is not None else relative,
        "absolute" if absolute is not None else ("relative" if relative is not None else None),
        relative,
        _num(fields, "GimbalYawDegree", "GimbalYaw"),
        _num(fields, "GimbalPitchDegree", "GimbalPitch"),
        _num(fields, "GimbalRollDegree", "GimbalRoll"),
        _num(fields, "FlightYawDegree", "FlightYaw"),
        _num(fields, "FlightPitchDegree", "FlightPitch"),
        _num(fields, "FlightRollDegree", "FlightRoll"),
        source="xmp",
    )


def read_telemetry(path: str | os.PathLike, warnings: list[str] | None = None) -> Telemetry | None:
    """Telemetry of one image file: DJI XMP when present (it has attitude too), else EXIF GPS, else None.

    Args:
        path: an image file (JPEG, TIFF, PNG, HEIC, DNG...).
        warnings: problems found (unreadable file, malformed tags) are appended here; never raised.

    Returns:
        A :class:`Telemetry`, or None when the file has no usable position. When both are present, the EXIF
        timestamp and (if XMP lacks it) the EXIF altitude are merged into the XMP result.
    """
    warnings = warnings if warnings is not None else []
    name = str(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(_XMP_SCAN_BYTES)
    except OSError as exc:
        warnings.append(f"{name}: cannot read file for telemetry ({exc.strerror or exc})")
        return None
    xmp = _xmp(head, name, warnings)
    try:
        with Image.open(path) as img:
            exif = _exif(img, name, warnings)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        exif = None
        if xmp is None:
            warnings.append(f"{name}: not a readable image; no telemetry")
    if xmp is not None:
        if exif is not None:
            xmp.timestamp = exif.timestamp
            if xmp.altitude_m is None:
                xmp.altitude_m, xmp.altitude_kind = exif.altitude_m, exif.altitude_kind
        return xmp
    return exif


# --- flight logs ------------------------------------------------------------------------------------------

DEFAULT_LOG_COLUMNS: dict[str, tuple[str, ...]] = {
    "file": ("file", "filename", "file_name", "image", "image_name", "name", "photo", "path"),
    "latitude": ("latitude", "lat", "gps_latitude", "gpslatitude", "latitude(deg)"),
    "longitude": ("longitude", "lon", "lng", "long", "gps_longitude", "gpslongitude", "longitude(deg)"),
    "altitude_m": (
        "absolute_altitude",
        "absolutealtitude",
        "altitude",
        "alt",
        "altitude(m)",
        "height",
        "abs_alt",
    ),
    "relative_altitude_m": ("relative_altitude", "relativealtitude", "rel_alt", "height_above_takeoff(m)"),
    "gimbal_yaw": ("gimbal_yaw", "gimbalyawdegree", "gimbal_heading(degrees)"),
    "gimbal_pitch": ("gimbal_pitch", "gimbalpitchdegree", "gimbal_pitch(degrees)"),
    "gimbal_roll": ("gimbal_roll", "gimbalrolldegree", "gimbal_roll(degrees)"),
    "flight_yaw": ("flight_yaw", "yaw", "heading", "compass_heading(degrees)"),
    "flight_pitch": ("flight_pitch", "pitch", "pitch(degrees)"),
    "flight_roll": ("flight_roll", "roll", "roll(degrees)"),
    "timestamp": ("timestamp", "time", "datetime", "datetime(utc)"),
}
"""Column names tried (case-insensitive) for each field of a flight log; override with ``columns=``."""


def _pick(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    for n in names:
        if n in row and row[n] not in (None, ""):
            return row[n]
    return None


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
        ``{file name: Telemetry}`` keyed by the base name of the image (``DJI_0001.JPG``).

    Raises:
        tenken.core.errors.InputError: the log cannot be read or parsed at all.
    """
    from tenken.core.errors import InputError

    warnings = warnings if warnings is not None else []
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read flight log ({exc})") from None
    try:
        if p.suffix.lower() == ".csv":
            rows = list(csv.DictReader(io.StringIO(text, newline="")))
        elif p.suffix.lower() == ".jsonl":
            report = LoadReport()
            rows = read_jsonl(p, report)
            if report.skipped:
                raise InputError(f"{p}: malformed flight log ({report.skipped[0]})")
        else:
            data = json.loads(text)
            rows = data if isinstance(data, list) else data.get("frames", data.get("images", []))
    except (json.JSONDecodeError, csv.Error, AttributeError) as exc:
        raise InputError(f"{p}: malformed flight log ({exc})") from None
    names = {k: tuple(v) for k, v in DEFAULT_LOG_COLUMNS.items()}
    for field_name, column in (columns or {}).items():
        if field_name not in names:
            raise InputError(f"unknown flight-log field {field_name!r}; known: {', '.join(names)}")
        names[field_name] = (column.strip().lower(),)
    out: dict[str, Telemetry] = {}
    for i, raw in enumerate(rows, start=2 if p.suffix.lower() == ".csv" else 1):
        if not isinstance(raw, dict):
            warnings.append(f"{p}: row {i} is not an object; skipped")
            continue
        row = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
        file = _pick(row, names["file"])
        try:
            lat = float(_pick(row, names["latitude"]))
            lon = float(_pick(row, names["longitude"]))
        except (TypeError, ValueError):
            warnings.append(f"{p}: row {i} has no numeric latitude/longitude; skipped")
            continue
        if file is None or not _valid_position(lat, lon):
            warnings.append(f"{p}: row {i} has no file name or an out-of-range position; skipped")
            continue

        def num(key: str, row: dict[str, Any] = row) -> float | None:
            v = _pick(row, names[key])
            try:
                f = float(v)
            except (TypeError, ValueError):
                return None
            return f if math.isfinite(f) else None

        alt, rel = num("altitude_m"), num("relative_altitude_m")
        stamp = _pick(row, names["timestamp"])
        out[Path(str(file)).name] = Telemetry(
            lat,
            lon,
            alt if alt is not None else rel,
            "absolute" if alt is not None else ("relative" if rel is not None else None),
            rel,
            num("gimbal_yaw"),
            num("gimbal_pitch"),
            num("gimbal_roll"),
            num("flight_yaw"),
            num("flight_pitch"),
            num("flight_roll"),
            None if stamp is None else str(stamp),
            source="log",
        )
    return out
