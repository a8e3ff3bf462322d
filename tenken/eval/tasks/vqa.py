"""VQA benchmarks: a question about an image, scored by Japanese ROUGE-L, exact / normalised match and an
optional LLM judge (``vqa``: tenken's JSONL; ``ja-vg-vqa-500``: SakanaAI/JA-VG-VQA-500)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenken.eval import formats
from tenken.eval.tasks import TASKS, add_benchmark
from tenken.eval.tasks.base import BenchmarkSpec, BenchmarkTask, ModelSettings, Predict, Scored

if TYPE_CHECKING:
    from tenken.eval.judge import LLMJudge
    from tenken.eval.scoring import VQAScores


@TASKS.register("vqa")
class VQATask(BenchmarkTask):
    """Answer a question; ``prediction`` is the answer text."""

    name = "vqa"
    primary = "rouge_l"
    headline = ("rouge_l", "exact_match", "normalized_match", "llm_judge")

    def predictor(self, benchmark: BenchmarkSpec, settings: ModelSettings) -> Predict:
        """``tenken.tasks.vqa.ask`` (a short answer when the benchmark asks for one)."""
        from tenken.tasks.vqa import ask

        vlm = settings.load_vlm()
        lang = settings.lang or benchmark.lang

        def predict_vqa(s: formats.VQASample) -> dict[str, Any]:
            return {"prediction": ask(vlm, s.image, s.question, lang=lang, short=benchmark.short)}  # type: ignore[arg-type]

        return predict_vqa

    def score(
        self, gt_path: str | Path, pred_path: str | Path, *, judge: LLMJudge | None = None, per_sample: bool = False
    ) -> Scored[VQAScores]:
        """:func:`tenken.eval.scoring.score_vqa_files`."""
        from tenken.eval.scoring import score_vqa_files

        return score_vqa_files(gt_path, pred_path, judge=judge, per_sample=per_sample)


add_benchmark(
    BenchmarkSpec("vqa", "vqa", formats.read_vqa, "ja", "VQA JSONL {id,image,question,answer}")
)
add_benchmark(
    BenchmarkSpec(
        "ja-vg-vqa-500", "vqa", formats.read_ja_vg_vqa_500, "ja",
        "SakanaAI/JA-VG-VQA-500 local copy (folder with data/test-*.parquet)", short=True, has_split=True,
    )
)
