"""``tenken ground --slice`` and ``--marks`` over a local OpenAI-compatible server with a scripted model."""

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
def scene_path(tmp_path_factory):
    img = np.full((400, 600, 3), 90, np.uint8)
    img[50:70, 500:520] = BLOB_RGB  # 20 px: visible only at native resolution
    p = tmp_path_factory.mktemp("img") / "scene.png"
    Image.fromarray(img).save(p)
    return p


def _run(args, backend):
    with running_server(create_app(backend, "scripted")) as url:
        r = runner.invoke(app, [*args, "--model", f"openai:scripted@{url}", "--family", "qwen3-vl", "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_slice_finds_a_small_object_in_full_image_pixels(scene_path):
    backend = ScriptedBackend(blob_answer("qwen3-vl", min_px=16, max_pixels=128 * 128))
    whole = _run(["ground", str(scene_path), "object", "--lang", "en"], backend)
    assert whole["detections"] == []  # the model sees the frame at 128x128-ish: the 20 px object is ~5 px
    g = _run(["ground", str(scene_path), "object", "--slice", "--tile", "128", "--overlap", "0.25"], backend)
    (det,) = g["detections"]
    np.testing.assert_allclose(det["box"], [500, 50, 520, 70], atol=1.0)
    assert det["tile"] >= 0 and backend.stats.requests > 10


def test_count_slice_counts_the_merged_boxes(scene_path):
    backend = ScriptedBackend(blob_answer("qwen3-vl", min_px=16, max_pixels=128 * 128))
    c = _run(["count", str(scene_path), "object", "--slice", "--tile", "128", "--overlap", "0.25",
              "--tile-pixels", str(128 * 128)], backend)  # fmt: skip
    assert c["count"] == 1 and c["sliced"] is True  # found in its tile at native resolution
    r = runner.invoke(app, ["count", str(scene_path), "x", "--model", "nowhere", "--overlap", "0.3"])
    assert r.exit_code == 2 and "belong to --slice" in r.output


def test_marks_answers_map_to_the_proposal_boxes(scene_path, tmp_path):
    props = tmp_path / "proposals.json"
    props.write_text(json.dumps([{"box": [500, 50, 520, 70], "label": "change"}, {"box": [10, 10, 200, 100]}]))
    marks_png = tmp_path / "marks.png"
    backend = ScriptedBackend('{"marks": [1, 7]}')
    g = _run(
        ["ground", str(scene_path), "ボトル", "--marks", "--proposals", str(props), "--marks-out", str(marks_png)],
        backend,
    )
    assert [d["box"] for d in g["detections"]] == [[500.0, 50.0, 520.0, 70.0]] and g["detections"][0]["mark"] == 1
    assert g["warnings"] == ["mark 7 is not one of the 2 proposals"]
    assert Image.open(marks_png).width > 600  # the small proposal is shown enlarged beside the image


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--marks"], "exactly one source of proposals"),
        (["--slice", "--marks", "--proposals", "p.json"], "choose one"),
        (["--tile", "256"], "belong to --slice"),
        (["--proposals", "p.json"], "belong to --marks"),
        (["--marks", "--proposals", "missing.json"], "proposals file not found"),
    ],
)
def test_mode_options_are_checked_before_the_model_loads(scene_path, tmp_path, extra, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(
        app, ["ground", str(scene_path), "x", "--model", str(tmp_path / "no-model"), *extra], terminal_width=200
    )
    assert r.exit_code == 2 and message in r.output and "no-model" not in r.output
