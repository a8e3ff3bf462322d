import json

import pytest

from tenken.core.errors import InputError, ModelOutputError
from tenken.eval.formats import read_anomaly, read_rec, read_vqa
from tenken.eval.runners import run_benchmark
from tenken.eval.tasks import get_benchmark
from tests.eval.jsonl_files import write


@pytest.fixture
def vqa(tmp_path):
    rows = [
        {"id": f"q{i}", "image": "img.jpg", "question": "色は？", "answer": ans}
        for i, ans in enumerate(["白色です", "黒です", "赤", "青です"])
    ]
    samples, report = read_vqa(write(tmp_path / "vqa.jsonl", rows))
    return samples, report


class Interrupt(BaseException):
    """Stands in for Ctrl-C / a killed process: not an Exception, so the runner does not catch it."""


def test_run_writes_predictions_and_scores(vqa, tmp_path):
    samples, report = vqa
    out = tmp_path / "run"
    result = run_benchmark(
        get_benchmark("vqa"), samples, lambda s: {"prediction": s.answer}, out, "fake", "vqa.jsonl", report,
    ).to_dict()  # fmt: skip
    assert result["scores"]["rouge_l"] == pytest.approx(100.0)
    assert result["n_predicted"] == 4 and result["n_errors"] == 0
    lines = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == ["q0", "q1", "q2", "q3"]
    assert json.loads((out / "scores.json").read_text())["scores"]["exact_match"] == 1.0
    assert json.loads((out / "run.json").read_text())["model"] == "fake"
    per = [json.loads(x) for x in (out / "per_sample.jsonl").read_text().splitlines()]
    assert [p["id"] for p in per] == ["q0", "q1", "q2", "q3"] and all(p["rouge_l"] == 100.0 for p in per)
    assert result["primary"] == {"metric": "rouge_l", "mean": 100.0, "ci95": [100.0, 100.0]}
    gt = [json.loads(x) for x in (out / "ground_truth.jsonl").read_text().splitlines()]
    assert gt[0]["answer"] == "白色です"


