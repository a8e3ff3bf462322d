"""The benchmark-task registry: every task declares its headline and primary metric; a new task is one class."""

from pathlib import Path

import pytest

from tenken.core.errors import InputError
from tenken.eval.tables import headline
from tenken.eval.tasks import BENCHMARKS, TASKS, get_benchmark, get_task
from tenken.eval.tasks.base import BenchmarkTask, Scored


def test_builtin_tasks_and_benchmarks_register_themselves():
    assert {"vqa", "rec", "classify", "detection"} <= set(TASKS.names())
    assert {b: get_benchmark(b).task for b in ("vqa", "ja-vg-vqa-500", "rec", "ref-l4", "classify", "anomaly")} == {
        "vqa": "vqa", "ja-vg-vqa-500": "vqa", "rec": "rec", "ref-l4": "rec", "classify": "classify",
        "anomaly": "detection",
    }  # fmt: skip
    for name in TASKS.names():
        task = get_task(name)
        assert task.name == name and task.primary and task.headline
    with pytest.raises(InputError, match="ref-l4"):
        get_benchmark("nope")


def test_a_new_task_is_one_registered_class(tmp_path: Path):
    from tenken.core.artifacts import LoadReport

    class Echo:
        def to_dict(self):
            return {"echo": 1.0}

    @TASKS.register("echo-test")
    class EchoTask(BenchmarkTask):
        name = "echo-test"
        primary = "echo"
        headline = ("echo",)

        def predictor(self, benchmark, settings):
            return lambda s: {"prediction": "x"}

        def score(self, gt_path, pred_path, *, judge=None, per_sample=False):
            return Scored(Echo(), LoadReport(), [{"id": "a", "echo": 1.0}] if per_sample else None)

    try:
        assert headline("echo-test", {"echo": 1.0, "other": 2}) == {"echo": 1.0}
        assert get_task("echo-test").score("g", "p", per_sample=True).to_dict()["echo"] == 1.0
    finally:
        TASKS._entries.pop("echo-test")
    assert "echo-test" not in BENCHMARKS
