"""``tenken inspect --detector vlm|hybrid --slice`` and ``--marks`` over a local OpenAI-compatible server."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tenken.cli import app
from tenken.serve.openai_server import create_app, running_server
from tests.vlm.fakes import BLOB_RGB, ScriptedBackend, blob_answer

runner = CliRunner()


@pytest.fixture(scope="module")
def pair_paths(tmp_path_factory):
    rng = np.random.default_rng(3)
    reference = np.kron(rng.integers(60, 140, (50, 75), dtype=np.uint8), np.ones((8, 8), np.uint8))
    reference = np.repeat(reference[..., None], 3, axis=2)
    target = reference.copy()
    target[50:70, 500:520] = BLOB_RGB  # 20 px: visible to the model only at native resolution
    folder = tmp_path_factory.mktemp("pair")
    Image.fromarray(target).save(folder / "t.png")
    Image.fromarray(reference).save(folder / "r.png")
    return folder / "t.png", folder / "r.png"


def _inspect(args, backend, tmp_path, code=0):
    target, reference = args[:2]
    with running_server(create_app(backend, "scripted")) as url:
        r = runner.invoke(
            app,
            ["inspect", str(target), str(reference), *args[2:], "--out", str(tmp_path / "o"), "--registered",
             "--model", f"openai:scripted@{url}", "--family", "qwen3-vl", "--json"],
        )  # fmt: skip
    assert r.exit_code == code, r.output
    return json.loads(r.stdout) if code == 0 else r.output


def test_slice_finds_a_small_new_object_the_whole_pair_hides(pair_paths, tmp_path):
    backend = ScriptedBackend(blob_answer("qwen3-vl", min_px=16, max_pixels=2 * 128 * 128))
    whole = _inspect([*pair_paths, "--detector", "vlm"], backend, tmp_path)
    assert whole["detections"] == []  # the 1208x400 composite squeezed to ~2x128x128: the object is ~7 px
    sliced = _inspect([*pair_paths, "--detector", "vlm", "--slice", "--tile", "128", "--overlap", "0.25",
                       "--tile-pixels", str(128 * 128)], backend, tmp_path)  # fmt: skip
    (det,) = sliced["detections"]
    assert np.abs(np.array(det["box"]) - [500, 50, 520, 70]).max() <= 1.5 and det["source"] == "vlm"


def test_marks_returns_the_change_detectors_box_and_reports_unknown_numbers(pair_paths, tmp_path):
    backend = ScriptedBackend('{"marks": [1, 7]}')
    report = _inspect([*pair_paths, "--detector", "hybrid", "--marks"], backend, tmp_path)
    classical = _inspect([*pair_paths], backend, tmp_path)
    (det,) = report["detections"]
    assert det["box"] == classical["detections"][0]["box"] and det["source"] == "hybrid-marks"
    assert report["detectors"] == ["hybrid-marks"]
    assert any("mark 7 is not one of the 1 proposals" in w for w in report["warnings"])


def test_mode_options_are_checked(pair_paths, tmp_path):
    backend = ScriptedBackend("[]")
    out = _inspect([*pair_paths, "--tile", "256"], backend, tmp_path, code=2)
    assert "--tile, --overlap and --tile-pixels belong to --slice" in out
    assert "--marks is a mode of --detector hybrid" in _inspect([*pair_paths, "--detector", "vlm", "--marks"],
                                                                 backend, tmp_path, code=2)  # fmt: skip
    assert "--slice is for --detector vlm or hybrid" in _inspect([*pair_paths, "--slice"], backend, tmp_path, code=2)
