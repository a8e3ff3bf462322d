"""Detection benchmark (``anomaly``): anomaly pairs through the inspection pipeline, scored by per-sample F1
(bbox only, bbox + label), recall by box size and COCO mAP@50."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenken.core.errors import InputError
from tenken.eval import formats
from tenken.eval.tasks import TASKS, add_benchmark
from tenken.eval.tasks.base import BenchmarkSpec, BenchmarkTask, ModelSettings, Predict, Scored

if TYPE_CHECKING:
    from tenken.eval.judge import LLMJudge
    from tenken.eval.scoring import DetectionFileScores


@TASKS.register("detection")
class DetectionTask(BenchmarkTask):
    """Find and label what changed; the prediction is a ``tenken.report/1`` report."""

    name = "detection"
    primary = "f1_bbox_label"
    headline = ("f1_bbox", "f1_bbox_label", "map50", "map50_bbox")

    def predictor(self, benchmark: BenchmarkSpec, settings: ModelSettings) -> Predict:
        """``tenken.inspect.pipeline.Inspector`` with ``settings.detector`` (``classical`` when the model is
        ``"classical"``, else ``hybrid`` by default) and ``settings.inspect_options``.

        Raises:
            InputError: the pipeline cannot be imported, or a VLM detector was asked for without a model.
        """
        try:
            from tenken.inspect.pipeline import Inspector
        except ImportError as exc:
            raise InputError(f"benchmark {benchmark.name!r} needs the inspection pipeline ({exc})") from None

        lang = settings.lang or benchmark.lang
        if settings.model in ("", "classical"):
            if settings.detector not in (None, "classical"):
                raise InputError(
                    f"detector {settings.detector!r} needs a VLM: pass --model SPEC instead of 'classical'"
                )
            inspector = Inspector(detector="classical", lang=lang, **settings.inspect_options)  # type: ignore[arg-type]
        else:
            inspector = Inspector(
                detector=settings.detector or "hybrid",  # type: ignore[arg-type]
                lang=lang,  # type: ignore[arg-type]
                vlm=settings.load_vlm(),
                **settings.inspect_options,
            )

        def predict_anomaly(s: formats.AnomalySample) -> dict[str, Any]:
            report = inspector.inspect(s.target, s.reference, id=s.id).to_dict()
            return {k: v for k, v in report.items() if k != "id"}

        return predict_anomaly

    def score(
        self, gt_path: str | Path, pred_path: str | Path, *, judge: LLMJudge | None = None, per_sample: bool = False
    ) -> Scored[DetectionFileScores]:
        """:func:`tenken.eval.scoring.score_detection_files`."""
        from tenken.eval.scoring import score_detection_files

        return score_detection_files(gt_path, pred_path, per_sample=per_sample)

    def extra_table(self, scores: dict[str, Any]) -> str | None:
        """Recall and agreement by box size."""
        from tenken.eval.tables import size_table

        return size_table(scores)

    def plots(self, names: Sequence[str], scores: Sequence[dict[str, Any]], folder: Path) -> list[Path]:
        """Recall and agreement by box size, one line per run."""
        from tenken.eval.plots import plot_size_recall

        return [
            plot_size_recall(list(scores), list(names), folder / "size_recall.png"),
            plot_size_recall(list(scores), list(names), folder / "size_agreement.png", metric="agreement"),
        ]


add_benchmark(
    BenchmarkSpec(
        "anomaly", "detection", formats.read_anomaly, "ja",
        "anomaly pairs JSONL {id,target,reference,boxes,labels} through the inspect pipeline",
    )
)
