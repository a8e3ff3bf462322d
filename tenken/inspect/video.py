"""Video revisits: inspect today's flight video against an earlier one, frame pair by frame pair.

1. **Sampling** (:func:`sample_frames`): frames every ``every_s`` seconds, or every ``every_m`` metres flown
   when a flight track is given (a DJI ``.SRT`` beside the video is found by :func:`find_track`; AirData and
   Litchi CSV logs are read by :func:`tenken.align.flightlog.read_flight_track` too).
2. **Reference frames** (:func:`nearest_reference_frames`): for each target frame the ``k`` reference frames
   nearest in space (both videos with telemetry: 3-D distance in an Earth-centred frame) or, without
   telemetry, nearest in the fraction of the flight elapsed (a repeated route). The :class:`Inspector` then
   aligns the target frame to each candidate and keeps the best match, as for photos.
3. **Findings across frames** (:func:`link_findings`): consecutive target frames are aligned to each other
   (the alignment chain); a box mapped through that homography onto the next frame that overlaps a box of the
   same label there (IoU >= ``link_iou``) is the same object. Each chain of linked boxes becomes one
   :class:`VideoFinding` with its best frame (highest score; unknown scores rank by box area).

Frames are ``(H, W, 3)`` uint8 RGB; boxes are ``xyxy`` pixels of the frame they belong to.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tenken.align.flightlog import FlightTrack, read_flight_track
from tenken.align.homography import project
from tenken.align.pair import align_pair
from tenken.align.retrieve import to_ecef
from tenken.align.telemetry import Telemetry
from tenken.core.boxes import box_iou
from tenken.core.detections import Detections
from tenken.core.errors import InputError
from tenken.inspect.pipeline import Inspector
from tenken.inspect.report import Report
from tenken.vlm.video import open_video


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame.

    Attributes:
        index: frame number in the video (0-based).
        time_s: presentation time, seconds from the start (``index / fps``).
        image: ``(H, W, 3)`` uint8 RGB.
        telemetry: the flight track's telemetry at ``time_s`` (None without a track).
    """

    index: int
    time_s: float
    image: np.ndarray
    telemetry: Telemetry | None = None


@dataclass
class VideoFinding:
    """One object found in one or more consecutive sampled frames.

    Attributes:
        label: the most frequent label of its boxes (ties: the best frame's).
        frame: frame number of the best frame; ``box``, ``score``, ``source`` are that frame's.
        time_s: time of the best frame, seconds.
        box: ``xyxy`` pixels of the best frame.
        frames: every frame number the object was reported in, ascending.
    """

    label: str
    frame: int
    time_s: float
    box: list[float]
    score: float | None
    source: str
    frames: list[int]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "label": self.label,
            "frame": self.frame,
            "time_s": self.time_s,
            "box": self.box,
            "score": self.score,
            "source": self.source,
            "frames": self.frames,
        }


