"""``tenken align``: JSON figures, output files, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tenken.cli import app


def test_align_json_and_outputs(graf: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app, ["align", str(graf / "img2.png"), str(graf / "img1.png"), "--out", str(out), "--json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["ok"] is True and data["reference"] == str(graf / "img1.png")
    assert np.asarray(data["homography"]).shape == (3, 3) and data["homography"][2][2] == 1.0
    assert data["inliers"] > 100 and data["reason"] is None
    for name in ("warped_reference.png", "valid_mask.png", "composite.jpg", "alignment.json"):
        assert (out / name).is_file(), name
    comp = Image.open(out / "composite.jpg")
    assert comp.height == 640 and comp.width > 1600  # target left, aligned reference right
    assert json.loads((out / "alignment.json").read_text(encoding="utf-8"))["ok"] is True


def test_align_human_output_names_the_reference(graf: Path) -> None:
    res = CliRunner().invoke(
        app, ["align", str(graf / "img2.png"), str(graf / "img1.png")], terminal_width=200
    )
    assert res.exit_code == 0, res.output
    assert "aligned" in res.output and "img1.png" in res.output and "homography" in res.output


def test_align_failure_exits_1_with_reason(tmp_path: Path, graf: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(blank)
    target = graf / "img2.png"
    res = CliRunner().invoke(app, ["align", str(target), str(blank), "--json", "--views", "off"])
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["ok"] is False and "too few features" in data["reason"]


def test_align_bad_file_is_a_clean_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["align", str(tmp_path / "missing.jpg"), str(tmp_path / "also.jpg")])
    assert res.exit_code == 2
    assert "missing.jpg" in res.output and "Traceback" not in res.output


def test_align_rejects_bad_views_value(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["align", "a.jpg", "b.jpg", "--views", "sometimes"])
    assert res.exit_code == 2 and "--views" in res.output


def test_align_out_that_is_a_file_is_refused_before_aligning(tmp_path: Path) -> None:
    out = tmp_path / "alignment.json"
    out.write_text("{}")
    res = CliRunner().invoke(app, ["align", "a.jpg", "b.jpg", "--out", str(out)])  # before the images load
    assert res.exit_code == 2 and "is a file" in res.output and "Traceback" not in res.output


def test_align_unwritable_out_is_a_clean_error(graf: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    args = ["align", str(graf / "img2.png"), str(graf / "img1.png"), "--out", str(blocker / "o")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "cannot write" in res.output and "Traceback" not in res.output


def test_align_rejects_k_below_one_and_negative_sizes() -> None:
    for args in (["--k", "0"], ["--max-side", "-1"], ["--radius-m", "-5"]):
        res = CliRunner().invoke(app, ["align", "a.jpg", "b.jpg", *args])
        assert res.exit_code == 2 and args[0] in res.output, args


def test_align_failure_summary_has_no_misleading_figures(tmp_path: Path, graf: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(blank)
    target = graf / "img2.png"
    res = CliRunner().invoke(app, ["align", str(target), str(blank), "--views", "off"], terminal_width=80)
    assert res.exit_code == 1
    assert "not aligned" in res.output and "too few features" in res.output
    assert "homography" not in res.output and "nan" not in res.output and "inf px" not in res.output


def test_align_summary_keeps_brackets_in_paths(graf: Path, tmp_path: Path) -> None:
    folder = tmp_path / "[north]"
    folder.mkdir()
    for name in ("img1.png", "img2.png"):
        (folder / name).write_bytes((graf / name).read_bytes())
    res = CliRunner().invoke(app, ["align", str(folder / "img2.png"), str(folder / "img1.png")], terminal_width=400)
    assert res.exit_code == 0 and str(folder / "img1.png") in res.output


def test_align_explain_with_a_flight_log(graf: Path, tmp_path: Path) -> None:
    """--log gives positions and attitude by file name; --explain says why each reference was used or not."""
    log = tmp_path / "log.csv"
    log.write_text(
        "FileName,GPSLatitude,GPSLongitude,GimbalYawDegree,GimbalPitchDegree\n"
        "img2.png,35.0,139.0,0,-20\n"
        "img1.png,35.00001,139.0,5,-20\n"
        "img3.png,35.00002,139.0,30,-20\n"
        "img4.png,35.0,139.0,170,-20\n",
        encoding="utf-8",
    )
    refs = [str(graf / f"img{i}.png") for i in (1, 3, 4)]
    res = CliRunner().invoke(
        app,
        ["align", str(graf / "img2.png"), *refs, "--log", str(log), "--k", "1", "--explain"],
        terminal_width=250,
    )
    assert res.exit_code == 0, res.output
    assert "chosen" in res.output and "img4.png" in res.output and "angle" in res.output
    js = CliRunner().invoke(app, ["align", str(graf / "img2.png"), *refs, "--log", str(log), "--k", "1", "--json"])
    rows = {Path(r["name"]).name: r for r in json.loads(js.stdout)["explain"]}
    assert rows["img1.png"]["decision"] == "chosen" and rows["img1.png"]["distance_m"] == pytest.approx(1.1, abs=0.1)
    assert rows["img3.png"]["why"].startswith("ranked 2") and "cannot overlap" in rows["img4.png"]["why"]
