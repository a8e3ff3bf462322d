"""Local features and tentative correspondences: RootSIFT on a downscaled copy, ratio test, mutual check.

Keypoints are always returned in **full-resolution pixels of the image they were found in** (x right, y down,
origin at the top-left pixel corner convention of OpenCV: pixel centres at integer coordinates), whatever the
resolution the detector ran at, so callers never see the working scale.

Affine view synthesis (as in ASIFT) is available for strong viewpoint changes: the image is rotated and
compressed along one axis ("tilted") to simulate oblique views, features found in each simulated view are
mapped back to the original image's pixels, and all views are pooled.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from tenken.core.artifacts import write_atomic
from tenken.core.errors import InputError

DEFAULT_MAX_SIDE = 1024
"""Longest side, in pixels, of the copy SIFT runs on; larger images are downscaled (INTER_AREA)."""

DEFAULT_NFEATURES = 4000
"""Keypoints kept per image (strongest first); bounds matching time."""

DEFAULT_RATIO = 0.8
"""Lowe's ratio test threshold: a match is kept when best / second-best descriptor distance < ratio."""

DEFAULT_TILTS: tuple[float, ...] = (2**0.5, 2.0)
"""Tilts simulated by affine view synthesis (1/cos of the simulated latitude angle)."""


@dataclass
class Features:
    """Local features of one image.

    Attributes:
        keypoints: ``(N, 2)`` float32, x/y in full-resolution pixels of the image.
        descriptors: ``(N, 128)`` float32 RootSIFT descriptors (unit L2 norm).
        scales: ``(N,)`` float32 keypoint diameter in full-resolution pixels.
        angles: ``(N,)`` float32 keypoint orientation in degrees (OpenCV convention).
        image_size: ``(width, height)`` of the full-resolution image.
        work_scale: full-resolution pixels per working pixel (``>= 1``; 1 means no downscale).
    """

    keypoints: np.ndarray
    descriptors: np.ndarray
    scales: np.ndarray
    angles: np.ndarray
    image_size: tuple[int, int]
    work_scale: float = 1.0
    views: int = 1

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])


@dataclass
class Matches:
    """Tentative correspondences between a reference and a target.

    Attributes:
        reference_points: ``(M, 2)`` float64, reference full-resolution pixels.
        target_points: ``(M, 2)`` float64, target full-resolution pixels.
        distances: ``(M,)`` float32 descriptor distances (smaller is more similar).
    """

    reference_points: np.ndarray
    target_points: np.ndarray
    distances: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def __len__(self) -> int:
        return int(self.reference_points.shape[0])


def to_gray(image: np.ndarray) -> np.ndarray:
    """``(H, W)`` uint8 gray from an ``(H, W, 3)`` RGB or ``(H, W)`` gray uint8 array."""
    if image.ndim == 2:
        return image
    return cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2GRAY)


def downscale(gray: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink ``gray`` so its longest side is at most ``max_side``; returns ``(image, full_px/work_px)``."""
    h, w = gray.shape[:2]
    side = max(h, w)
    if max_side <= 0 or side <= max_side:
        return gray, 1.0
    f = max_side / side
    size = (max(1, round(w * f)), max(1, round(h * f)))
    small = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return small, w / size[0]


def _root_sift(desc: np.ndarray) -> np.ndarray:
    desc = desc.astype(np.float32)
    desc /= desc.sum(axis=1, keepdims=True) + 1e-7
    return np.sqrt(desc)


def _detect(gray: np.ndarray, nfeatures: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    sift = cv2.SIFT_create(nfeatures=nfeatures)
    kps, desc = sift.detectAndCompute(gray, mask)
    if desc is None or not kps:
        empty = np.zeros((0,), np.float32)
        return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32), empty, empty
    pts = np.array([k.pt for k in kps], np.float32)
    sizes = np.array([k.size for k in kps], np.float32)
    angles = np.array([k.angle for k in kps], np.float32)
    return pts, _root_sift(desc), sizes, angles


def extract_features(
    image: np.ndarray, max_side: int = DEFAULT_MAX_SIDE, nfeatures: int = DEFAULT_NFEATURES
) -> Features:
    """RootSIFT features of ``image`` (``(H, W, 3)`` RGB or ``(H, W)`` gray uint8), found on a copy whose
    longest side is at most ``max_side`` pixels, keypoints scaled back to full-resolution pixels."""
    gray = to_gray(image)
    h, w = gray.shape[:2]
    small, s = downscale(gray, max_side)
    pts, desc, sizes, angles = _detect(small, nfeatures)
    # OpenCV pixel centres are integers: full = (work + 0.5) * s - 0.5
    pts = (pts + 0.5) * s - 0.5
    return Features(pts.astype(np.float32), desc, sizes * s, angles, (w, h), s)


def _tilt_view(gray: np.ndarray, tilt: float, phi: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotate ``gray`` by ``phi`` degrees, then compress x by ``tilt``; returns (view, 2x3 view<-image)."""
    h, w = gray.shape[:2]
    a = np.deg2rad(phi)
    c, s = np.cos(a), np.sin(a)
    rot = np.array([[c, -s], [s, c]])
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], float) @ rot.T
    x0, y0 = corners.min(axis=0)
    x1, y1 = corners.max(axis=0)
    affine = np.hstack([rot, [[-x0], [-y0]]])
    view = cv2.warpAffine(gray, affine, (int(np.ceil(x1 - x0)), int(np.ceil(y1 - y0))), flags=cv2.INTER_LINEAR)
    # anti-alias along x, then subsample x by the tilt (ASIFT, Morel & Yu 2009)
    sigma = 0.8 * np.sqrt(tilt * tilt - 1)
    view = cv2.GaussianBlur(view, (0, 0), sigmaX=sigma, sigmaY=0.01)
    view = cv2.resize(view, (max(1, round(view.shape[1] / tilt)), view.shape[0]), interpolation=cv2.INTER_LINEAR)
    squeeze = np.diag([1 / tilt, 1.0])
    full = np.vstack([affine, [0, 0, 1]])
    m = np.vstack([np.hstack([squeeze, [[0], [0]]]), [0, 0, 1]]) @ full
    return view, m[:2]


