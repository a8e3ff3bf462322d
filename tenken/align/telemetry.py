"""Camera telemetry: where a frame was taken and where the camera looked, merged from every source a file has.

Sources, in order of preference per field: a flight-log row for the file (when given), the drone XMP packet
(:mod:`tenken.align.xmp`: DJI, Autel, Parrot, Skydio, Pix4D ``Camera:``), EXIF (GPS IFD, capture time, focal
length). A DJI Mini's XMP has attitude and relative altitude but no position; EXIF has the position: the merge
keeps both, and :attr:`Telemetry.sources` says per field where it came from.

Missing or malformed telemetry is never an error: readers return None (or skip the value) and append a
human-readable warning to the ``warnings`` list the caller passes.

Units: latitude/longitude in decimal degrees (WGS84, north/east positive), altitudes in metres, angles in
degrees (yaw clockwise from north in ``[-180, 180)``, pitch 0 at the horizon and -90 looking straight down).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from PIL import Image, UnidentifiedImageError

from tenken.align.xmp import parse_xmp_tags, scan_xmp, wrap_degrees, xmp_fields, xmp_packets_from_applist

_GPS_IFD = 0x8825
_EXIF_IFD = 0x8769
_SCAN_BYTES = 1 << 20  # fallback raw scan for XMP when the container is not one Pillow reads
_FRAME_35MM_HALF_WIDTH_MM = 18.0  # a 35 mm frame is 36 x 24 mm
_FOCAL_PLANE_UNIT_MM = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}
_MIN_SENSOR_MM = 1.0  # narrower "sensors" come from resized files whose focal-plane resolution was not updated


@dataclass
class Telemetry:
    """Position and attitude of the camera for one frame.

    Attributes:
        latitude, longitude: decimal degrees, WGS84.
        altitude_m: metres; absolute (above sea level) when known, else relative to take-off (see
            ``altitude_kind``); None when unknown.
        altitude_kind: ``"absolute"``, ``"relative"`` or None.
        relative_altitude_m: metres above the take-off point (DJI ``RelativeAltitude``), when known.
        gimbal_yaw, gimbal_pitch, gimbal_roll: degrees; the camera's attitude (pitch -90 looks down).
        flight_yaw, flight_pitch, flight_roll: degrees, the aircraft's attitude.
        timestamp: capture time as written by the source (ISO 8601 or EXIF ``YYYY:MM:DD HH:MM:SS``).
        source: where the position came from: ``"exif"``, ``"xmp"`` or ``"log"``.
        fov_deg: horizontal field of view, degrees (from calibrated focal length, 35 mm-equivalent focal
            length, or focal length and sensor size); None when the file does not say.
        camera: camera make and model as written (``"DJI FC6310R"``), when known.
        sources: field name -> ``"exif"``/``"xmp"``/``"log"`` for every field that is set.
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
    fov_deg: float | None = None
    camera: str | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (None fields and an empty ``sources`` dropped)."""
        return {k: v for k, v in asdict(self).items() if v is not None and v != {}}

    @property
    def view_yaw(self) -> float | None:
        """Where the camera looks, degrees clockwise from north: the gimbal's yaw, else the aircraft's (a
        gimbal locked to the aircraft, or a fixed camera)."""
        return self.gimbal_yaw if self.gimbal_yaw is not None else self.flight_yaw

    @property
    def view_pitch(self) -> float | None:
        """The camera's pitch, degrees (0 horizon, -90 down): the gimbal's, else None."""
        return self.gimbal_pitch


_FIELDS = tuple(f.name for f in fields(Telemetry) if f.name not in ("source", "sources", "altitude_m", "altitude_kind"))


def merge_telemetry(parts: list[tuple[str, dict[str, Any]]]) -> Telemetry | None:
    """One :class:`Telemetry` from partial readings ``[(source, {field: value})]``, best source first.

    Each field comes from the first part that has it, except the position: latitude and longitude always come
    together from one source. Extra keys ``absolute_altitude_m`` set ``altitude_m`` (kind ``"absolute"``);
    without it the relative altitude is used (kind ``"relative"``). Returns None when no part has a position.
    """
    position = next(((src, p) for src, p in parts if "latitude" in p and "longitude" in p), None)
    if position is None:
        return None
    src, p = position
    tel = Telemetry(p["latitude"], p["longitude"], source=src, sources={"latitude": src, "longitude": src})
    for name in (*_FIELDS, "absolute_altitude_m"):
        if name in ("latitude", "longitude"):
            continue
        for part_src, part in parts:
            if part.get(name) is not None:
                if name == "absolute_altitude_m":
                    tel.altitude_m, tel.altitude_kind = float(part[name]), "absolute"
                    tel.sources["altitude_m"] = part_src
                else:
                    setattr(tel, name, part[name])
                    tel.sources[name] = part_src
                break
    if tel.altitude_m is None and tel.relative_altitude_m is not None:
        tel.altitude_m, tel.altitude_kind = tel.relative_altitude_m, "relative"
        tel.sources["altitude_m"] = tel.sources["relative_altitude_m"]
    return tel


def telemetry_fields(tel: Telemetry) -> dict[str, Any]:
    """A :class:`Telemetry` back as a partial reading for :func:`merge_telemetry` (its set fields)."""
    out = {k: v for k, v in asdict(tel).items() if k in _FIELDS and v is not None}
    if tel.altitude_kind != "relative" and tel.altitude_m is not None:  # a kind-less altitude counts as absolute
        out["absolute_altitude_m"] = tel.altitude_m
    return out


def _valid_position(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


def _checked_position(found: dict[str, Any], label: str, name: str, warnings: list[str]) -> dict[str, Any]:
    """``found`` without its position when the position is out of range (with a warning)."""
    if "latitude" in found and "longitude" in found and not _valid_position(found["latitude"], found["longitude"]):
        warnings.append(f"{name}: {label} position out of range ({found['latitude']}, {found['longitude']})")
        found = {k: v for k, v in found.items() if k not in ("latitude", "longitude")}
    return found


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


def horizontal_fov(half_width: float, focal: float) -> float | None:
    """Horizontal field of view, degrees, of a pinhole camera: ``half_width`` and ``focal`` in one unit."""
    if not (half_width > 0 and focal > 0 and math.isfinite(half_width / focal)):
        return None
    return math.degrees(2.0 * math.atan(half_width / focal))


def _exif_fov(exif_ifd: Any, width: int) -> float | None:
    try:
        f35 = _rational(exif_ifd.get(0xA405) or 0)
        if f35 > 0:
            return horizontal_fov(_FRAME_35MM_HALF_WIDTH_MM, f35)
        focal = _rational(exif_ifd.get(0x920A) or 0)
        xres = _rational(exif_ifd.get(0xA20E) or 0)
        unit = _FOCAL_PLANE_UNIT_MM.get(int(exif_ifd.get(0xA210) or 2))
        width = int(exif_ifd.get(0xA002) or width)  # PixelXDimension: the width the resolution refers to
        sensor_mm = width / xres * unit if xres > 0 and unit is not None else 0.0
        if focal > 0 and sensor_mm >= _MIN_SENSOR_MM:
            return horizontal_fov(sensor_mm / 2.0, focal)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return None


def _exif(img: Image.Image, name: str, warnings: list[str]) -> dict[str, Any]:
    """Fields from EXIF: position and absolute altitude (GPS IFD), image direction, capture time, FOV, camera."""
    try:
        exif = img.getexif()
        gps = exif.get_ifd(_GPS_IFD)
        sub = exif.get_ifd(_EXIF_IFD)
    except (OSError, ValueError, TypeError, KeyError, SyntaxError):
        warnings.append(f"{name}: unreadable EXIF block")
        return {}
    out: dict[str, Any] = {}
    stamp = sub.get(0x9003) or exif.get(0x0132)  # DateTimeOriginal, else DateTime
    if stamp:
        out["timestamp"] = str(stamp).strip("\x00 ")
    make, model = (str(exif.get(t) or "").strip("\x00 ") for t in (0x010F, 0x0110))
    if make or model:
        out["camera"] = " ".join(v for v in (make, model) if v)
    fov = _exif_fov(sub, img.size[0])
    if fov is not None:
        out["fov_deg"] = fov
    if not gps:
        return out
    try:
        if 2 in gps and 4 in gps:
            out["latitude"] = _dms(gps[2], gps.get(1), "S")
            out["longitude"] = _dms(gps[4], gps.get(3), "W")
        if 6 in gps:
            alt = _rational(gps[6])
            alt = -alt if gps.get(5) in (1, b"\x01") else alt
            if math.isfinite(alt):
                out["absolute_altitude_m"] = alt
        if 17 in gps and math.isfinite(_rational(gps[17])):  # GPSImgDirection: where the image looks
            out["gimbal_yaw"] = wrap_degrees(_rational(gps[17]))
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        warnings.append(f"{name}: malformed EXIF GPS tags")
        return {k: v for k, v in out.items() if k in ("timestamp", "camera", "fov_deg")}
    return _checked_position(out, "EXIF GPS", name, warnings)


def capture_time(path: str | os.PathLike) -> str | None:
    """A photo's EXIF capture time (``DateTimeOriginal``, else ``DateTime``) as written, None when unreadable."""
    try:
        with Image.open(path) as img:
            exif = img.getexif()
            stamp = exif.get_ifd(_EXIF_IFD).get(0x9003) or exif.get(0x0132)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, KeyError, TypeError):
        return None
    return str(stamp).strip("\x00 ") if stamp else None


