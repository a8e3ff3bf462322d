"""``tenken eval ...`` end to end through the typer app."""

import json

import pytest
from typer.testing import CliRunner

from tenken.cli import app
from tests.eval.jsonl_files import write
from tests.synthetic_data import VQA_IMAGE

runner = CliRunner()


@pytest.fixture
def ja_vqa(ja_vqa_folder, tmp_path):
    """A Japanese VQA sample (one image, three questions) in tenken's VQA format."""
    folder = ja_vqa_folder
    questions = [json.loads(x) for x in (folder / "questions_ja.jsonl").read_text().splitlines() if x.strip()]
    answers = {
        a["question_id"]: a["text_JA"]
        for a in (json.loads(x) for x in (folder / "reference_answers_gpt4_ja.jsonl").read_text().splitlines() if x)
    }
    image = folder / VQA_IMAGE
    gt = write(
        tmp_path / "gt.jsonl",
        [
            {
                "id": str(q["question_id"]),
                "image": str(image),
                "question": q["text_JA"],
                "answer": answers[q["question_id"]],
            }
            for q in questions
        ],
    )
    return gt, answers


def test_eval_vqa_on_japanese_data(ja_vqa, tmp_path):
    gt, answers = ja_vqa
    pred = write(
        tmp_path / "pred.jsonl",
        [{"id": "0", "prediction": answers[0]}, {"id": "1", "prediction": "黒と茶色のスーツケースです。"}],
    )
    r = runner.invoke(app, ["eval", "vqa", "--gt", str(gt), "--pred", str(pred), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["n"] == 3 and data["input"]["missing"] == ["2"]
    assert 100 / 3 < data["rouge_l"] < 100 * 2 / 3  # one perfect, one partial, one missing (0)
    assert "no prediction" in r.stderr

    r = runner.invoke(app, ["eval", "vqa", "--gt", str(gt), "--pred", str(pred), "--strict"])
    assert r.exit_code == 3 and "rouge_l" in r.stdout


def test_eval_detection_prints_the_documented_json(tmp_path):
    gt = write(
        tmp_path / "gt.jsonl",
        [
            {"id": "a", "boxes": [[0, 0, 120, 120], [300, 300, 520, 520]], "labels": ["traffic_cone", "tool"]},
            {"id": "b", "boxes": [], "labels": []},
        ],
    )
    pred = write(
        tmp_path / "pred.jsonl",
        [
            {"schema": "tenken.report/1", "id": "a", "detections": [
                {"box": [0, 0, 118, 121], "label": "traffic_cone", "score": 0.9, "source": "classical"},
                {"box": [305, 300, 520, 515], "label": "glove", "score": 0.7, "source": "classical"}]},
            {"schema": "tenken.report/1", "id": "b", "detections": [{"box": [0, 0, 5, 5], "label": "tool"}]},
            {"id": "ghost", "detections": []},
        ],
    )  # fmt: skip
    r = runner.invoke(app, ["eval", "detection", "--gt", str(gt), "--pred", str(pred), "--labels", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["f1_bbox"] == pytest.approx((1 + 0) / 2)
    assert data["f1_bbox_label"] == pytest.approx((0.5 + 0) / 2)
    assert {"size_quartiles", "size_lower_bounds", "map50", "map50_bbox", "per_label"} <= set(data)
    rows = {row["name"]: row for row in data["size_lower_bounds"]}
    assert rows["200 px or larger"]["n_boxes"] == 1 and rows["200 px or larger"]["agreement"] == 0.0
    assert data["input"]["skipped"][0]["id"] == "ghost"

    r = runner.invoke(
        app, ["eval", "detection", "--gt", str(gt), "--pred", str(pred), "--per-sample", str(tmp_path / "ps.jsonl")]
    )
    rows = [json.loads(x) for x in (tmp_path / "ps.jsonl").read_text().splitlines()]
    assert rows == [
        {"id": "a", "f1_bbox": 1.0, "f1_bbox_label": 0.5, "n_gt": 2, "n_pred": 2},
        {"id": "b", "f1_bbox": 0.0, "f1_bbox_label": 0.0, "n_gt": 0, "n_pred": 1},
    ]
    assert r.exit_code == 0 and "| f1_bbox | 0.5 |" in r.stdout and "200 px or larger" in r.stdout
    assert "ghost" in r.stderr and "not in the ground truth" in r.stderr


def test_eval_rec_json_keys(tmp_path):
    gt = write(tmp_path / "gt.jsonl", [{"id": "1", "image": "x.jpg", "expression": "左の箱", "box": [0, 0, 10, 10]}])
    pred = write(tmp_path / "pred.jsonl", [{"id": "1", "box": [0, 0, 10, 8]}])
    r = runner.invoke(app, ["eval", "rec", "--gt", str(gt), "--pred", str(pred), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert (data["acc@0.5"], data["acc@0.75"], data["acc@0.9"]) == (1.0, 1.0, 0.0)
    assert data["macc"] == pytest.approx(0.6)  # IoU 0.8 > t for t = 0.5 ... 0.75: 6 of 10


def test_missing_file_is_a_one_line_error(tmp_path):
    r = runner.invoke(app, ["eval", "rec", "--gt", str(tmp_path / "nope.jsonl"), "--pred", str(tmp_path / "p")])
    assert r.exit_code == 2 and "not found" in r.output and "Traceback" not in r.output


def test_run_then_compare_with_plots(tmp_path, monkeypatch):
    from tenken.eval import runners

    def fake_predictor(spec, model, lang=None, tasks=None, family=None, detector=None, **options):
        assert spec.name == "rec" and lang is None
        shrink = 0.0 if model == "good" else 3.0
        return lambda s: {"box": [s.box[0], s.box[1], s.box[2] - shrink, s.box[3]]}

    monkeypatch.setattr(runners, "model_predictor", fake_predictor)
    data = write(
        tmp_path / "rec.jsonl",
        [{"id": str(i), "image": "x.jpg", "expression": "物", "box": [0, 0, 10 + i, 10]} for i in range(4)],
    )
    r = runner.invoke(app, ["eval", "run", "rec", "--model", "good", "--data", str(data), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "none of the 1 image files exists" in " ".join(r.output.split())
    (tmp_path / "x.jpg").write_bytes(b"")  # the fake model never opens it
    for model in ("good", "bad"):
        r = runner.invoke(
            app, ["eval", "run", "rec", "--model", model, "--data", str(data), "--out", str(tmp_path / model)]
        )
        assert r.exit_code == 0, r.output
        assert "acc@0.5" in r.stdout
    r = runner.invoke(
        app,
        ["eval", "compare", str(tmp_path / "good"), str(tmp_path / "bad"), "--plots", str(tmp_path / "p"), "--json"],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["runs"] == ["good", "bad"]
    assert "| macc | 1 |" in out["table"]
    assert out["diffs"][0] is None and out["diffs"][1]["metric"] == "hit@0.5" and out["diffs"][1]["n"] == 4
    assert "| Δ hit@0.5 vs good [95% CI] | – | +0 [+0, +0] (n=4) |" in out["table"]
    assert sorted(p.split("/")[-1] for p in out["plots"]) == ["metrics.png", "rec_thresholds.png"]

    r = runner.invoke(app, ["eval", "run", "rec", "--model", "x", "--data", str(data), "--out", str(tmp_path / "good")])
    assert r.exit_code == 2 and "holds a run" in " ".join(r.output.split())


def test_compare_detection_runs_writes_size_plots(tmp_path):
    from tenken.eval.formats import read_anomaly
    from tenken.eval.runners import get_benchmark, run_benchmark

    rows = [
        {"id": f"p{i}", "target": "t.jpg", "reference": "r.jpg", "boxes": [[0, 0, s, s]], "labels": ["tool"]}
        for i, s in enumerate([40, 120, 250, 400])
    ]
    data = write(tmp_path / "pairs.jsonl", rows)
    samples, _ = read_anomaly(data)
    for name, keep in (("all", 4), ("half", 2)):
        run_benchmark(
            get_benchmark("anomaly"), samples,
            lambda s, keep=keep: {"detections": s.truth.to_records() if int(s.id[1:]) < keep else []},
            tmp_path / name, name, progress=False,
        )  # fmt: skip
    r = runner.invoke(
        app, ["eval", "compare", str(tmp_path / "all"), str(tmp_path / "half"), "--plots", str(tmp_path / "p")]
    )
    assert r.exit_code == 0, r.output
    assert "| f1_bbox | 1 | 0.5 |" in r.stdout
    assert {p.name for p in (tmp_path / "p").iterdir()} == {"metrics.png", "size_recall.png", "size_agreement.png"}


def test_anomaly_run_without_the_pipeline_is_a_clear_error(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tenken.inspect.pipeline", None)  # as in a build without the pipeline
    data = write(tmp_path / "pairs.jsonl", [{"id": "a", "target": "t.jpg", "reference": "r.jpg", "boxes": []}])
    (tmp_path / "t.jpg").write_bytes(b"")
    r = runner.invoke(
        app, ["eval", "run", "anomaly", "--model", "classical", "--data", str(data), "--out", str(tmp_path / "o")]
    )
    assert r.exit_code == 2 and "inspection pipeline" in r.output


def test_skip_report_lines_are_not_wrapped_and_keep_brackets(tmp_path):
    # the stderr report wrapped at 80 columns (one reason over two lines) in logs and CI output
    gt = write(tmp_path / "gt.jsonl", [{"id": "[a]", "boxes": [[0, 0, 10, 10]], "labels": ["cone"]}])
    long_id = "x" * 120
    pred = write(tmp_path / "pred.jsonl", [{"id": long_id, "detections": []}])
    res = runner.invoke(app, ["eval", "detection", "--gt", str(gt), "--pred", str(pred)])
    assert res.exit_code == 0, res.output
    lines = res.stderr.splitlines()
    assert any(long_id in x and x.endswith("prediction for an id that is not in the ground truth") for x in lines)
    assert any(x.endswith("scored as empty: [a]") for x in lines)


def test_core_install_without_eval_extras_gets_an_install_hint(tmp_path, monkeypatch):
    # on `pip install tenken` (no extras) eval detection ended in a ModuleNotFoundError traceback
    import sys

    from tenken.eval.text import _scorer

    for name in ("pycocotools", "faster_coco_eval", "rouge_score", "rouge_score.rouge_scorer", "fugashi"):
        monkeypatch.setitem(sys.modules, name, None)  # import of these now fails
    gt = write(tmp_path / "gt.jsonl", [{"id": "a", "boxes": [[0, 0, 10, 10]], "labels": ["cone"], "image": "x.jpg",
                                        "question": "q", "answer": "赤"}])  # fmt: skip
    pred = write(tmp_path / "p.jsonl", [{"id": "a", "detections": [{"box": [0, 0, 10, 10]}], "prediction": "赤"}])
    res = runner.invoke(app, ["eval", "detection", "--gt", str(gt), "--pred", str(pred)])
    assert res.exit_code == 2 and "pip install 'tenken[eval]'" in res.output, res.output
    _scorer.cache_clear()
    res = runner.invoke(app, ["eval", "vqa", "--gt", str(gt), "--pred", str(pred)])
    assert res.exit_code == 2 and "pip install 'tenken[ja]'" in res.output, res.output
    _scorer.cache_clear()


def test_output_paths_are_checked_before_scoring(tmp_path):
    # --per-sample naming a folder and --plots naming a file were tracebacks after all the work
    gt = write(tmp_path / "gt.jsonl", [{"id": "a", "boxes": [], "labels": []}])
    pred = write(tmp_path / "p.jsonl", [{"id": "a", "detections": []}])
    res = runner.invoke(app, ["eval", "detection", "--gt", str(gt), "--pred", str(pred), "--per-sample", str(tmp_path)])
    assert res.exit_code == 2 and "is a folder; give a file name" in res.output, res.output
    res = runner.invoke(app, ["eval", "compare", str(tmp_path), "--plots", str(gt)])
    assert res.exit_code == 2 and "is a file, not a folder" in res.output, res.output
