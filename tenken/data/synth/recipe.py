"""What a data recipe is: a registered class that turns one item (an image, or a group of samples) into kept and
rejected :class:`~tenken.data.format.TrainingSample` s, with every filter's decision in their provenance.

A new recipe is one module with a decorator::

    @RECIPES.register("count")
    class CountRecipe(Recipe):
        task = "count"
        needs = ("vlm", "segmenter")
        Options = CountOptions            # a pydantic model: every threshold a named, documented option
        prompts = (COUNT_EXPRESSIONS,)

        def run(self, item: SynthItem, ctx: SynthContext) -> Outcome: ...

The job (:func:`tenken.data.synth.job.run_synth`) runs ``run`` over the items through the resumable run engine.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tenken.configs import Lang
from tenken.core.errors import InputError
from tenken.core.registry import Registry
from tenken.data.format import IMAGE_MARK, Box, FilterDecision, Message, Provenance, TrainingSample
from tenken.data.synth.prompts import Prompt
from tenken.data.synth.teachers import Teachers

RECIPES: Registry[type[Recipe]] = Registry(
    "data recipe",
    modules=tuple(
        f"tenken.data.synth.recipes.{m}"
        for m in ("rec", "caption_qa", "spatial", "count", "tool_rec", "anomaly_pairs", "translate")
    ),
)
"""Every recipe, by name (``tenken data synth NAME``)."""


class RecipeOptions(BaseModel):
    """Options every recipe has. Subclasses add theirs; each field's description is its documentation."""

    model_config = ConfigDict(extra="forbid")

    lang: Lang = Field("en", description="language of the teacher prompts and of the samples written")


@dataclass
class SynthItem:
    """One unit of work: an image (``image``), or other input a recipe reads (``payload``).

    ``id`` is stable across runs (the run engine resumes by it) and unique within a job.
    """

    id: str
    image: Path | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """What one item gave: samples kept and samples rejected (with ``provenance.rejected_by`` set)."""

    kept: list[TrainingSample] = field(default_factory=list)
    rejected: list[TrainingSample] = field(default_factory=list)

    def keep(self, sample: TrainingSample) -> None:
        """Add a sample that passed every filter."""
        self.kept.append(sample)

    def reject(self, sample: TrainingSample, decision: FilterDecision) -> None:
        """Add a rejected sample; ``decision`` (``keep=False``) becomes its ``rejected_by`` and its last filter."""
        decision = decision.model_copy(update={"keep": False})
        prov = sample.provenance.model_copy(
            update={"rejected_by": decision, "filters": [*sample.provenance.filters, decision]}
        )
        self.rejected.append(sample.model_copy(update={"provenance": prov}))


