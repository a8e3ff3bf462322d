"""ReferenceIndex: ECEF conversion, k-nearest queries, radius, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenken.align.retrieve import ReferenceIndex, to_ecef
from tenken.align.telemetry import Telemetry
from tenken.core.errors import InputError


def test_ecef_known_points() -> None:
    pts = to_ecef(np.array([0.0, 90.0]), np.array([0.0, 0.0]), np.array([0.0, 100.0]))
    np.testing.assert_allclose(pts[0], [6378137.0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(pts[1], [0, 0, 6356752.314 + 100.0], atol=1e-2)


@settings(max_examples=60, deadline=None)
@given(
    lat=st.floats(-80, 80),
    lon=st.floats(-179, 179),
    dnorth=st.floats(-500, 500),
    deast=st.floats(-500, 500),
    dup=st.floats(-100, 100),
)
def test_ecef_distance_matches_local_metres(lat: float, lon: float, dnorth: float, deast: float, dup: float) -> None:
    """Small offsets in metres north/east/up give the same straight-line distance in ECEF (to 0.1%)."""
    a, e2 = 6378137.0, 6.69437999014e-3
    s2 = np.sin(np.deg2rad(lat)) ** 2
    meridian = a * (1 - e2) / (1 - e2 * s2) ** 1.5  # radii of curvature of the WGS84 ellipsoid
    normal = a / np.sqrt(1 - e2 * s2)
    lat2 = lat + np.rad2deg(dnorth / (meridian + 50.0))
    lon2 = lon + np.rad2deg(deast / ((normal + 50.0) * np.cos(np.deg2rad(lat))))
    a, b = to_ecef(np.array([lat, lat2]), np.array([lon, lon2]), np.array([50.0, 50.0 + dup]))
    expected = np.sqrt(dnorth**2 + deast**2 + dup**2)
    assert np.linalg.norm(a - b) == pytest.approx(expected, rel=1e-3, abs=0.05)


def _grid() -> ReferenceIndex:
    # frames every ~11 m north along a line at 35N 139E, 50 m altitude
    lat = 35.0 + np.arange(20) * 1e-4
    return ReferenceIndex.from_arrays([f"f{i:02d}.jpg" for i in range(20)], lat, np.full(20, 139.0), np.full(20, 50.0))


def test_candidates_nearest_first_with_radius() -> None:
    index = _grid()
    target = Telemetry(35.0 + 5.2e-4, 139.0, 50.0)
    got = index.candidates(target, k=3)
    assert [c.name for c in got] == ["f05.jpg", "f06.jpg", "f04.jpg"]
    assert got[0].distance_m == pytest.approx(2.2, abs=0.1)
    assert [c.name for c in index.candidates(target, k=10, radius_m=15)] == ["f05.jpg", "f06.jpg", "f04.jpg"]
    assert index.candidates(Telemetry(36.0, 139.0, 50.0), k=5, radius_m=100) == []
    assert len(index.candidates(target, k=50)) == 20


def test_unknown_altitude_adds_nothing_and_relative_beats_absolute() -> None:
    index = ReferenceIndex.from_telemetry(
        [("a", Telemetry(35.0, 139.0, None)), ("b", Telemetry(35.0, 139.0, 80.0, "absolute"))]
    )
    got = index.candidates(Telemetry(35.0, 139.0, 75.0, "absolute"), k=2)
    assert [c.name for c in got] == ["a", "b"]  # unknown altitude: no penalty; 5 m absolute costs 0.5
    assert got[1].altitude_diff_m == pytest.approx(5.0) and got[1].altitude_kind == "absolute"
    assert got[1].score == pytest.approx(0.5)
    rel = ReferenceIndex.from_telemetry(
        [
            ("low", Telemetry(35.0, 139.0, 90.0, "absolute", relative_altitude_m=30.0)),
            ("high", Telemetry(35.0, 139.0, 75.0, "absolute", relative_altitude_m=50.0)),
        ]
    )
    best = rel.candidates(Telemetry(35.0, 139.0, 75.0, "absolute", relative_altitude_m=31.0), k=1)[0]
    assert best.name == "low" and best.altitude_kind == "relative" and best.score == pytest.approx(1.0)


def _waypoint(yaws: list[float], pitches: list[float]) -> ReferenceIndex:
    """Frames within ~1 m of one waypoint, looking in different directions."""
    n = len(yaws)
    return ReferenceIndex.from_arrays(
        [f"v{i}" for i in range(n)],
        35.0 + np.arange(n) * 1e-6,
        np.full(n, 139.0),
        relative_altitude_m=np.full(n, 40.0),
        yaw_deg=np.array(yaws),
        pitch_deg=np.array(pitches),
    )


def test_direction_picks_the_frame_looking_the_same_way() -> None:
    """The issue-16 case: frames ~1 m apart, gimbal pitch +15..-90, yaw -90..-151; only direction tells."""
    index = _waypoint([-151.0, -120.0, -91.7, -100.0, -130.0, -95.0], [-90.0, -45.0, 14.9, -30.0, 0.0, -60.0])
    target = Telemetry(35.0 + 3e-6, 139.0, relative_altitude_m=40.0, gimbal_yaw=-90.2, gimbal_pitch=14.8)
    res = index.query(target, k=2, explain=True)
    assert res.chosen[0].name == "v2" and res.chosen[0].angle_deg == pytest.approx(1.5, abs=0.1)
    assert any("cannot overlap" in c.reason for c in res.skipped)  # the nadir view is 105 deg away
    assert len(res.chosen) + len(res.skipped) == 6
    by_position = index.query(target, k=1, use_direction=False).chosen[0]
    assert by_position.name == "v3" and by_position.angle_deg is None  # nearest position, wrong direction


def test_flight_yaw_stands_in_for_a_missing_gimbal_yaw() -> None:
    t = Telemetry(35.0, 139.0, flight_yaw=10.0, gimbal_pitch=-20.0)
    assert (t.view_yaw, t.view_pitch) == (10.0, -20.0)
    index = _waypoint([10.0, 190.0], [-20.0, -20.0])
    assert [c.name for c in index.candidates(t, k=5)] == ["v0"]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 60),
    k=st.integers(1, 8),
    seed=st.integers(0, 2**31 - 1),
)
def test_query_equals_brute_force(n: int, k: int, seed: int) -> None:
    """The widening k-d tree search returns exactly the k best scores of scoring every frame."""
    rng = np.random.default_rng(seed)
    lat = 35.0 + rng.random(n) * 2e-4
    lon = 139.0 + rng.random(n) * 2e-4
    index = ReferenceIndex.from_arrays(
        [f"f{i}" for i in range(n)],
        lat,
        lon,
        relative_altitude_m=rng.uniform(30, 60, n),
        yaw_deg=rng.uniform(-180, 180, n),
        pitch_deg=rng.uniform(-90, 10, n),
    )
    target = Telemetry(35.0001, 139.0001, relative_altitude_m=45.0, gimbal_yaw=20.0, gimbal_pitch=-40.0)
    got = [c.score for c in index.query(target, k=k).chosen]
    every = index.query(target, k=n, explain=True)
    brute = sorted(c.score for c in every.chosen + every.skipped if np.isfinite(c.score))[:k]
    np.testing.assert_allclose(got, brute)


def test_save_and_load(tmp_path: Path) -> None:
    index = _grid()
    path = index.save(tmp_path / "sub" / "refs.npz")
    back = ReferenceIndex.load(path)
    assert len(back) == 20
    t = Telemetry(35.0011, 139.0, 50.0)
    assert back.candidates(t, k=4) == index.candidates(t, k=4)
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(InputError, match="not a readable"):
        ReferenceIndex.load(tmp_path / "bad.npz")


def test_bad_arrays_are_refused() -> None:
    with pytest.raises(InputError, match="out of range"):
        ReferenceIndex.from_arrays(["a"], np.array([95.0]), np.array([0.0]))
    with pytest.raises(InputError, match="names"):
        ReferenceIndex(["a", "b"], np.zeros((1, 3)))


def test_empty_index_answers_nothing() -> None:
    index = ReferenceIndex.from_telemetry([])
    assert len(index) == 0 and index.candidates(Telemetry(0, 0), k=5) == []


def test_from_paths_skips_frames_without_telemetry(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("file,lat,lon,alt\nr1.jpg,35.0,139.0,50\n", encoding="utf-8")
    (tmp_path / "r2.jpg").write_bytes(b"")
    warnings: list[str] = []
    index = ReferenceIndex.from_paths([tmp_path / "r1.jpg", tmp_path / "r2.jpg"], log=log, warnings=warnings)
    assert list(index.names) == [str(tmp_path / "r1.jpg")]
    assert any("1 reference frame(s) have no telemetry" in w for w in warnings)


@settings(max_examples=60, deadline=None)
@given(
    lat=st.floats(-80, 80),
    lon=st.floats(-179, 179),
    yaw1=st.floats(-180, 180),
    yaw2=st.floats(-180, 180),
    p1=st.floats(-90, 90),
    p2=st.floats(-90, 90),
)
def test_view_vectors_are_unit_and_angles_match_spherical_geometry(
    lat: float, lon: float, yaw1: float, yaw2: float, p1: float, p2: float
) -> None:
    from tenken.align.retrieve import view_vectors

    v = view_vectors(np.array([lat, lat]), np.array([lon, lon]), np.array([yaw1, yaw2]), np.array([p1, p2]))
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-12)
    r1, r2, dy = np.radians(p1), np.radians(p2), np.radians(yaw1 - yaw2)
    expected = np.sin(r1) * np.sin(r2) + np.cos(r1) * np.cos(r2) * np.cos(dy)  # spherical law of cosines
    assert float(v[0] @ v[1]) == pytest.approx(expected, abs=1e-7)
    up = (
        to_ecef(np.array([lat]), np.array([lon]), np.array([1.0]))[0]
        - to_ecef(np.array([lat]), np.array([lon]), np.array([0.0]))[0]
    )
    # up = difference of two ECEF points ~6.4e6 m apart from the origin: ~1e-9 of cancellation error
    assert float(v[0] @ up) == pytest.approx(np.sin(r1), abs=1e-7)  # pitch is elevation above the horizon
