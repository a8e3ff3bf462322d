"""``translate``: English training samples -> Japanese, with the seed's safeguards, in a JA:EN mix.

Input: a training JSONL (any recipe's ``samples.jsonl``). Items are the samples of one image, so each
translation sees the image's other texts as context. Per sample:

1. **Mix**: a fraction ``ja_fraction`` (default 0.75, the seed's JA:EN 75:25) of the samples, chosen by a hash
   of the sample id (stable on resume), is translated; the rest is written unchanged in English.
2. Each text segment of each turn (``<image>``/``<bbox>`` marks stay where they are) is translated by the
   LLM (prompt ``translate``) with **context** (a description of the image: a caption sample of the same image
   when the input has one, else the VLM's description (prompt ``caption-qa.caption``) when a VLM is given; and
   the image's other texts; prompt ``translate.context``) and, for referring expressions (task ``rec``),
   **noun-phrase-preserving few-shots** (prompt ``translate.shots-rec``).
3. **Quoted literals** are swapped for markers before translation and put back verbatim in 「」 after it
   (filter ``literals``: a candidate that lost a marker is invalid).
4. **Length**: a candidate whose output/input unit ratio (:func:`~tenken.data.synth.safeguards.token_ratio`)
   falls outside ``[min_ratio, max_ratio]`` is invalid (filter ``token_ratio``). When no candidate is valid,
   the segment is **retranslated** by the second model (``llm2``; the same LLM again when none is given).
   Default band 0.75-3.5: an English word is one unit and a Japanese character one, and correct EN->JA
   translations of the benchmark's sentence set lie in 0.8-3.0, while a translation cut short falls below
   0.75 and a runaway repetition above 3.5 (``benchmarks/synth.py``).
5. **Best of N**: ``candidates`` translations are asked for; the valid one most similar to the source by the
   embedder (a multilingual sentence-transformers model) is kept (filter ``best_of_n``, its similarity as
   score); without an embedder, the first valid one. Candidates differ only when the LLM samples
   (``tenken data synth --llm-temperature``, default 0.7).

A sample whose segment has no valid translation after the retry is rejected, naming the failing filter.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import defaultdict
from pathlib import Path

from pydantic import Field

from tenken.core.errors import InputError, TenkenError
from tenken.data.format import BOX_MARK, IMAGE_MARK, FilterDecision, TrainingSample, iter_samples
from tenken.data.synth.prompts import CAPTION, TRANSLATE, TRANSLATE_CONTEXT, TRANSLATE_SHOTS_REC
from tenken.data.synth.recipe import (
    Outcome,
    Recipe,
    RecipeOptions,
    SynthContext,
    SynthItem,
    register,
    teacher_failure,
)
from tenken.data.synth.safeguards import protect_literals, restore_literals, token_ratio
from tenken.data.synth.teachers import TextLLM

_MARKS = re.compile(f"({re.escape(IMAGE_MARK)}|{re.escape(BOX_MARK)})")


class TranslateOptions(RecipeOptions):
    """Options of ``translate``."""

    ja_fraction: float = Field(0.75, ge=0.0, le=1.0, description="fraction of samples translated (JA:EN mix)")
    candidates: int = Field(3, ge=1, le=10, description="translations asked for per segment (best of N)")
    protect_literals: bool = Field(True, description="keep double-quoted literals verbatim (as 「...」)")
    ratio_check: bool = Field(True, description="reject translations whose length ratio is out of the band")
    min_ratio: float = Field(0.75, ge=0.0, description="lowest output/input unit ratio accepted")
    max_ratio: float = Field(3.5, gt=0.0, description="highest output/input unit ratio accepted")
    context: bool = Field(True, description="give the image's description and other texts as context")
    describe: bool = Field(
        True, description="ask the VLM (when given) to describe an image whose group holds no caption sample"
    )
    max_context: int = Field(5, ge=0, description="at most this many other texts of the image as context")


def in_ja(sample_id: str, fraction: float) -> bool:
    """Whether the sample ``sample_id`` is translated: a hash of its id below ``fraction`` (stable, uniform)."""
    h = int.from_bytes(hashlib.sha256(sample_id.encode()).digest()[:8], "little") / 2**64
    return h < fraction


@register("translate")
class TranslateRecipe(Recipe):
    """EN -> JA translation of training samples with literal, length and best-of-N safeguards."""

    task = "translate"
    needs = ("llm",)
    uses = ("llm2", "embedder", "vlm")
    Options = TranslateOptions
    prompts = (TRANSLATE, TRANSLATE_CONTEXT, TRANSLATE_SHOTS_REC, CAPTION)
    summary = "English samples -> Japanese (literals verbatim, length-ratio retranslation, best of N), JA:EN mix"

    def items(self, source: str | os.PathLike, options: RecipeOptions) -> list[SynthItem]:
        """The samples of a training JSONL grouped by their first image (input order kept)."""
        src = Path(source)
        if not src.is_file():
            raise InputError(f"{src}: translate reads a training JSONL file (e.g. another job's samples.jsonl)")
        groups: dict[str, list[dict]] = defaultdict(list)
        for _, s in iter_samples(src):
            paths = s.image_paths(src.parent)
            key = paths[0].as_posix() if paths else s.id
            groups[key].append({"sample": s, "paths": paths})
        if not groups:
            raise InputError(f"{src}: no valid training sample")
        return [SynthItem(f"g{k:06d}", None, {"group": g}) for k, g in enumerate(groups.values())]

    def run(self, item: SynthItem, ctx: SynthContext) -> Outcome:
        """Translate (or keep, by the mix) each sample of the group."""
        opts: TranslateOptions = ctx.options  # type: ignore[assignment]
        out = Outcome()
        group = item.payload["group"]
        texts = [_plain(m.content) for g in group for m in g["sample"].messages if m.role != "system"]
        caption = next((_plain(g["sample"].messages[-1].content) for g in group if g["sample"].task == "caption"), "")
        if not caption and opts.context and opts.describe and ctx.teachers.vlm is not None and group[0]["paths"]:
            caption = self._describe(group[0]["paths"][0], ctx)
        for g in group:
            src: TrainingSample = g["sample"]
            images = [ctx.image_ref(p) for p in g["paths"]]
            prov = {"source_id": src.id, "source_recipe": src.provenance.recipe, "source_lang": src.lang}
            boxes = [(b.box, b.label) for b in src.boxes]
            msgs = [(m.role, m.content) for m in src.messages]
            if src.lang != "en" or not in_ja(src.id, opts.ja_fraction):
                mix = FilterDecision(name="mix", keep=True, reason="kept in its language by the JA:EN mix")
                out.keep(
                    ctx.sample(
                        src.id,
                        images=images,
                        messages=msgs,
                        task=src.task,
                        boxes=boxes,
                        filters=[mix],
                        lang=src.lang,
                        **prov,
                    )
                )
                continue
            others = [t for t in texts if t and t not in {_plain(c) for _, c in msgs}][: opts.max_context]
            context = ""
            if opts.context and (caption or others):
                context = TRANSLATE_CONTEXT.fill(
                    opts.lang, description=caption or "-", others=" / ".join(others) or "-"
                )
            shots = TRANSLATE_SHOTS_REC.fill(opts.lang) if src.task == "rec" else ""
            new_msgs: list[tuple[str, str]] = []
            filters: dict[str, FilterDecision] = {}
            failure: FilterDecision | None = None
            for role, content in msgs:
                parts = []
                for seg in _MARKS.split(content):
                    if (
                        failure is not None
                        or not seg.strip()
                        or _MARKS.fullmatch(seg)
                        or not re.search(r"[A-Za-z]", seg)
                    ):
                        parts.append(seg)
                        continue
                    ja, decisions, failure = self._segment(seg, ctx, context, shots)
                    for d in decisions:
                        prev = filters.get(d.name)
                        if prev is None or (d.score is not None and (prev.score is None or d.score < prev.score)):
                            filters[d.name] = d
                    lead, trail = seg[: len(seg) - len(seg.lstrip())], seg[len(seg.rstrip()) :]
                    parts.append(lead + (ja or seg.strip()) + trail)
                new_msgs.append((role, "".join(parts)))
            sample = ctx.sample(
                f"{src.id}-ja", images=images, messages=new_msgs, task=src.task, boxes=boxes,
                filters=list(filters.values()), lang="ja", **prov,
            )  # fmt: skip
            if failure is not None:
                out.reject(sample, failure)
            else:
                out.keep(sample)
        return out

    @staticmethod
    def _describe(path: Path, ctx: SynthContext) -> str:
        """The VLM's description of the image (prompt ``caption-qa.caption``), or "" when it cannot give one."""
        from tenken.core.images import load_image

        try:
            return ctx.teachers.vlm.ask(CAPTION.fill(ctx.options.lang), load_image(path)).strip()  # type: ignore[union-attr]
        except TenkenError:  # context is a help, not a requirement
            return ""

    def _segment(
        self, text: str, ctx: SynthContext, context: str, shots: str
    ) -> tuple[str | None, list[FilterDecision], FilterDecision | None]:
        """One segment: candidates, safeguards, the retry with the second model, best of N.

        Returns ``(translation or None, decisions, failure or None)``.
        """
        opts: TranslateOptions = ctx.options  # type: ignore[assignment]
        source = text.strip()
        protected, literals = protect_literals(source) if opts.protect_literals else (source, [])
        prompt = TRANSLATE.fill(opts.lang, context=context, shots=shots, text=protected)
        llm = ctx.teachers.llm
        assert llm is not None
        tries: list[tuple[str, TextLLM]] = [("first", llm), ("retranslate", ctx.teachers.llm2 or llm)]
        last: FilterDecision | None = None
        for stage, model in tries:
            try:
                answers = model.complete_many([prompt] * opts.candidates)
            except TenkenError as exc:
                last = teacher_failure(exc, f"translate ({stage})")
                continue
            valid: list[str] = []
            ratios: list[float] = []
            for ans in answers:
                cand = ans.strip().splitlines()[0].strip() if ans.strip() else ""
                restored = restore_literals(cand, literals) if literals else cand
                if not cand or restored is None:
                    last = FilterDecision(
                        name="literals", keep=False, reason=f"{stage}: a quoted literal was lost in {cand[:80]!r}"
                    )
                    continue
                ratio = token_ratio(restored, source)
                if opts.ratio_check and not opts.min_ratio <= ratio <= opts.max_ratio:
                    last = FilterDecision(
                        name="token_ratio", keep=False, score=round(ratio, 3),
                        reason=f"{stage}: ratio {ratio:.2f} outside [{opts.min_ratio}, {opts.max_ratio}]",
                    )  # fmt: skip
                    continue
                valid.append(restored)
                ratios.append(ratio)
            if not valid:
                continue
            best, score = valid[0], None
            if ctx.teachers.embedder is not None and len(valid) > 1:
                sims = ctx.teachers.embedder.similarity(source, valid)
                best, score = valid[int(sims.argmax())], float(sims.max())
            decisions = [
                FilterDecision(name="literals", keep=True, score=float(len(literals))),
                FilterDecision(name="token_ratio", keep=True, score=round(ratios[valid.index(best)], 3),
                               reason=stage),
                FilterDecision(
                    name="best_of_n", keep=True, score=score, reason=f"{len(valid)} of {len(answers)} valid"
                ),
            ]  # fmt: skip
            return best, decisions, None
        return None, [], last


def _plain(text: str) -> str:
    """A turn's text without image/box marks."""
    return _MARKS.sub("", text).strip()
