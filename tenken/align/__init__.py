"""Pair alignment: telemetry, reference retrieval, feature matching, homography, warp and composite."""

from tenken.align.types import Alignment

__all__ = ["Alignment"]
