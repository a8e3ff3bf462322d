"""LLaVA-style models, and the fallback for any model type no other family claims: JSON ``bbox`` in 0–1000
relative coordinates by default (``box_format`` overrides it), the scale stated in the prompt."""

from __future__ import annotations

from tenken.vlm.families import register_family
from tenken.vlm.families.base import Family


@register_family("llava", "generic", fallback=True)
def llava(**_: int) -> Family:
    """The generic LLaVA-style family."""
    return Family(name="llava", box_format="rel1000", box_key="bbox", state_scale=True)
