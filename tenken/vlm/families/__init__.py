"""Model families: prompt and box conventions, detected from a model config or named by the user.

Each family registers itself in :data:`FAMILIES` with :func:`register_family` from its own module in this
package (``qwen.py``, ``plamo.py``, ``llava.py``); a new family is one new file, found on the first lookup.
``get_family(name, **options)`` builds one; ``detect_family(model_type)`` maps a ``config.json``
``model_type`` to a family name. Over an OpenAI-compatible server tenken cannot see the config, so the user
names the family (``--family qwen2.5-vl``).
"""

from __future__ import annotations

import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenken.core.errors import InputError
from tenken.core.registry import Registry
from tenken.vlm.families.base import BOX_FORMATS, Family


@dataclass(frozen=True)
class FamilySpec:
    """A registered family.

    Attributes:
        name: the canonical family name (``"qwen2.5-vl"``).
        build: ``(**options) -> Family``; options are the Qwen2.5-VL processor's ``factor``, ``min_pixels`` and
            ``max_pixels`` when the user gave them (other families ignore them).
        matches: ``model_type -> bool``: whether a transformers ``config.json`` ``model_type`` is this family.
        fallback: the family of every model type no family matches (exactly one: ``llava``).
    """

    name: str
    build: Callable[..., Family]
    matches: Callable[[str], bool]
    fallback: bool = False


FAMILIES: Registry[FamilySpec] = Registry(
    "model family",
    modules=tuple(f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__) if m.name != "base"),
)
"""Family name or alias -> :class:`FamilySpec`."""


def register_family(
    name: str,
    *aliases: str,
    model_types: tuple[str, ...] = (),
    matches: Callable[[str], bool] | None = None,
    fallback: bool = False,
) -> Callable[[Callable[..., Family]], Callable[..., Family]]:
    """Decorator: register a family builder ``(**options) -> Family`` under ``name`` and ``aliases``.

    Args:
        model_types: ``config.json`` ``model_type`` prefixes of the family (lower case).
        matches: instead of ``model_types``, a predicate on the lower-cased ``model_type``.
        fallback: the family of unknown model types.
    """

    def add(build: Callable[..., Family]) -> Callable[..., Family]:
        test = matches or (lambda t: any(t.startswith(p) for p in model_types))
        FAMILIES.register(name, *aliases)(FamilySpec(name, build, test, fallback))
        return build

    return add


def family_names() -> tuple[str, ...]:
    """The canonical family names, in registration order."""
    return tuple(dict.fromkeys(spec.name for _, spec in FAMILIES.items()))


def canonical_family(name: str) -> str:
    """The canonical family name for ``name`` (aliases such as ``qwen2_5_vl`` accepted).

    Raises:
        InputError: no such family (the message lists the known ones).
    """
    key = name.strip().lower()
    if key not in FAMILIES:
        raise InputError(f"unknown model family {name!r}; choose one of {', '.join(family_names())}")
    return FAMILIES.get(key).name


def detect_family(model_type: str | None) -> str:
    """Family name for a transformers ``model_type`` (``config.json``); unknown types get the fallback ``llava``."""
    t = (model_type or "").lower()
    specs = list(dict.fromkeys(spec for _, spec in FAMILIES.items()))
    hit = next((s for s in specs if not s.fallback and t and s.matches(t)), None)
    return (hit or next(s for s in specs if s.fallback)).name


def get_family(
    name: str,
    box_format: str | None = None,
    factor: int | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    **_: Any,
) -> Family:
    """Build the family ``name``.

    Args:
        name: a family name or alias (see :func:`family_names`).
        box_format: override the box frame (``processed``, ``rel1000``, ``rel1``, ``pixels``); for PLaMo and
            LLaVA-style models whose convention depends on their fine-tuning. Default: the family's own
            (PLaMo and LLaVA: ``rel1000``).
        factor, min_pixels, max_pixels: the Qwen2.5-VL processor's resize parameters (defaults: 28,
            3136 and 12845056, as in the released checkpoints' ``preprocessor_config.json``).

    Raises:
        InputError: an unknown family or box format.
    """
    resize = {k: v for k, v in (("factor", factor), ("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v}
    fam = FAMILIES.get(canonical_family(name)).build(**resize)
    if box_format is None or box_format == fam.box_format:
        return fam
    if box_format not in BOX_FORMATS:
        raise InputError(f"box_format must be one of {', '.join(BOX_FORMATS)}, got {box_format!r}")
    if box_format == "processed" and not isinstance(fam, Qwen25VL):
        return Qwen25VL(name=fam.name, box_key=fam.box_key, **resize)
    return Family(name=fam.name, box_format=box_format, box_key=fam.box_key, state_scale=True)  # type: ignore[arg-type]


from tenken.vlm.families.qwen import Qwen25VL, smart_resize  # noqa: E402  (qwen.py registers through this module)

FAMILY_NAMES: tuple[str, ...] = family_names()
"""The canonical family names (``qwen2.5-vl``, ``qwen3-vl``, ``qwen2-vl``, ``plamo``, ``llava``)."""

__all__ = [
    "BOX_FORMATS",
    "FAMILIES",
    "FAMILY_NAMES",
    "Family",
    "FamilySpec",
    "Qwen25VL",
    "canonical_family",
    "detect_family",
    "family_names",
    "get_family",
    "register_family",
    "smart_resize",
]
