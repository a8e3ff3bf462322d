"""Video revisits: a slow pan over a dev photo, an object appearing in some frames, reported once."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tenken.core.detections import Detections
from tenken.core.errors import InputError
from tenken.core.images import load_image
from tenken.inspect.pipeline import Inspector
from tenken.inspect.video import (
    VideoFrame,
    find_track,
    inspect_video,
    link_findings,
    nearest_reference_frames,
    sample_frames,
)

FPS = 5
FRAME = (320, 240)
STEP = 40  # pan, pixels per frame
OBJECT = (520, 110, 556, 146)  # in the panorama: inside frames whose window starts at 240..520


def _write(path: Path, frames: list[np.ndarray]) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, FRAME)
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 100)
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _pan(world: np.ndarray) -> list[np.ndarray]:
    w, h = FRAME
    return [np.ascontiguousarray(world[:h, x : x + w]) for x in range(0, world.shape[1] - w + 1, STEP)]


@pytest.fixture(scope="module")
def videos(assets, tmp_path_factory):
    photo = load_image(assets / "pairs" / "DSC_0411.jpg")
    world = cv2.resize(photo, (900, round(900 * photo.shape[0] / photo.shape[1])), interpolation=cv2.INTER_AREA)
    world = np.ascontiguousarray(world[:240])
    today = world.copy()
    x1, y1, x2, y2 = OBJECT
    today[y1:y2, x1:x2] = (20, 40, 230)  # a blue crate left on site
    tmp = tmp_path_factory.mktemp("video")
    return _write(tmp / "today.avi", _pan(today)), _write(tmp / "before.avi", _pan(world))


def _srt(path: Path, n: int, metres_per_frame: float) -> Path:
    cues = []
    for i in range(n):
        t0, t1 = i / FPS, (i + 1) / FPS
        lat = 35.0 + i * metres_per_frame / 111_320
        stamp = lambda t: f"00:00:{int(t):02d},{round((t % 1) * 1000):03d}"  # noqa: E731
        cues.append(
            f'{i + 1}\n{stamp(t0)} --> {stamp(t1)}\n<font size="28">FrameCnt: {i + 1}\n'
            f"[latitude: {lat:.7f}] [longitude: 139.0000000] [rel_alt: 30.000 abs_alt: 80.000]</font>\n"
        )
    path.write_text("\n".join(cues))
    return path


def test_the_object_is_reported_once_at_the_frames_it_is_in(videos):
    today, before = videos
    result = inspect_video(Inspector(), today, before, every_s=1 / FPS, k=2)
    n = len(result.frames)
    assert n == (900 - FRAME[0]) // STEP + 1 and len(result.reports) == n
    visible = {i for i in range(n) if i * STEP <= OBJECT[0] and OBJECT[2] <= i * STEP + FRAME[0]}
    (finding,) = result.findings
    assert set(finding.frames) <= visible and len(finding.frames) >= len(visible) - 2
    assert finding.frame in finding.frames
    x0 = finding.frame * STEP  # the panorama's x offset of the best frame
    bx1, by1, bx2, by2 = finding.box
    assert abs(bx1 + x0 - OBJECT[0]) < 8 and abs(by1 - OBJECT[1]) < 8 and abs(bx2 + x0 - OBJECT[2]) < 8
    assert abs(by2 - OBJECT[3]) < 8
    assert result.to_dict()["findings"][0]["frames"] == finding.frames


def test_distance_sampling_reads_the_srt_beside_the_video(videos):
    today, _ = videos
    n = (900 - FRAME[0]) // STEP + 1
    srt = _srt(today.with_suffix(".SRT"), n, metres_per_frame=1.0)
    try:
        assert find_track(today) == srt
        frames = sample_frames(today, every_m=1.5)  # 1 m a frame: every second frame
        assert [f.index for f in frames] == list(range(0, n, 2))
        assert frames[1].telemetry is not None and frames[1].telemetry.latitude > frames[0].telemetry.latitude
    finally:
        srt.unlink()
    with pytest.raises(InputError, match="flight track"):
        sample_frames(today, every_m=2.0)


def test_nearest_reference_frames_by_position_then_by_time():
    from tenken.align.telemetry import Telemetry

    img = np.zeros((4, 4, 3), np.uint8)
    tel = lambda m: Telemetry(latitude=35.0 + m / 111_320, longitude=139.0, relative_altitude_m=30.0)  # noqa: E731
    refs = [VideoFrame(i, i / 5, img, tel(10.0 * i)) for i in range(5)]
    targets = [VideoFrame(0, 0.0, img, tel(31.0)), VideoFrame(1, 0.2, img, tel(2.0))]
    assert nearest_reference_frames(targets, refs, k=2) == [[3, 4], [0, 1]]  # 31 m: 30 m, then 40 m
    no_tel = [VideoFrame(i, i / 5, img) for i in range(5)]
    assert nearest_reference_frames([VideoFrame(0, 0.0, img), VideoFrame(9, 9.0, img)], no_tel, k=1) == [[0], [4]]


def test_chains_break_on_label_and_bad_input_is_named(tmp_path):
    rng = np.random.default_rng(0)
    img = np.full((240, 320, 3), 120, np.uint8)
    for _ in range(300):
        cv2.circle(
            img,
            tuple(int(v) for v in rng.integers(0, 320, 2)),
            int(rng.integers(3, 12)),
            tuple(int(v) for v in rng.integers(0, 255, 3)),
            -1,
        )
    frames = [VideoFrame(i, i / 5, img) for i in range(3)]
    box = np.array([[100.0, 100, 140, 140]])
    dets = [Detections(box, labels=["cone"]), Detections(box, labels=["cone"]), Detections(box, labels=["bag"])]
    found = link_findings(frames, dets)
    assert sorted((f.label, f.frames) for f in found) == [("bag", [2]), ("cone", [0, 1])]
    with pytest.raises(InputError, match="video not found"):
        sample_frames(tmp_path / "none.mp4")
    (tmp_path / "x.mp4").write_bytes(b"not a video")
    with pytest.raises(InputError, match="cannot open"):
        sample_frames(tmp_path / "x.mp4")
