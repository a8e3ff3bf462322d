"""``tenken ask/ground/count/classify`` on the tiny checkpoint, and over a local OpenAI-compatible server."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tenken.cli import app
from tenken.serve.openai_server import create_app, running_server
from tests.vlm.fakes import ScriptedBackend

runner = CliRunner()


@pytest.fixture(scope="module")
def image_path(tmp_path_factory):
    p = tmp_path_factory.mktemp("img") / "site.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(p)
    return p


def _json(args):
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_verbs_on_the_tiny_checkpoint(tiny_llava_path, image_path, tmp_path):
    m = ["--model", str(tiny_llava_path), "--max-new-tokens", "4", "--json"]
    ask = _json(["ask", str(image_path), "何がありますか？", "--short", *m])
    assert isinstance(ask["answer"], str) and ask["model"]["family"] == "llava"
    out = tmp_path / "annotated.png"
    g = _json(["ground", str(image_path), "コーン", "--out", str(out), "--lang", "en", *m])
    assert g["image_size"] == [64, 48] and isinstance(g["detections"], list) and out.is_file()
    c = _json(["count", str(image_path), "cones", *m])
    assert isinstance(c["count"], int)
    k = _json(["classify", str(image_path), *m])
    assert k["taskset"] == "example-assembly-line" and isinstance(k["task"], str)


def test_ground_over_a_server_maps_boxes(image_path):
    backend = ScriptedBackend('```json\n[{"bbox_2d": [0, 0, 500, 500], "label": "cone"}]\n```')
    with running_server(create_app(backend, "scripted")) as url:
        g = _json(
            ["ground", str(image_path), "cone", "--model", f"openai:scripted@{url}", "--family", "qwen3-vl", "--json"]
        )
    assert g["detections"][0]["box"] == [0.0, 0.0, 32.0, 24.0] and g["detections"][0]["label"] == "cone"


def test_errors_are_clear(image_path):
    r = runner.invoke(app, ["ask", str(image_path), "q", "--model", "openai:m@http://127.0.0.1:9/v1"])
    assert r.exit_code == 2 and "--family" in r.output
    r = runner.invoke(app, ["ask", str(image_path), "q", "--model", "openai:m@http://127.0.0.1:9/v1", "--family", "x"])
    assert r.exit_code == 2 and "unknown model family" in r.output
    r = runner.invoke(app, ["ask", "--help"])
    assert r.exit_code == 0 and "Example" in r.output
