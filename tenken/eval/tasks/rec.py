"""Referring-expression comprehension (grounding) benchmarks: find the one box an expression names, scored by
accuracy at IoU > 0.5 / 0.75 / 0.9 and mAcc (``rec``: tenken's JSONL; ``ref-l4``: JierunChen/Ref-L4)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenken.eval import formats
from tenken.eval.tasks import TASKS, add_benchmark
from tenken.eval.tasks.base import BenchmarkSpec, BenchmarkTask, ModelSettings, Predict, Scored

if TYPE_CHECKING:
    from tenken.eval.judge import LLMJudge
    from tenken.eval.rec import RecScores


@TASKS.register("rec")
class RECTask(BenchmarkTask):
    """Ground an expression; ``box`` is the first (highest-ranked) box, None when the model gave none."""

    name = "rec"
    primary = "hit@0.5"
    headline = ("acc@0.5", "acc@0.75", "acc@0.9", "macc")

    def predictor(self, benchmark: BenchmarkSpec, settings: ModelSettings) -> Predict:
        """``tenken.tasks.grounding.ground``; the first box is the answer, none is a miss."""
        from tenken.tasks.grounding import ground

        vlm = settings.load_vlm()
        lang = settings.lang or benchmark.lang

        def predict_rec(s: formats.RECSample) -> dict[str, Any]:
            dets = ground(vlm, s.image, s.expression, lang=lang)  # type: ignore[arg-type]
            return {"box": dets.xyxy[0].tolist() if len(dets) else None, "n_boxes": len(dets)}

        return predict_rec

    def score(
        self, gt_path: str | Path, pred_path: str | Path, *, judge: LLMJudge | None = None, per_sample: bool = False
    ) -> Scored[RecScores]:
        """:func:`tenken.eval.scoring.score_rec_files`."""
        from tenken.eval.scoring import score_rec_files

        return score_rec_files(gt_path, pred_path, per_sample=per_sample)

    def plots(self, names: Sequence[str], scores: Sequence[dict[str, Any]], folder: Path) -> list[Path]:
        """Accuracy against the IoU threshold, one curve per run."""
        from tenken.eval.plots import plot_threshold_curves

        return [plot_threshold_curves(list(scores), list(names), folder / "rec_thresholds.png")]


add_benchmark(
    BenchmarkSpec("rec", "rec", formats.read_rec, "ja", "REC JSONL {id,image,expression,box}")
)
add_benchmark(
    BenchmarkSpec(
        "ref-l4", "rec", formats.read_ref_l4, "en",
        "JierunChen/Ref-L4 local copy (folder with ref-l4-val.parquet and images/)", has_split=True,
    )
)
