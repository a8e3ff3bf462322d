"""``tenken data``: synth (a teacher-free recipe end to end), recipes, convert, stats, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from tenken.cli import app
from tenken.cli.data import parse_sets
from tenken.core.images import save_image

runner = CliRunner()


def _inputs(tmp_path: Path) -> tuple[Path, Path]:
    photos, cut = tmp_path / "photos", tmp_path / "cut"
    cut.mkdir()
    for k in range(2):
        save_image(np.full((120, 160, 3), 60 + 40 * k, np.uint8), photos / f"p{k}.png")
    rgba = np.zeros((30, 20, 4), np.uint8)
    rgba[2:28, 2:18] = (250, 20, 20, 255)
    Image.fromarray(rgba).save(cut / "cone-1.out.png")
    return photos, cut


def test_synth_stats_convert_round_trip(tmp_path: Path):
    photos, cut = _inputs(tmp_path)
    out = tmp_path / "out"
    args = ["data", "synth", "anomaly-pairs", str(photos), "--out", str(out), "--json",
            "--set", f"cutouts={cut}", "--set", "clean_fraction=0", "--set", "object_size=[15, 30]"]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["kept"] == 2 and res["items"]["done"] == 2
    r = runner.invoke(app, [*args, "--resume"])
    assert json.loads(r.stdout)["items"]["skipped"] == 2
    r = runner.invoke(app, ["data", "stats", str(out), "--json", "--plots", str(tmp_path / "plots")])
    stats = json.loads(r.stdout)
    assert r.exit_code == 0 and stats["kept"] == 2 and stats["labels"] == {"cone": stats["boxes"]["n"]}
    r = runner.invoke(app, ["data", "stats", str(out)])
    assert r.exit_code == 0 and "paste_visible" in r.stdout
    r = runner.invoke(app, ["data", "convert", str(out / "samples.jsonl"), str(tmp_path / "c.json"), "--to", "coco"])
    assert r.exit_code == 0 and (tmp_path / "c.json").is_file()


def test_recipes_and_errors(tmp_path: Path):
    r = runner.invoke(app, ["data", "recipes", "--json"])
    info = json.loads(r.stdout)
    assert {"rec", "caption-qa", "spatial", "count", "tool-rec", "anomaly-pairs", "translate"} <= set(info)
    assert info["tool-rec"]["options"]["iou_threshold"]["default"] == 0.5
    assert info["translate"]["options"]["ja_fraction"]["default"] == 0.75
    r = runner.invoke(
        app, ["data", "synth", "count", str(tmp_path), "--out", str(tmp_path / "o"), "--set", "agreemnt=1"]
    )
    assert r.exit_code == 2 and "agreemnt" in r.output
    r = runner.invoke(app, ["data", "synth", "count", str(tmp_path), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--vlm --segmenter" in r.output
    assert parse_sets(["a=1", "b=x", "c=[1, 2]", "d=true"]) == {"a": 1, "b": "x", "c": [1, 2], "d": True}
