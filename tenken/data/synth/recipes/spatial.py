"""``spatial``: spatial-relation QA in three separate stages, checked against boxes where boxes exist.

Stages (per image):

1. Objects: the VLM lists the visible objects with a unique name and a box each (prompt ``spatial.objects``).
2. Triplets: the VLM writes subject-relation-object triplets over those names, limited to verifiable
   relations (:data:`RELATIONS`; prompt ``spatial.triplets``). Triplets with another relation or a name not
   in stage 1 are dropped (filters ``relation``, ``objects``). ``left_of``, ``right_of``, ``above`` and
   ``below`` are checked against the stage-1 boxes: a triplet whose boxes say the opposite by more than
   ``box_margin`` x the image side is a contradiction and is dropped (filter ``box_check``).
3. QA: the text LLM (the VLM, text only, when no LLM is given) writes ``paraphrases`` question-answer pairs
   per triplet from the triplet alone (prompt ``spatial.qa``); each pair is one sample.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from tenken.core.errors import TenkenError
from tenken.core.images import image_size
from tenken.data.format import IMAGE_MARK, FilterDecision
from tenken.data.synth.prompts import SPATIAL_OBJECTS, SPATIAL_QA, SPATIAL_TRIPLETS
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
from tenken.vlm.parse import json_objects

RELATIONS: dict[str, tuple[str, str]] = {
    "left_of": ("left of", "の左"),
    "right_of": ("right of", "の右"),
    "above": ("above", "の上"),
    "below": ("below", "の下"),
    "in_front_of": ("in front of", "の前"),
    "behind": ("behind", "の後ろ"),
    "facing": ("facing", "の方を向いている"),
    "holding": ("holding", "を持っている"),
    "connected_to": ("connected to", "につながっている"),
    "carrying": ("carrying", "を運んでいる"),
    "sitting_on": ("sitting on", "の上に座っている"),
}
"""The verifiable relations (key -> English and Japanese wording)."""

BOX_CHECKED = ("left_of", "right_of", "above", "below")


def box_contradicts(relation: str, subject: Sequence[float], obj: Sequence[float], margin: float) -> bool:
    """True when pixel xyxy boxes say the opposite of ``relation`` by more than ``margin`` pixels (box centres:
    ``left_of`` is contradicted when the subject's centre is right of the object's by more than ``margin``).
    Relations other than left/right/above/below are never contradicted (boxes cannot tell)."""
    sx, sy = (subject[0] + subject[2]) / 2, (subject[1] + subject[3]) / 2
    ox, oy = (obj[0] + obj[2]) / 2, (obj[1] + obj[3]) / 2
    if relation == "left_of":
        return sx - ox > margin
    if relation == "right_of":
        return ox - sx > margin
    if relation == "above":
        return sy - oy > margin
    if relation == "below":
        return oy - sy > margin
    return False


class SpatialOptions(RecipeOptions):
    """Options of ``spatial``."""

    box_check: bool = Field(True, description="drop left/right/above/below triplets their boxes contradict")
    box_margin: float = Field(
        0.02, ge=0.0, le=1.0, description="tolerance of the box check, as a fraction of the image side"
    )
    paraphrases: int = Field(2, ge=1, le=10, description="question-answer pairs asked for per triplet")
    max_triplets: int = Field(12, ge=1, description="at most this many triplets per image")


@register("spatial")
class SpatialRecipe(Recipe):
    """Objects -> triplets (box-checked) -> QA paraphrases."""

    task = "spatial"
    needs = ("vlm",)
    uses = ("llm",)
    Options = SpatialOptions
    prompts = (SPATIAL_OBJECTS, SPATIAL_TRIPLETS, SPATIAL_QA)
    summary = "objects, verifiable relation triplets (checked against boxes), QA paraphrases per triplet"

    def run(self, item: SynthItem, ctx: SynthContext) -> Outcome:
        """Three stages; one sample per QA pair of each kept triplet."""
        opts: SpatialOptions = ctx.options  # type: ignore[assignment]
        vlm = ctx.teachers.vlm
        assert vlm is not None
        image, ref = ctx.open_image(item)
        out = Outcome()
        p_obj = SPATIAL_OBJECTS.fill(opts.lang, fmt=vlm.box_instruction(opts.lang))
        answer = vlm.ask(p_obj, image)
        dets = vlm.read_boxes(answer, image, warnings_out=[])
        boxes: dict[str, list[float]] = {}
        for label, box in zip(dets.labels, dets.xyxy, strict=True):
            if label.strip() and label.strip() not in boxes:
                boxes[label.strip()] = box.tolist()
        if not boxes:
            out.reject(
                ctx.raw_sample(f"spatial-{item.id}-0", ref, p_obj, answer, self.task), unparsable("objects", answer)
            )
            return out
        p_tri = SPATIAL_TRIPLETS.fill(opts.lang, objects=", ".join(boxes), relations=", ".join(RELATIONS))
        answer = vlm.ask(p_tri, image)
        triplets = [
            t for t in json_objects(answer) if all(isinstance(t.get(k), str) for k in ("subject", "relation", "object"))
        ]
        if not triplets:
            out.reject(
                ctx.raw_sample(f"spatial-{item.id}-0", ref, p_tri, answer, self.task), unparsable("triplets", answer)
            )
            return out
        margin = opts.box_margin * max(image_size(image))
        for k, t in enumerate(triplets[: opts.max_triplets]):
            subj, rel, obj = t["subject"].strip(), t["relation"].strip().lower().replace(" ", "_"), t["object"].strip()
            sid = f"spatial-{item.id}-{k}"
            fact = f"{subj} {rel} {obj}"
            base = ctx.raw_sample(sid, ref, p_tri, fact, self.task)
            if rel not in RELATIONS:
                out.reject(
                    base, FilterDecision(name="relation", keep=False, reason=f"{rel!r} is not a verifiable relation")
                )
                continue
            if subj not in boxes or obj not in boxes or subj == obj:
                out.reject(
                    base, FilterDecision(name="objects", keep=False, reason=f"{subj!r}/{obj!r} not two listed objects")
                )
                continue
            filters = [FilterDecision(name="relation", keep=True), FilterDecision(name="objects", keep=True)]
            if rel in BOX_CHECKED:
                bad = box_contradicts(rel, boxes[subj], boxes[obj], margin)
                check = FilterDecision(
                    name="box_check",
                    keep=not bad or not opts.box_check,
                    threshold=opts.box_margin,
                    reason="boxes contradict the relation" if bad else "boxes agree",
                )
                if not check.keep:
                    prov = base.provenance.model_copy(update={"filters": filters})
                    out.reject(base.model_copy(update={"provenance": prov}), check)
                    continue
                filters.append(check)
            self._qa(item, ctx, out, k, (subj, rel, obj), boxes, filters)
        return out

    def _qa(
        self,
        item: SynthItem,
        ctx: SynthContext,
        out: Outcome,
        k: int,
        triplet: tuple[str, str, str],
        boxes: dict[str, list[float]],
        filters: list[FilterDecision],
    ) -> None:
        opts: SpatialOptions = ctx.options  # type: ignore[assignment]
        subj, rel, obj = triplet
        words = RELATIONS[rel][0 if opts.lang == "en" else 1]
        prompt = SPATIAL_QA.fill(opts.lang, subject=subj, relation=words, object=obj, n=str(opts.paraphrases))
        ref = [ctx.image_ref(item.image)]
        sid = f"spatial-{item.id}-{k}"
        try:
            llm = ctx.teachers.llm
            answer = llm.complete(prompt) if llm is not None else ctx.teachers.vlm.ask(prompt)  # type: ignore[union-attr]
        except TenkenError as exc:
            out.reject(ctx.raw_sample(sid, ref, prompt, "", self.task), teacher_failure(exc, "qa"))
            return
        pairs = [
            p for p in json_objects(answer) if str(p.get("question", "")).strip() and str(p.get("answer", "")).strip()
        ]
        if not pairs:
            out.reject(ctx.raw_sample(sid, ref, prompt, answer, self.task), unparsable("qa", answer))
            return
        for j, p in enumerate(pairs[: opts.paraphrases]):
            out.keep(
                ctx.sample(
                    f"{sid}-{j}",
                    images=ref,
                    messages=[
                        ("user", IMAGE_MARK + str(p["question"]).strip()),
                        ("assistant", str(p["answer"]).strip()),
                    ],
                    task=self.task,
                    boxes=[(boxes[subj], subj), (boxes[obj], obj)],
                    filters=filters,
                    triplet={"subject": subj, "relation": rel, "object": obj},
                )
            )
