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
def test_ecef_distance_matches_local_metres(
    lat: float, lon: float, dnorth: float, deast: float, dup: float
) -> None:
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
    return ReferenceIndex.from_arrays(
        [f"f{i:02d}.jpg" for i in range(20)], lat, np.full(20, 139.0), np.full(20, 50.0)
    )


def test_candidates_nearest_first_with_radius() -> None:
    index = _grid()
    target = Telemetry(35.0 + 5.2e-4, 139.0, 50.0)
    got = index.candidates(target, k=3)
    assert [c.name for c in got] == ["f05.jpg", "f06.jpg", "f04.jpg"]
    assert got[0].distance_m == pytest.approx(2.2, abs=0.1)
    assert [c.name for c in index.candidates(target, k=10, radius_m=15)] == ["f05.jpg", "f06.jpg", "f04.jpg"]
    assert index.candidates(Telemetry(36.0, 139.0, 50.0), k=5, radius_m=100) == []
    assert len(index.candidates(target, k=50)) == 20


def test_missing_altitude_counts_as_zero() -> None:
    index = ReferenceIndex.from_telemetry(
        [("a", Telemetry(35.0, 139.0, None)), ("b", Telemetry(35.0, 139.0, 80.0))]
    )
    assert index.candidates(Telemetry(35.0, 139.0, 75.0), k=1)[0].name == "b"
    assert index.candidates(Telemetry(35.0, 139.0, None), k=1)[0].name == "a"


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
