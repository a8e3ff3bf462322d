"""Model families: prompt and box conventions, detected from a model config or named by the user.

``get_family(name, **options)`` builds one; ``detect_family(model_type)`` maps a ``config.json``
``model_type`` to a family name. Over an OpenAI-compatible server tenken cannot see the config, so the user
names the family (``--family qwen2.5-vl``).
"""

from __future__ import annotations

from typing import Any

from tenken.core.errors import InputError
from tenken.vlm.families.base import BOX_FORMATS, Family
from tenken.vlm.families.qwen import (
    QWEN25_MAX_PIXELS,
    QWEN25_MIN_PIXELS,
    Qwen25VL,
    qwen2_vl,
    qwen3_vl,
    smart_resize,
)

FAMILY_NAMES: tuple[str, ...] = ("qwen2.5-vl", "qwen3-vl", "qwen2-vl", "plamo", "llava")
_ALIASES = {
    "qwen2_5_vl": "qwen2.5-vl", "qwen25-vl": "qwen2.5-vl", "qwen2.5vl": "qwen2.5-vl",
    "qwen3_vl": "qwen3-vl", "qwen3_vl_moe": "qwen3-vl", "qwen3vl": "qwen3-vl",
    "qwen2_vl": "qwen2-vl", "qwen2vl": "qwen2-vl",
    "plamo-vl": "plamo", "plamo2.1-vl": "plamo", "generic": "llava",
}  # fmt: skip


def canonical_family(name: str) -> str:
    """The canonical family name for ``name`` (aliases such as ``qwen2_5_vl`` accepted)."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in FAMILY_NAMES:
        raise InputError(f"unknown model family {name!r}; choose one of {', '.join(FAMILY_NAMES)}")
    return key


def detect_family(model_type: str | None) -> str:
    """Family name for a transformers ``model_type`` (``config.json``); unknown types get the generic ``llava``."""
    t = (model_type or "").lower()
    if t.startswith("qwen2_5_vl"):
        return "qwen2.5-vl"
    if t.startswith("qwen3_vl") or t.startswith("qwen3_5"):
        return "qwen3-vl"
    if t.startswith("qwen2_vl"):
        return "qwen2-vl"
    if "plamo" in t:
        return "plamo"
    return "llava"


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
        name: a family name or alias (see :data:`FAMILY_NAMES`).
        box_format: override the box frame (``processed``, ``rel1000``, ``rel1``, ``pixels``); for PLaMo and
            LLaVA-style models whose convention depends on their fine-tuning. Default: the family's own
            (PLaMo and LLaVA: ``rel1000``).
        factor, min_pixels, max_pixels: the Qwen2.5-VL processor's resize parameters (defaults: 28,
            3136 and 12845056, as in the released checkpoints' ``preprocessor_config.json``).
    """
    key = canonical_family(name)
    if key == "qwen2.5-vl":
        fam: Family = Qwen25VL(
            factor=factor or 28,
            min_pixels=min_pixels or QWEN25_MIN_PIXELS,
            max_pixels=max_pixels or QWEN25_MAX_PIXELS,
        )
    elif key == "qwen3-vl":
        fam = qwen3_vl()
    elif key == "qwen2-vl":
        fam = qwen2_vl()
    elif key == "plamo":
        fam = Family(name="plamo", box_format="rel1000", box_key="bbox", state_scale=True)
    else:
        fam = Family(name="llava", box_format="rel1000", box_key="bbox", state_scale=True)
    if box_format is not None and box_format != fam.box_format:
        if box_format not in BOX_FORMATS:
            raise InputError(f"box_format must be one of {', '.join(BOX_FORMATS)}, got {box_format!r}")
        if box_format == "processed" and not isinstance(fam, Qwen25VL):
            fam = Qwen25VL(
                name=fam.name,
                box_key=fam.box_key,
                factor=factor or 28,
                min_pixels=min_pixels or QWEN25_MIN_PIXELS,
                max_pixels=max_pixels or QWEN25_MAX_PIXELS,
            )
        else:
            fam = Family(name=fam.name, box_format=box_format, box_key=fam.box_key, state_scale=True)  # type: ignore[arg-type]
    return fam


__all__ = ["FAMILY_NAMES", "Family", "Qwen25VL", "canonical_family", "detect_family", "get_family", "smart_resize"]
