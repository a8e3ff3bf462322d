"""``rec``: referring expressions for *sets* of instances, boxed by the segmenter.

Stages (per image):

1. The VLM writes referring expressions for groups of objects ("the black cars" — which doubles as an
   open-vocabulary label), each with its own boxes (prompt ``rec.expressions``).
2. The segmenter finds every instance of each expression -> the sample's boxes (``box_source: segmenter``).
   When it finds none, the VLM's own boxes are used and the sample says so (``box_source: vlm_fallback``,
   filter ``segmenter`` with the reason); ``fallback=false`` rejects such samples instead.

Without a segmenter the VLM's boxes are used (``box_source: vlm``); ``benchmarks/synth.py`` compares the two.

Multi-instance expressions are kept on purpose: the training answer holds one ``<bbox>`` per instance.
"""

from __future__ import annotations

import json

from pydantic import Field

from tenken.core.errors import TenkenError
from tenken.data.format import BOX_MARK, IMAGE_MARK, FilterDecision
from tenken.data.synth.prompts import REC_EXPRESSIONS
from tenken.data.synth.recipe import (
    Outcome,
    Recipe,
    RecipeOptions,
    SynthContext,
    SynthItem,
    register,
    teacher_failure,
    unparsable,
)
from tenken.tasks.prompts import GROUND
from tenken.tasks.prompts import fill as fill_task
from tenken.vlm.parse import json_objects


class RecOptions(RecipeOptions):
    """Options of ``rec``."""

    fallback: bool = Field(True, description="use the VLM's boxes when the segmenter finds no instance")
    max_instances: int = Field(20, ge=1, description="expressions with more instances than this are dropped")
    max_expressions: int = Field(30, ge=1, description="at most this many expressions per image")


@register("rec")
class RecRecipe(Recipe):
    """Multi-instance referring expressions with segmenter boxes (VLM boxes as a recorded fallback)."""

    task = "rec"
    needs = ("vlm",)
    uses = ("segmenter",)
    Options = RecOptions
    prompts = (REC_EXPRESSIONS,)
    summary = "referring expressions for sets of instances; segmenter boxes, VLM boxes as recorded fallback"

    def run(self, item: SynthItem, ctx: SynthContext) -> Outcome:
        """Expressions (with VLM boxes) -> segmenter boxes per expression -> samples."""
        opts: RecOptions = ctx.options  # type: ignore[assignment]
        vlm, seg = ctx.teachers.vlm, ctx.teachers.segmenter
        assert vlm is not None
        image, ref = ctx.open_image(item)
        out = Outcome()
        prompt = REC_EXPRESSIONS.fill(opts.lang, scale=vlm.scale_note(opts.lang))
        answer = vlm.ask(prompt, image)
        entries = [e for e in json_objects(answer) if isinstance(e.get("expression"), str) and e["expression"].strip()]
        if not entries:
            out.reject(
                ctx.raw_sample(f"rec-{item.id}-0", ref, prompt, answer, self.task), unparsable("expressions", answer)
            )
            return out
        for k, entry in enumerate(entries[: opts.max_expressions]):
            expr = entry["expression"].strip()
            sid = f"rec-{item.id}-{k}"
            question = IMAGE_MARK + fill_task(GROUND, opts.lang, expression=expr, fmt="").strip()
            vlm_boxes = vlm.read_boxes(json.dumps(entry.get("boxes", [])), image, warnings_out=[])
            dets, seg_error = None, None
            if seg is not None:
                try:
                    dets = seg.segment(image, expr)
                except TenkenError as exc:
                    seg_error = exc
            if seg is None:
                boxes, source = vlm_boxes.xyxy, "vlm"
                decision = FilterDecision(name="segmenter", keep=True, reason="no segmenter given; VLM boxes used")
            elif dets is not None and len(dets):
                boxes, source = dets.xyxy, "segmenter"
                decision = FilterDecision(name="segmenter", keep=True, score=float(len(dets)))
            else:
                boxes, source = vlm_boxes.xyxy, "vlm_fallback"
                why = "segmenter failed" if seg_error is not None else "segmenter found no instance"
                decision = FilterDecision(
                    name="segmenter", keep=opts.fallback, score=0.0, reason=f"{why}; VLM boxes used"
                )
            n = len(boxes)
            answer_text = BOX_MARK * n
            sample = ctx.sample(
                sid,
                images=ref,
                messages=[("user", question), ("assistant", answer_text or "[]")],
                task=self.task,
                boxes=[(b, expr) for b in boxes],
                filters=[decision] if decision.keep else [],
                box_source=source,
                vlm_instances=len(vlm_boxes),
            )
            if seg_error is not None and not opts.fallback:
                out.reject(sample, teacher_failure(seg_error, "segmenter"))
            elif not decision.keep:
                out.reject(sample, decision)
            elif n == 0:
                out.reject(
                    sample, FilterDecision(name="instances", keep=False, score=0.0, reason="no box from either teacher")
                )
            elif n > opts.max_instances:
                out.reject(
                    sample, FilterDecision(name="instances", keep=False, score=float(n), threshold=opts.max_instances)
                )
            else:
                out.keep(sample)
        return out
