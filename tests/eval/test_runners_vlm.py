"""``tenken eval run`` end to end through the real VLM layer: the tiny random-weight checkpoint (plumbing,
resume) and a scripted model behind a loopback OpenAI-compatible server (known answers -> known scores)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tenken.cli import app
from tenken.serve.openai_server import create_app, running_server
from tests.eval.jsonl_files import write
from tests.synthetic_data import VQA_IMAGE
from tests.vlm.fakes import ScriptedBackend

runner = CliRunner()


def run_json(args):
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.fixture
def image(tmp_path):
    p = tmp_path / "site.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (100, 200, 3), dtype=np.uint8)).save(p)
    return p


def test_eval_run_vqa_on_the_tiny_checkpoint_resumes(tiny_llava_path, ja_vqa_folder, tmp_path):
    folder = ja_vqa_folder
    questions = [json.loads(x) for x in (folder / "questions_ja.jsonl").read_text().splitlines() if x.strip()]
    data = write(
        tmp_path / "vqa.jsonl",
        [
            {"id": str(q["question_id"]), "image": str(folder / VQA_IMAGE),
             "question": q["text_JA"], "answer": "黒と茶色です。"}
            for q in questions
        ],
    )  # fmt: skip
    out = tmp_path / "run"
    args = ["eval", "run", "vqa", "--model", str(tiny_llava_path), "--data", str(data), "--out", str(out)]
    result = run_json([*args, "--max-new-tokens", "4", "--json"])
    assert result["n_samples"] == 3 and result["n_errors"] == 0 and result["n_predicted"] == 3
    assert 0.0 <= result["scores"]["rouge_l"] <= 100.0
    lines = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == ["0", "1", "2"] and all(isinstance(x["prediction"], str) for x in lines)
    again = run_json([*args, "--max-new-tokens", "4", "--json"])
    assert again["n_resumed"] == 3 and again["n_predicted"] == 0
    assert again["scores"]["rouge_l"] == result["scores"]["rouge_l"]


@pytest.mark.filterwarnings("ignore:no boxes found:UserWarning")
def test_eval_run_rec_over_a_server_scores_known_boxes(image, tmp_path):
    # GT boxes in pixels of the 200x100 image; qwen3-vl answers in 0..1000 relative coordinates
    data = write(
        tmp_path / "rec.jsonl",
        [
            {"id": "left", "image": str(image), "expression": "左の箱", "box": [20, 10, 100, 60]},
            {"id": "right", "image": str(image), "expression": "右の箱", "box": [120, 10, 180, 90]},
            {"id": "none", "image": str(image), "expression": "鳥の巣", "box": [0, 0, 10, 10]},
        ],
    )

    def answer(request):
        if "左の箱" in request.prompt:
            return '```json\n[{"bbox_2d": [100, 100, 500, 600], "label": "箱"}]\n```'
        if "右の箱" in request.prompt:
            return '```json\n[{"bbox_2d": [600, 100, 900, 800], "label": "箱"}]\n```'  # IoU 0.875 with GT
        return "[]"

    with running_server(create_app(ScriptedBackend(answer), "scripted")) as url:
        result = run_json(
            ["eval", "run", "rec", "--model", f"openai:scripted@{url}", "--family", "qwen3-vl",
             "--data", str(data), "--out", str(tmp_path / "run"), "--json"]
        )  # fmt: skip
    s = result["scores"]
    assert (s["acc@0.5"], s["acc@0.75"], s["acc@0.9"]) == pytest.approx((2 / 3, 2 / 3, 1 / 3))
    preds = {x["id"]: x for x in map(json.loads, (tmp_path / "run" / "predictions.jsonl").read_text().splitlines())}
    assert preds["left"]["box"] == pytest.approx([20, 10, 100, 60])
    assert preds["none"]["box"] is None
    assert any(x["id"] == "none" and "scored as a miss" in x["reason"] for x in s["input"]["skipped"])


def test_eval_run_classify_over_a_server(image, tmp_path):
    data = write(
        tmp_path / "tasks.jsonl",
        [
            {"id": "a", "image": str(image), "label": "tightening_bolts"},
            {"id": "b", "image": str(image), "label": "screwing"},
        ],
    )
    with running_server(create_app(ScriptedBackend("tightening_bolts"), "scripted")) as url:
        result = run_json(
            ["eval", "run", "classify", "--model", f"openai:scripted@{url}", "--family", "qwen3-vl",
             "--data", str(data), "--out", str(tmp_path / "run"), "--json"]
        )  # fmt: skip
    s = result["scores"]
    assert s["accuracy"] == 0.5 and s["confusion"] == [[1, 0], [1, 0]]
