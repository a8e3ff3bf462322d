"""Training recipes: YAML files naming a stage (what is trained), LoRA settings, language mixing, early
stopping and the trainer's arguments (TRL ``SFTConfig`` / ``GRPOConfig`` fields, passed through).

Shipped recipes live in ``tenken/train/recipes/*.yaml`` and are named by their file stem
(``stage1.0-projector``, ``stage1.5-lora``, ``lora-sft``, ``full``); a path to a YAML file works too.
``overrides`` (``"training.learning_rate=5e-4"``) change one dotted key, the value read as YAML.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tenken.core.errors import InputError

RECIPE_DIR = Path(__file__).parent / "recipes"

Stage = Literal["projector", "lora", "full"]


class LoraSpec(BaseModel):
    """peft LoRA settings. ``target_modules`` is a regex over module names (full match, as peft reads a str)."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str
    modules_to_save: list[str] = Field(default_factory=list)

    @field_validator("target_modules")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"target_modules is not a valid regex: {exc}") from None
        return v


class EarlyStopping(BaseModel):
    """Score ``samples`` validation samples every ``every_steps`` optimizer steps with ``tenken.eval``'s
    per-sample detection F1 (``metric``: ``f1_bbox`` or ``f1_bbox_label``; ``reward``: the GRPO rewards'
    weighted mean); stop after ``patience`` scores
    without improvement and keep the best model."""

    model_config = ConfigDict(extra="forbid")

    every_steps: int = Field(100, ge=1)
    patience: int = Field(3, ge=1)
    samples: int = Field(64, ge=1)
    metric: Literal["f1_bbox", "f1_bbox_label", "reward"] = "f1_bbox"
    max_new_tokens: int = Field(128, ge=1)


class Recipe(BaseModel):
    """A training recipe (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    stage: Stage
    trainable: list[str] = Field(default_factory=list, description="regexes of parameter names trained in full")
    lora: LoraSpec | None = None
    lang_ratio: dict[str, float] | None = None
    early_stopping: EarlyStopping | None = None
    training: dict[str, Any] = Field(default_factory=dict)
    max_minutes: float | None = Field(None, gt=0, description="stop training after this wall-clock time")
    max_cpu_minutes: float | None = Field(
        None,
        gt=0,
        description="stop after this much CPU time of the training process (all threads): a budget "
        "that does not depend on what else the machine runs",
    )
    rewards: dict[str, float] = Field(default_factory=dict, description="GRPO: reward name -> weight")
    reward_options: dict[str, Any] = Field(default_factory=dict, description="GRPO: options of the rewards")

    def check(self) -> Recipe:
        """Cross-field rules (a LoRA stage needs ``lora``; a projector stage needs ``trainable``)."""
        if self.stage == "lora" and self.lora is None:
            raise InputError(f"recipe {self.name!r}: stage 'lora' needs a 'lora' section")
        if self.stage == "projector" and not self.trainable:
            raise InputError(f"recipe {self.name!r}: stage 'projector' needs 'trainable' parameter-name regexes")
        return self


def _scalar(text: str) -> Any:
    """A value as YAML reads it, except that ``5e-4`` is a number (YAML 1.1 wants ``5.0e-4``)."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def recipe_names() -> list[str]:
    """Names of the shipped recipes."""
    return sorted(p.stem for p in RECIPE_DIR.glob("*.yaml"))


def load_recipe(name_or_path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """A shipped recipe by name, or a recipe YAML file, with ``overrides`` (``"a.b=value"``) applied.

    Raises:
        InputError: unknown name, unreadable YAML, a malformed override or a recipe that fails validation
            (the message names the file and the field).
    """
    path = Path(name_or_path)
    if not path.is_file():
        path = RECIPE_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise InputError(
                f"unknown recipe {str(name_or_path)!r}; shipped: {', '.join(recipe_names())} (or a YAML path)"
            )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({exc})") from None
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"override {item!r}: expected KEY=VALUE, e.g. training.learning_rate=5e-4")
        node = data
        *parents, leaf = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {}) if isinstance(node, dict) else None
            if node is None:
                raise InputError(f"override {item!r}: {p!r} is not a section")
        node[leaf] = _scalar(value)
    try:
        return Recipe.model_validate(data).check()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "recipe"
        raise InputError(f"{path}: {where}: {first.get('msg')}") from None