@dataclass
class VideoInspection:
    """A video revisit: one report per sampled target frame, and the findings merged across frames."""

    target: str
    reference: str
    frames: list[int]
    reports: list[Report]
    findings: list[VideoFinding]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``{"target", "reference", "frames", "findings", "reports", "warnings"}``."""
        return {
            "target": self.target,
            "reference": self.reference,
            "frames": self.frames,
            "findings": [f.to_dict() for f in self.findings],
            "reports": [r.to_dict() for r in self.reports],
            "warnings": self.warnings,
        }


def find_track(video: str | os.PathLike) -> Path | None:
    """The DJI ``.SRT`` beside ``video`` (same name, any case of the suffix), or None."""
    p = Path(video)
    for suffix in (".SRT", ".srt", ".Srt"):
        cand = p.with_suffix(suffix)
        if cand.is_file():
            return cand
    return None


def _positions(track: FlightTrack) -> tuple[np.ndarray, np.ndarray]:
    """Track times ``(N,)`` seconds and ECEF positions ``(N, 3)`` metres (altitude: relative when known)."""
    times = np.array([pt.time_s for pt in track.points], dtype=np.float64)
    tel = [pt.telemetry for pt in track.points]
    alt = [t.relative_altitude_m if t.relative_altitude_m is not None else (t.altitude_m or 0.0) for t in tel]
    xyz = to_ecef(np.array([t.latitude for t in tel]), np.array([t.longitude for t in tel]), np.array(alt))
    return times, xyz


def _distance_picks(track: FlightTrack, fps: float, n_frames: int, every_m: float) -> list[int]:
    """Frame numbers where the aircraft has flown ``every_m`` metres since the last pick (the first track point
    is always picked)."""
    times, xyz = _positions(track)
    picks: list[int] = []
    last: np.ndarray | None = None
    for t, p in zip(times, xyz, strict=True):
        if last is None or float(np.linalg.norm(p - last)) >= every_m:
            frame = round(t * fps)
            if n_frames <= 0 or frame < n_frames:
                picks.append(frame)
                last = p
    return sorted(set(picks))


def sample_frames(
    video: str | os.PathLike,
    every_s: float | None = 1.0,
    every_m: float | None = None,
    track: FlightTrack | str | os.PathLike | None = None,
    max_frames: int = 500,
    warnings_out: list[str] | None = None,
) -> list[VideoFrame]:
    """Decode the frames to inspect.

    Args:
        video: a video file OpenCV can decode (MP4/MOV H.264 from drones, AVI...).
        every_s: uniform sampling: one frame every this many seconds (first frame included).
        every_m: sampling by distance flown (metres) — needs a track; overrides ``every_s``.
        track: the flight's telemetry (a :class:`FlightTrack`, or a DJI ``.SRT``/AirData/Litchi path); when
            None, a ``.SRT`` beside the video is used if present.
        max_frames: at most this many frames are returned (evenly thinned otherwise, with a warning).

    Raises:
        InputError: the video cannot be opened, ``every_m`` without a track, or non-positive intervals.
    """
    notes = warnings_out if warnings_out is not None else []
    if track is None:
        track = find_track(video)
    if track is not None and not isinstance(track, FlightTrack):
        track = read_flight_track(track, notes)
    if every_m is not None:
        if every_m <= 0:
            raise InputError(f"every_m must be positive, got {every_m}")
        if track is None or not track.points:
            raise InputError(f"{video}: sampling by distance needs a flight track (a .SRT beside the video or a log)")
    elif every_s is None or every_s <= 0:
        raise InputError(f"every_s must be positive, got {every_s}")
    cap, fps, n = open_video(video)
    try:
        if every_m is not None:
            wanted = _distance_picks(track, fps, n, every_m)  # type: ignore[arg-type]
        else:
            step = max(1, round(every_s * fps))  # type: ignore[operator]
            wanted = list(range(0, n if n > 0 else 10**9, step))
        if len(wanted) > max_frames:
            notes.append(f"{video}: {len(wanted)} frames to sample, thinned to {max_frames}")
            wanted = [wanted[round(i * (len(wanted) - 1) / (max_frames - 1))] for i in range(max_frames)]
        frames = _decode(cap, wanted, fps, track if isinstance(track, FlightTrack) else None)
    finally:
        cap.release()
    if not frames:
        raise InputError(f"{video}: no frame could be decoded")
    return frames


def _decode(cap: cv2.VideoCapture, wanted: Sequence[int], fps: float, track: FlightTrack | None) -> list[VideoFrame]:
    """Read sequentially (``grab`` skips without decoding), keeping the ``wanted`` frame numbers."""
    keep = set(wanted)
    last = max(wanted) if wanted else -1
    out = []
    i = 0
    while i <= last and cap.grab():
        if i in keep:
            ok, bgr = cap.retrieve()
            if ok:
                t = i / fps
                tel = track.at(t, max_gap_s=2.0 / fps + 0.5) if track is not None else None
                out.append(VideoFrame(i, t, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), tel))
        i += 1
    return out


def nearest_reference_frames(
    targets: Sequence[VideoFrame], references: Sequence[VideoFrame], k: int = 3
) -> list[list[int]]:
    """For each target frame, the positions in ``references`` of its ``k`` nearest reference frames.

    Nearest in 3-D position when every frame has telemetry, else in the fraction of the video elapsed
    (``time_s`` over the video's sampled span), for a route flown the same way twice.
    """
    if not references:
        raise InputError("no reference frames to compare with")
    k = max(1, min(k, len(references)))
    if all(f.telemetry is not None for f in (*targets, *references)):

        def xyz(frames: Sequence[VideoFrame]) -> np.ndarray:
            tel = [f.telemetry for f in frames]
            alt = [t.relative_altitude_m if t.relative_altitude_m is not None else (t.altitude_m or 0.0) for t in tel]  # type: ignore[union-attr]
            return to_ecef(np.array([t.latitude for t in tel]), np.array([t.longitude for t in tel]), np.array(alt))  # type: ignore[union-attr]

        dist = np.linalg.norm(xyz(targets)[:, None] - xyz(references)[None], axis=2)
    else:

        def frac(frames: Sequence[VideoFrame]) -> np.ndarray:
            t = np.array([f.time_s for f in frames])
            span = t.max() - t.min()
            return (t - t.min()) / span if span > 0 else np.zeros_like(t)

        dist = np.abs(frac(targets)[:, None] - frac(references)[None])
    return [np.argsort(row, kind="stable")[:k].tolist() for row in dist]


def link_findings(
    frames: Sequence[VideoFrame], detections: Sequence[Detections], link_iou: float = 0.3, **align_options: Any
) -> list[VideoFinding]:
    """Merge boxes of the same object across consecutive sampled frames into findings.

    Args:
        frames: the sampled target frames, in time order.
        detections: the findings of each frame (pixels of that frame), same length as ``frames``.
        link_iou: a box mapped onto the next frame links to a same-label box there at this IoU or more.
        **align_options: options of :func:`tenken.align.align_pair` for the frame-to-frame alignment.

    Returns:
        One :class:`VideoFinding` per chain of linked boxes, ordered by first frame. Where two consecutive
        frames cannot be aligned, chains break there (the object may then be reported twice).
    """
    if len(frames) != len(detections):
        raise InputError(f"{len(frames)} frames but {len(detections)} detection sets")
    nodes = [(f, j) for f, d in enumerate(detections) for j in range(len(d))]
    parent = {n: n for n in nodes}

    def root(n: tuple[int, int]) -> tuple[int, int]:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for f in range(len(frames) - 1):
        a, b = detections[f], detections[f + 1]
        if not len(a) or not len(b):
            continue
        # a hovering drone or a fixed camera repeats a frame exactly: that is a valid link, not a mistake
        alignment = align_pair(frames[f + 1].image, frames[f].image, **{"allow_identical": True, **align_options})
        if not alignment.ok or alignment.homography is None:
            continue
        moved = _map_boxes(alignment.homography, a.xyxy)
        iou = box_iou(moved, b.xyxy)
        for i, j in zip(*np.nonzero(iou >= link_iou), strict=True):
            if a.labels[i] == b.labels[j]:
                parent[root((f, int(i)))] = root((f + 1, int(j)))
    chains: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for n in nodes:
        chains.setdefault(root(n), []).append(n)
    findings = [_finding(frames, detections, sorted(members)) for members in chains.values()]
    return sorted(findings, key=lambda x: (x.frames[0], x.box[0]))


def _map_boxes(h: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Boxes ``(N, 4)`` through homography ``h``: the bounding box of the four mapped corners."""
    corners = np.stack([boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [2, 3]], boxes[:, [0, 3]]], axis=1)
    pts = project(h, corners.reshape(-1, 2)).reshape(-1, 4, 2)
    return np.concatenate([pts.min(axis=1), pts.max(axis=1)], axis=1)


