"""Drone XMP packets: find them in a file and read position, altitude and attitude from them.

Vendors and firmware spell the same thing differently; :data:`XMP_TAGS` lists, per telemetry field, every
spelling tenken knows (``prefix:Name``, compared case-insensitively), first match wins:

- DJI (Mavic, Air, Mini, Phantom, Matrice, Enterprise, thermal R-JPEG): ``drone-dji:`` — ``GpsLongitude``
  or ``GpsLongtitude`` (Phantom 4 RTK, P4 Multispectral), the Mini series writes no GPS in XMP at all;
- Autel (older firmware, ``rdf:about="DJI"`` packets): ``drone:`` with DJI's names;
- Parrot Anafi: ``drone-parrot:CameraYawDegree`` / ``CameraPitchDegree`` / ``CameraRollDegree``;
- Skydio: ``drone-skydio:Latitude`` ..., camera attitude in the ``CameraOrientationNED`` block;
- Pix4D's camera namespace ``Camera:`` (Parrot Sequoia, senseFly, Sentera, MicaSense): ``Camera:Yaw``,
  ``Camera:Pitch`` (0 = looking straight down, converted to tenken's convention), ``Camera:Roll``,
  ``Camera:AboveGroundAltitude``.

Conventions of the returned fields (those of DJI): angles in degrees, yaw clockwise from north, pitch 0 at the
horizon and -90 looking straight down; altitudes in metres.
"""

from __future__ import annotations

import math
import re
from typing import Any

XMP_TAGS: dict[str, tuple[str, ...]] = {
    "latitude": ("drone-dji:GpsLatitude", "drone-dji:Latitude", "drone:GpsLatitude", "drone-skydio:Latitude"),
    "longitude": (
        "drone-dji:GpsLongitude",
        "drone-dji:GpsLongtitude",
        "drone-dji:Longitude",
        "drone:GpsLongitude",
        "drone:GpsLongtitude",
        "drone-skydio:Longitude",
    ),
    "absolute_altitude_m": ("drone-dji:AbsoluteAltitude", "drone:AbsoluteAltitude", "drone-skydio:AbsoluteAltitude"),
    "relative_altitude_m": ("drone-dji:RelativeAltitude", "drone:RelativeAltitude", "Camera:AboveGroundAltitude"),
    "gimbal_yaw": ("drone-dji:GimbalYawDegree", "drone:GimbalYawDegree", "drone-parrot:CameraYawDegree"),
    "gimbal_pitch": ("drone-dji:GimbalPitchDegree", "drone:GimbalPitchDegree", "drone-parrot:CameraPitchDegree"),
    "gimbal_roll": ("drone-dji:GimbalRollDegree", "drone:GimbalRollDegree", "drone-parrot:CameraRollDegree"),
    "flight_yaw": ("drone-dji:FlightYawDegree", "drone:FlightYawDegree", "drone-parrot:FlightYawDegree"),
    "flight_pitch": ("drone-dji:FlightPitchDegree", "drone:FlightPitchDegree", "drone-parrot:FlightPitchDegree"),
    "flight_roll": ("drone-dji:FlightRollDegree", "drone:FlightRollDegree", "drone-parrot:FlightRollDegree"),
    "calibrated_focal_px": ("drone-dji:CalibratedFocalLength",),
    "calibrated_center_x_px": ("drone-dji:CalibratedOpticalCenterX",),
}
"""Telemetry field -> XMP tags that carry it (DJI conventions), in order of preference."""

PIX4D_CAMERA_TAGS = {"gimbal_yaw": "Camera:Yaw", "gimbal_pitch": "Camera:Pitch", "gimbal_roll": "Camera:Roll"}
"""Pix4D camera-namespace attitude, used when no tag of :data:`XMP_TAGS` gives it; ``Camera:Pitch`` counts
from nadir (0 = straight down), so 90 is subtracted."""

_FIELD = re.compile(
    r"([A-Za-z][\w.-]*):([A-Za-z]\w*)\s*=\s*\"([^\"]*)\"|<([A-Za-z][\w.-]*):([A-Za-z]\w*)>([^<]*)</\4:\5>"
)
_SKYDIO_NED = "drone-skydio:CameraOrientationNED"
XMP_SIGNATURE = b"http://ns.adobe.com/xap/1.0/\x00"
EXTENDED_XMP_SIGNATURE = b"http://ns.adobe.com/xmp/extension/\x00"


