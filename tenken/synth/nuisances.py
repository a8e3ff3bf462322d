"""Revisit nuisances: what makes a re-shot photo of an unchanged scene look different, as seeded perturbations.

A drone or fixed camera that comes back to the same spot days later sees the same plant under other light and
through other optics. Each nuisance below is a function ``(image, rng) -> (image, params)`` over ``(H, W, 3)``
uint8 RGB that draws its severity from a range matching real revisits and returns the drawn values (JSON-ready,
so a benchmark can report them). They compose (:func:`apply_nuisances`), and :func:`perturb_pair` applies a
list of them to the target or to the reference of a :class:`tenken.synth.pairs.SyntheticPair`. Nothing here
moves a pixel: geometry and ground-truth boxes are unchanged (motion blur smears by at most a few pixels).

Severities and where they come from:

- ``exposure``: gain ``2**ev``, ``ev`` in ±1.5 stops, clipped to 8 bits (highlights clip when brighter).
  Auto-exposure of drone cameras metering a frame with or without sky differs by 1–2 EV between revisits;
  DJI cameras expose ±3 EV compensation (DJI Mavic 3 / Zenmuse H20 user manuals).
- ``tone``: another camera tone curve: gamma 0.65–1.5, black point 0–10 % (shadows crushed to 0) and white
  point 85–100 % (highlights clipped to 255). The sRGB / Rec.709 curves differ from vendor "picture styles"
  by this much, and a 2-stop exposure difference moves the same surface across the toe or the shoulder.
- ``white_balance``: a colour-temperature change between about 4500 K and 7500 K (sun, shade, overcast; CIE
  daylight series D50–D75) as red/blue gains of 0.75–1.25 around a neutral green, the range auto white
  balance wanders over outdoors.
- ``shadow``: one to three hard-edged cast shadows (polygons, penumbra 0.5–3 px; a sun of 0.5 deg seen from
  a few metres) covering 10–45 % of the frame, darkening to 0.3–0.65 of the sunlit value and slightly bluer
  (lit by skylight only: diffuse skylight is roughly 10–30 % of clear-sky global irradiance, Erbs, Klein and
  Duffie 1982, "Estimation of the diffuse radiation fraction for hourly, daily and monthly-average global
  radiation", Solar Energy 28(4); a linear ratio of 0.07–0.39 is 0.3–0.65 after the sRGB ~2.2 encoding, so
  the drawn range spans clear-sky shade to light haze). Penumbra: the sun's 0.53 deg disc blurs a shadow
  edge over ~0.9 % of the occluder's distance, 1–3 cm for a rail or pipe 1–3 m above the surface, i.e.
  1–3 px at the ~1 cm/px of close drone inspection. A shadow in one image and not the other is a shadow
  that moved with the sun.
- ``overcast``: sun vs overcast: contrast compressed towards the mean by 0.55–0.85 (no direct light, no
  shading) with a slight blue cast (overcast skies ~6500–7500 K).
- ``defocus``: a disc (pill-box) point-spread function of radius 1.5–5 px, the blur of a missed autofocus
  on 12–20 MP frames seen at the 1000–2400 px sizes of the benchmark.
- ``motion_blur``: a line kernel 3–15 px long at a random angle: a 1/100 s exposure while a drone moves at
  1–3 m/s at ~1 cm/px ground sampling.
- ``noise``: sensor noise with signal-dependent (shot) and constant (read) parts: sigma at mid grey 2–7 grey
  levels, the ISO 400–3200 range of 1-inch drone sensors (Foi et al. 2008, "Practical Poissonian-Gaussian
  noise modeling").
- ``jpeg``: re-encoding at quality 35–85 (frames grabbed from drone video, messaging apps).
- ``haze``: atmospheric scattering ``I = J t + A (1 - t)`` (Koschmieder) with transmission t 0.55–0.9 and
  airlight A 0.75–0.95 (slightly blue), constant or rising towards the top of the frame.
- ``vignetting``: radial fall-off ``1 - k r**2 - k2 r**4`` reaching 0.5–0.8 of the centre at the corners
  (0.3–1 EV, uncorrected wide-angle drone lenses).
- ``wet``: wet surfaces after rain: a few large soft-edged patches covering 15–50 % of the frame darkened to
  0.55–0.85 and slightly more saturated (wet soil, concrete and asphalt lose 10–45 % of their reflectance:
  Lekner and Dorf 1988, "Why some things are darker when wet").

    >>> rng = np.random.default_rng(0)
    >>> img, params = apply_nuisances(image, ["exposure", "defocus"], rng)
    >>> pair2 = perturb_pair(pair, ["shadow"], rng)        # on target or reference, recorded in pair2.nuisances
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from tenken.synth.pairs import SyntheticPair

Nuisance = Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, dict[str, Any]]]


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _float(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) * (1.0 / 255.0)


def exposure(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Exposure gain ``2**ev`` in linear light (sRGB decoded, scaled, re-encoded), ``ev`` in ±1.5, clipped."""
    ev = float(rng.uniform(-1.5, 1.5))
    lin = _float(image) ** 2.2
    return _to_u8(np.clip(lin * 2.0**ev, 0, 1) ** (1 / 2.2)), {"ev": ev}