# --- XMP --------------------------------------------------------------------------------------------------


def _xmp(packets: list[str], name: str, warnings: list[str]) -> dict[str, Any]:
    tags: dict[str, str] = {}
    for packet in packets:
        for k, v in parse_xmp_tags(packet).items():
            tags.setdefault(k, v)
    found = xmp_fields(tags, name, warnings)
    focal, cx = found.pop("calibrated_focal_px", None), found.pop("calibrated_center_x_px", None)
    if focal is not None and cx is not None:
        fov = horizontal_fov(cx, focal)
        if fov is not None:
            found["fov_deg"] = fov
    return _checked_position(found, "XMP", name, warnings)


def _image_metadata(path: str | os.PathLike, name: str, warnings: list[str]) -> tuple[list[str], dict[str, Any]]:
    """(XMP packets, EXIF fields) of an image file; ``([], {})`` with a warning when it is unreadable."""
    try:
        with Image.open(path) as img:
            exif = _exif(img, name, warnings)
            if hasattr(img, "applist"):  # JPEG: every APP1 segment, extended XMP included
                packets = xmp_packets_from_applist(img.applist)
            else:  # TIFF tag 700, PNG iTXt, WebP...
                raw = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp") or getattr(img, "tag_v2", {}).get(700)
                packets = [raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)] if raw else []
            return packets, exif
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        pass
    try:
        with open(path, "rb") as fh:
            packets = scan_xmp(fh.read(_SCAN_BYTES))
    except OSError as exc:
        warnings.append(f"{name}: cannot read file for telemetry ({exc.strerror or exc})")
        return [], {}
    if not packets:
        warnings.append(f"{name}: not a readable image; no telemetry")
    return packets, {}


def read_telemetry(
    path: str | os.PathLike, warnings: list[str] | None = None, log: Telemetry | None = None
) -> Telemetry | None:
    """Telemetry of one image file, merged from a flight-log row, its XMP packet(s) and its EXIF.

    Args:
        path: an image file (JPEG, TIFF, PNG, HEIC, DNG...).
        warnings: problems found (unreadable file, malformed tags) are appended here; never raised.
        log: this file's row of a flight log (:func:`tenken.align.flightlog.read_flight_log`); its fields win.

    Returns:
        A :class:`Telemetry` (``sources`` says where each field came from), or None when no source has a
        usable position.
    """
    warnings = warnings if warnings is not None else []
    name = str(path)
    packets, exif = _image_metadata(path, name, warnings)
    parts = [("xmp", _xmp(packets, name, warnings)), ("exif", exif)]
    if log is not None:
        parts.insert(0, (log.source, telemetry_fields(log)))
    return merge_telemetry(parts)