@dataclass
class SynthContext:
    """What a recipe's ``run`` may use: the teachers, the options, where images are referenced from.

    ``roles``: the teacher roles the recipe needs or uses (the provenance names only those).
    """

    recipe: str
    teachers: Teachers
    options: RecipeOptions
    out_dir: Path
    prompts: Sequence[Prompt] = ()
    roles: Sequence[str] = ()

    def open_image(self, item: SynthItem) -> tuple[np.ndarray, list[str]]:
        """The item's image, ``(H, W, 3)`` uint8 RGB after EXIF orientation, and its one-element list of
        references for a sample's ``images`` (:meth:`image_ref`)."""
        from tenken.core.images import load_image

        return load_image(item.image), [self.image_ref(item.image)]

    def image_ref(self, path: str | os.PathLike) -> str:
        """``path`` as written in a sample: relative to the output folder (the JSONL's folder) when possible."""
        p = Path(path).resolve()
        try:
            return os.path.relpath(p, self.out_dir.resolve())
        except ValueError:  # another drive (Windows)
            return str(p)

    def sample(
        self,
        sid: str,
        *,
        images: Sequence[str],
        messages: Sequence[tuple[str, str]],
        task: str,
        boxes: Sequence[tuple[Sequence[float], str]] = (),
        filters: Sequence[FilterDecision] = (),
        lang: Lang | None = None,
        **extra: Any,
    ) -> TrainingSample:
        """A :class:`TrainingSample` with this job's provenance (recipe, teachers, prompt versions).

        Args:
            sid: the sample id (unique in the job).
            images: image references (:meth:`image_ref`).
            messages: ``(role, content)`` turns.
            boxes: ``(xyxy pixels of images[0], label)`` pairs.
            filters: decisions of the filters the sample went through.
            extra: more provenance fields (e.g. ``box_source``).
        """
        prov = Provenance(
            recipe=self.recipe,
            teachers={k: v for k, v in self.teachers.ids().items() if k in self.roles},
            prompt_version=",".join(p.version for p in self.prompts) or None,
            filters=list(filters),
            **extra,
        )
        return TrainingSample(
            id=sid,
            images=list(images),
            messages=[Message(role=r, content=c) for r, c in messages],  # type: ignore[arg-type]
            boxes=[Box(box=tuple(float(v) for v in b), label=lab) for b, lab in boxes],  # type: ignore[arg-type]
            task=task,
            lang=lang or self.options.lang,
            provenance=prov,
        )

    def raw_sample(self, sid: str, images: Sequence[str], prompt: str, answer: str, task: str) -> TrainingSample:
        """A sample holding a teacher's prompt and raw answer, for the rejected file when the answer could not
        be used (unparsable, empty, or a teacher error given as ``answer``)."""
        marks = IMAGE_MARK * len(images)
        return self.sample(
            sid, images=images, messages=[("user", marks + prompt), ("assistant", answer[:4000])], task=task
        )


def teacher_failure(exc: Exception, stage: str) -> FilterDecision:
    """The rejection of a sample whose teacher call failed (timeout, server error): the sample is lost, the
    item goes on."""
    from tenken.core.runs import error_message

    return FilterDecision(name="teacher", keep=False, reason=f"{stage}: {error_message(exc)}")


def unparsable(stage: str, answer: str) -> FilterDecision:
    """The rejection of a sample whose teacher answer could not be read."""
    return FilterDecision(name="parse", keep=False, reason=f"{stage}: no usable answer in {answer.strip()[:120]!r}")


class Recipe:
    """Base of every recipe (see the module docstring). Subclasses set the class attributes and ``run``."""

    name: ClassVar[str] = ""
    task: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = ()
    uses: ClassVar[tuple[str, ...]] = ()
    Options: ClassVar[type[RecipeOptions]] = RecipeOptions
    prompts: ClassVar[tuple[Prompt, ...]] = ()
    summary: ClassVar[str] = ""

    def items(self, source: str | os.PathLike, options: RecipeOptions) -> list[SynthItem]:
        """The items of a job over ``source`` (default: the images of a folder or manifest)."""
        from tenken.data.synth.inputs import image_items

        return image_items(source)

    def prepare(self, options: RecipeOptions) -> None:
        """Check and load what the job needs before any item runs (raise :class:`InputError` on bad input)."""

    def run(self, item: SynthItem, ctx: SynthContext) -> Outcome:
        """Kept and rejected samples of one item. Raising fails the item only (retried on resume)."""
        raise NotImplementedError

    @classmethod
    def parse_options(cls, values: dict[str, Any]) -> RecipeOptions:
        """``values`` (e.g. from ``--set key=value``) validated into the recipe's options.

        Raises:
            InputError: an unknown option or a value of the wrong type (named in the message).
        """
        try:
            return cls.Options.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']}" for e in exc.errors())
            known = ", ".join(cls.Options.model_fields)
            raise InputError(f"recipe {cls.name!r} options: {problems} (options: {known})") from None


def register(name: str) -> Any:
    """Decorator: register a :class:`Recipe` subclass under ``name`` and set its ``name``."""

    def add(cls: type[Recipe]) -> type[Recipe]:
        cls.name = name
        return RECIPES.register(name)(cls)

    return add


def rng_for(item_id: str, salt: str = "") -> np.random.Generator:
    """A random generator that depends only on ``item_id`` (and ``salt``), so a resumed job draws the same."""
    import hashlib

    digest = hashlib.sha256(f"{salt}:{item_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))
