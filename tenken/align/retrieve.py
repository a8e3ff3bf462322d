"""Reference retrieval: the k reference frames most likely to show what the target shows.

A candidate's **retrieval score** (metres; smaller is better) adds three terms (:class:`RetrievalWeights`):

- the horizontal distance between the two camera positions, metres;
- the altitude difference: relative altitude (above take-off) when both frames have it, weight 1; else
  absolute GPS altitude, weight 0.1 (it is noisy by +-10 m and differs between firmware); else nothing;
- the angle between the two viewing directions (gimbal yaw/pitch; the aircraft's yaw when the gimbal has
  none), times ``scene_distance_m`` (30 m): turning the camera by 1 degree moves the view as far as moving it
  0.52 m sideways at that distance. Frames without a known direction add nothing here.

A frame whose viewing direction is farther from the target's than half the sum of both fields of view (from
EXIF/XMP focal length, else ``default_fov_deg``) cannot overlap the target and is not a candidate.

Positions are indexed as Earth-centred, Earth-fixed (ECEF, WGS84) points on the ellipsoid in a k-d tree
(``scipy.spatial.cKDTree``); the tree gives the horizontally nearest frames, which are scored, and the search
widens until no unscored frame could beat the k-th best score, so the result is exact. A million frames build
in about a second and answer in well under a millisecond.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from tenken.align.flightlog import read_photo_log
from tenken.align.telemetry import Telemetry, read_telemetry
from tenken.core.errors import InputError

_WGS84_A = 6378137.0
_WGS84_E2 = 6.69437999014e-3
_MIN_POOL = 32


def to_ecef(latitude: np.ndarray, longitude: np.ndarray, altitude_m: np.ndarray) -> np.ndarray:
    """WGS84 geodetic (degrees, degrees, metres above the ellipsoid) to ECEF metres, ``(N, 3)`` float64."""
    lat = np.deg2rad(np.asarray(latitude, np.float64))
    lon = np.deg2rad(np.asarray(longitude, np.float64))
    alt = np.asarray(altitude_m, np.float64)
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    n = _WGS84_A / np.sqrt(1.0 - _WGS84_E2 * sin_lat * sin_lat)
    return np.stack(
        [
            (n + alt) * cos_lat * np.cos(lon),
            (n + alt) * cos_lat * np.sin(lon),
            (n * (1.0 - _WGS84_E2) + alt) * sin_lat,
        ],
        axis=-1,
    ).reshape(-1, 3)


def view_vectors(latitude: np.ndarray, longitude: np.ndarray, yaw_deg: np.ndarray, pitch_deg: np.ndarray) -> np.ndarray:
    """Unit viewing directions in ECEF, ``(N, 3)`` float64, from yaw (degrees clockwise from north) and pitch
    (degrees, 0 horizon, -90 down) in each frame's local east-north-up frame; NaN rows where either is NaN."""
    lat, lon = np.deg2rad(np.asarray(latitude, np.float64)), np.deg2rad(np.asarray(longitude, np.float64))
    yaw, pitch = np.deg2rad(np.asarray(yaw_deg, np.float64)), np.deg2rad(np.asarray(pitch_deg, np.float64))
    east, north, up = np.cos(pitch) * np.sin(yaw), np.cos(pitch) * np.cos(yaw), np.sin(pitch)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    return np.stack(
        [-so * east - sl * co * north + cl * co * up, co * east - sl * so * north + cl * so * up, cl * north + sl * up],
        axis=-1,
    ).reshape(-1, 3)


@dataclass(frozen=True)
class RetrievalWeights:
    """How the retrieval score weighs its terms (all in metres of score; see the module docstring).

    Attributes:
        relative_altitude: per metre of relative-altitude difference.
        absolute_altitude: per metre of absolute-altitude difference (used only without relative altitude).
        scene_distance_m: metres of score per radian between viewing directions (a typical distance from the
            camera to the inspected scene).
        default_fov_deg: horizontal field of view assumed for a frame whose file does not give one.
    """

    relative_altitude: float = 1.0
    absolute_altitude: float = 0.1
    scene_distance_m: float = 30.0
    default_fov_deg: float = 70.0


