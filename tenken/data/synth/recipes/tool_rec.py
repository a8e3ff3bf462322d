"""``tool-rec``: referring expressions for tools, kept only when they ground back to the box they describe.

Stages (per image):

1. Detect: the VLM grounds ``targets`` (default ``"tools"``) -> boxes (tenken's grounding prompt).
2. Describe: for each box, the VLM writes a noun phrase that tells that object apart (prompt
   ``tool-rec.describe``; the box is given in the family's own coordinate frame).
3. Re-ground: the VLM grounds the phrase; the sample is kept only when exactly one box comes back and its IoU
   with the detected box is at least ``iou_threshold`` (filter ``self_consistency``).

Default ``iou_threshold = 0.5``: the REC hit criterion (Ref-L4 protocol, tenken's REC accuracy at 0.5), so a
kept sample is one the teacher itself would be scored correct on. Two groundings of the same object by the
same model differ by a few pixels (IoU ~0.8-0.95); a wrong object or a badly placed first box lands far
below 0.5. ``benchmarks/synth.py`` sweeps 0.3/0.5/0.7: 0.5 keeps the precision of 0.7 at a higher yield.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from tenken.core.boxes import box_iou
from tenken.core.errors import TenkenError
from tenken.data.format import BOX_MARK, IMAGE_MARK, FilterDecision
from tenken.data.synth.prompts import TOOL_DESCRIBE
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


class ToolRecOptions(RecipeOptions):
    """Options of ``tool-rec``."""

    targets: str = Field("tools", description="what to detect in stage 1 (an expression, e.g. 'hand tools')")
    iou_threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="keep when the re-grounded box has IoU >= this with the detected one"
    )
    max_boxes: int = Field(20, ge=1, description="at most this many detected boxes are described per image")
    min_side: float = Field(
        8.0, ge=0.0, description="detected boxes with a side shorter than this (pixels) are skipped"
    )


@register("tool-rec")
class ToolRecRecipe(Recipe):
    """Detect -> describe -> re-ground, kept on self-consistency."""

    task = "rec"
    needs = ("vlm",)
    Options = ToolRecOptions
    prompts = (TOOL_DESCRIBE,)
    summary = "detect tools, describe each box, keep descriptions that ground back to their box (IoU gate)"

    def run(self, item: SynthItem, ctx: SynthContext) -> Outcome:
        """Detect, describe each box, re-ground each description, gate on IoU."""
        opts: ToolRecOptions = ctx.options  # type: ignore[assignment]
        vlm = ctx.teachers.vlm
        assert vlm is not None
        image, ref = ctx.open_image(item)
        out = Outcome()
        dets = vlm.ground(image, opts.targets, opts.lang)
        sides = np.minimum(dets.xyxy[:, 2] - dets.xyxy[:, 0], dets.xyxy[:, 3] - dets.xyxy[:, 1])
        for k, box in enumerate(dets.xyxy[sides >= opts.min_side][: opts.max_boxes]):
            sid = f"tool-rec-{item.id}-{k}"
            prompt = TOOL_DESCRIBE.fill(opts.lang, box=vlm.box_text(box, image), scale=vlm.scale_note(opts.lang))
            try:
                phrase = vlm.ask(prompt, image).strip().strip("\"'「」.。")
            except TenkenError as exc:
                out.reject(ctx.raw_sample(sid, ref, prompt, "", self.task), teacher_failure(exc, "describe"))
                continue
            if not phrase or len(phrase) > 200 or "\n" in phrase:
                out.reject(ctx.raw_sample(sid, ref, prompt, phrase, self.task), unparsable("describe", phrase))
                continue
            question = IMAGE_MARK + fill_task(GROUND, opts.lang, expression=phrase, fmt="").strip()
            sample_args = {"images": ref, "messages": [("user", question), ("assistant", BOX_MARK)], "task": self.task}
            try:
                again = vlm.ground(image, phrase, opts.lang)
            except TenkenError as exc:
                out.reject(ctx.sample(sid, boxes=[(box, phrase)], **sample_args), teacher_failure(exc, "re-ground"))
                continue
            iou = float(box_iou(box[None], again.xyxy).max()) if len(again) else 0.0
            unique = len(again) == 1
            keep = (unique and iou >= opts.iou_threshold) or opts.iou_threshold == 0.0
            reason = f"re-grounded to {len(again)} box(es), IoU {iou:.2f}"
            decision = FilterDecision(
                name="self_consistency", keep=keep, score=iou, threshold=opts.iou_threshold, reason=reason
            )
            sample = ctx.sample(sid, boxes=[(box, phrase)], filters=[decision] if keep else [], **sample_args)
            if keep:
                out.keep(sample)
            else:
                out.reject(sample, decision)
        return out
