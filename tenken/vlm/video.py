"""Video files for VLMs: open a clip with OpenCV and sample frames uniformly (what ``tenken ask --video`` sends).

Frames are ``(H, W, 3)`` uint8 RGB arrays, downscaled (aspect kept) to at most ``max_pixels`` each, since a
model sees up to 32 of them at once; times are seconds from the start of the clip.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np

from tenken.core.errors import InputError

MAX_FRAMES = 32
"""Default number of frames sampled from a clip (as PLM does)."""
FRAME_PIXELS = 448 * 448
"""Default pixel budget of one sampled frame."""


def open_video(video: str | os.PathLike) -> tuple[cv2.VideoCapture, float, int]:
    """``(capture, frames per second, frame count)`` of ``video`` (count 0 when the container does not say).

    Raises:
        InputError: the file is missing, OpenCV cannot decode it, or it reports no frame rate (the message
            names the file).
    """
    p = Path(video)
    if not p.is_file():
        raise InputError(f"{p}: video not found")
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        raise InputError(f"{p}: cannot open as a video (OpenCV could not decode it)")
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 0.0
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    if fps <= 0 or not math.isfinite(fps):
        cap.release()
        raise InputError(f"{p}: the video reports no frame rate")
    return cap, fps, n


def uniform_frames(
    video: str | os.PathLike, max_frames: int = MAX_FRAMES, max_pixels: int | None = FRAME_PIXELS
) -> tuple[list[np.ndarray], list[float]]:
    """Up to ``max_frames`` frames spread evenly over ``video`` (first and last included), and their times.

    A clip shorter than ``max_frames`` frames gives every frame. Frames are read sequentially (``grab`` skips
    without decoding), so containers with unreliable seeking still work.

    Raises:
        InputError: ``max_frames < 1``, the video cannot be opened, or no frame can be decoded.
    """
    if max_frames < 1:
        raise InputError(f"max_frames must be at least 1, got {max_frames}")
    cap, fps, n = open_video(video)
    try:
        if n <= 0:  # the container does not say: count by reading
            while cap.grab():
                n += 1
            cap.release()
            cap, fps, _ = open_video(video)
        k = min(max_frames, n)
        wanted = sorted({round(i * (n - 1) / (k - 1)) for i in range(k)}) if k > 1 else [0]
        frames: list[np.ndarray] = []
        times: list[float] = []
        keep, i = set(wanted), 0
        while i <= wanted[-1] and cap.grab():
            if i in keep:
                ok, bgr = cap.retrieve()
                if ok:
                    frames.append(_fit(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), max_pixels))
                    times.append(i / fps)
            i += 1
    finally:
        cap.release()
    if not frames:
        raise InputError(f"{video}: no frame could be decoded")
    return frames, times


def _fit(rgb: np.ndarray, max_pixels: int | None) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max_pixels is None or w * h <= max_pixels:
        return rgb
    s = math.sqrt(max_pixels / (w * h))
    return cv2.resize(rgb, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)
