"""Task classification benchmark (``classify``): name the factory task an image shows, scored by accuracy and
a confusion matrix."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenken.eval import formats
from tenken.eval.tasks import TASKS, add_benchmark
from tenken.eval.tasks.base import BenchmarkSpec, BenchmarkTask, ModelSettings, Predict, Scored

if TYPE_CHECKING:
    from tenken.eval.classification import ClassificationScores
    from tenken.eval.judge import LLMJudge


@TASKS.register("classify")
class ClassifyTask(BenchmarkTask):
    """Classify an image into a task set; ``prediction`` is the task id."""

    name = "classify"
    primary = "correct"
    headline = ("accuracy",)

    def predictor(self, benchmark: BenchmarkSpec, settings: ModelSettings) -> Predict:
        """``tenken.tasks.factory.classify_task`` with the task set ``settings.tasks`` (default: the example)."""
        from tenken.configs import load_task_set
        from tenken.tasks.factory import classify_task

        vlm = settings.load_vlm()
        lang = settings.lang or benchmark.lang
        taskset = load_task_set(settings.tasks)

        def predict_task(s: formats.TaskSample) -> dict[str, Any]:
            return {"prediction": classify_task(vlm, s.image, taskset, lang=lang)}  # type: ignore[arg-type]

        return predict_task

    def score(
        self, gt_path: str | Path, pred_path: str | Path, *, judge: LLMJudge | None = None, per_sample: bool = False
    ) -> Scored[ClassificationScores]:
        """:func:`tenken.eval.scoring.score_classification_files`."""
        from tenken.eval.scoring import score_classification_files

        return score_classification_files(gt_path, pred_path, per_sample=per_sample)


add_benchmark(
    BenchmarkSpec(
        "classify", "classify", formats.read_classification, "ja", "task classification JSONL {id,image,label}"
    )
)
