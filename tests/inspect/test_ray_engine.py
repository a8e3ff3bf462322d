"""``--engine ray``: the same items through Ray Data on a local ``ray.init(num_cpus=1)`` write the same
``results.jsonl`` as the local engine, keep bad items as error lines, and resume without redoing work."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'tenken[ray]')")

from tenken.inspect.batch import read_manifest, run_batch  # noqa: E402
from tenken.inspect.pipeline import Inspector  # noqa: E402
from tenken.inspect.ray_engine import run_batch_ray  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "walkway"


@pytest.fixture(scope="module")
def local_ray():
    if ray.is_initialized():  # another module's Ray: start ours, with one CPU
        ray.shutdown()
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _manifest(tmp_path: Path) -> Path:
    lines = [
        {"id": "a", "target": str(EXAMPLE / "target.jpg"), "reference": str(EXAMPLE / "reference.jpg")},
        {"id": "b", "target": str(EXAMPLE / "target_clean.jpg"), "reference": str(EXAMPLE / "reference.jpg")},
        {"id": "missing", "target": str(tmp_path / "nope.jpg"), "reference": str(EXAMPLE / "reference.jpg")},
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + "{broken\n", encoding="utf-8")
    return path


def _rows(path: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def test_ray_engine_writes_what_the_local_engine_writes(local_ray, tmp_path: Path) -> None:
    items = read_manifest(_manifest(tmp_path))
    run_batch(Inspector(), items, tmp_path / "local")
    summary = run_batch_ray(functools.partial(Inspector), items, tmp_path / "ray")
    local, remote = _rows(tmp_path / "local" / "results.jsonl"), _rows(tmp_path / "ray" / "results.jsonl")
    assert list(remote) == list(local) == ["a", "b", "missing", "line-4"]  # item order, one line per item
    for rid in ("a", "b"):
        assert [d["box"] for d in remote[rid]["detections"]] == [d["box"] for d in local[rid]["detections"]]
    assert "error" in remote["missing"] and "error" in remote["line-4"]
    assert (summary.done, summary.failed) == (2, 2)
    assert (tmp_path / "ray" / "images" / "a.jpg").is_file()

    again = run_batch_ray(functools.partial(Inspector), items, tmp_path / "ray", resume=True)
    assert (again.skipped, again.done, again.failed) == (2, 0, 2)  # finished items not redone, errors retried
    assert list(_rows(tmp_path / "ray" / "results.jsonl")) == ["a", "b", "missing", "line-4"]


def test_cli_engine_ray(local_ray, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tenken.cli import app

    manifest = _manifest(tmp_path)
    result = CliRunner().invoke(app, ["inspect", "--pairs", str(manifest), "--out", str(tmp_path / "o"),
                                      "--engine", "ray", "--json"])  # fmt: skip
    assert result.exit_code == 1, result.output  # two bad items fail; the others are done
    summary = json.loads(result.stdout)
    assert (summary["done"], summary["failed"]) == (2, 2)
    assert list(_rows(tmp_path / "o" / "results.jsonl")) == ["a", "b", "missing", "line-4"]
