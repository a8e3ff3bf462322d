"""``caption-qa``: a caption of verifiable facts, then QA pairs written from the caption alone.

Stages (per image):

1. The VLM describes the image with verifiable facts only (prompt ``caption-qa.caption``); the caption is a
   sample of its own (task ``caption``) unless ``caption_samples=false``.
2. The text LLM (the VLM without the image when no LLM is given) writes ``pairs`` QA pairs from the caption
   alone (prompt ``caption-qa.qa``), in the short-answer style (``caption-qa.style-short``), the free-form
   style (``caption-qa.style-free``) or both (``variant``).
3. Short answers must be short (at most ``max_short_words`` words; Japanese: 3 characters a word) and
   supported by the caption: the answer, a yes/no, or a number occurs in it (filter ``support``), since the
   LLM never saw the image. Short-answer questions get tenken's VQA short-answer instruction
   (:data:`tenken.tasks.prompts.VQA_SHORT`), as at inference.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import Field

from tenken.core.errors import TenkenError
from tenken.data.format import IMAGE_MARK, FilterDecision
from tenken.data.synth.prompts import CAPTION, QA_FROM_CAPTION, QA_STYLE_FREE, QA_STYLE_SHORT
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
from tenken.tasks.prompts import VQA_SHORT
from tenken.tasks.prompts import fill as fill_task
from tenken.vlm.parse import json_objects

YES_NO = ("yes", "no", "はい", "いいえ")


class CaptionQAOptions(RecipeOptions):
    """Options of ``caption-qa``."""

    variant: Literal["short", "free", "both"] = Field("both", description="short-answer, free-form, or both")
    pairs: int = Field(4, ge=1, le=20, description="QA pairs asked for per caption and variant")
    max_short_words: int = Field(5, ge=1, description="short answers longer than this many words are dropped")
    support: bool = Field(True, description="drop short answers that do not occur in the caption")
    caption_samples: bool = Field(True, description="also write each caption as a captioning sample")


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().strip(" .。!！?？").split())


def supported(answer: str, caption: str) -> bool:
    """True when the short ``answer`` occurs in ``caption`` (NFKC, case- and space-folded), is a yes/no, or is
    a number that occurs in it."""
    a, c = _norm(answer), _norm(caption)
    if not a:
        return False
    if a.isdigit():  # "3" is not supported by "23 cars"
        return re.search(rf"(?<!\d){a}(?!\d)", c) is not None
    return a in YES_NO or a in c


def word_count(text: str) -> int:
    """Words of ``text``: space-separated words, or for Japanese (no spaces) characters / 3."""
    t = text.strip()
    return len(t.split()) if " " in t or t.isascii() else max(1, round(len(t) / 3))


@register("caption-qa")
class CaptionQARecipe(Recipe):
    """Caption of verifiable facts -> QA pairs from the caption alone."""

    task = "vqa"
    needs = ("vlm",)
    uses = ("llm",)
    Options = CaptionQAOptions
    prompts = (CAPTION, QA_FROM_CAPTION, QA_STYLE_SHORT, QA_STYLE_FREE)
    summary = "a caption of verifiable facts, then short and free-form QA from the caption alone"

    def run(self, item: SynthItem, ctx: SynthContext) -> Outcome:
        """Caption, then QA per variant."""
        opts: CaptionQAOptions = ctx.options  # type: ignore[assignment]
        vlm = ctx.teachers.vlm
        assert vlm is not None
        image, ref = ctx.open_image(item)
        out = Outcome()
        p_cap = CAPTION.fill(opts.lang)
        caption = vlm.ask(p_cap, image).strip()
        if len(caption) < 10:
            out.reject(
                ctx.raw_sample(f"caption-qa-{item.id}-c", ref, p_cap, caption, "caption"),
                unparsable("caption", caption),
            )
            return out
        if opts.caption_samples:
            out.keep(
                ctx.sample(
                    f"caption-qa-{item.id}-c",
                    images=ref,
                    messages=[("user", IMAGE_MARK + p_cap), ("assistant", caption)],
                    task="caption",
                )
            )
        variants = ("short", "free") if opts.variant == "both" else (opts.variant,)
        for variant in variants:
            style = (QA_STYLE_SHORT if variant == "short" else QA_STYLE_FREE).fill(opts.lang)
            prompt = QA_FROM_CAPTION.fill(opts.lang, caption=caption, n=str(opts.pairs), style=style)
            sid = f"caption-qa-{item.id}-{variant}"
            try:
                llm = ctx.teachers.llm
                answer = llm.complete(prompt) if llm is not None else vlm.ask(prompt)
            except TenkenError as exc:
                out.reject(ctx.raw_sample(sid, ref, prompt, "", self.task), teacher_failure(exc, f"qa ({variant})"))
                continue
            pairs = [
                p
                for p in json_objects(answer)
                if str(p.get("question", "")).strip() and str(p.get("answer", "")).strip()
            ]
            if not pairs:
                out.reject(ctx.raw_sample(sid, ref, prompt, answer, self.task), unparsable(f"qa ({variant})", answer))
                continue
            for j, p in enumerate(pairs[: opts.pairs]):
                q, a = str(p["question"]).strip(), str(p["answer"]).strip()
                user = IMAGE_MARK + (fill_task(VQA_SHORT, opts.lang, question=q) if variant == "short" else q)
                sample = ctx.sample(
                    f"{sid}-{j}",
                    images=ref,
                    messages=[("user", user), ("assistant", a)],
                    task=self.task,
                    variant=variant,
                )
                if variant == "short":
                    n = word_count(a)
                    if n > opts.max_short_words:
                        out.reject(
                            sample,
                            FilterDecision(name="short_answer", keep=False, score=n, threshold=opts.max_short_words),
                        )
                        continue
                    if opts.support and not supported(a, caption):
                        out.reject(
                            sample,
                            FilterDecision(name="support", keep=False, reason="the answer is not in the caption"),
                        )
                        continue
                    sample.provenance.filters.append(FilterDecision(name="support", keep=True))
                out.keep(sample)
        return out