def _finding(
    frames: Sequence[VideoFrame], detections: Sequence[Detections], members: list[tuple[int, int]]
) -> VideoFinding:
    def rank(n: tuple[int, int]) -> tuple[float, float]:
        d = detections[n[0]]
        s = float(d.scores[n[1]])
        return (-1.0 if math.isnan(s) else s, float(d.area[n[1]]))

    best_f, best_j = max(members, key=rank)
    d = detections[best_f]
    labels = [detections[f].labels[j] for f, j in members]
    label = max(dict.fromkeys(labels), key=lambda lab: (labels.count(lab), lab == d.labels[best_j]))
    score = float(d.scores[best_j])
    return VideoFinding(
        label=label,
        frame=frames[best_f].index,
        time_s=frames[best_f].time_s,
        box=[float(v) for v in d.xyxy[best_j]],
        score=None if math.isnan(score) else score,
        source=d.sources[best_j],
        frames=sorted({frames[f].index for f, _ in members}),
    )


def inspect_video(
    inspector: Inspector,
    target: str | os.PathLike,
    reference: str | os.PathLike,
    every_s: float | None = 1.0,
    every_m: float | None = None,
    k: int = 3,
    link_iou: float = 0.3,
    max_frames: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> VideoInspection:
    """Inspect today's video ``target`` against the earlier video ``reference``.

    Both videos are sampled the same way (``every_m`` needs a ``.SRT`` beside *each* video; the reference is
    sampled at a third of the interval so a nearby frame exists); each target frame is inspected against its
    ``k`` nearest reference frames; findings are merged across consecutive frames (:func:`link_findings`).

    Args:
        progress: called as ``progress(done, total)`` after each target frame.

    Raises:
        InputError: a video cannot be read, or distance sampling without tracks.
    """
    warnings: list[str] = []
    targets = sample_frames(target, every_s, every_m, max_frames=max_frames, warnings_out=warnings)
    ref_s = None if every_s is None else every_s / 3
    ref_m = None if every_m is None else every_m / 3
    references = sample_frames(reference, ref_s, ref_m, max_frames=3 * max_frames, warnings_out=warnings)
    nearest = nearest_reference_frames(targets, references, k)
    reports, dets = [], []
    for done, (frame, cands) in enumerate(zip(targets, nearest, strict=True), start=1):
        run = inspector.run(frame.image, [references[c].image for c in cands], id=f"{Path(target).name}#{frame.index}")
        reports.append(run.report)
        dets.append(run.detections)
        if progress is not None:
            progress(done, len(targets))
    findings = link_findings(targets, dets, link_iou)
    return VideoInspection(str(target), str(reference), [f.index for f in targets], reports, findings, warnings)
