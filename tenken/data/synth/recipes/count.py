"""``count``: counting questions kept only when two independent teachers agree on the number.

Stages (per image):

1. The VLM lists descriptive expressions with a count each (prompt ``count.expressions``).
2. Expressions naming stuff that has no instances (sky, grass, water, ...) are dropped (filter ``countable``).
3. The segmenter finds every instance of each expression; a sample is kept only when the VLM's count equals
   the segmenter's instance count (filter ``count_agreement``, the dual-agreement gate). Its instance boxes
   go with the sample.

The training question is tenken's own counting prompt (:data:`tenken.tasks.prompts.COUNT`); the answer is
the number.
"""

from __future__ import annotations

import re
import unicodedata

from pydantic import Field

from tenken.core.errors import TenkenError
from tenken.data.format import IMAGE_MARK, FilterDecision
from tenken.data.synth.prompts import COUNT_EXPRESSIONS
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
from tenken.tasks.prompts import COUNT
from tenken.tasks.prompts import fill as fill_task
from tenken.vlm.parse import json_objects, parse_count

UNCOUNTABLE = (
    "sky", "grass", "water", "sea", "ocean", "road", "ground", "floor", "snow", "sand", "fog", "smoke", "cloud",
    "clouds", "wall", "field", "vegetation", "background", "空", "芝生", "草", "水", "海", "道路", "地面", "床", "雪",
    "砂", "霧", "煙", "雲", "壁", "背景",
)  # fmt: skip
"""Stuff words: an expression made of one of these (or, in English, containing one as a word; in Japanese,
ending in one) has no countable instances."""


class CountOptions(RecipeOptions):
    """Options of ``count``."""

    agreement: bool = Field(
        True, description="the dual-agreement gate: keep only when the VLM count equals the segmenter count"
    )
    uncountable: list[str] = Field(
        default_factory=lambda: list(UNCOUNTABLE), description="stuff words whose expressions are dropped"
    )
    max_count: int = Field(30, ge=1, description="counts above this are dropped (crowds: neither teacher is reliable)")


def is_uncountable(expression: str, words: list[str]) -> bool:
    """True when ``expression`` names stuff: it is one of ``words``, contains an English one as a word
    (``"blue sky"``, plural ``s`` ignored), or ends in a Japanese one (``"青い空"``, but not ``"空き缶"``)."""
    norm = unicodedata.normalize("NFKC", expression).strip().lower()
    tokens = {t.removesuffix("s") for t in re.findall(r"[a-z]+", norm)}
    for w in words:
        w = unicodedata.normalize("NFKC", w).strip().lower()
        if not w:
            continue
        if norm == w or (w.isascii() and w.removesuffix("s") in tokens) or (not w.isascii() and norm.endswith(w)):
            return True
    return False


@register("count")
class CountRecipe(Recipe):
    """Counting questions with the VLM/segmenter dual-agreement gate."""

    task = "count"
    needs = ("vlm", "segmenter")
    Options = CountOptions
    prompts = (COUNT_EXPRESSIONS,)
    summary = "counting questions kept when the VLM count equals the segmenter's instance count"

    def run(self, item: SynthItem, ctx: SynthContext) -> Outcome:
        """Expressions and counts -> countable filter -> segmenter count -> agreement gate."""
        opts: CountOptions = ctx.options  # type: ignore[assignment]
        vlm, seg = ctx.teachers.vlm, ctx.teachers.segmenter
        assert vlm is not None and seg is not None
        image, ref = ctx.open_image(item)
        out = Outcome()
        prompt = COUNT_EXPRESSIONS.fill(opts.lang)
        answer = vlm.ask(prompt, image)
        entries = [e for e in json_objects(answer) if isinstance(e.get("expression"), str) and e["expression"].strip()]
        if not entries:
            out.reject(
                ctx.raw_sample(f"count-{item.id}-0", ref, prompt, answer, self.task), unparsable("expressions", answer)
            )
            return out
        for k, entry in enumerate(entries):
            expr = entry["expression"].strip()
            sid = f"count-{item.id}-{k}"
            n_vlm = parse_count(str(entry.get("count", "")))
            question = IMAGE_MARK + fill_task(COUNT, opts.lang, expression=expr)
            if n_vlm is None:
                out.reject(ctx.raw_sample(sid, ref, question, str(entry), self.task), unparsable("count", str(entry)))
                continue
            sample = ctx.sample(
                sid, images=ref, messages=[("user", question), ("assistant", str(n_vlm))], task=self.task
            )
            if is_uncountable(expr, opts.uncountable):
                out.reject(sample, FilterDecision(name="countable", keep=False, reason=f"{expr!r} names stuff"))
                continue
            if n_vlm > opts.max_count:
                out.reject(
                    sample,
                    FilterDecision(name="max_count", keep=False, score=n_vlm, threshold=opts.max_count),
                )
                continue
            try:
                dets = seg.segment(image, expr)
            except TenkenError as exc:
                out.reject(sample, teacher_failure(exc, "segmenter"))
                continue
            n_seg = len(dets)
            agree = n_seg == n_vlm
            decision = FilterDecision(
                name="count_agreement",
                keep=agree or not opts.agreement,
                score=float(n_seg),
                reason=f"VLM {n_vlm}, segmenter {n_seg}" + ("" if opts.agreement else " (gate off)"),
            )
            filters = [FilterDecision(name="countable", keep=True), decision]
            boxes = [(b, expr) for b in dets.xyxy] if agree else []
            final = ctx.sample(
                sid,
                images=ref,
                messages=[("user", question), ("assistant", str(n_vlm))],
                task=self.task,
                boxes=boxes,
                filters=filters if decision.keep else filters[:1],
                vlm_count=n_vlm,
                segmenter_count=n_seg,
            )
            if decision.keep:
                out.keep(final)
            else:
                out.reject(final, decision)
        return out
