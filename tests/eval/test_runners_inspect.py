"""``tenken eval run anomaly`` through the real inspection pipeline on real aerial before/after pairs.

Ground truth: connected components of the LEVIR change masks (dev data). Runs when the pipeline
(``tenken.inspect.pipeline``) is part of the build; skipped otherwise.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tenken.cli import app

runner = CliRunner()


def mask_boxes(path) -> list[list[float]]:
    import cv2

    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 127
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return [[float(x), float(y), float(x + w), float(y + h)] for x, y, w, h, area in stats[1:] if area >= 20]


def test_eval_run_anomaly_with_the_classical_pipeline(aerial, tmp_path):
    pytest.importorskip("tenken.inspect.pipeline")
    root = aerial
    names = sorted(p.name for p in (root / "label").iterdir())[:3]
    rows = []
    for name in names:
        boxes = mask_boxes(root / "label" / name)
        rows.append({"id": name, "target": str(root / "B" / name), "reference": str(root / "A" / name),
                     "boxes": boxes, "labels": ["change"] * len(boxes)})  # fmt: skip
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "run"
    r = runner.invoke(
        app, ["eval", "run", "anomaly", "--model", "classical", "--data", str(data), "--out", str(out), "--json"]
    )
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["n_samples"] == 3 and result["n_errors"] == 0
    s = result["scores"]
    assert 0.0 <= s["f1_bbox"] <= 1.0 and s["n_gt"] == sum(len(x["boxes"]) for x in rows)
    assert [row["name"] for row in s["size_lower_bounds"]] == ["0 px or larger", "100 px or larger", "200 px or larger"]
    reports = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert [x["id"] for x in reports] == names
    assert all(x["schema"] == "tenken.report/1" and isinstance(x["detections"], list) for x in reports)


def test_eval_run_anomaly_takes_inspect_settings_and_keeps_them_apart(aerial, tmp_path):
    # fixed-camera pairs (LEVIR) need --registered and a tuned detector needs --param, which eval run lacked;
    # and a run folder reused with another --detector/--param silently mixed predictions of two settings
    pytest.importorskip("tenken.inspect.pipeline")
    root = aerial
    name = sorted(p.name for p in (root / "label").iterdir())[0]
    row = {"id": name, "target": str(root / "B" / name), "reference": str(root / "A" / name), "boxes": [],
           "labels": []}  # fmt: skip
    data = tmp_path / "pairs.jsonl"
    data.write_text(json.dumps(row) + "\n")
    out = tmp_path / "run"
    args = ["eval", "run", "anomaly", "--model", "classical", "--data", str(data), "--out", str(out), "--registered"]
    r = runner.invoke(app, [*args, "--param", "sensitivity=6", "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads((out / "predictions.jsonl").read_text().splitlines()[0])
    assert report["alignment"]["ok"] is True and report["alignment"]["homography"] == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    settings = json.loads((out / "run.json").read_text())["settings"]
    assert settings == {"detector": None, "params": ["sensitivity=6"], "registered": True}
    r = runner.invoke(app, [*args, "--param", "sensitivity=3"])
    assert r.exit_code == 2 and "holds a run with settings" in " ".join(r.output.split())
    r = runner.invoke(app, ["eval", "run", "vqa", "--model", "m", "--data", str(data), "--out", str(tmp_path / "v"),
                            "--param", "sensitivity=3"])  # fmt: skip
    assert r.exit_code == 2 and "are for the anomaly benchmark" in r.output
