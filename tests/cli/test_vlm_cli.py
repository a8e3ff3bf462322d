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


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--lang", "fr"], "--lang must be ja or en"),
        (["--family", "gpt"], "unknown model family"),
        (["--out", "boxes.gif"], "unsupported output format '.gif'"),
        (["--box-format", "weird"], "box_format must be one of"),
    ],
)
def test_bad_options_fail_before_the_model_loads(image_path, tmp_path, extra, message):
    # the model path does not exist: an error about it would mean the model was loaded first
    model = str(tmp_path / "models" / "not-there")
    r = runner.invoke(app, ["ground", str(image_path), "x", "--model", model, *extra], terminal_width=200)
    assert r.exit_code == 2 and message in r.output and "not-there" not in r.output


def test_bad_image_fails_before_the_model_loads(tmp_path):
    text = tmp_path / "photo.jpg"
    text.write_text("not an image")
    for verb in (["ask", str(text), "q"], ["count", str(text), "x"], ["classify", str(text)]):
        r = runner.invoke(app, [*verb, "--model", str(tmp_path / "no-model")], terminal_width=200)
        assert r.exit_code == 2 and "photo.jpg: not a recognised image format" in r.output, verb


def test_max_new_tokens_reaches_count_and_classify(image_path):
    # count and classify have their own small caps; the user's --max-new-tokens must override them
    backend = ScriptedBackend("3")
    with running_server(create_app(backend, "scripted")) as url:
        for verb in (["count", str(image_path), "x"], ["classify", str(image_path)]):
            model = ["--model", f"openai:scripted@{url}", "--family", "qwen3-vl"]
            _json([*verb, *model, "--max-new-tokens", "77", "--json"])
            _json([*verb, *model, "--lang", "EN", "--json"])  # any case: "EN" is English, not an error
    assert [r.max_new_tokens for r in backend.seen] == [77, 16, 77, 32]  # count, count EN, classify, classify EN
    assert "How many" in backend.seen[1].prompt


def test_image_the_family_cannot_take_is_named(tmp_path):
    strip = tmp_path / "strip.png"
    Image.fromarray(np.zeros((4, 900, 3), np.uint8)).save(strip)
    with running_server(create_app(ScriptedBackend("x"), "scripted")) as url:
        r = runner.invoke(
            app, ["ask", str(strip), "q", "--model", f"openai:s@{url}", "--family", "qwen2.5-vl"], terminal_width=200
        )
    assert r.exit_code == 2 and "strip.png: aspect ratio must be below 200" in r.output


def test_help_shows_units_defaults_and_device_options(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich reads the width from the environment
    r = runner.invoke(app, ["count", "--help"])
    assert r.exit_code == 0 and "Example" in r.output
    assert "(default 512; count 16, classify 32)" in r.output and "--device" in r.output and "--dtype" in r.output


def test_answers_with_brackets_print_verbatim(image_path):
    # a LLaVA-style "[/INST]" in an answer made rich raise MarkupError (a traceback instead of the answer)
    with running_server(create_app(ScriptedBackend("[/INST] a [red] cone"), "scripted")) as url:
        r = runner.invoke(app, ["ask", str(image_path), "q", "--model", f"openai:s@{url}", "--family", "llava"])
    assert r.exit_code == 0, r.output
    assert "[/INST] a [red] cone" in r.stdout


@pytest.mark.parametrize("verb", ["ask", "ground", "count", "classify"])
def test_help_example_is_one_pasteable_line(verb, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    r = runner.invoke(app, [verb, "--help"])
    lines = r.output.splitlines()
    i = next(i for i, x in enumerate(lines) if "Example:" in x)
    assert f"tenken {verb} " in lines[i] and "--model " in lines[i]
    assert lines[i + 1].strip() == "", lines[i + 1]  # no continuation line: the command pastes whole


def test_a_verb_is_a_plain_function_taking_the_shared_options(image_path, capsys):
    from tenken.cli.vlm import ModelArgs, ground_cmd

    backend = ScriptedBackend('[{"bbox_2d": [0, 0, 500, 500], "label": "cone"}]')
    with running_server(create_app(backend, "scripted")) as url:
        args = ModelArgs(f"openai:scripted@{url}", "qwen3-vl", "en", None, False, None, None)
        ground_cmd(args, True, image=image_path, expression="cone")
    g = json.loads(capsys.readouterr().out)
    assert g["detections"][0]["box"] == [0.0, 0.0, 32.0, 24.0] and g["expression"] == "cone"


def test_ask_video_over_an_openai_server_sends_the_frames_as_images(tmp_path):
    from tenken.serve.openai_server import create_app, running_server
    from tests.vlm.fakes import ScriptedBackend
    from tests.vlm.test_video import write_clip

    clip = write_clip(tmp_path / "clip.avi", n=60)
    backend = ScriptedBackend("no")
    with running_server(create_app(backend, "scripted")) as url:
        args = ["ask", "--video", str(clip), "is the cable cut?", "--frames", "5", "--lang", "en"]
        r = CliRunner().invoke(app, [*args, "--model", f"openai:scripted@{url}", "--family", "qwen2.5-vl", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["answer"] == "no" and len(out["frame_times_s"]) == 5 and out["frame_times_s"][-1] == 5.9
    assert len(backend.seen[-1].images) == 5  # as image parts of one message
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"junk")
    r = CliRunner().invoke(app, ["ask", "--video", str(bad), "q", "--model", str(tmp_path / "no-model")])
    assert r.exit_code == 2 and "bad.mp4" in r.output and "no-model" not in r.output  # fails before loading