def tone(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Another tone curve: black point (crushed shadows), white point (clipped highlights), gamma."""
    black = float(rng.uniform(0.0, 0.10))
    white = float(rng.uniform(0.85, 1.0))
    gamma = float(np.exp(rng.uniform(np.log(0.65), np.log(1.5))))
    x = np.clip((_float(image) - black) / (white - black), 0, 1) ** gamma
    return _to_u8(x), {"black": black, "white": white, "gamma": gamma}


def white_balance(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Red and blue gains of 0.75–1.25 in opposite directions (a colour-temperature change), green fixed."""
    t = float(rng.uniform(-1, 1))
    red, blue = 1 + 0.25 * t, 1 - 0.25 * t * float(rng.uniform(0.7, 1.0))
    out = _float(image) * np.array([red, 1.0, blue], np.float32)
    return _to_u8(np.clip(out, 0, 1)), {"red_gain": red, "blue_gain": blue}


def _random_polygon(w: int, h: int, rng: np.random.Generator, area_fraction: float) -> np.ndarray:
    """A convex-ish polygon of about ``area_fraction`` of the frame, often entering from an edge."""
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    r = np.sqrt(area_fraction * w * h / np.pi)
    n = int(rng.integers(4, 8))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = r * rng.uniform(0.6, 1.4, n)
    aspect = rng.uniform(0.4, 2.5)
    pts = np.stack([cx + radii * np.cos(angles) * np.sqrt(aspect), cy + radii * np.sin(angles) / np.sqrt(aspect)], 1)
    return np.round(pts).astype(np.int32)


def shadow(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """1–3 hard-edged cast shadows (10–45 % of the frame in all), 0.3–0.65 of the lit value, bluish."""
    h, w = image.shape[:2]
    n = int(rng.integers(1, 4))
    total = float(rng.uniform(0.10, 0.45))
    mask = np.zeros((h, w), np.uint8)
    for _ in range(n):
        cv2.fillPoly(mask, [_random_polygon(w, h, rng, total / n)], 255)
    penumbra = float(rng.uniform(0.5, 3.0))
    m = cv2.GaussianBlur(_float(mask), (0, 0), penumbra)[..., None]
    level = float(rng.uniform(0.3, 0.65))
    tint = np.array([0.92, 0.97, 1.08], np.float32)  # skylight only: a little bluer than sunlight
    lin = _float(image) ** 2.2
    factor = 1 - m * (1 - level**2.2 * tint)  # level is the JPEG-value ratio; light acts in linear units
    out = np.clip(lin * factor, 0, 1) ** (1 / 2.2)
    return _to_u8(out), {"n": n, "covered": float((mask > 127).mean()), "level": level, "penumbra_px": penumbra}


def overcast(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Flat light: contrast compressed 0.55–0.85 towards the mean, slight blue cast."""
    c = float(rng.uniform(0.55, 0.85))
    x = _float(image)
    mean = x.reshape(-1, 3).mean(axis=0)
    out = (mean + c * (x - mean)) * np.array([0.97, 1.0, 1.04], np.float32)
    return _to_u8(np.clip(out, 0, 1)), {"contrast": c}


def defocus(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Out of focus: a disc point-spread function of radius 1.5–5 px."""
    r = float(rng.uniform(1.5, 5.0))
    k = int(np.ceil(r))
    yy, xx = np.mgrid[-k : k + 1, -k : k + 1]
    # anti-aliased disc: coverage falls off over the last pixel of the radius
    kernel = np.clip(r + 0.5 - np.hypot(xx, yy), 0, 1).astype(np.float32)
    kernel /= kernel.sum()
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT101), {"radius_px": r}


def motion_blur(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Camera motion during the exposure: a line kernel 3–15 px long at a random angle."""
    length = float(rng.uniform(3.0, 15.0))
    angle = float(rng.uniform(0, 180))
    k = int(np.ceil(length / 2)) + 1
    kernel = np.zeros((2 * k + 1, 2 * k + 1), np.float32)
    dx, dy = np.cos(np.radians(angle)) * length / 2, np.sin(np.radians(angle)) * length / 2
    cv2.line(kernel, (round(k - dx), round(k - dy)), (round(k + dx), round(k + dy)), 1.0, 1, cv2.LINE_AA)
    kernel /= kernel.sum()
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT101), {"length_px": length, "angle_deg": angle}


def noise(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Poissonian-Gaussian sensor noise, sigma 2–7 grey levels at mid grey (a third of it read noise)."""
    sigma_mid = float(rng.uniform(2.0, 7.0)) / 255.0
    read = sigma_mid / 3
    shot = (sigma_mid**2 - read**2) / 0.5  # variance = shot * x + read**2, matched at x = 0.5
    x = _float(image)
    std = np.sqrt(shot * x + read**2)
    out = x + std * rng.standard_normal(x.shape, dtype=np.float32)
    return _to_u8(np.clip(out, 0, 1)), {"sigma_mid_grey": sigma_mid * 255}


def jpeg(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """A JPEG round trip at quality 35–85."""
    q = int(rng.integers(35, 86))
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=q)
    return np.array(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")), {"quality": q}


def haze(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Koschmieder haze ``J t + A (1 - t)``, t 0.55–0.9, airlight 0.75–0.95, half the time denser at the top."""
    h = image.shape[0]
    t = float(rng.uniform(0.55, 0.9))
    a = float(rng.uniform(0.75, 0.95))
    graded = bool(rng.random() < 0.5)
    trans = np.full((h, 1, 1), t, np.float32)
    if graded:
        trans = (t + (1 - t) * 0.6 * np.linspace(0, 1, h, dtype=np.float32)).reshape(h, 1, 1)
    air = a * np.array([0.97, 1.0, 1.03], np.float32)
    out = _float(image) * trans + air * (1 - trans)
    return _to_u8(np.clip(out, 0, 1)), {"transmission": t, "airlight": a, "graded": graded}


def vignetting(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Radial fall-off to 0.5–0.8 of the centre at the corners (in linear light)."""
    h, w = image.shape[:2]
    corner = float(rng.uniform(0.5, 0.8))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
    fall = 1 - (1 - corner) * (0.6 * r2 + 0.4 * r2 * r2)
    out = np.clip(_float(image) ** 2.2 * fall[..., None], 0, 1) ** (1 / 2.2)
    return _to_u8(out), {"corner": corner}


def wet(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Wet surfaces: soft patches (15–50 % of the frame) darkened to 0.55–0.85 and a little more saturated."""
    h, w = image.shape[:2]
    cover = float(rng.uniform(0.15, 0.5))
    mask = np.zeros((h, w), np.uint8)
    n = int(rng.integers(2, 5))
    for _ in range(n):
        cv2.fillPoly(mask, [_random_polygon(w, h, rng, cover / n)], 255)
    m = cv2.GaussianBlur(_float(mask), (0, 0), 0.02 * max(h, w))[..., None]
    level = float(rng.uniform(0.55, 0.85))
    x = _float(image)
    grey = x.mean(axis=2, keepdims=True)
    wet_x = (grey + 1.2 * (x - grey)) * level
    out = x * (1 - m) + wet_x * m
    return _to_u8(np.clip(out, 0, 1)), {"covered": float((mask > 127).mean()), "level": level}


NUISANCES: dict[str, Nuisance] = {
    "exposure": exposure,
    "tone": tone,
    "white_balance": white_balance,
    "shadow": shadow,
    "overcast": overcast,
    "defocus": defocus,
    "motion_blur": motion_blur,
    "noise": noise,
    "jpeg": jpeg,
    "haze": haze,
    "vignetting": vignetting,
    "wet": wet,
}
"""Every nuisance by name, in the order a camera would add them (scene light first, sensor and codec last)."""


def apply_nuisances(
    image: np.ndarray, names: Sequence[str], rng: np.random.Generator
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Apply the named nuisances to ``image`` (``(H, W, 3)`` uint8 RGB) in :data:`NUISANCES` order.

    Returns:
        The perturbed image (a new array, same shape and dtype) and, per nuisance applied, ``{"name": ...,
        **drawn parameters}``.

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    unknown = [n for n in names if n not in NUISANCES]
    if unknown:
        raise ValueError(f"unknown nuisance(s) {unknown}; valid: {', '.join(NUISANCES)}")
    out, record = image, []
    for name in [n for n in NUISANCES if n in names]:
        out, params = NUISANCES[name](out, rng)
        record.append({"name": name, **params})
    return out, record


def perturb_pair(
    pair: SyntheticPair, names: Sequence[str], rng: np.random.Generator, on: str | None = None
) -> SyntheticPair:
    """A copy of ``pair`` with the named nuisances applied to its target or its reference.

    Args:
        pair: the pair to perturb (unchanged).
        names: nuisances from :data:`NUISANCES` (composed in that order).
        on: ``"target"``, ``"reference"`` or None (drawn: the target two times in three, since the reference
            is usually the better-kept, curated shot).

    Returns:
        The new pair; boxes, homography and ignore regions are the same, ``nuisances`` lists what was applied
        (``{"name", "on", **parameters}`` each).
    """
    side = on or ("target" if rng.random() < 2 / 3 else "reference")
    if side not in ("target", "reference"):
        raise ValueError(f"on must be 'target' or 'reference', got {on!r}")
    image, record = apply_nuisances(getattr(pair, side), names, rng)
    applied = [{"name": r["name"], "on": side, **{k: v for k, v in r.items() if k != "name"}} for r in record]
    return replace(pair, **{side: image}, nuisances=[*pair.nuisances, *applied])