def extract_features_asift(
    image: np.ndarray,
    max_side: int = DEFAULT_MAX_SIDE,
    nfeatures: int = DEFAULT_NFEATURES,
    tilts: tuple[float, ...] = DEFAULT_TILTS,
) -> Features:
    """RootSIFT features pooled over affine-simulated views of ``image`` (ASIFT-like), in full-res pixels.

    The untilted image is included. Each tilt ``t`` is simulated at rotations ``0, 72/t, 144/t, ... < 180``
    degrees. Slower than :func:`extract_features` by the number of views; use it when plain SIFT fails.
    """
    gray = to_gray(image)
    h, w = gray.shape[:2]
    small, s = downscale(gray, max_side)
    base = extract_features(small, max_side=0, nfeatures=nfeatures)
    all_pts, all_desc, all_sizes, all_angles = (
        [base.keypoints],
        [base.descriptors],
        [base.scales],
        [base.angles],
    )
    views = 1
    for t in tilts:
        for phi in np.arange(0.0, 180.0, 72.0 / t):
            view, m = _tilt_view(small, t, float(phi))
            pts, desc, sizes, angles = _detect(view, max(500, nfeatures // 2))
            if len(pts) == 0:
                continue
            inv = cv2.invertAffineTransform(m)
            back = pts.astype(np.float64) @ inv[:, :2].T + inv[:, 2]
            inside = (
                (back[:, 0] >= 0) & (back[:, 0] < small.shape[1]) & (back[:, 1] >= 0) & (back[:, 1] < small.shape[0])
            )
            all_pts.append(back[inside].astype(np.float32))
            all_desc.append(desc[inside])
            all_sizes.append(sizes[inside] * np.sqrt(t))
            all_angles.append(angles[inside])
            views += 1
    pts = np.concatenate(all_pts)
    pts = (pts + 0.5) * s - 0.5
    return Features(
        pts.astype(np.float32),
        np.concatenate(all_desc),
        np.concatenate(all_sizes) * s,
        np.concatenate(all_angles),
        (w, h),
        s,
        views,
    )


def match_descriptors(
    reference: Features,
    target: Features,
    ratio: float = DEFAULT_RATIO,
    mutual: bool = True,
    chunk: int = 256,
) -> Matches:
    """Nearest-neighbour matching with Lowe's ratio test and (optionally) a mutual nearest-neighbour check.

    Exact L2 nearest neighbours of the unit-norm RootSIFT descriptors through matrix products
    (``|a - b|^2 = 2 - 2 a.b``), ``chunk`` target descriptors at a time (small blocks stay in the CPU cache).
    """
    nr, nt = len(reference), len(target)
    if nr < 2 or nt < 2:
        return Matches(np.zeros((0, 2)), np.zeros((0, 2)))
    ref_desc = np.ascontiguousarray(reference.descriptors, np.float32)
    tgt_desc = np.ascontiguousarray(target.descriptors, np.float32)
    best = np.empty(nt, np.int64)
    sim1 = np.empty(nt, np.float32)
    sim2 = np.empty(nt, np.float32)
    col_sim = np.full(nr, -np.inf, np.float32)
    col_arg = np.zeros(nr, np.int64)
    for s in range(0, nt, chunk):
        sim = tgt_desc[s : s + chunk] @ ref_desc.T  # (c, nr) cosine similarities
        rows = np.arange(sim.shape[0])
        arg = sim.argmax(axis=1)
        best[s : s + len(rows)] = arg
        sim1[s : s + len(rows)] = sim[rows, arg]
        carg = sim.argmax(axis=0)
        cmax = sim[carg, np.arange(nr)]
        upd = cmax > col_sim
        col_sim[upd] = cmax[upd]
        col_arg[upd] = carg[upd] + s
        sim[rows, arg] = -np.inf
        sim2[s : s + len(rows)] = sim.max(axis=1)
    d1 = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * sim1))
    d2 = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * sim2))
    keep = d1 < ratio * d2
    if mutual:
        keep &= col_arg[best] == np.arange(nt)
    t_idx = np.nonzero(keep)[0]
    r_idx = best[t_idx]
    return Matches(
        reference.keypoints[r_idx].astype(np.float64),
        target.keypoints[t_idx].astype(np.float64),
        d1[t_idx].astype(np.float32),
    )