def parse_xmp_tags(text: str) -> dict[str, str]:
    """Every ``prefix:Name`` attribute or simple element of an XMP packet: ``{"prefix:name": value}``.

    Keys are lower-cased; values stripped; the first occurrence of a tag wins (a later extended packet never
    overrides the main one). Namespace declarations (``xmlns:``) are skipped.
    """
    tags: dict[str, str] = {}
    for m in _FIELD.finditer(text):
        prefix, name, value = (m.group(1), m.group(2), m.group(3)) if m.group(1) else m.group(4, 5, 6)
        if prefix.lower() == "xmlns":
            continue
        tags.setdefault(f"{prefix}:{name}".lower(), value.strip())
    start = text.find(_SKYDIO_NED)
    if start >= 0:  # Skydio repeats Yaw/Pitch/Roll per frame of reference; keep the NED camera block's
        block = text[start + len(_SKYDIO_NED) : start + len(_SKYDIO_NED) + 800]
        block = block.split(f"</{_SKYDIO_NED}>")[0].split("drone-skydio:CameraOrientation")[0]
        inner = parse_xmp_tags(block)
        for axis in ("yaw", "pitch", "roll"):
            if f"drone-skydio:{axis}" in inner:
                tags[f"skydio-camera-ned:{axis}"] = inner[f"drone-skydio:{axis}"]
    return tags


def _number(tags: dict[str, str], tag: str, warnings: list[str], name: str) -> float | None:
    raw = tags.get(tag.lower())
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        warnings.append(f"{name}: XMP {tag}={raw!r} is not a number; ignored")
        return None
    return value if math.isfinite(value) else None


def xmp_fields(tags: dict[str, str], name: str, warnings: list[str]) -> dict[str, Any]:
    """Telemetry fields (see :data:`XMP_TAGS`) found in parsed XMP tags; malformed values become warnings."""
    out: dict[str, Any] = {}
    for key, candidates in XMP_TAGS.items():
        for tag in candidates:
            value = _number(tags, tag, warnings, name)
            if value is not None:
                out[key] = value
                break
    for key, axis in (("gimbal_yaw", "yaw"), ("gimbal_pitch", "pitch"), ("gimbal_roll", "roll")):
        value = _number(tags, f"skydio-camera-ned:{axis}", warnings, name)
        if key not in out and value is not None:
            out[key] = value
    for key, tag in PIX4D_CAMERA_TAGS.items():
        value = _number(tags, tag, warnings, name)
        if key not in out and value is not None:
            out[key] = value - 90.0 if key == "gimbal_pitch" else value
    for key in ("gimbal_yaw", "flight_yaw"):
        if key in out:
            out[key] = wrap_degrees(out[key])
    make, model = tags.get("tiff:make"), tags.get("tiff:model")
    if make or model:
        out["camera"] = " ".join(v for v in (make, model) if v)
    return out


def wrap_degrees(angle: float) -> float:
    """``angle`` in degrees wrapped to ``[-180, 180)``."""
    return angle if -180.0 <= angle < 180.0 else (angle + 180.0) % 360.0 - 180.0


def xmp_packets_from_applist(applist: list[tuple[str, bytes]]) -> list[str]:
    """The XMP packets of a JPEG's APP segments (Pillow's ``Image.applist``): the main packet first, then
    extended XMP chunks joined (DJI thermal and some firmware write XMP in a second APP1 segment)."""
    main: list[str] = []
    extended: list[bytes] = []
    for marker, payload in applist:
        if marker != "APP1":
            continue
        if payload.startswith(XMP_SIGNATURE):
            main.append(payload[len(XMP_SIGNATURE) :].decode("utf-8", errors="replace"))
        elif payload.startswith(EXTENDED_XMP_SIGNATURE):
            extended.append(payload[len(EXTENDED_XMP_SIGNATURE) + 32 + 8 :])  # GUID, full length, offset
    if extended:
        main.append(b"".join(extended).decode("utf-8", errors="replace"))
    return main


def scan_xmp(data: bytes) -> list[str]:
    """XMP packets found by scanning raw bytes for ``<x:xmpmeta ... </x:xmpmeta>`` (any container)."""
    packets = []
    start = data.find(b"<x:xmpmeta")
    while start >= 0:
        end = data.find(b"</x:xmpmeta>", start)
        stop = len(data) if end < 0 else end + len(b"</x:xmpmeta>")
        packets.append(data[start:stop].decode("utf-8", errors="replace"))
        start = data.find(b"<x:xmpmeta", stop)
    if not packets and (b"drone-" in data or b"Camera:" in data):  # a bare packet without its wrapper
        packets.append(data.decode("utf-8", errors="replace"))
    return packets
