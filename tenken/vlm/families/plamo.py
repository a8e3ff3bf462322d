"""PLaMo (PLaMo 2.1-VL and fine-tunes): JSON ``bbox`` in 0–1000 relative coordinates by default (the frame
depends on the fine-tuning: ``box_format`` overrides it), the scale stated in the prompt."""

from __future__ import annotations

from tenken.vlm.families import register_family
from tenken.vlm.families.base import Family


@register_family("plamo", "plamo-vl", "plamo2.1-vl", matches=lambda model_type: "plamo" in model_type)
def plamo(**_: int) -> Family:
    """The PLaMo family."""
    return Family(name="plamo", box_format="rel1000", box_key="bbox", state_scale=True)
