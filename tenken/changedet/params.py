"""The parameters of the classical change detector, with documented defaults, and their CLI parsing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from tenken.core.errors import InputError


@dataclass(frozen=True)
class ChangeParams:
    """How the classical change detector looks at an aligned pair.

    Sizes are in pixels of the *working* image (the pair shrunk so its longest side is at most
    ``working_side``) unless the name ends in ``_px`` (pixels of the original target).

    Attributes:
        working_side: longest side, pixels, the pair is compared at (larger images are shrunk with area
            averaging). Larger finds smaller objects and costs time.
        pre_blur: Gaussian sigma, working pixels, applied to both images before comparing (noise, JPEG blocks).
        shift_tolerance: radius, working pixels, of the neighbourhood of the other image searched for the best
            match of each pixel; residual misalignment or parallax up to about this much is ignored.
        local_light: also remove slowly varying light differences (vignetting, soft light gradients) after the
            global tone match (lightness relit multiplicatively, colour by an offset).
        robust_tones: estimate the global tone curve only on pixels lit like most of the pair (a large cast
            shadow, wet patch or clipped sky would otherwise bend it and tint the rest).
        equalise_blur: blur the sharper image of the pair down to the blurrier one's sharpness before
            comparing (defocus, motion blur), so edges of unchanged objects do not count as changes.
        blur_tolerance: sharpness ratios up to this count as equally sharp (no blur applied).
        light_invariant: pixels whose difference a change of light explains (same chromaticity, lightness in
            a locally constant ratio: cast shadows, exposure, wet surfaces) are compared with the reference
            relit by that ratio, so only what light does not explain is evidence.
        light_radius: side minus one, working pixels, of the windows the lightness ratio must be constant over.
        light_ratio_std: largest standard deviation of the log lightness ratio ``(L_t + 16) / (L_r + 16)``
            over that window for the ratio to count as constant.
        light_chroma: largest difference of rg chromaticity ``(R, G) / (R + G + B)`` for the same surface under
            other light.
        relight_regions: relight each large region lit differently from the rest of the pair (a cast shadow
            that moved, a wet patch), found by its grey-level ratio and explained by light over most of it, by
            one gain per channel, clipping at 255 (:func:`tenken.changedet.normalize.relight_regions`).
        relight_min_fraction: smallest such region, as a fraction of the valid area.
        relight_penumbra: Gaussian sigma, working pixels, the regions' gain fades over at their edges.
        clip_aware: pixels clipped (or crushed) in one image where the other is bright (or dark) too carry no
            evidence: the detail there was lost to the exposure, not changed.
        chroma_weight: weight of the Lab a/b (colour) difference relative to lightness L.
        structure_weight: weight of the structure cue (edges in one image with no edge near the same place
            in the other) relative to the colour cue; 0 turns it off.
        sensitivity: seed threshold as a multiple of the noise level (the ``noise_quantile`` percentile of the
            difference over the valid area); larger gives fewer, surer detections.
        noise_quantile: percentile (0-100) of the difference map taken as its noise level; changes covering
            less than ``100 - noise_quantile`` percent of the valid area do not raise it.
        noise_cell: side, working pixels, of the cells the noise level is also measured in (the larger of the
            global and the local level counts, so busy texture or a noisy patch needs a larger change); 0 off.
        grow: region-growing threshold as a fraction of the seed threshold (hysteresis), in ``(0, 1]``.
        min_delta_e: absolute floor of the seed threshold, Lab units, so a clean, noise-free pair does not
            make tiny differences significant.
        min_size_px: smallest box side kept, pixels of the original target.
        min_area: smallest changed region kept, working pixels.
        min_seeds: fewest pixels above the seed threshold a region needs (a lone noisy pixel grown into a
            region is not a change).
        max_area_fraction: regions larger than this fraction of the valid area are a global change (light,
            season, a failed alignment) and dropped.
        merge_gap: changed regions closer than this many working pixels become one box.
        border: working pixels next to the edge of the valid mask that are ignored (warp edges).
        min_score: detections scoring below this (scores are in ``[0, 1]``) are dropped.
    """

    working_side: int = 1536
    pre_blur: float = 1.0
    shift_tolerance: int = 2
    local_light: bool = True
    robust_tones: bool = True
    equalise_blur: bool = True
    blur_tolerance: float = 1.2
    light_invariant: bool = True
    light_radius: int = 3
    light_ratio_std: float = 0.07
    light_chroma: float = 0.025
    relight_regions: bool = True
    relight_min_fraction: float = 0.01
    relight_penumbra: float = 1.5
    clip_aware: bool = True
    chroma_weight: float = 1.5
    structure_weight: float = 0.5
    sensitivity: float = 5.0
    noise_quantile: float = 90.0
    noise_cell: int = 128
    grow: float = 0.35
    min_delta_e: float = 18.0
    min_size_px: float = 4.0
    min_area: int = 12
    min_seeds: int = 4
    max_area_fraction: float = 0.35
    merge_gap: int = 3
    border: int = 6
    min_score: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            kind = type(f.default)
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
            elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise InputError(f"change-detector parameter {f.name}={value!r} must be a {kind.__name__}")
        checks = {
            "working_side": self.working_side >= 64,
            "pre_blur": 0 <= self.pre_blur <= 10,
            "shift_tolerance": 0 <= self.shift_tolerance <= 16,
            "blur_tolerance": self.blur_tolerance >= 1,
            "light_radius": 1 <= self.light_radius <= 16,
            "light_ratio_std": self.light_ratio_std >= 0,
            "light_chroma": self.light_chroma >= 0,
            "relight_min_fraction": 0 < self.relight_min_fraction <= 1,
            "relight_penumbra": 0 <= self.relight_penumbra <= 10,
            "chroma_weight": self.chroma_weight >= 0,
            "structure_weight": self.structure_weight >= 0,
            "sensitivity": self.sensitivity > 0,
            "noise_quantile": 50 <= self.noise_quantile < 100,
            "noise_cell": self.noise_cell >= 0,
            "grow": 0 < self.grow <= 1,
            "min_delta_e": self.min_delta_e >= 0,
            "min_size_px": self.min_size_px >= 0,
            "min_area": self.min_area >= 1,
            "min_seeds": self.min_seeds >= 1,
            "max_area_fraction": 0 < self.max_area_fraction <= 1,
            "merge_gap": self.merge_gap >= 0,
            "border": self.border >= 0,
            "min_score": 0 <= self.min_score <= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            listed = ", ".join(f"{k}={getattr(self, k)!r}" for k in bad)
            raise InputError(f"invalid change-detector parameter(s): {listed} (see ChangeParams for the ranges)")

    def to_dict(self) -> dict[str, Any]:
        """Every parameter as a plain dict (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ChangeParams:
        """Defaults with ``values`` applied; strings (from a CLI or a config file) are converted to each
        field's type. Raises :class:`InputError` naming an unknown key (and listing the valid ones) or a value
        that does not convert or is out of range."""
        kinds = {f.name: type(f.default) for f in fields(cls)}
        out: dict[str, Any] = {}
        for key, value in values.items():
            if key not in kinds:
                raise InputError(f"unknown change-detector parameter {key!r}; valid: {', '.join(kinds)}")
            out[key] = _convert(key, value, kinds[key])
        return cls(**out)

    @classmethod
    def from_assignments(cls, items: Iterable[str] | None) -> ChangeParams:
        """Parse CLI ``--param key=value`` items, e.g. ``["sensitivity=6", "shift_tolerance=3"]``.

        Raises:
            InputError: an item without ``=``, an unknown key, or a bad value (the message names it).
        """
        values: dict[str, str] = {}
        for item in items or []:
            key, sep, value = str(item).partition("=")
            if not sep or not key.strip():
                raise InputError(f"--param expects KEY=VALUE, got {item!r}")
            values[key.strip()] = value.strip()
        return cls.from_mapping(values)


def _convert(key: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise InputError(f"change-detector parameter {key}={value!r} is not a boolean (true/false)")
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise InputError(f"change-detector parameter {key}={value!r} is not a number") from None
    if kind is int:
        if not number.is_integer():
            raise InputError(f"change-detector parameter {key}={value!r} must be a whole number")
        return int(number)
    if number != number or number in (float("inf"), float("-inf")):
        raise InputError(f"change-detector parameter {key}={value!r} must be finite")
    return number
