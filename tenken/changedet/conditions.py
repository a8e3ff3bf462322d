"""What an aligned pair's two shots differ by besides content: the per-pair conditions the report shows.

An operator reading a report with few or many findings needs to know whether the two photos were comparable:
one blurred, exposed differently, with clipped highlights or crushed shadows, or under other light over much
of the frame. :class:`PairConditions` holds those figures for one pair (measured by the detector on the
working images, see :func:`tenken.changedet.detect.analyse_pair`) and turns the notable ones into warnings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

CLIP_HIGH = 250
"""8-bit level at or above which a pixel whose three channels all reach it counts as clipped."""
CLIP_LOW = 5
"""8-bit level at or below which a pixel whose three channels all reach it counts as crushed."""


@dataclass(frozen=True)
class PairConditions:
    """Conditions of one aligned pair (target vs warped reference), JSON-ready through :meth:`to_dict`.

    Attributes:
        blur_ratio: edge gradient of the sharper image over the blurrier one's (1 = equally sharp).
        blurrier: ``"target"``, ``"reference"`` or ``"neither"``.
        blur_sigma_px: Gaussian sigma, target pixels, the sharper image was blurred by before comparing (0: none).
        exposure_shift_ev: log2 of the target's mean linear luminance over the reference's, valid area (stops).
        clipped_fraction: share of the valid area clipped (all channels >= 250) in either image.
        crushed_fraction: share of the valid area crushed to black (all channels <= 5) in either image.
        light_change_fraction: share of the valid area that differs, but by light only (same chromaticity and
            texture: shadows, exposure, haze, wet surfaces); such pixels are no evidence of a change.
    """

    blur_ratio: float = 1.0
    blurrier: str = "neither"
    blur_sigma_px: float = 0.0
    exposure_shift_ev: float = 0.0
    clipped_fraction: float = 0.0
    crushed_fraction: float = 0.0
    light_change_fraction: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Every figure, floats rounded to 4 decimals."""
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}

    def warnings(self) -> list[str]:
        """Plain-language notes for the conditions that make the comparison less sure (empty when none)."""
        out = []
        if self.blur_ratio >= 1.5:
            out.append(
                f"the {self.blurrier} is blurrier (edge sharpness ratio {self.blur_ratio:.1f}); the other image was "
                f"blurred to match, so small changes may be missed"
            )
        if abs(self.exposure_shift_ev) >= 1.0:
            out.append(f"exposure differs by {self.exposure_shift_ev:+.1f} EV (target vs reference)")
        if self.clipped_fraction + self.crushed_fraction >= 0.05:
            out.append(
                f"{100 * self.clipped_fraction:.0f} % clipped highlights and {100 * self.crushed_fraction:.0f} % "
                f"crushed shadows: no change can be seen there"
            )
        if self.light_change_fraction >= 0.1:
            out.append(f"light differs over {100 * self.light_change_fraction:.0f} % of the view (shadows, sun, haze)")
        return out


def exposure_shift(target: np.ndarray, reference: np.ndarray, valid: np.ndarray) -> float:
    """log2 of mean linear luminance, target over reference, on ``valid`` (uint8 RGB ``(h, w, 3)`` each; stops).

    Luma is linearised with a 2.2 gamma, on every other row and column.
    """
    lut = ((np.arange(256) / 255.0) ** 2.2).astype(np.float32)
    v = valid[::2, ::2]
    if not v.any():
        return 0.0
    mt = float(lut[cv2.cvtColor(np.ascontiguousarray(target[::2, ::2]), cv2.COLOR_RGB2GRAY)[v]].mean())
    mr = float(lut[cv2.cvtColor(np.ascontiguousarray(reference[::2, ::2]), cv2.COLOR_RGB2GRAY)[v]].mean())
    return float(np.log2(max(mt, 1e-6) / max(mr, 1e-6)))


def clip_masks(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(clipped, crushed)`` ``(h, w)`` bool masks of one uint8 RGB image: all channels >= :data:`CLIP_HIGH`,
    all channels <= :data:`CLIP_LOW`."""
    r, g, b = cv2.split(image)
    lo = cv2.min(cv2.min(r, g), b)
    hi = cv2.max(cv2.max(r, g), b)
    return lo >= CLIP_HIGH, hi <= CLIP_LOW