@dataclass(frozen=True)
class Candidate:
    """A reference frame as retrieval saw it.

    Attributes:
        name: the frame's name (path as given).
        distance_m: horizontal distance between the camera positions, metres.
        altitude_diff_m: signed altitude difference reference - target, metres (None when not comparable).
        altitude_kind: ``"relative"`` or ``"absolute"``: which altitudes were compared.
        angle_deg: angle between the viewing directions, degrees (None when either is unknown).
        score: retrieval score, metres (smaller is better; ``inf`` when the frame cannot be a candidate).
        reason: None for a chosen candidate; else why it was skipped.
    """

    name: str
    distance_m: float
    altitude_diff_m: float | None = None
    altitude_kind: str | None = None
    angle_deg: float | None = None
    score: float = 0.0
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready (non-finite score as None)."""
        d = asdict(self)
        d["score"] = self.score if math.isfinite(self.score) else None
        return d


@dataclass
class Retrieval:
    """The result of :meth:`ReferenceIndex.query`: ``chosen`` (best first, at most k) and ``skipped`` (the
    other frames retrieval looked at, with a reason each)."""

    chosen: list[Candidate]
    skipped: list[Candidate] = field(default_factory=list)


def _nan(values: Iterable[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], np.float64)


class ReferenceIndex:
    """Reference frames' positions (a k-d tree), altitudes, viewing directions and fields of view.

    Build it from arrays (:meth:`from_arrays`, fastest), from ``(name, Telemetry)`` pairs
    (:meth:`from_telemetry`) or from image files (:meth:`from_paths`, reading EXIF/XMP and optionally a flight
    log); query with :meth:`query` (chosen and skipped, with reasons) or :meth:`candidates`; keep it with
    :meth:`save` / :meth:`load`. Unknown values are NaN.

    Example:
        >>> index = ReferenceIndex.from_paths(sorted(Path("refs").glob("*.JPG")))
        >>> [c.name for c in index.candidates(read_telemetry("target.JPG"), k=5, radius_m=30)]
    """

    def __init__(
        self,
        names: Sequence[str] | np.ndarray,
        points_ecef: np.ndarray,
        *,
        absolute_altitude_m: np.ndarray | None = None,
        relative_altitude_m: np.ndarray | None = None,
        directions: np.ndarray | None = None,
        fov_deg: np.ndarray | None = None,
    ) -> None:
        """``names``: one per frame; ``points_ecef``: ``(N, 3)`` ECEF metres of the positions on the ellipsoid
        (:func:`to_ecef` with altitude 0); altitudes ``(N,)`` metres; ``directions`` ``(N, 3)`` ECEF unit
        viewing vectors (:func:`view_vectors`); ``fov_deg`` ``(N,)`` horizontal fields of view. NaN = unknown."""
        pts = np.asarray(points_ecef, np.float64).reshape(-1, 3)
        n = len(pts)
        if len(names) != n:
            raise InputError(f"ReferenceIndex: {len(names)} names but {n} positions")
        if not np.all(np.isfinite(pts)):
            raise InputError("ReferenceIndex: positions contain NaN or infinite values")

        def column(values: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
            out = np.full(shape, np.nan) if values is None else np.asarray(values, np.float64).reshape(shape)
            if out.shape != shape:
                raise InputError(f"ReferenceIndex: expected shape {shape}, got {out.shape}")
            return out

        self.names = np.asarray(names, dtype=str)
        self.points = pts
        self.absolute_altitude = column(absolute_altitude_m, (n,))
        self.relative_altitude = column(relative_altitude_m, (n,))
        self.directions = column(directions, (n, 3))
        self.fov = column(fov_deg, (n,))
        self._tree = cKDTree(pts, balanced_tree=False, compact_nodes=False) if n else None

    @classmethod
    def from_arrays(
        cls,
        names: Sequence[str] | np.ndarray,
        latitude: np.ndarray,
        longitude: np.ndarray,
        altitude_m: np.ndarray | None = None,
        *,
        relative_altitude_m: np.ndarray | None = None,
        yaw_deg: np.ndarray | None = None,
        pitch_deg: np.ndarray | None = None,
        fov_deg: np.ndarray | None = None,
    ) -> ReferenceIndex:
        """Index from parallel ``(N,)`` arrays: degrees, degrees, absolute altitude in metres, relative altitude
        in metres, view yaw and pitch in degrees, horizontal FOV in degrees (None or NaN = unknown)."""
        lat = np.asarray(latitude, np.float64)
        lon = np.asarray(longitude, np.float64)
        bad = ~((np.abs(lat) <= 90) & (np.abs(lon) <= 180))
        if np.any(bad):
            raise InputError(
                f"ReferenceIndex: {int(bad.sum())} positions are out of range (first at row {int(np.argmax(bad))})"
            )
        directions = None
        if yaw_deg is not None and pitch_deg is not None:
            directions = view_vectors(lat, lon, yaw_deg, pitch_deg)
        return cls(
            names,
            to_ecef(lat, lon, np.zeros_like(lat)),
            absolute_altitude_m=altitude_m,
            relative_altitude_m=relative_altitude_m,
            directions=directions,
            fov_deg=fov_deg,
        )

    @classmethod
    def from_telemetry(cls, items: Iterable[tuple[str, Telemetry]]) -> ReferenceIndex:
        """Index from ``(name, Telemetry)`` pairs."""
        rows = list(items)
        tels = [t for _, t in rows]
        return cls.from_arrays(
            [str(n) for n, _ in rows],
            _nan(t.latitude for t in tels),
            _nan(t.longitude for t in tels),
            _nan(t.altitude_m if t.altitude_kind != "relative" else None for t in tels),
            relative_altitude_m=_nan(t.relative_altitude_m for t in tels),
            yaw_deg=_nan(t.view_yaw for t in tels),
            pitch_deg=_nan(t.view_pitch for t in tels),
            fov_deg=_nan(t.fov_deg for t in tels),
        )

    @classmethod
    def from_paths(
        cls,
        paths: Iterable[str | os.PathLike],
        log: str | os.PathLike | None = None,
        warnings: list[str] | None = None,
    ) -> ReferenceIndex:
        """Index image files by their telemetry (a flight log's row for the file merged over its EXIF/XMP).

        ``log``: a per-photo log, or an AirData/Litchi track of the flight that took ``paths``
        (:func:`tenken.align.flightlog.read_photo_log`). Frames without a position are left out, with a warning
        appended to ``warnings``.
        """
        warnings = warnings if warnings is not None else []
        paths = list(paths)
        by_log = read_photo_log(log, paths, warnings) if log is not None else {}
        rows: list[tuple[str, Telemetry]] = []
        missing = 0
        for p in paths:
            tel = read_telemetry(p, warnings, log=by_log.get(Path(p).name))
            if tel is None:
                missing += 1
            else:
                rows.append((str(p), tel))
        if missing:
            warnings.append(f"{missing} reference frame(s) have no telemetry and are not indexed")
        return cls.from_telemetry(rows)

    def __len__(self) -> int:
        return len(self.names)

    def query(
        self,
        target: Telemetry,
        k: int = 5,
        radius_m: float | None = None,
        *,
        use_direction: bool = True,
        weights: RetrievalWeights = RetrievalWeights(),
        explain: bool = False,
    ) -> Retrieval:
        """The ``k`` best candidates for ``target`` (smallest retrieval score first).

        Args:
            target: the target frame's telemetry.
            k: candidates returned (at most).
            radius_m: frames horizontally farther than this are not candidates.
            use_direction: score and filter by viewing direction (False: position and altitude only).
            weights: the score's weights.
            explain: also return the frames looked at but not chosen, with the reason (``Retrieval.skipped``).
        """
        if self._tree is None or k <= 0:
            return Retrieval([])
        point = to_ecef(np.array([target.latitude]), np.array([target.longitude]), np.zeros(1))[0]
        direction = np.full(3, np.nan)
        if use_direction and target.view_yaw is not None and target.view_pitch is not None:
            direction = view_vectors(
                np.array([target.latitude]),
                np.array([target.longitude]),
                np.array([target.view_yaw]),
                np.array([target.view_pitch]),
            )[0]
        bound = np.inf if radius_m is None else float(radius_m)
        pool = min(len(self), max(4 * k, _MIN_POOL))
        dist, idx = self._nearest(point, pool, bound)
        terms = self._score(idx, dist, target, direction, weights)
        while len(dist) == pool < len(self):
            # every unscored frame is at least dist[-1] away, and a score is never below the distance
            kth = np.partition(terms[0], k - 1)[k - 1] if len(dist) >= k else np.inf
            if dist[-1] >= kth:
                break
            if np.isfinite(kth):  # one ball query collects every frame that could still beat the k-th score
                idx = np.asarray(self._tree.query_ball_point(point, min(kth, bound)), dtype=np.intp)
                dist = np.linalg.norm(self.points[idx] - point, axis=1)
                terms = self._score(idx, dist, target, direction, weights)
                break
            pool = min(len(self), pool * 8)  # fewer than k frames can overlap so far: look farther
            dist, idx = self._nearest(point, pool, bound)
            terms = self._score(idx, dist, target, direction, weights)
        return self._retrieval(idx, dist, terms, k, explain)

    def _nearest(self, point: np.ndarray, pool: int, bound: float) -> tuple[np.ndarray, np.ndarray]:
        """The ``pool`` horizontally nearest frames within ``bound`` metres: (distances, indices), nearest first."""
        dist, idx = self._tree.query(point, k=pool, distance_upper_bound=bound)
        dist, idx = np.atleast_1d(dist), np.atleast_1d(idx)
        keep = np.isfinite(dist)
        return dist[keep], idx[keep]

    def _score(
        self, idx: np.ndarray, dist: np.ndarray, target: Telemetry, direction: np.ndarray, w: RetrievalWeights
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(score, altitude difference, altitude kind code 1 relative / 2 absolute / 0 none, angle degrees,
        overlap limit degrees) of frames ``idx`` at horizontal distances ``dist``; NaN = unknown."""
        rel_t = np.nan if target.relative_altitude_m is None else target.relative_altitude_m
        abs_t = target.altitude_m if target.altitude_kind != "relative" and target.altitude_m is not None else np.nan
        d_rel = self.relative_altitude[idx] - rel_t
        use_rel = ~np.isnan(d_rel)
        alt_diff = np.where(use_rel, d_rel, self.absolute_altitude[idx] - abs_t)
        alt_cost = np.abs(alt_diff) * np.where(use_rel, w.relative_altitude, w.absolute_altitude)
        kind = np.where(use_rel, 1, np.where(np.isnan(alt_diff), 0, 2))
        alt_cost[np.isnan(alt_cost)] = 0.0
        score = dist + alt_cost
        if np.isnan(direction[0]):
            nan = np.full(len(idx), np.nan)
            return score, alt_diff, kind, nan, nan
        angle = np.degrees(np.arccos(np.clip(self.directions[idx] @ direction, -1.0, 1.0)))
        fov_t = target.fov_deg if target.fov_deg is not None else w.default_fov_deg
        limit = 0.5 * (np.where(np.isnan(self.fov[idx]), w.default_fov_deg, self.fov[idx]) + fov_t)
        angle_cost = np.radians(angle) * w.scene_distance_m
        angle_cost[np.isnan(angle_cost)] = 0.0
        score += angle_cost
        score[angle > limit] = np.inf
        return score, alt_diff, kind, angle, limit

    def _retrieval(
        self, idx: np.ndarray, dist: np.ndarray, terms: tuple[np.ndarray, ...], k: int, explain: bool
    ) -> Retrieval:
        score, alt_diff, kind, angle, limit = terms
        order = np.argsort(score, kind="stable")
        chosen, skipped = [], []
        for rank, j in enumerate(order):
            if rank >= k and not explain:
                break
            reason = None
            if not math.isfinite(score[j]):
                reason = f"views cannot overlap (directions {angle[j]:.0f} deg apart > {limit[j]:.0f} deg)"
            elif rank >= k:
                reason = f"ranked {rank + 1} (only the best k={k} are candidates)"
            cand = Candidate(
                str(self.names[idx[j]]),
                float(dist[j]),
                None if not np.isfinite(alt_diff[j]) else float(alt_diff[j]),
                {1: "relative", 2: "absolute"}.get(int(kind[j])),
                None if not np.isfinite(angle[j]) else float(angle[j]),
                float(score[j]),
                reason,
            )
            (chosen if reason is None else skipped).append(cand)
        return Retrieval(chosen, skipped)

    def candidates(self, target: Telemetry, k: int = 5, radius_m: float | None = None) -> list[Candidate]:
        """The ``k`` best frames for ``target`` within ``radius_m`` metres (see :meth:`query`), best first."""
        return self.query(target, k, radius_m).chosen

    def save(self, path: str | os.PathLike) -> Path:
        """Write the index to ``path`` (``.npz``; the tree is rebuilt on load)."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as fh:
            np.savez(
                fh,
                names=self.names,
                points=self.points,
                absolute_altitude=self.absolute_altitude,
                relative_altitude=self.relative_altitude,
                directions=self.directions,
                fov=self.fov,
                version=np.array([2]),
            )
        return out

    @classmethod
    def load(cls, path: str | os.PathLike) -> ReferenceIndex:
        """Read an index written by :meth:`save` (a version-1 file, positions only, loads without altitudes or
        directions).

        Raises:
            InputError: the file is missing or is not a tenken reference index.
        """
        try:
            with np.load(path, allow_pickle=False) as z:
                extra = {}
                if int(z["version"][0]) >= 2:
                    extra = {
                        "absolute_altitude_m": z["absolute_altitude"],
                        "relative_altitude_m": z["relative_altitude"],
                        "directions": z["directions"],
                        "fov_deg": z["fov"],
                    }
                return cls(z["names"], z["points"], **extra)
        except (OSError, KeyError, ValueError) as exc:
            raise InputError(f"{path}: not a readable tenken reference index ({exc})") from None
