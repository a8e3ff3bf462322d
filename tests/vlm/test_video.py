"""Uniform frame sampling of a clip written by the test with OpenCV."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tenken.core.errors import InputError
from tenken.vlm.video import uniform_frames

FPS = 10.0


def write_clip(path: Path, n: int = 50, size: tuple[int, int] = (96, 64)) -> Path:
    """An MJPG AVI of ``n`` frames whose grey level encodes the frame number (``4 * i``)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, size)
    for i in range(n):
        writer.write(np.full((size[1], size[0], 3), 4 * i, np.uint8))
    writer.release()
    return path


def test_frames_are_spread_evenly_first_and_last_included(tmp_path):
    frames, times = uniform_frames(write_clip(tmp_path / "c.avi"), max_frames=8)
    assert len(frames) == 8 and frames[0].shape == (64, 96, 3) and frames[0].dtype == np.uint8
    expected = [round(i * 49 / 7) for i in range(8)]
    np.testing.assert_allclose(times, [i / FPS for i in expected])
    levels = [float(f.mean()) / 4 for f in frames]  # the grey level says which frame was decoded
    np.testing.assert_allclose(levels, expected, atol=1.0)


def test_short_clip_gives_every_frame_and_large_frames_are_downscaled(tmp_path):
    frames, _ = uniform_frames(write_clip(tmp_path / "c.avi", n=5, size=(640, 480)), max_pixels=100 * 100)
    assert len(frames) == 5 and frames[0].shape[0] * frames[0].shape[1] <= 100 * 100
    assert frames[0].shape[1] / frames[0].shape[0] == pytest.approx(640 / 480, rel=0.05)


def test_unreadable_video_names_the_file(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(InputError, match=r"broken\.mp4"):
        uniform_frames(bad)
    with pytest.raises(InputError, match=r"missing\.mp4: video not found"):
        uniform_frames(tmp_path / "missing.mp4")