def test_interrupted_run_resumes_and_retries_errors(vqa, tmp_path):
    samples, _ = vqa
    out = tmp_path / "run"
    calls = []

    def flaky(s):
        calls.append(s.id)
        if s.id == "q1":
            raise ModelOutputError("unparseable answer")
        if s.id == "q2":
            raise Interrupt
        return {"prediction": s.answer}

    with pytest.raises(Interrupt):
        run_benchmark(get_benchmark("vqa"), samples, flaky, out, "fake")
    kept = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert kept == [
        {"id": "q0", "prediction": "白色です"},
        {"id": "q1", "error": "unparseable answer"},  # a TenkenError's own message (core.runs.error_message)
    ]

    calls.clear()
    result = run_benchmark(get_benchmark("vqa"), samples, lambda s: calls.append(s.id) or {"prediction": s.answer},
                           out, "fake").to_dict()  # fmt: skip
    assert calls == ["q1", "q2", "q3"]  # q0 kept, the failed q1 retried
    assert result["n_resumed"] == 1 and result["scores"]["rouge_l"] == pytest.approx(100.0)
    ids = [json.loads(x)["id"] for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert sorted(ids) == ["q0", "q1", "q2", "q3"] and len(ids) == 4


def test_errors_are_counted_and_scored_as_empty(vqa, tmp_path):
    samples, _ = vqa

    def predict(s):
        if s.id == "q3":
            raise RuntimeError("model crashed")
        return {"prediction": s.answer}

    result = run_benchmark(get_benchmark("vqa"), samples, predict, tmp_path / "r", "fake").to_dict()
    assert result["n_errors"] == 1
    assert result["scores"]["rouge_l"] == pytest.approx(75.0)
    skipped = result["scores"]["input"]["skipped"]
    assert skipped[0]["id"] == "q3" and "no 'prediction'" in skipped[0]["reason"]


def test_another_model_in_the_same_folder_is_refused(vqa, tmp_path):
    samples, _ = vqa
    run_benchmark(get_benchmark("vqa"), samples[:1], lambda s: {"prediction": ""}, tmp_path, "model-a")
    with pytest.raises(InputError, match="model-a"):
        run_benchmark(get_benchmark("vqa"), samples[:1], lambda s: {"prediction": ""}, tmp_path, "model-b")


def test_rec_and_anomaly_runners(tmp_path):
    rec_rows = [{"id": "r1", "image": "a.jpg", "expression": "人", "box": [0, 0, 10, 10]},
                {"id": "r2", "image": "a.jpg", "expression": "車", "box": [50, 50, 90, 90]}]  # fmt: skip
    samples, _ = read_rec(write(tmp_path / "rec.jsonl", rec_rows))
    res = run_benchmark(get_benchmark("rec"), samples, lambda s: {"box": s.box.tolist() if s.id == "r1" else None},
                        tmp_path / "rec", "fake").to_dict()  # fmt: skip
    assert res["scores"]["acc@0.5"] == 0.5

    an_rows = [{"id": "p1", "target": "t.jpg", "reference": "r.jpg", "boxes": [[0, 0, 40, 40]], "labels": ["tool"]}]
    samples, _ = read_anomaly(write(tmp_path / "an.jsonl", an_rows))
    report = {"schema": "tenken.report/1", "detections": [{"box": [0, 0, 40, 40], "label": "tool", "score": None}]}
    res = run_benchmark(get_benchmark("anomaly"), samples, lambda s: report, tmp_path / "an", "classical").to_dict()
    assert res["scores"]["f1_bbox_label"] == 1.0 and res["scores"]["map50"] == pytest.approx(1.0)


def test_unknown_benchmark_lists_known_ones():
    with pytest.raises(InputError, match="ja-vg-vqa-500"):
        get_benchmark("nope")


def test_unserialisable_prediction_is_a_recorded_error(vqa, tmp_path):
    samples, _ = vqa
    result = run_benchmark(
        get_benchmark("vqa"), samples[:2], lambda s: {"prediction": object() if s.id == "q0" else "黒"},
        tmp_path / "r", "fake",
    ).to_dict()  # fmt: skip
    assert result["n_errors"] == 1
    lines = [json.loads(x) for x in (tmp_path / "r" / "predictions.jsonl").read_text().splitlines()]
    assert lines[0]["id"] == "q0" and "TypeError" in lines[0]["error"] and lines[1]["prediction"] == "黒"


def test_split_and_images_only_for_published_datasets(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    row = {"id": 5, "caption": "the red car", "bbox": [1, 2, 3, 4], "file_name": "a.jpg", "width": 9, "height": 9}
    pq.write_table(pa.Table.from_pylist([row]), tmp_path / "ref-l4-test.parquet")
    samples, _ = get_benchmark("ref-l4").read(tmp_path, split="test", images_dir=tmp_path / "imgs")
    assert samples[0].image == str(tmp_path / "imgs" / "a.jpg") and samples[0].box.tolist() == [1, 2, 4, 6]
    with pytest.raises(InputError, match="published datasets"):
        get_benchmark("vqa").read(tmp_path / "x.jsonl", split="test")


def test_concurrent_workers_write_every_sample_once(vqa, tmp_path):
    import random
    import threading
    import time

    samples, _ = vqa
    seen_threads = set()

    def slow(s):
        seen_threads.add(threading.get_ident())
        time.sleep(random.uniform(0.01, 0.05))
        if s.id == "q2":
            raise ValueError("bad image")
        return {"prediction": s.answer}

    result = run_benchmark(get_benchmark("vqa"), samples, slow, tmp_path / "r", "fake", workers=3).to_dict()
    assert len(seen_threads) > 1 and result["n_errors"] == 1
    ids = sorted(json.loads(x)["id"] for x in (tmp_path / "r" / "predictions.jsonl").read_text().splitlines())
    assert ids == ["q0", "q1", "q2", "q3"]
    assert result["scores"]["rouge_l"] == pytest.approx(75.0)


def test_run_result_is_typed_and_progress_goes_through_callbacks(vqa, tmp_path):
    samples, _ = vqa
    started, events = [], []
    result = run_benchmark(
        get_benchmark("vqa"), samples, lambda s: {"prediction": s.answer}, tmp_path / "r", "fake",
        on_start=started.append, progress=events.append,
    )  # fmt: skip
    assert started == [4] and [e.item.id for e in events] == ["q0", "q1", "q2", "q3"]
    assert result.scored.scores.rouge_l == pytest.approx(100.0) and result.primary.metric == "rouge_l"
    assert result.n_predicted == 4 and result.scored.input.clean