def content_key(image: np.ndarray, **params: object) -> str:
    """A key that identifies ``image``'s pixels (and the extraction ``params``): SHA-1 hex of the bytes."""
    h = hashlib.sha1()
    h.update(str(image.shape).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    h.update(repr(sorted(params.items())).encode())
    return h.hexdigest()


class FeatureCache:
    """Reference features kept between calls: in memory (LRU) and optionally on disk, keyed by content.

    One cache serves a whole batch: hold it and pass it to :func:`tenken.align_best` or
    :func:`tenken.align_pair` (``cache=``) so each reference is described once, whatever number of targets
    it is compared with. Keys are SHA-1 of the decoded pixels plus the extraction settings, so a changed
    file never reuses stale features.
    Disk entries are plain ``.npz`` arrays (no pickle); a damaged file is ignored and recomputed. Thread-safe.

    Args:
        directory: folder for ``<key>.npz`` files (created if missing); None keeps features in memory only.

    Raises:
        InputError: ``directory`` is a file or cannot be created.
        max_items: most feature sets kept in memory (least recently used are dropped first).
    """

    def __init__(self, directory: str | os.PathLike | None = None, max_items: int = 256) -> None:
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:  # checked now, not after the first (slow) feature extraction
            if self.directory.exists() and not self.directory.is_dir():
                raise InputError(f"{self.directory}: feature cache folder is a file")
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                reason = exc.strerror or exc
                raise InputError(f"{self.directory}: cannot create the feature cache folder ({reason})") from None
        self.max_items = max_items
        self._memory: OrderedDict[str, Features] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Features | None:
        """The features stored under ``key`` (memory first, then disk), or None."""
        with self._lock:
            feats = self._memory.get(key)
            if feats is not None:
                self._memory.move_to_end(key)
                self.hits += 1
                return feats
        if self.directory is not None:
            path = self.directory / f"{key}.npz"
            if path.is_file():
                feats = _load_features(path)
                if feats is not None:
                    self._remember(key, feats)
                    with self._lock:
                        self.hits += 1
                    return feats
        with self._lock:
            self.misses += 1
        return None

    def put(self, key: str, features: Features) -> None:
        """Store ``features`` under ``key`` in memory and, when a directory is set, on disk."""
        self._remember(key, features)
        if self.directory is not None:
            buffer = io.BytesIO()
            np.savez(
                buffer,
                keypoints=features.keypoints,
                descriptors=features.descriptors,
                scales=features.scales,
                angles=features.angles,
                meta=np.array([*features.image_size, features.work_scale, features.views], np.float64),
            )
            write_atomic(self.directory / f"{key}.npz", buffer.getvalue())

    def _remember(self, key: str, features: Features) -> None:
        with self._lock:
            self._memory[key] = features
            self._memory.move_to_end(key)
            while len(self._memory) > self.max_items:
                self._memory.popitem(last=False)

    def __len__(self) -> int:
        return len(self._memory)


def _load_features(path: Path) -> Features | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = z["meta"]
            return Features(
                z["keypoints"],
                z["descriptors"],
                z["scales"],
                z["angles"],
                (int(meta[0]), int(meta[1])),
                float(meta[2]),
                int(meta[3]),
            )
    except (OSError, ValueError, KeyError, IndexError):
        return None  # a damaged cache file is recomputed, never trusted
