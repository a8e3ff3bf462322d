"""``tenken inspect --video ... --reference-video ...``: one finding per object, video.json written."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tenken.cli import app
from tests.inspect.test_video import FPS, videos  # noqa: F401  (the module-scoped fixture)

runner = CliRunner()


def test_inspect_video_writes_one_finding_per_object(videos, tmp_path):  # noqa: F811
    today, before = videos
    out = tmp_path / "out"
    args = ["inspect", "--video", str(today), "--reference-video", str(before), "--out", str(out), "--k", "2"]
    r = runner.invoke(app, [*args, "--every-s", str(1 / FPS), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert len(summary["findings"]) == 1 and len(summary["findings"][0]["frames"]) >= 6
    doc = json.loads((out / "video.json").read_text())
    assert len(doc["reports"]) == len(doc["frames"]) and doc["findings"] == summary["findings"]


def test_video_options_go_together(tmp_path):
    r = runner.invoke(app, ["inspect", "--video", str(tmp_path / "a.mp4")], terminal_width=200)
    assert r.exit_code == 2 and "go together" in r.output
    r = runner.invoke(
        app, ["inspect", "t.jpg", "r.jpg", "--video", "a.mp4", "--reference-video", "b.mp4"], terminal_width=200
    )
    assert r.exit_code == 2 and "exactly one of" in r.output
